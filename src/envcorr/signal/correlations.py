"""Pearson correlations pooled over trials and time (docs/method.md, steps 6 and 9).

Correlations are accumulated batch by batch from sufficient statistics in
float64 (sums, sums of squares and cross-products of shifted values), so memory
does not grow with the number of trials and the result does not depend on the
batch size. Values are shifted by the first batch's means before they are
summed, which keeps the variance and covariance sums free of cancellation.
Sums and cross-products of one trial (at most ``n_times`` terms of centred
values) are formed in float32 and summed over trials in float64: the result
agrees with a float64 ``np.corrcoef`` to about 1e-8 at half the cost of
float64 products.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch

from .._utils.check import check_array, invalid


class PooledCorrelation:
    """Pearson r of several groups of variables with one set of features.

    Everything is pooled over trials and time samples: for features ``b`` of
    shape (n_trials, n_b, n_times) and a group ``a`` of shape (n_trials, n_a,
    n_times), the result equals ``np.corrcoef`` of ``a`` and ``b`` with trials
    concatenated along time, restricted to the (n_a, n_b) cross block. The
    feature sums are shared by all groups (e.g. the same layer of the trained
    and the untrained network).

    Parameters
    ----------
    n_b : int
        Number of features (rows of ``b``).
    device : torch.device | str
        Where the sums live (that of the batches given to :meth:`update`).

    Notes
    -----
    Each batch gives the features once (:meth:`add_features`) and then any
    number of groups of the same trials (:meth:`add_group`), so the features'
    preparation is shared by every network and layer that uses them.
    """

    def __init__(self, n_b: int, *, device: torch.device | str = "cpu"):
        self._kw = {"dtype": torch.float64, "device": device}
        self.n = 0
        self.shift_b: torch.Tensor | None = None
        self.sum_b = torch.zeros(n_b, **self._kw)
        self.sum_bb = torch.zeros(n_b, **self._kw)
        self.groups: dict[str, dict[str, torch.Tensor]] = {}

    def add_features(self, b: torch.Tensor) -> torch.Tensor:
        """Add a batch of features; return them prepared for :meth:`add_group`.

        Parameters
        ----------
        b : torch.Tensor, shape (n_trials, n_b, n_times)
            Features (e.g. averaged squared envelopes).

        Returns
        -------
        prepared : torch.Tensor, shape (n_trials, n_times, n_b + 1)
            Shifted float32 features with a row of ones, transposed: pass it
            with every group of the same trials to :meth:`add_group`.
        """
        if self.shift_b is None:
            self.shift_b = b.mean(dim=(0, 2), dtype=torch.float64)
        n_trials, n_b, n_times = b.shape
        self.n += n_trials * n_times
        # Everything per trial runs in float32 on shifted, hence centred, values
        # (at most n_times terms per sum) and is summed over trials in float64.
        # A row of ones makes each product also yield the group's plain sums.
        b_aug = torch.empty((n_trials, n_b + 1, n_times), device=b.device)
        shifted_b = b_aug[:, :n_b]
        torch.sub(b, self.shift_b.to(b.dtype)[:, None], out=shifted_b)
        b_aug[:, n_b] = 1.0
        self.sum_b += shifted_b.sum(dim=2).sum(dim=0, dtype=torch.float64)
        self.sum_bb += _sum_squares(shifted_b)
        return b_aug.transpose(1, 2)

    def add_group(self, key: Hashable, a: torch.Tensor, prepared: torch.Tensor) -> None:
        """Add the variables of group ``key`` for the trials of ``prepared``.

        Parameters
        ----------
        key : hashable
            Name of the group (e.g. a network and a layer).
        a : torch.Tensor, shape (n_trials, n_a, n_times)
            Variables to correlate with the features (e.g. unit activations),
            same trials and samples as the features of :meth:`add_features`.
        prepared : torch.Tensor
            The return value of :meth:`add_features` for these trials.
        """
        stats = self.groups.get(key)
        if stats is None:
            n_a = a.shape[1]
            stats = self.groups[key] = {
                "shift": a.mean(dim=(0, 2), dtype=torch.float64),
                "sum_sq": torch.zeros(n_a, **self._kw),
                "sum_ab": torch.zeros((n_a, prepared.shape[2]), **self._kw),
                "n": 0,
            }
        stats["n"] += a.shape[0] * a.shape[2]
        a = a.to(torch.float32) - stats["shift"].to(torch.float32)[:, None]
        stats["sum_sq"] += _sum_squares(a)
        stats["sum_ab"] += torch.bmm(a, prepared).sum(dim=0, dtype=torch.float64)

    def update(self, b: torch.Tensor, groups: Mapping[Hashable, torch.Tensor]) -> None:
        """Add a batch of features and of every group's variables.

        Parameters
        ----------
        b : torch.Tensor, shape (n_trials, n_b, n_times)
            Features (e.g. averaged squared envelopes).
        groups : dict of hashable to torch.Tensor, each shape (n_trials, n_a, n_times)
            Variables to correlate with the features (e.g. unit activations),
            same trials and samples; every group must be given in every batch.
        """
        prepared = self.add_features(b)
        for key, a in groups.items():
            self.add_group(key, a, prepared)

    def corr(self, key: str) -> np.ndarray:
        """Correlations of group ``key``, shape (n_a, n_b); NaN for constants."""
        if self.n == 0:
            raise RuntimeError("no data was added")
        stats = self.groups[key]
        if stats["n"] != self.n:
            raise ValueError(
                f"group {key!r} was given for {stats['n']} samples, the features "
                f"for {self.n}: every batch must give every group"
            )
        sum_a, sum_ab = stats["sum_ab"][:, -1], stats["sum_ab"][:, :-1]
        mean_a = sum_a / self.n
        mean_b = self.sum_b / self.n
        cov = sum_ab / self.n - torch.outer(mean_a, mean_b)
        var_a = (stats["sum_sq"] / self.n - mean_a**2).clamp(min=0)
        var_b = (self.sum_bb / self.n - mean_b**2).clamp(min=0)
        denom = torch.sqrt(torch.outer(var_a, var_b))
        r = torch.where(denom > 0, cov / denom, torch.nan)
        return r.clamp(-1.0, 1.0).cpu().numpy()


def _sum_squares(x: torch.Tensor) -> torch.Tensor:
    """Sums of squares over trials and time of (n_trials, n, n_times), float64."""
    per_trial = torch.linalg.vector_norm(x, dim=2).square_()
    return per_trial.sum(dim=0, dtype=torch.float64)


def pooled_corr(a: np.ndarray, b: np.ndarray, *, batch_size: int | None = None):
    """Pearson r between rows of ``a`` and ``b``, pooled over trials and time.

    Parameters
    ----------
    a : ndarray, shape (n_trials, n_a, n_times)
        First variables.
    b : ndarray, shape (n_trials, n_b, n_times)
        Second variables.
    batch_size : int | None
        Trials per accumulation step (the result does not depend on it).

    Returns
    -------
    r : ndarray, shape (n_a, n_b)
    """
    a = check_array("a", a, ndim=3, dims="(n_trials, n_a, n_times)")
    b = check_array("b", b, ndim=3, dims="(n_trials, n_b, n_times)")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[2]:
        raise invalid(
            "b",
            f"shape {b.shape} does not match a's trials and samples {a.shape}.",
        )
    acc = PooledCorrelation(b.shape[1])
    step = batch_size or a.shape[0]
    for start in range(0, a.shape[0], step):
        stop = start + step
        acc.update(
            torch.from_numpy(b[start:stop]), {"a": torch.from_numpy(a[start:stop])}
        )
    return acc.corr("a")


def one_hot_over_time(y: np.ndarray, n_classes: int, n_times: int) -> torch.Tensor:
    """Class indicators repeated over time, shape (n_trials, n_classes, n_times)."""
    onehot = torch.nn.functional.one_hot(torch.as_tensor(y), n_classes)
    return onehot.to(torch.float64)[:, :, None].expand(-1, -1, n_times)
