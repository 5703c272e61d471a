"""Envelope-activation correlation maps: the whole analysis (METHOD.md, 1-9)."""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import mne
import numpy as np
import torch
import xarray as xr
from torch import nn

from ._check import (
    InvalidInputError,
    check_array,
    check_bands,
    check_ch_names,
    check_int,
    check_option,
    check_positive_float,
    invalid,
)
from ._logging import logger, progress, use_log_level
from ._version import __version__
from .activations import default_layers, layer_activations, resolve_device
from .correlations import PooledCorrelation, one_hot_over_time
from .data._montage import standard_montage
from .data._trials import Recordings
from .envelopes import DEFAULT_BANDS, FILTER_METHODS, EnvelopeComputer
from .receptive import (
    LayerGeometry,
    check_layers,
    fast_inference_copy,
    layer_geometry,
    make_dense,
    structure,
)

# Working memory per batch: band power, its float64 cumulative sum, window
# averages, both networks' activations and intermediate outputs. On CPU a small
# budget is also the fastest (the working set stays in cache): on W1 of the
# benchmark, 8 trials per batch take 3.4 s and +110 MB, 37 trials 4.0 s and
# +340 MB. GPUs want larger batches.
_BATCH_BYTES = {"cpu": 64 * 2**20, "cuda": 512 * 2**20}
_MAX_BATCH = 64


def compute_maps(
    model: nn.Module,
    X: np.ndarray,
    *,
    sfreq: float,
    ch_names: Sequence[str],
    y: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    bands: Mapping[str, tuple[float, float]] | None = None,
    layers: Sequence[str] | None = None,
    untrained_model: nn.Module | None = None,
    continuous: Recordings | None = None,
    square: str = "before",
    class_field: int | None = None,
    filter_method: str = "auto",
    margin: int | None = None,
    input_scale: float = 1.0,
    ch_pos: Mapping[str, Sequence[float]] | mne.Info | None = None,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
    probe: bool = True,
    seed: int = 0,
    verbose: bool | str | int | None = None,
) -> xr.Dataset:
    """Correlate unit activations with band power, trained vs untrained.

    For every (network, layer, unit, band, channel): the Pearson r between the
    unit's dense activation and the squared band envelope averaged over the
    layer's receptive field, pooled over all trials and time samples; layer
    means of r and of abs(r); trained minus untrained; and, with labels, the
    envelope-class correlation (METHOD.md, steps 1-9).

    Parameters
    ----------
    model : torch.nn.Module
        The trained network, taking input (n_trials, n_channels, n_times). A
        copy is made dense (strides to dilations) when it has strides.
    X : ndarray, shape (n_trials, n_channels, n_times)
        The trials (volts or any unit; see ``input_scale``).
    sfreq : float
        Sampling frequency in Hz.
    ch_names : list of str
        Channel names, in the order of ``X``.
    y : ndarray of int, shape (n_trials,) | None
        Class of each trial (indices into ``class_names``, or labels). Needed
        for the envelope-class correlation.
    class_names : list of str | None
        Class names; defaults to the sorted unique labels.
    bands : dict of str to (float, float) | None
        Frequency bands in Hz; None for :data:`envcorr.envelopes.DEFAULT_BANDS`.
    layers : list of str | None
        Module names to analyse; None for the defaults of braindecode's
        Deep4Net and ShallowFBCSPNet (block outputs and classifier).
    untrained_model : torch.nn.Module | None
        The same architecture with its initial weights (the baseline). When
        None, a copy of ``model`` with freshly initialised weights (``seed``)
        is used, and a warning says so.
    continuous : Recordings | None
        Recordings the trials were cut from, to filter before epoching.
    square : "before" | "after"
        Square the envelope before averaging over the receptive field
        (default, as the original code) or after.
    class_field : int | None
        Averaging window (samples) for the envelope-class correlation; None
        for the field of the deepest analysed layer outside ``final_layer``
        (441 samples, ``pool_nonlin_4``, for Deep4Net).
    filter_method : "auto" | "fft" | "sosfiltfilt"
        Zero-phase filter implementation (see :mod:`envcorr.envelopes`): by
        default ``sosfiltfilt`` for low-pass bands and an FFT for the others.
    margin : int | None
        Samples of context around each trial for filtering; None for default.
    input_scale : float
        Factor applied to ``X`` before the networks (1e6 when the networks were
        trained on microvolts and ``X`` is in volts).
    ch_pos : dict of str to (x, y, z) | mne.Info | None
        Channel positions in metres; None to look the names up in MNE's
        standard_1005 montage.
    batch_size : int | None
        Trials per batch; None chooses from a memory budget (at most 64).
    device : str | torch.device | None
        Where networks and correlation sums run; None for CUDA when available.
    probe : bool
        Cross-check receptive fields by gradients (see
        :func:`envcorr.receptive.layer_geometry`).
    seed : int
        Seed of the re-initialised baseline when ``untrained_model`` is None.
    verbose : bool | str | int | None
        Logging level; progress bars show at INFO.

    Returns
    -------
    maps : xarray.Dataset
        Layout documented in ``docs/results-format.md``: ``unit_corr`` (network,
        band, channel, unit), ``layer_mean_corr`` and ``layer_mean_abs_corr``
        (network, layer, band, channel), their ``*_diff`` (trained − untrained)
        and ``class_corr`` (band, channel, class).
    """
    with use_log_level(verbose):
        return _compute_maps(**locals())


def _compute_maps(
    model,
    X,
    *,
    sfreq,
    ch_names,
    y,
    class_names,
    bands,
    layers,
    untrained_model,
    continuous,
    square,
    class_field,
    filter_method,
    margin,
    input_scale,
    ch_pos,
    batch_size,
    device,
    probe,
    seed,
    verbose,
):
    X = check_array("X", X, ndim=3, dims="(n_trials, n_channels, n_times)")
    n_trials, n_chans, n_times = X.shape
    sfreq = check_positive_float("sfreq", sfreq)
    ch_names = check_ch_names("ch_names", ch_names, n_chans)
    bands = check_bands(DEFAULT_BANDS if bands is None else bands, sfreq)
    square = check_option("square", square, ("before", "after"))
    filter_method = check_option("filter_method", filter_method, FILTER_METHODS)
    input_scale = check_positive_float("input_scale", input_scale)
    y, class_names = _check_labels(y, class_names, n_trials)
    if continuous is not None:
        if not isinstance(continuous, Recordings):
            raise invalid("continuous", "expected envcorr.data.Recordings.")
        continuous.check_matches(n_trials, n_chans, n_times)
    if not isinstance(model, nn.Module):
        raise invalid("model", f"expected a torch.nn.Module, got {type(model)}.")
    expected = getattr(model, "n_chans", None)
    if isinstance(expected, int) and expected != n_chans:
        raise invalid(
            "X",
            f"X has {n_chans} channels but the model expects {expected} (n_chans).",
            "Pick the channels the model was trained on, in the same order.",
        )
    layers = default_layers(model) if layers is None else check_layers(model, layers)
    dev = resolve_device(device)

    trained = _prepare(model, dev)
    untrained, untrained_source = _baseline(model, untrained_model, dev, seed)
    geometry = _geometry(trained, n_times, layers, n_chans, probe)
    if structure(untrained) != structure(trained):
        raise invalid(
            "untrained_model",
            "its architecture (modules, kernels, strides, dilations or parameter "
            "shapes) differs from the trained model's.",
            "Pass the same architecture with its initial weights.",
        )
    if class_field is None:
        body = [g for g in geometry if not g.name.startswith("final_layer")] or geometry
        class_field = body[-1].receptive_field
    class_field = check_int("class_field", class_field, minimum=1)
    if class_field > n_times:
        raise invalid(
            "class_field",
            f"{class_field} samples is longer than the trials ({n_times}).",
        )

    computer = EnvelopeComputer(
        sfreq,
        bands,
        n_times,
        method=filter_method,
        margin=margin,
        continuous=continuous,
    )
    n_feat = len(bands) * n_chans
    if batch_size is None:
        units_times = [g.n_units * g.n_out for g in geometry]
        per_trial = 20 * n_feat * n_times + 12 * sum(units_times)
        budget = _BATCH_BYTES.get(dev.type, _BATCH_BYTES["cpu"])
        batch_size = int(np.clip(budget // per_trial, 1, _MAX_BATCH))
    batch_size = check_int("batch_size", batch_size, minimum=1)

    nets = {"trained": trained, "untrained": untrained}
    fields = sorted({g.receptive_field for g in geometry} | {class_field})
    acc = {field: PooledCorrelation(n_feat, device=dev) for field in fields}
    ch_min = np.full(n_chans, np.inf)
    ch_max = np.full(n_chans, -np.inf)

    logger.info(
        "Correlating %d layers x %d bands x %d channels over %d trials "
        "(batches of %d, %s)",
        len(geometry),
        len(bands),
        n_chans,
        n_trials,
        batch_size,
        dev,
    )
    starts = range(0, n_trials, batch_size)
    for start in progress(starts, desc="Analysing trials", unit="batch"):
        idx = np.arange(start, min(start + batch_size, n_trials))
        xb = X[idx]
        ch_min = np.minimum(ch_min, xb.min(axis=(0, 2)))
        ch_max = np.maximum(ch_max, xb.max(axis=(0, 2)))
        power = torch.from_numpy(computer(xb, idx)).to(dev)
        power = power.reshape(len(idx), n_feat, n_times)
        if square == "before":
            power = power.square_()
        # Moving averages from a float64 cumulative sum with a leading zero:
        # window sums are csum[t + R] - csum[t], in float32 from there on.
        csum = torch.zeros(
            (len(idx), n_feat, n_times + 1), dtype=torch.float64, device=dev
        )
        torch.cumsum(power, dim=-1, dtype=torch.float64, out=csum[..., 1:])
        del power
        acts = {
            net: layer_activations(m, xb, geometry, input_scale=input_scale)
            for net, m in nets.items()
        }
        for field in fields:
            avg = torch.empty((len(idx), n_feat, n_times - field + 1), device=dev)
            torch.sub(csum[..., field:], csum[..., :-field], out=avg)
            avg.div_(field)
            if square == "after":
                avg = avg.square_()
            groups = {
                (net, g.name): acts[net][g.name]
                for g in geometry
                if g.receptive_field == field
                for net in nets
            }
            if y is not None and field == class_field:
                onehot = one_hot_over_time(y[idx], len(class_names), avg.shape[-1])
                groups["class"] = onehot.to(dev)
            acc[field].update(avg, groups)
        del acts, csum

    constant = [
        ch for ch, lo, hi in zip(ch_names, ch_min, ch_max, strict=True) if lo == hi
    ]
    if constant:
        warnings.warn(
            f"Channel(s) {constant} are constant over all trials: their "
            "correlations are NaN.",
            RuntimeWarning,
            stacklevel=3,
        )
    config = {
        "bands": {k: list(v) for k, v in bands.items()},
        "layers": [g.name for g in geometry],
        "square": square,
        "class_field": class_field,
        "filter_method": filter_method,
        "margin": computer.margin,
        "input_scale": input_scale,
        "batch_size": batch_size,
        "device": str(dev),
        "probe": probe,
        "seed": seed,
    }
    return _to_dataset(
        acc=acc,
        class_field=class_field if y is not None else None,
        geometry=geometry,
        bands=bands,
        ch_names=ch_names,
        constant=constant,
        class_names=class_names,
        y=y,
        ch_pos=ch_pos,
        attrs={
            "sfreq": sfreq,
            "n_trials": n_trials,
            "n_times": n_times,
            "square": square,
            "class_field": class_field,
            "model_name": type(model).__name__,
            "untrained_source": untrained_source,
            "filtering": "per-trial" if continuous is None else "continuous",
            "versions": json.dumps(versions()),
            "config": json.dumps(config),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )


def _check_labels(y, class_names, n_trials):
    if y is None:
        return None, None
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n_trials:
        raise invalid(
            "y",
            f"{y.shape[0] if y.ndim else 0} labels (shape {y.shape}) for "
            f"{n_trials} trials.",
            "Give one label per trial.",
        )
    if np.issubdtype(y.dtype, np.integer):
        if class_names is None:
            class_names = [str(c) for c in range(int(y.max()) + 1)]
        class_names = [str(c) for c in class_names]
        if y.min() < 0 or y.max() >= len(class_names):
            raise invalid(
                "y",
                f"labels must lie in [0, {len(class_names) - 1}] for the "
                f"{len(class_names)} class names.",
            )
        return y.astype(np.int64), class_names
    labels = [str(v) for v in y]
    if class_names is None:
        class_names = sorted(set(labels))
    class_names = [str(c) for c in class_names]
    unknown = sorted(set(labels) - set(class_names))
    if unknown:
        raise invalid("y", f"labels {unknown} are not in class_names {class_names}.")
    lookup = {c: i for i, c in enumerate(class_names)}
    return np.array([lookup[v] for v in labels], dtype=np.int64), class_names


def _prepare(model: nn.Module, device: torch.device) -> nn.Module:
    return fast_inference_copy(make_dense(model), device)


def _baseline(model, untrained_model, device, seed):
    if untrained_model is not None:
        if not isinstance(untrained_model, nn.Module):
            raise invalid("untrained_model", "expected a torch.nn.Module.")
        shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        other = {k: tuple(v.shape) for k, v in untrained_model.state_dict().items()}
        if shapes != other:
            raise invalid(
                "untrained_model",
                "its parameters differ from the model's in names or shapes.",
                "Pass the same architecture with its initial weights.",
            )
        return _prepare(untrained_model, device), "given"
    logger.warning(
        "untrained_model not given: the baseline is a copy of the model with "
        "freshly initialised weights (seed=%d). Pass the network's own initial "
        "weights for the exact baseline of the method.",
        seed,
    )
    baseline = copy.deepcopy(model)
    torch.manual_seed(seed)
    for module in baseline.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return _prepare(baseline, device), "reinitialized"


def _geometry(net, n_times, layers, n_chans, probe) -> list[LayerGeometry]:
    try:
        return layer_geometry(net, n_times, layers, n_chans=n_chans, probe=probe)
    except InvalidInputError as err:
        # Fields do not depend on the input length: find them on a long input
        # to say which layers the trials are too short for.
        long = max(4 * n_times, 4096)
        try:
            geo = layer_geometry(net, long, layers, n_chans=n_chans, probe=False)
        except InvalidInputError:
            raise err from None
        short = {g.name: g.receptive_field for g in geo if g.receptive_field > n_times}
        if not short:
            raise
        raise invalid(
            "X",
            f"trials of {n_times} samples are shorter than the receptive field of "
            f"layer(s) {short} (samples).",
            "Use longer trials or analyse shallower layers.",
        ) from None


def versions() -> dict[str, str]:
    """Versions of envcorr and the libraries its numbers depend on."""
    import braindecode
    import scipy

    return {
        "envcorr": __version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
        "braindecode": braindecode.__version__,
        "mne": mne.__version__,
        "xarray": xr.__version__,
    }


def channel_positions(
    ch_names: Sequence[str], ch_pos: Mapping[str, Any] | mne.Info | None
) -> np.ndarray | None:
    """Positions (n_channels, 3) in metres, or None when any is unknown."""
    if isinstance(ch_pos, mne.Info):
        montage = ch_pos.get_montage()
        ch_pos = None if montage is None else montage.get_positions()["ch_pos"]
    if ch_pos is None:
        ch_pos = standard_montage().get_positions()["ch_pos"]
    lookup = {k.lower(): np.asarray(v, float) for k, v in ch_pos.items()}
    pos = [lookup.get(c.lower()) for c in ch_names]
    if any(p is None or p.shape != (3,) or not np.all(np.isfinite(p)) for p in pos):
        return None
    return np.stack(pos)


def _to_dataset(
    *,
    acc,
    class_field,
    geometry,
    bands,
    ch_names,
    constant,
    class_names,
    y,
    ch_pos,
    attrs,
):
    n_bands, n_chans = len(bands), len(ch_names)
    bad = np.isin(ch_names, constant)
    unit_corr = []
    for net in ("trained", "untrained"):
        blocks = []
        for g in geometry:
            r = acc[g.receptive_field].corr((net, g.name))
            r = r.reshape(g.n_units, n_bands, n_chans)
            r[:, :, bad] = np.nan
            blocks.append(r)
        unit_corr.append(np.concatenate(blocks).transpose(1, 2, 0))
    unit_corr = np.stack(unit_corr)  # (network, band, channel, unit)
    n_dead = int(np.isnan(unit_corr[..., ~bad, :]).all(axis=(1, 2)).sum())
    if n_dead:
        logger.info("%d constant unit(s) (e.g. never active): their r is NaN", n_dead)
    layer_of_unit = np.concatenate([[g.name] * g.n_units for g in geometry])
    unit_in_layer = np.concatenate([np.arange(g.n_units) for g in geometry])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices stay NaN
        mean_r = np.stack(
            [np.nanmean(unit_corr[..., layer_of_unit == g.name], -1) for g in geometry],
            axis=1,
        )
        mean_abs = np.stack(
            [
                np.nanmean(np.abs(unit_corr[..., layer_of_unit == g.name]), -1)
                for g in geometry
            ],
            axis=1,
        )
    net_dims = ("network", "layer", "band", "channel")
    data_vars = {
        "unit_corr": (("network", "band", "channel", "unit"), unit_corr),
        "layer_mean_corr": (net_dims, mean_r),
        "layer_mean_abs_corr": (net_dims, mean_abs),
        "layer_mean_corr_diff": (net_dims[1:], mean_r[0] - mean_r[1]),
        "layer_mean_abs_corr_diff": (net_dims[1:], mean_abs[0] - mean_abs[1]),
    }
    coords = {
        "network": ["trained", "untrained"],
        "layer": [g.name for g in geometry],
        "receptive_field": ("layer", [g.receptive_field for g in geometry]),
        "layer_n_times": ("layer", [g.n_out for g in geometry]),
        "layer_n_units": ("layer", [g.n_units for g in geometry]),
        "unit": np.arange(len(layer_of_unit)),
        "unit_layer": ("unit", layer_of_unit.astype(str)),
        "unit_in_layer": ("unit", unit_in_layer),
        "band": list(bands),
        "band_low": ("band", [lo for lo, _ in bands.values()]),
        "band_high": ("band", [hi for _, hi in bands.values()]),
        "channel": list(ch_names),
    }
    pos = channel_positions(ch_names, ch_pos)
    if pos is not None:
        for k, axis in enumerate("xyz"):
            coords[f"ch_{axis}"] = ("channel", pos[:, k])
    else:
        logger.info("Channel positions unknown for some names: no ch_x/ch_y/ch_z")
    if class_field is not None:
        r = acc[class_field].corr("class").T.reshape(n_bands, n_chans, len(class_names))
        r[:, bad] = np.nan
        data_vars["class_corr"] = (("band", "channel", "class"), r)
        counts = np.bincount(y, minlength=len(class_names))
        data_vars["n_trials_per_class"] = (("class",), counts)
        coords["class"] = list(class_names)
    ds = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    for name, desc in _DESCRIPTIONS.items():
        if name in ds:
            ds[name].attrs["description"] = desc
    return ds


_DESCRIPTIONS = {
    "unit_corr": "Pearson r of unit activation with receptive-field-averaged "
    "squared band envelope, pooled over trials and time",
    "layer_mean_corr": "mean of unit_corr over the units of each layer",
    "layer_mean_abs_corr": "mean of |unit_corr| over the units of each layer",
    "layer_mean_corr_diff": "trained minus untrained layer_mean_corr",
    "layer_mean_abs_corr_diff": "trained minus untrained layer_mean_abs_corr",
    "class_corr": "Pearson r of averaged squared band envelope with the one-hot "
    "class indicator (point-biserial)",
}
