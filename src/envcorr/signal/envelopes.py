"""Band envelopes and receptive-field averaging (docs/method.md, steps 1-3).

Each band is filtered with a 4th-order Butterworth filter (second-order
sections) applied zero-phase; a band whose low edge is 0 Hz is a low-pass. The
envelope is the magnitude of the analytic signal, ``|hilbert(filtered)|``.

Two implementations of the zero-phase filter are offered, and a default that
picks one per band:

``method="fft"``
    Multiplies the spectrum by ``|H(f)|**2``, the exact frequency response of
    forward-backward filtering with the Butterworth sections, and applies the
    Hilbert transform in the same inverse FFT. One forward FFT per trial serves
    every band.
``method="sosfiltfilt"``
    :func:`scipy.signal.sosfiltfilt`, then the Hilbert transform by FFT.
``method="auto"`` (default)
    ``sosfiltfilt`` for low-pass bands (low edge 0 Hz), ``fft`` for band-pass
    bands. The two filters agree inside the trial to 1e-11 but not at the far
    ends of the context (transients of ``sosfiltfilt``, wrap-around of the FFT),
    and the Hilbert transform carries that difference into the trial with a
    1/t kernel. For band-pass bands this changes r by less than 3e-5; for a
    low-pass band, whose Hilbert transform depends on the whole segment, by up
    to 7e-4 (delta on the benchmark's W1). ``auto`` gives the numbers of a
    plain ``sosfiltfilt`` implementation to 1e-4 at the cost of one
    ``sosfiltfilt`` band.

Both see the same signal around each trial, so they differ only by the decay
of the filter's transients at the ends of that signal:

* with a continuous recording, the trial plus ``margin`` samples of the real
  recording on each side (the recording filtered before cutting trials,
  docs/method.md, step 1; mirrored where the recording ends);
* without one, the trial mirrored by ``margin`` samples on each side ("edge
  padding", as MNE pads before filtering), at most ``n_times - 1`` samples.

The default margin is the time the slowest pole of the filter bank needs to
decay to 1e-4 of its amplitude (2.8 s for the default bands at 250 Hz), at
least 0.5 s and at most 10 s.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.fft
import scipy.signal
import torch

from .._utils.check import check_array, check_int, check_option
from ..data._trials import Recordings
from .bands import bands_for

FILTER_ORDER = 4

FILTER_METHODS = ("auto", "fft", "sosfiltfilt")
"""Zero-phase filter implementations (see the module docstring)."""


def band_sos(low: float, high: float, sfreq: float) -> np.ndarray:
    """Second-order sections of the band's Butterworth filter (order 4).

    Parameters
    ----------
    low, high : float
        Band edges in Hz; ``low == 0`` gives a low-pass at ``high``.
    sfreq : float
        Sampling frequency in Hz.

    Returns
    -------
    sos : ndarray, shape (n_sections, 6)
    """
    if low == 0:
        return scipy.signal.butter(
            FILTER_ORDER, high, "lowpass", fs=sfreq, output="sos"
        )
    return scipy.signal.butter(
        FILTER_ORDER, [low, high], "bandpass", fs=sfreq, output="sos"
    )


def default_margin(bands: Mapping[str, tuple[float, float]], sfreq: float) -> int:
    """Samples of context around each trial needed by the filter bank.

    The time for the slowest pole of all band filters to decay to 1e-4 of its
    amplitude, clipped to [0.5 s, 10 s].
    """
    slowest = 0.0
    for low, high in bands.values():
        poles = scipy.signal.sos2zpk(band_sos(low, high, sfreq))[1]
        slowest = max(slowest, float(np.max(np.abs(poles))))
    decay_per_sample = -np.log(slowest)
    seconds = np.log(1e4) / decay_per_sample / sfreq
    return int(np.ceil(np.clip(seconds, 0.5, 10.0) * sfreq))


def _analytic_mask(n_fft: int) -> np.ndarray:
    """Weights of the rfft bins that give the analytic signal, (n_fft // 2 + 1,)."""
    mask = np.full(n_fft // 2 + 1, 2.0)
    mask[0] = 1.0
    if n_fft % 2 == 0:
        mask[-1] = 1.0
    return mask


def _analytic_weights(
    bands: Mapping[str, tuple[float, float]], sfreq: float, n_fft: int
) -> np.ndarray:
    """|H(f)|^2 times the analytic-signal mask, shape (n_bands, n_fft // 2 + 1)."""
    freqs = scipy.fft.rfftfreq(n_fft, d=1.0 / sfreq)
    weights = np.empty((len(bands), freqs.size))
    for i, (low, high) in enumerate(bands.values()):
        _, h = scipy.signal.sosfreqz(band_sos(low, high, sfreq), worN=freqs, fs=sfreq)
        weights[i] = np.abs(h) ** 2
    return weights * _analytic_mask(n_fft)


def _mirror_pad(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """Extend the last axis by mirroring, as MNE's default filter padding does.

    Mirroring keeps the signal's values and spectrum at the edge and, unlike
    point reflection, does not turn a noisy edge sample into a step.
    """
    pad = [(0, 0)] * (x.ndim - 1) + [(before, after)]
    return np.pad(x, pad, mode="reflect").astype(np.float32, copy=False)


class EnvelopeComputer:
    """Band envelopes of trials, computed batch by batch.

    Parameters
    ----------
    sfreq : float
        Sampling frequency in Hz.
    bands : dict of str to (float, float)
        Bands in Hz.
    n_times : int
        Samples per trial.
    method : "auto" | "fft" | "sosfiltfilt"
        Zero-phase filter implementation (see the module docstring).
    margin : int | None
        Samples of context on each side of a trial; None for the default.
    continuous : Recordings | None
        Recordings the trials were cut from.
    threads : int | None
        Threads that share the work of a batch, each on its own trials; None
        for as many as torch uses (``torch.get_num_threads()``, which a study's
        Dask workers set to their share of the cores). SciPy's filters and NumPy's
        element-wise operations run on one thread each, so the batch is split
        rather than each operation; every trial's numbers are the same either
        way.
    """

    def __init__(
        self,
        sfreq: float,
        bands: Mapping[str, tuple[float, float]],
        n_times: int,
        *,
        method: str = "auto",
        margin: int | None = None,
        continuous: Recordings | None = None,
        threads: int | None = None,
    ) -> None:
        self.sfreq = sfreq
        self.bands = dict(bands)
        self.n_times = n_times
        self.method = check_option("method", method, FILTER_METHODS)
        if margin is None:
            margin = default_margin(self.bands, sfreq)
        margin = check_int("margin", margin, minimum=0)
        if continuous is None:
            margin = min(margin, n_times - 1)  # mirroring needs real samples
        self.margin = margin
        self.continuous = continuous
        if threads is None:
            threads = torch.get_num_threads()
        self.threads = check_int("threads", threads, minimum=1)
        n_total = n_times + 2 * margin
        self.n_fft = scipy.fft.next_fast_len(n_total, real=True)
        self.band_methods = [
            method if method != "auto" else ("sosfiltfilt" if lo == 0 else "fft")
            for lo, _ in self.bands.values()
        ]
        """The filter used for each band, "fft" or "sosfiltfilt"."""
        weights = _analytic_weights(self.bands, sfreq, self.n_fft)
        self._weights = weights.astype(np.complex64)
        self._mask = _analytic_mask(self.n_fft)
        self._sos = [band_sos(lo, hi, sfreq) for lo, hi in self.bands.values()]

    def _context(self, X: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
        """Trials with ``margin`` samples of context, (n, n_channels, n_total)."""
        m = self.margin
        if self.continuous is None or idx is None:
            if m == 0:
                return np.asarray(X, dtype=np.float32)
            return _mirror_pad(X, m, m)
        rec = self.continuous
        out = np.empty((len(idx), X.shape[1], self.n_times + 2 * m), np.float32)
        for j, i in enumerate(idx):
            data = rec.data[rec.segment[i]]
            start = rec.onset[i] - m
            stop = rec.onset[i] + self.n_times + m
            lo, hi = max(start, 0), min(stop, data.shape[1])
            seg = data[:, lo:hi]
            out[j] = _mirror_pad(seg, lo - start, stop - hi)
        return out

    def __call__(self, X: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        """Envelopes of a batch of trials.

        Parameters
        ----------
        X : ndarray, shape (n, n_channels, n_times)
            The trials.
        idx : ndarray of int, shape (n,) | None
            Their indices among all trials (to find them in the recordings).

        Returns
        -------
        envelopes : ndarray, shape (n, n_bands, n_channels, n_times)
            float32 band envelopes (not squared).
        """
        n = len(X)
        out = np.empty((n, len(self.bands), X.shape[1], self.n_times), np.float32)
        n_parts = max(1, min(self.threads, n))
        if n_parts == 1:
            self._fill(out, X, idx, workers=self.threads)
            return out
        bounds = np.linspace(0, n, n_parts + 1).astype(int)
        parts = [slice(a, b) for a, b in itertools.pairwise(bounds)]
        with ThreadPoolExecutor(n_parts) as pool:
            # list() waits for every part and re-raises a thread's error
            list(
                pool.map(
                    lambda p: self._fill(
                        out[p], X[p], None if idx is None else idx[p], workers=1
                    ),
                    parts,
                )
            )
        return out

    def _fill(
        self, out: np.ndarray, X: np.ndarray, idx: np.ndarray | None, *, workers: int
    ) -> None:
        """Write the envelopes of ``X`` into ``out``, with ``workers`` FFT threads."""
        x = self._context(X, idx)
        n, n_ch, _ = x.shape
        m, n_times = self.margin, self.n_times
        full = np.zeros((n, n_ch, self.n_fft), np.complex64)
        n_pos = self.n_fft // 2 + 1
        if "fft" in self.band_methods:
            spec = scipy.fft.rfft(x, n=self.n_fft, axis=-1, workers=workers)
        if "sosfiltfilt" in self.band_methods:
            x64 = x.astype(np.float64)
        for b, method in enumerate(self.band_methods):
            if method == "fft":
                np.multiply(spec, self._weights[b], out=full[..., :n_pos])
            else:
                filtered = scipy.signal.sosfiltfilt(
                    self._sos[b], x64, axis=-1, padtype=None
                )
                spec_b = scipy.fft.rfft(
                    filtered, n=self.n_fft, axis=-1, workers=workers
                )
                np.multiply(spec_b, self._mask, out=full[..., :n_pos])
            analytic = scipy.fft.ifft(full, axis=-1, workers=workers)
            np.abs(analytic[..., m : m + n_times], out=out[:, b])


def band_envelopes(
    X: np.ndarray,
    sfreq: float,
    *,
    bands: Mapping[str, tuple[float, float]] | None = None,
    method: str = "auto",
    margin: int | None = None,
    continuous: Recordings | None = None,
) -> np.ndarray:
    """Band-pass envelopes of trials (docs/method.md, steps 1-2).

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        The trials.
    sfreq : float
        Sampling frequency in Hz.
    bands : dict of str to (float, float) | None
        Bands in Hz; None for :data:`DEFAULT_BANDS`, without those that reach
        the Nyquist frequency (see :func:`envcorr.signal.bands.bands_for`).
    method : "auto" | "fft" | "sosfiltfilt"
        Zero-phase filter implementation (see the module docstring).
    margin : int | None
        Samples of context around each trial; None for the default.
    continuous : Recordings | None
        The recordings the trials were cut from; when given, trials are
        filtered within the recording instead of with mirrored edges.

    Returns
    -------
    envelopes : ndarray, shape (n_bands, n_trials, n_channels, n_times)
        float32 envelopes ``|hilbert(filtered)|``.
    """
    X = check_array("X", X, ndim=3, dims="(n_trials, n_channels, n_times)")
    bands = bands_for(sfreq, bands)
    if continuous is not None:
        continuous.check_matches(*X.shape)
    computer = EnvelopeComputer(
        sfreq, bands, X.shape[2], method=method, margin=margin, continuous=continuous
    )
    env = computer(X, np.arange(len(X)))
    return np.moveaxis(env, 1, 0)
