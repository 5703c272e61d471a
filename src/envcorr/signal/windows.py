"""Moving averages over receptive fields (docs/method.md, step 4).

Averages over windows come from one cumulative sum with a leading zero: the
sum over samples ``t .. t + R - 1`` is ``csum[t + R] - csum[t]``, so the cost
per output sample does not depend on the window's length, and one cumulative
sum serves the windows of every layer.
"""

from __future__ import annotations

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
