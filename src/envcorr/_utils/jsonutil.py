"""JSON for configurations, histories and provenance."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

from .check import invalid


def jsonable(obj: Any, name: str) -> Any:
    """A JSON-compatible copy of ``obj``.

    NumPy arrays and scalars become lists and numbers, paths become strings,
    non-finite floats become None. Anything else is an error naming ``name``.
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v, name) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v, name) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist(), name)
    if isinstance(obj, np.generic):
        return jsonable(obj.item(), name)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise invalid(
        name,
        f"its value {obj!r} of type {type(obj).__name__} cannot be written to JSON.",
        "Use numbers, strings, lists and dicts.",
    )


def dumps(obj: Any, name: str, *, indent: int | None = 2) -> str:
    """``obj`` as JSON text (see :func:`jsonable`), ending with a newline."""
    return json.dumps(jsonable(obj, name), indent=indent, allow_nan=False) + "\n"


def stringified(value: Any) -> Any:
    """``value`` with anything JSON cannot hold turned into strings."""
    return json.loads(json.dumps(value, default=str))
