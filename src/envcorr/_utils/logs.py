"""Logging, the ``verbose`` decorator and progress bars.

The library logs to the ``"envcorr"`` logger and never prints. Functions that
do long work take ``verbose`` (keyword-only) and are wrapped in
:func:`verbose`: ``None`` keeps the current level (INFO unless changed with
:func:`set_log_level`), ``True``/``False`` mean INFO/WARNING, and a level name
or number is used as given, for the duration of the call. Progress bars show
at INFO and below.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

logger = logging.getLogger("envcorr")

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def _ensure_handler() -> None:
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


_ensure_handler()


def _to_level(verbose: bool | str | int | None) -> int | None:
    if verbose is None:
        return None
    if isinstance(verbose, bool):
        return logging.INFO if verbose else logging.WARNING
    if isinstance(verbose, str):
        level = logging.getLevelName(verbose.upper())
        if not isinstance(level, int):
            from .check import invalid

            raise invalid(
                "verbose",
                f"{verbose!r}.",
                "Use True, False, or a level name such as 'INFO' or 'WARNING'.",
            )
        return level
    return int(verbose)


def set_log_level(verbose: bool | str | int | None) -> None:
    """Set the level of envcorr's logger (see the module docstring)."""
    level = _to_level(verbose)
    if level is not None:
        logger.setLevel(level)


@contextlib.contextmanager
def use_log_level(verbose: bool | str | int | None) -> Iterator[None]:
    """Temporarily set the level of envcorr's logger."""
    level = _to_level(verbose)
    if level is None:
        yield
        return
    old = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(old)


def verbose(func: F) -> F:
    """Run ``func`` at the log level of its ``verbose`` argument (as MNE's).

    The decorated function must have a ``verbose`` parameter; the level is set
    for the duration of the call and restored afterwards.
    """
    signature = inspect.signature(func)
    if "verbose" not in signature.parameters:
        raise TypeError(f"{func.__qualname__} has no 'verbose' parameter")
    default = signature.parameters["verbose"].default

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "verbose" in kwargs:
            level = kwargs["verbose"]
        else:
            bound = signature.bind_partial(*args, **kwargs)
            level = bound.arguments.get("verbose", default)
        if level is inspect.Parameter.empty:
            level = None
        with use_log_level(level):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def progress(
    iterable: Iterable[T], *, desc: str, total: int | None = None, **kwargs: Any
) -> Iterable[T]:
    """Wrap ``iterable`` in a progress bar shown when the logger is at INFO."""
    from tqdm.auto import tqdm

    return tqdm(
        iterable,
        desc=desc,
        total=total,
        disable=not logger.isEnabledFor(logging.INFO),
        file=sys.stderr,
        dynamic_ncols=True,
        leave=False,
        **kwargs,
    )
