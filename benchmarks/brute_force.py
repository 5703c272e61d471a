"""Correlation maps the slow, obvious way, for any network: the yardstick of
compute_maps beyond dense networks (tests/test_maps_models.py, W3 of
bench_compute_maps.py).

Nothing here uses envcorr's geometry, window averages, captured activations or
pooled correlations: windows come from probing (the input samples where a
large change changes the output at a position),
band power is the plain SciPy computation of reference.py, it is averaged over
each window with a Python loop, and r is np.corrcoef's.
"""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

_spec = importlib.util.spec_from_file_location(
    "envcorr_benchmark_reference", Path(__file__).resolve().parent / "reference.py"
)
_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_reference)


def layer_output(model: nn.Module, x: torch.Tensor, layer: str) -> torch.Tensor:
    """The output of module ``layer`` for input ``x`` (a plain forward hook)."""
    return layer_outputs(model, x, [layer])[layer]


def layer_outputs(
    model: nn.Module, x: torch.Tensor, layers: Sequence[str]
) -> dict[str, torch.Tensor]:
    """The outputs of modules ``layers`` for input ``x`` (plain forward hooks).

    A module called more than once keeps its first output.
    """
    modules = dict(model.named_modules())
    seen: dict[str, torch.Tensor] = {}
    handles = [
        modules[name].register_forward_hook(
            lambda m, a, out, name=name: seen.setdefault(name, out)
        )
        for name in layers
    ]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def probed_support(
    model: nn.Module,
    layers: Mapping[str, int | None],
    *,
    n_chans: int,
    n_times: int,
    samples: np.ndarray | None = None,
    n_random: int = 2,
    kick: float = 1e3,
    chunk: int = 63,
) -> dict[str, np.ndarray]:
    """Which input samples each output position of each layer depends on.

    Column by column: for each input sample ``i``, a random trial (standard
    normal) is changed at ``i`` only, by ``+kick`` and by ``-kick`` times a
    random direction over the channels, and every layer's output is compared
    with that of the unchanged trial (one pass gives every layer and
    position). Output position ``j`` depends on sample ``i`` when any of its
    units changes, on any of ``n_random`` trials. Large changes of both signs
    pass ReLUs and win max-pooling, where a derivative would be zero.

    Parameters
    ----------
    model : torch.nn.Module
        The network (run in float32, eval mode, on a copy: a change counts when
        it exceeds 1e-5 of the largest output, and true changes are of the
        order of the kick).
    layers : dict of str to int | None
        Module name to the time axis of its output; None when the output has
        one position per trial.
    n_chans, n_times : int
        Input shape.
    samples : ndarray of int | None
        Input samples to probe; None for all.
    n_random : int
        Random trials.
    kick : float
        Size of the change, in standard deviations of the trial.
    chunk : int
        Changed trials per forward pass (plus the unchanged one).

    Returns
    -------
    support : dict of str to ndarray of bool, shape (n_out, n_samples)
        Per layer, ``support[j, k]``: position ``j`` depends on sample
        ``samples[k]``.
    """
    model = copy.deepcopy(model).eval().float()
    samples = np.arange(n_times) if samples is None else np.asarray(samples)
    gen = torch.Generator().manual_seed(0)
    names = list(layers)
    support: dict[str, np.ndarray] = {}

    def per_position(out: torch.Tensor, axis: int | None) -> torch.Tensor:
        if axis is None:
            return out.reshape(out.shape[0], -1, 1)
        moved = out.movedim(axis, -1)
        return moved.reshape(out.shape[0], -1, moved.shape[-1])

    with torch.no_grad():
        for _ in range(n_random):
            trial = torch.randn((1, n_chans, n_times), generator=gen)
            for sign in (1.0, -1.0):
                for c in range(0, len(samples), chunk):
                    cols = torch.as_tensor(samples[c : c + chunk])
                    x = trial.expand(len(cols) + 1, -1, -1).clone()
                    direction = torch.randn((len(cols), n_chans), generator=gen)
                    x[torch.arange(1, len(cols) + 1), :, cols] += (
                        sign * kick * direction
                    )
                    outs = layer_outputs(model, x, names)
                    for name in names:
                        out = per_position(outs[name], layers[name])
                        change = (out[1:] - out[:1]).abs()
                        tol = 1e-5 * (1.0 + out[:1].abs().max())
                        hit = (change > tol).any(dim=1).numpy().T  # (n_out, cols)
                        if name not in support:
                            support[name] = np.zeros((hit.shape[0], len(samples)), bool)
                        support[name][:, c : c + len(cols)] |= hit
    return support


def probed_windows(
    model: nn.Module,
    layers: Mapping[str, int | None],
    *,
    n_chans: int,
    n_times: int,
    n_random: int = 2,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Window [start, stop) of every output position of every layer.

    From :func:`probed_support` over all input samples.

    Returns
    -------
    windows : dict of str to (starts, stops)
        Per layer, ndarrays of int of shape (n_out,).

    Raises
    ------
    AssertionError
        If a position depends on no sample, or on samples that are not
        contiguous.
    """
    support = probed_support(
        model, layers, n_chans=n_chans, n_times=n_times, n_random=n_random
    )
    windows = {}
    for name, s in support.items():
        assert s.any(axis=1).all(), f"{name}: a position depends on no input sample"
        starts = s.argmax(axis=1)
        stops = n_times - s[:, ::-1].argmax(axis=1)
        width = s.sum(axis=1)
        bad = np.flatnonzero(stops - starts != width)
        assert not bad.size, (
            f"{name}: positions {bad[:5].tolist()} depend on samples that are not "
            "contiguous"
        )
        windows[name] = (starts, stops)
    return windows


def brute_force_corr(
    model: nn.Module,
    X: np.ndarray,
    *,
    sfreq: float,
    bands: dict[str, tuple[float, float]],
    layer: str,
    positions: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
    time_axis: int | None,
    input_scale: float = 1.0,
) -> np.ndarray:
    """r of every unit of ``layer`` with window-averaged squared band power.

    Returns
    -------
    r : ndarray, shape (n_units, n_bands, n_channels)
        np.corrcoef over all trials and the given positions pooled.
    """
    n_trials, n_chans, _ = X.shape
    # (n_trials, n_bands, n_chans, n_times) -> (n_bands, n_trials, n_chans, n_times)
    power = _reference.band_power(X, sfreq, bands).transpose(1, 0, 2, 3)
    avg = np.stack(
        [power[..., a:b].mean(axis=-1) for a, b in zip(starts, stops, strict=True)],
        axis=-1,
    )
    model = model.eval().double()
    with torch.no_grad():
        x = torch.as_tensor(X * input_scale, dtype=torch.float64)
        out = layer_output(model, x, layer)
    if time_axis is None:
        acts = out.reshape(n_trials, -1, 1)
    else:
        moved = out.movedim(time_axis, -1)
        acts = moved.reshape(n_trials, -1, moved.shape[-1])[..., positions]
    a = acts.numpy().transpose(1, 0, 2).reshape(acts.shape[1], -1)  # units x samples
    m = avg.transpose(0, 2, 1, 3).reshape(len(bands) * n_chans, -1)
    # np.corrcoef of a chunk of units with every feature at a time: the whole
    # matrix would be (n_units + n_features)² (17 GB for EEGSimpleConv, whose
    # 46208 units all see the whole trial)
    chunks = [a[k : k + 256] for k in range(0, len(a), 256)]
    r = np.concatenate(
        [np.corrcoef(np.concatenate([c, m]))[: len(c), len(c) :] for c in chunks]
    )
    return r.reshape(len(a), len(bands), n_chans)
