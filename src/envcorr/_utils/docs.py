"""Shared docstring fragments, filled in with :func:`fill_doc` (as MNE's).

A docstring names a fragment as ``%(verbose)s``; :func:`fill_doc` replaces it
with the text of :data:`docdict`, indented like the line it stands on. A
literal percent sign in a filled docstring is written ``%%``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)

docdict: dict[str, str] = {}

docdict["verbose"] = """\
verbose : bool | str | int | None
    Logging level for this call: None keeps envcorr's level (see
    :func:`envcorr.set_log_level`), True/False mean INFO/WARNING, or a level
    name such as ``"DEBUG"``. Progress bars show at INFO and below."""

docdict["device"] = """\
device : str | torch.device | None
    Where the networks run: ``"cpu"``, ``"cuda"``, ``"cuda:1"``; None for
    CUDA when available, else the CPU."""

docdict["input_scale"] = """\
input_scale : float
    Factor applied to the data before it enters a network (1e6 when the
    network was trained on µV and the data are in volts)."""

docdict["X"] = """\
X : ndarray, shape (n_trials, n_channels, n_times)
    The trials."""

docdict["sfreq"] = """\
sfreq : float
    Sampling frequency in Hz."""

docdict["bands"] = """\
bands : dict of str to (float, float) | None
    Frequency bands ``{name: (low_hz, high_hz)}``; a low edge of 0 Hz is a
    low-pass. None for :data:`envcorr.DEFAULT_BANDS`."""

docdict["filter_method"] = """\
filter_method : "auto" | "fft" | "sosfiltfilt"
    Zero-phase filter implementation (see :mod:`envcorr.signal.envelopes`):
    by default ``sosfiltfilt`` for low-pass bands and an FFT for the others."""

docdict["margin"] = """\
margin : int | None
    Samples of context around each trial for filtering; None for the time the
    slowest filter needs to settle (see
    :func:`envcorr.signal.envelopes.default_margin`)."""

docdict["continuous"] = """\
continuous : envcorr.data.Recordings | None
    The recordings the trials were cut from; when given, trials are filtered
    within the recording instead of with mirrored edges."""


def _indent_of(doc: str) -> str:
    """Indentation of a docstring's body (its first indented line)."""
    for line in doc.splitlines()[1:]:
        stripped = line.lstrip(" ")
        if stripped:
            return line[: len(line) - len(stripped)]
    return ""


def fill_doc(func: F) -> F:
    """Fill ``%(name)s`` fragments of ``func.__doc__`` from :data:`docdict`."""
    doc = func.__doc__
    if not doc:
        return func
    indent = _indent_of(doc)
    filled = {key: text.replace("\n", "\n" + indent) for key, text in docdict.items()}
    try:
        func.__doc__ = doc % filled
    except (KeyError, ValueError, TypeError) as err:
        raise RuntimeError(
            f"error filling the docstring of {func.__qualname__}: {err}"
        ) from err
    return func
