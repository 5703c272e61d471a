"""Frequency bands: the defaults and the original filter bank.

Light on purpose (no SciPy): the command line reads these for its help text.
"""

from __future__ import annotations

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


def filterbank_bands(max_freq: float = 119.0) -> dict[str, tuple[float, float]]:
    """The dense filter bank of the original code (32 bands up to 119 Hz).

    0-4 Hz, then 6 Hz wide bands every 3 Hz up to 34 Hz, then 8 Hz wide bands
    every 4 Hz up to ``max_freq``.

    Parameters
    ----------
    max_freq : float
        Highest allowed upper edge in Hz.

    Returns
    -------
    bands : dict of str to (float, float)
        Named bands, e.g. ``"1-7Hz": (1.0, 7.0)``.
    """
    edges = [(0.0, 4.0)]
    edges += [(float(lo), float(lo + 6)) for lo in range(1, 29, 3)]
    lo = 30
    while lo + 8 <= max_freq:
        edges.append((float(lo), float(lo + 8)))
        lo += 4
    return {f"{lo:g}-{hi:g}Hz": (lo, hi) for lo, hi in edges}
