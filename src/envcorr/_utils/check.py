"""Input validation shared by every module: the one home of such checks.

Every check raises :class:`InvalidInputError` with a message that names the
parameter, says what is wrong with the value, and how to fix it, e.g.::

    Invalid value for the 'bands' parameter: 95 Hz is above Nyquist
    (62.5 Hz for sfreq=125). Use band edges below 62.5 Hz.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


class InvalidInputError(ValueError):
    """Raised for bad user input; the message names the parameter and the fix."""


def invalid(name: str, problem: str, fix: str | None = None) -> InvalidInputError:
    """Build the error for parameter ``name`` (to be raised by the caller)."""
    msg = f"Invalid value for the '{name}' parameter: {problem}"
    if fix:
        msg += f" {fix}"
    return InvalidInputError(msg)


def check_option(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``allowed`` and return it."""
    allowed = list(allowed)
    if value not in allowed:
        hint = ""
        if isinstance(value, str):
            close = difflib.get_close_matches(value, [str(a) for a in allowed], n=1)
            if close:
                hint = f" Did you mean {close[0]!r}?"
        raise invalid(
            name,
            f"{value!r}.",
            f"Allowed values are {', '.join(repr(a) for a in allowed)}.{hint}",
        )
    return value


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """Check that ``value`` is an integer (not a bool), optionally ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise invalid(name, f"expected an integer, got {value!r}.")
    if minimum is not None and value < minimum:
        raise invalid(name, f"{value} is below the minimum of {minimum}.")
    return int(value)


def check_bool(name: str, value: Any) -> bool:
    """Check that ``value`` is True or False (not a string or number)."""
    if not isinstance(value, bool | np.bool_):
        raise invalid(name, f"expected True or False, got {value!r}.")
    return bool(value)


def check_instance(name: str, value: Any, cls: type, fix: str | None = None) -> Any:
    """Check that ``value`` is an instance of ``cls`` and return it."""
    if not isinstance(value, cls):
        raise invalid(
            name,
            f"expected {cls.__module__}.{cls.__qualname__}, got "
            f"{type(value).__name__}.",
            fix,
        )
    return value


def check_non_negative_float(name: str, value: Any) -> float:
    """Check that ``value`` is a finite number >= 0 and return it as float."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise invalid(name, f"expected a number >= 0, got {value!r}.") from None
    if not np.isfinite(out) or out < 0:
        raise invalid(name, f"expected a number >= 0, got {value!r}.")
    return out


def check_positive_float(name: str, value: Any) -> float:
    """Check that ``value`` is a finite number > 0 and return it as float."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise invalid(name, f"expected a positive number, got {value!r}.") from None
    if not np.isfinite(out) or out <= 0:
        raise invalid(name, f"expected a positive number, got {value!r}.")
    return out


def check_array(
    name: str,
    value: Any,
    *,
    ndim: int,
    dims: str,
    finite: bool = True,
    dtype: type | np.dtype | None = None,
) -> np.ndarray:
    """Convert ``value`` to an array and check its dimensions and values.

    Parameters
    ----------
    name : str
        Parameter name used in error messages.
    value : array-like
        The input.
    ndim : int
        Required number of dimensions.
    dims : str
        Human-readable shape, e.g. ``"(n_trials, n_channels, n_times)"``.
    finite : bool
        If True, NaN and Inf are rejected.
    dtype : dtype | None
        Convert to this dtype (no copy when already of it).
    """
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise invalid(
            name, f"could not be converted to a numeric array ({err})."
        ) from None
    if arr.ndim != ndim:
        raise invalid(
            name,
            f"expected {ndim} dimensions {dims}, got shape {arr.shape}.",
        )
    if arr.size == 0:
        raise invalid(name, f"the array is empty (shape {arr.shape}).")
    if finite and np.issubdtype(arr.dtype, np.number):
        bad = ~np.isfinite(arr)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise invalid(
                name,
                f"contains {int(bad.sum())} NaN or Inf value(s), the first at index "
                f"{idx} of shape {dims}.",
                "Remove or interpolate bad samples before the analysis.",
            )
    return arr


def check_ch_names(name: str, ch_names: Any, n_channels: int) -> list[str]:
    """Check a list of unique channel names of length ``n_channels``."""
    if isinstance(ch_names, str) or not isinstance(ch_names, Sequence | np.ndarray):
        raise invalid(name, f"expected a list of channel names, got {ch_names!r}.")
    names = [str(c) for c in ch_names]
    if len(names) != n_channels:
        raise invalid(
            name,
            f"{len(names)} names for {n_channels} channels.",
            "Give one name per channel of the data, in the data's order.",
        )
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:
        raise invalid(name, f"duplicate channel names {dup}.")
    return names


def check_bands(
    bands: Any, sfreq: float, *, name: str = "bands"
) -> dict[str, tuple[float, float]]:
    """Check a ``{band_name: (low, high)}`` mapping of frequency bands in Hz.

    A low edge of 0 Hz means a low-pass filter. Both edges must lie below the
    Nyquist frequency, and ``low < high``.
    """
    if not isinstance(bands, dict) or not bands:
        raise invalid(
            name,
            f"expected a non-empty dict {{name: (low_hz, high_hz)}}, got {bands!r}.",
        )
    nyquist = sfreq / 2.0
    out = {}
    for band, edges in bands.items():
        try:
            low, high = (float(e) for e in edges)
        except (TypeError, ValueError):
            raise invalid(
                name, f"band {band!r} must be a pair (low_hz, high_hz), got {edges!r}."
            ) from None
        if not (np.isfinite(low) and np.isfinite(high)) or low < 0:
            raise invalid(name, f"band {band!r} has invalid edges {edges!r}.")
        if low >= high:
            raise invalid(
                name,
                f"band {band!r} has low edge {low:g} Hz >= high edge {high:g} Hz.",
                "The low edge must be below the high edge.",
            )
        if high >= nyquist:
            raise invalid(
                name,
                f"band {band!r}: {high:g} Hz is at or above Nyquist "
                f"({nyquist:g} Hz for sfreq={sfreq:g}).",
                f"Use band edges below {nyquist:g} Hz.",
            )
        out[str(band)] = (low, high)
    return out


def check_labels(
    y: Any, class_names: Any, n_trials: int, *, name: str = "y"
) -> tuple[np.ndarray, list[str]]:
    """Check one class label per trial; return class indices and class names.

    ``y`` holds class indices (integers, or floats with integral values such
    as 1.0) into ``class_names`` (default: ``0 .. max(y)``), or labels (e.g.
    strings) that are looked up in ``class_names`` (default: the sorted
    unique labels). Missing labels (NaN, None) and non-integral floats are
    rejected, and the trials must hold at least two classes: a correlation
    with the class of a trial needs the class to vary.
    """
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n_trials:
        raise invalid(
            name,
            f"{y.shape[0] if y.ndim else 0} labels (shape {y.shape}) for "
            f"{n_trials} trials.",
            "Give one label per trial.",
        )
    if y.dtype == object:
        missing = [
            i
            for i, v in enumerate(y)
            if v is None or (isinstance(v, float | np.floating) and np.isnan(v))
        ]
        if missing:
            raise invalid(
                name,
                f"{len(missing)} missing label(s) (None or NaN), the first at "
                f"trial {missing[0]}.",
                "Give every trial a class, or leave out the trials without one.",
            )
    if np.issubdtype(y.dtype, np.floating):
        bad = ~np.isfinite(y)
        if bad.any():
            raise invalid(
                name,
                f"{int(bad.sum())} NaN or Inf label(s), the first at trial "
                f"{int(np.flatnonzero(bad)[0])}.",
                "Give every trial a class, or leave out the trials without one.",
            )
        frac = y != np.round(y)
        if frac.any():
            first = int(np.flatnonzero(frac)[0])
            raise invalid(
                name,
                f"float labels must be whole numbers (class indices), got "
                f"{y[first]:g} at trial {first}.",
                "Pass integer class indices or string labels.",
            )
        y = y.astype(np.int64)
    if np.issubdtype(y.dtype, np.integer):
        if class_names is None:
            class_names = [str(c) for c in range(int(y.max()) + 1)]
        class_names = [str(c) for c in class_names]
        if y.min() < 0 or y.max() >= len(class_names):
            raise invalid(
                name,
                f"labels must lie in [0, {len(class_names) - 1}] for the "
                f"{len(class_names)} class names.",
            )
        indices = y.astype(np.int64)
    else:
        labels = [str(v) for v in y]
        if class_names is None:
            class_names = sorted(set(labels))
        class_names = [str(c) for c in class_names]
        unknown = sorted(set(labels) - set(class_names))
        if unknown:
            raise invalid(
                name, f"labels {unknown} are not in class_names {class_names}."
            )
        lookup = {c: i for i, c in enumerate(class_names)}
        indices = np.array([lookup[v] for v in labels], dtype=np.int64)
    present = np.unique(indices)
    if len(present) < 2:
        raise invalid(
            name,
            f"all {n_trials} trials are of one class "
            f"({class_names[int(present[0])]!r}): the envelope-class correlation "
            "needs trials of at least two classes.",
            f"Pass trials of several classes, or {name}=None to skip the "
            "envelope-class correlation.",
        )
    return indices, class_names


def check_path_exists(name: str, path: str | os.PathLike) -> Path:
    """Check that ``path`` exists and return it as a :class:`~pathlib.Path`."""
    p = Path(path).expanduser()
    if not p.exists():
        raise InvalidInputError(
            f"Invalid value for the '{name}' parameter: file not found: '{p}'."
        )
    return p
