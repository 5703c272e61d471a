"""Frequency bands: the defaults, the original filter bank, and their
adaptation to the sampling rate.

Light on purpose (no SciPy): the command line reads these for its help text.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._utils.check import check_bands, check_positive_float, invalid
from .._utils.logs import logger

DEFAULT_BANDS: dict[str, tuple[float, float]] = {
    "delta": (0.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (7.0, 13.0),
    "beta": (13.0, 31.0),
    "low_gamma": (31.0, 71.0),
    "high_gamma": (71.0, 91.0),
}
"""Default bands in Hz: the paper's figure rows (alpha, beta, high gamma) and
their neighbours."""

BAND_CHOICES = ("default", "filterbank")
"""Names of the band sets that :func:`bands_for` adapts to the sampling rate."""


def filterbank_bands(
    max_freq: float = 119.0, *, sfreq: float | None = None
) -> dict[str, tuple[float, float]]:
    """The dense filter bank of the original code (32 bands up to 119 Hz).

    0-4 Hz; then 6 Hz wide bands every 3 Hz, 1-7 Hz to 28-34 Hz; then 8 Hz
    wide bands every 4 Hz, 31-39 Hz, 35-43 Hz, ... up to ``max_freq``
    (111-119 Hz for the default).

    Parameters
    ----------
    max_freq : float
        Highest allowed upper edge in Hz.
    sfreq : float | None
        Sampling frequency in Hz: when given, the bands whose upper edge is at
        or above the Nyquist frequency (``sfreq / 2``) are left out, silently
        (:func:`bands_for` with ``"filterbank"`` says which).

    Returns
    -------
    bands : dict of str to (float, float)
        Named bands, e.g. ``"1-7Hz": (1.0, 7.0)``.
    """
    edges = [(0.0, 4.0)]
    edges += [(float(lo), float(lo + 6)) for lo in range(1, 29, 3)]
    lo = 31
    while lo + 8 <= max_freq:
        edges.append((float(lo), float(lo + 8)))
        lo += 4
    if sfreq is not None:
        nyquist = check_positive_float("sfreq", sfreq) / 2.0
        edges = [(lo, hi) for lo, hi in edges if hi < nyquist]
    return {f"{lo:g}-{hi:g}Hz": (lo, hi) for lo, hi in edges}


def bands_for(
    sfreq: float, bands: Mapping[str, tuple[float, float]] | str | None = None
) -> dict[str, tuple[float, float]]:
    """The bands to analyse at sampling rate ``sfreq``, checked.

    Band sets chosen by envcorr adapt to the sampling rate: for ``None`` or
    ``"default"`` (:data:`DEFAULT_BANDS`) and ``"filterbank"``
    (:func:`filterbank_bands`), every band whose upper edge is at or above
    the Nyquist frequency is left out, and one warning (envcorr's logger)
    names them. Bands given as a dict are the user's own choice and stay
    strict: an edge at or above Nyquist is an error.

    Parameters
    ----------
    sfreq : float
        Sampling frequency in Hz.
    bands : dict of str to (float, float) | "default" | "filterbank" | None
        The bands in Hz, or the name of a band set; None for ``"default"``.

    Returns
    -------
    bands : dict of str to (float, float)
        The checked bands, edges as floats.

    Raises
    ------
    InvalidInputError
        For invalid bands, bands given by the user that reach Nyquist, and a
        sampling rate at which no band of the chosen set lies below Nyquist.
    """
    sfreq = check_positive_float("sfreq", sfreq)
    if bands is None:
        bands = "default"
    if not isinstance(bands, str):
        return check_bands(dict(bands) if isinstance(bands, Mapping) else bands, sfreq)
    if bands not in BAND_CHOICES:
        raise invalid(
            "bands",
            f"unknown band set {bands!r}.",
            "Use 'default', 'filterbank' or a dict {name: (low_hz, high_hz)}.",
        )
    chosen = DEFAULT_BANDS if bands == "default" else filterbank_bands()
    what = "default bands" if bands == "default" else "filter-bank bands"
    nyquist = sfreq / 2.0
    kept = {name: edges for name, edges in chosen.items() if edges[1] < nyquist}
    dropped = [name for name in chosen if name not in kept]
    if not kept:
        raise invalid(
            "sfreq",
            f"at sfreq={sfreq:g} Hz (Nyquist {nyquist:g} Hz) none of the {what} "
            "lies below the Nyquist frequency.",
            "Pass bands with edges below the Nyquist frequency, or data sampled "
            "faster.",
        )
    if dropped:
        one = len(dropped) == 1
        logger.warning(
            "Leaving out the %s %s: %s upper edge is at or above the Nyquist "
            "frequency (%g Hz for sfreq=%g Hz).",
            what[:-1] if one else what,
            ", ".join(_label(n, *chosen[n]) for n in dropped),
            "its" if one else "their",
            nyquist,
            sfreq,
        )
    return check_bands(kept, sfreq)


def _label(name: str, low: float, high: float) -> str:
    """A band's name with its edges, unless the name is its edges."""
    edges = f"{low:g}-{high:g}"
    return name if name == f"{edges}Hz" else f"{name} ({edges} Hz)"
