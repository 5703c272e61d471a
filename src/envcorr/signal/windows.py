"""Moving averages over receptive fields (docs/method.md, step 4).

Averages over windows come from one cumulative sum with a leading zero: the
sum over samples ``t .. t + R - 1`` is ``csum[t + R] - csum[t]``, so the cost
per output sample does not depend on the window's length, and one cumulative
sum serves the windows of every layer. Windows that are not dense
(:meth:`WindowAverages.at`) cost the same: two strided slices for each run of
equally wide, equally spaced windows, two gathers for each other window.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from .._utils.check import check_int, invalid


class WindowAverages:
    """Averages of a signal over sliding windows, from one cumulative sum.

    Parameters
    ----------
    x : torch.Tensor, shape (n_trials, n_features, n_times)
        The signal (e.g. squared band envelopes), any float dtype.

    Notes
    -----
    The cumulative sum is kept in float64 (sums of up to ``n_times`` positive
    terms lose no precision); window averages are returned in float32.
    """

    def __init__(self, x: torch.Tensor) -> None:
        n_trials, n_feat, n_times = x.shape
        self.n_times = n_times
        self._csum = torch.zeros(
            (n_trials, n_feat, n_times + 1), dtype=torch.float64, device=x.device
        )
        torch.cumsum(x, dim=-1, dtype=torch.float64, out=self._csum[..., 1:])

    def valid(self, width: int) -> torch.Tensor:
        """Averages over every window of ``width`` samples, stride 1, no padding.

        Parameters
        ----------
        width : int
            Window length in samples, ``1 <= width <= n_times``.

        Returns
        -------
        averages : torch.Tensor, shape (n_trials, n_features, n_times - width + 1)
            float32; sample ``t`` averages inputs ``t .. t + width - 1``.
        """
        csum = self._csum
        out = torch.empty(
            (*csum.shape[:2], self.n_times - width + 1), device=csum.device
        )
        torch.sub(csum[..., width:], csum[..., :-width], out=out)
        return out.div_(width)

    def at(self, starts: np.ndarray, stops: np.ndarray) -> torch.Tensor:
        """Averages over arbitrary windows ``starts[j] .. stops[j] - 1``.

        For layers whose positions are not dense (padding, strides, whole
        trial; see :class:`envcorr.nn.geometry.LayerGeometry`). Each average
        takes two reads of the cumulative sum, whatever its width: strided
        slices over runs of equally wide, equally spaced windows, gathers for
        the others.

        Parameters
        ----------
        starts, stops : ndarray of int, shape (n_out,)
            Window ``j`` covers samples ``starts[j] .. stops[j] - 1``, with
            ``0 <= starts[j] < stops[j] <= n_times``.

        Returns
        -------
        averages : torch.Tensor, shape (n_trials, n_features, n_out)
            float32; equal to :meth:`valid` for dense windows.
        """
        starts = np.asarray(starts)
        stops = np.asarray(stops)
        if (
            starts.ndim != 1
            or starts.shape != stops.shape
            or not np.issubdtype(starts.dtype, np.integer)
            or not np.issubdtype(stops.dtype, np.integer)
        ):
            raise invalid(
                "starts",
                "expected two 1-D integer arrays of the same length, got shapes "
                f"{starts.shape} and {stops.shape} ({starts.dtype}, {stops.dtype}).",
            )
        if starts.size and (starts.min() < 0 or stops.max() > self.n_times):
            raise invalid(
                "stops",
                f"windows must lie within the {self.n_times} samples, got samples "
                f"{starts.min()} .. {stops.max() - 1}.",
            )
        empty = np.flatnonzero(stops <= starts)
        if empty.size:
            j = empty[0]
            raise invalid(
                "stops",
                f"window {j} is empty ({starts[j]} .. {stops[j] - 1}): an average "
                "needs at least one sample.",
            )
        csum = self._csum
        out = torch.empty((*csum.shape[:2], len(starts)), device=csum.device)
        runs, rest = _plan(tuple(starts.tolist()), tuple(stops.tolist()))
        for j0, j1, first, width, step in runs:
            last = first + (j1 - j0 - 1) * step
            part = out[..., j0:j1]
            torch.sub(
                csum[..., first + width : last + width + 1 : step],
                csum[..., first : last + 1 : step],
                out=part,
            )
            part.div_(width)
        if rest.size:
            idx = torch.as_tensor(rest, device=csum.device)
            lo = torch.as_tensor(starts[rest], dtype=torch.long, device=csum.device)
            hi = torch.as_tensor(stops[rest], dtype=torch.long, device=csum.device)
            diff = csum.index_select(-1, hi) - csum.index_select(-1, lo)
            out.index_copy_(-1, idx, (diff / (hi - lo)).to(out.dtype))
        return out


_MIN_RUN = 4  # shorter runs of regular windows are gathered


@functools.lru_cache(maxsize=64)
def _plan(
    starts: tuple[int, ...], stops: tuple[int, ...]
) -> tuple[list[tuple[int, int, int, int, int]], np.ndarray]:
    """Split windows into regular runs (sliced) and the rest (gathered).

    A run is a stretch of positions ``j0 .. j1 - 1`` whose windows have one
    width and starts spaced by one step (strided layers, or the interior of a
    padded layer): their averages are two strided slices of the cumulative
    sum, much cheaper than gathers. Returns the runs as ``(j0, j1, first start,
    width, step)`` and the indices of the remaining positions (the windows cut
    at the trial's edges, typically).
    """
    n = len(starts)
    runs, rest = [], []
    j = 0
    while j < n:
        width = stops[j] - starts[j]
        k = j + 1
        if k < n and stops[k] - starts[k] == width and starts[k] > starts[j]:
            step = starts[k] - starts[j]
            while (
                k < n
                and stops[k] - starts[k] == width
                and starts[k] - starts[k - 1] == step
            ):
                k += 1
        if k - j >= _MIN_RUN:
            runs.append((j, k, starts[j], width, step))
        else:
            rest.extend(range(j, k))
        j = k
    return runs, np.asarray(rest, dtype=np.int64)


def moving_average(x: np.ndarray, width: int, *, axis: int = -1) -> np.ndarray:
    """Valid moving average with stride 1 (docs/method.md, step 4).

    ``out[..., t] = mean(x[..., t : t + width])``, computed from a float64
    cumulative sum, so the cost per sample does not depend on ``width``. Output
    sample ``t`` covers the same inputs as sample ``t`` of a dense layer whose
    receptive field is ``width``.

    Parameters
    ----------
    x : ndarray, shape (..., n_times)
        Input (for example squared envelopes).
    width : int
        Window length in samples, ``1 <= width <= n_times``.
    axis : int
        Time axis.

    Returns
    -------
    averaged : ndarray, shape (..., n_times - width + 1)
        float64 moving averages.
    """
    x = np.moveaxis(np.asarray(x), axis, -1)
    n_times = x.shape[-1]
    width = check_int("width", width, minimum=1)
    if width > n_times:
        raise invalid(
            "width",
            f"window of {width} samples is longer than the {n_times} samples given.",
        )
    csum = np.zeros((*x.shape[:-1], n_times + 1))
    np.cumsum(x, axis=-1, dtype=np.float64, out=csum[..., 1:])
    out = (csum[..., width:] - csum[..., :-width]) / width
    return np.moveaxis(out, -1, axis)
