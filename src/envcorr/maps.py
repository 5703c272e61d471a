"""Envelope-activation correlation maps: the whole analysis in one pass.

This module only orchestrates (docs/method.md explains each step): it checks
the inputs, prepares fast dense copies of the networks (:mod:`envcorr.nn`),
then loops once over batches of trials. Per batch, the band envelopes and
their window averages (:mod:`envcorr.signal`) are computed once and shared
by every network and layer; each network runs once, and its layer outputs
are correlated with the averages of their receptive field. The results are
assembled into a labelled Dataset by :mod:`envcorr.results`.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ._utils.check import (
    InvalidInputError,
    check_array,
    check_bool,
    check_ch_names,
    check_int,
    check_labels,
    check_option,
    check_positive_float,
    invalid,
)
from ._utils.docs import fill_doc
from ._utils.logs import logger, progress, verbose
from ._utils.torchutils import resolve_device, seeded
from ._utils.versions import versions
from .config import SAMPLES_OPTIONS, SQUARE_OPTIONS
from .data._trials import Recordings
from .nn.capture import layer_activations
from .nn.fast import fast_convs, inference_copy
from .nn.geometry import (
    LayerGeometry,
    check_layers,
    layer_geometry,
    probe_geometry,
    structure,
)
from .nn.layers import default_layers
from .results import assemble_maps
from .signal.bands import bands_for
from .signal.correlations import PooledCorrelation, one_hot_over_time
from .signal.envelopes import FILTER_METHODS, EnvelopeComputer
from .signal.windows import WindowAverages

if TYPE_CHECKING:
    import mne
    import xarray as xr

# Working memory per batch: band power, its float64 cumulative sum, window
# averages, and the activations and intermediate outputs of one network at a
# time (networks run one after another). On CPU a small budget is also the
# fastest (the working set stays in cache): on W1 of the benchmark, 8 trials
# per batch take 3.4 s and +110 MB, 37 trials 4.0 s and +340 MB. GPUs want
# larger batches.
_BATCH_BYTES = {"cpu": 64 * 2**20, "cuda": 512 * 2**20}
_MAX_BATCH = 64


@verbose
@fill_doc
def compute_maps(
    model: nn.Module,
    X: np.ndarray,
    *,
    sfreq: float,
    ch_names: Sequence[str],
    y: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    bands: Mapping[str, tuple[float, float]] | str | None = None,
    layers: Sequence[str] | None = None,
    untrained_model: nn.Module | Sequence[nn.Module] | None = None,
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
    dense: bool | None = None,
    samples: str = "all",
    chance: bool = False,
    seed: int = 0,
    verbose: bool | str | int | None = None,
) -> xr.Dataset:
    """Correlate unit activations with band power, trained vs untrained.

    For every (network, layer, unit, band, channel): the Pearson r between the
    unit's dense activation and the squared band envelope averaged over the
    layer's receptive field, pooled over all trials and time samples; layer
    means of r and of abs(r); trained minus untrained; and, with labels, the
    envelope-class correlation (docs/method.md, steps 1-9). All networks are
    analysed in one pass over the data: envelopes, window averages and batches
    are shared.

    Parameters
    ----------
    model : torch.nn.Module
        The trained network, taking input (n_trials, n_channels, n_times). It
        is not changed: the analysis runs on a copy (see ``dense``).
    %(X)s Any unit; see ``input_scale``.
    %(sfreq)s
    ch_names : list of str
        Channel names, in the order of ``X``.
    y : ndarray of int, shape (n_trials,) | None
        Class of each trial (indices into ``class_names``, or labels such as
        strings), for the envelope-class correlation; None to skip it. The
        trials must hold at least two classes (the correlation with the class
        needs the class to vary). Floats are accepted only with whole values
        (1.0 for class 1); NaN or None labels are an error.
    class_names : list of str | None
        Class names; defaults to the sorted unique labels.
    %(bands)s
        Also ``"default"`` or ``"filterbank"`` (:func:`filterbank_bands`). The
        band sets of envcorr (None included) leave out, with a warning, the
        bands whose upper edge reaches the Nyquist frequency; bands given as a
        dict must lie below it (see :func:`envcorr.signal.bands.bands_for`).
    layers : list of str | None
        Module names to analyse; None for the defaults (block outputs and the
        classifier): a table for braindecode's networks, a documented rule
        for any other (:func:`envcorr.nn.default_layers`, docs/models.md).
    untrained_model : torch.nn.Module | list of torch.nn.Module | None
        The same architecture with its initial weights (the baseline), or a
        list whose first entry is that baseline and whose further entries are
        more initialisations (networks ``untrained_1`` .. ``untrained_K``, for
        the spread of the baseline). When None, a copy of ``model`` with
        freshly initialised weights (``seed``) is used, and a warning says so.
    %(continuous)s
    square : "before" | "after"
        Square the envelope before averaging over the receptive field
        (default, as the original code) or after.
    class_field : int | None
        Averaging window (samples) for the envelope-class correlation; None
        for the field of the deepest analysed layer outside ``final_layer``
        (441 samples, ``pool_nonlin_4``, for Deep4Net).
    %(filter_method)s
    %(margin)s
    %(input_scale)s
    ch_pos : dict of str to (x, y, z) | mne.Info | None
        Channel positions in metres; None to look the names up in MNE's
        standard 10-05 montage.
    batch_size : int | None
        Trials per batch; None chooses from a memory budget (at most 64).
    %(device)s
    probe : bool
        Cross-check each layer's windows by gradients (see
        :func:`envcorr.nn.geometry.layer_geometry`).
    dense : bool | None
        Analyse a dense copy of the networks (every stride replaced by
        dilations: one output position per input sample) or the networks at
        their own output positions. None (default) uses the dense copy where
        it is exact (a stack of valid convolutions and poolings, as
        braindecode's Deep4Net and ShallowFBCSPNet) and the networks' own
        positions otherwise (padding, flatten + linear, global pooling,
        attention), with one INFO line saying so. True requires the dense
        copy; False never makes one.
    samples : "all" | "predictions"
        Correlate every layer at all of its output positions ("all"), or
        only at the positions whose window ends where a window of the deepest
        analysed layer ends ("predictions": with the default layers, the
        positions aligned with the cropped decoder's predictions, as the
        original 2017 code did). "predictions" needs a deepest layer with
        positions in time (not one output per trial).
    chance : bool
        Also measure each network's chance level (docs/method.md, "The chance
        level of mean |r|"): the same correlations with the envelopes of
        another trial (trial i's activations against trial i - 1's envelopes,
        trial 0's against the last trial's), in the same pass. Adds
        ``chance_layer_mean_abs_corr`` and ``layer_mean_abs_corr_excess_diff``
        (the trained − untrained difference of mean |r| above chance); needs
        at least two trials. About a quarter more time (benchmarks/README.md).
    seed : int
        Seed of the re-initialised baseline when ``untrained_model`` is None
        (torch's global random state is left untouched).
    %(verbose)s

    Returns
    -------
    maps : xarray.Dataset
        Layout documented in ``docs/results-format.md``: ``unit_corr`` (network,
        band, channel, unit), ``layer_mean_corr`` and ``layer_mean_abs_corr``
        (network, layer, band, channel), their ``*_diff`` (trained − untrained)
        and ``class_corr`` (band, channel, class); with ``chance``,
        ``chance_layer_mean_abs_corr`` (network, layer, band, channel) and
        ``layer_mean_abs_corr_excess_diff`` (layer, band, channel). ``network``
        is ``["trained", "untrained", "untrained_1", ...]``.
    """
    X = check_array("X", X, ndim=3, dims="(n_trials, n_channels, n_times)")
    n_trials, n_chans, n_times = X.shape
    sfreq = check_positive_float("sfreq", sfreq)
    ch_names = check_ch_names("ch_names", ch_names, n_chans)
    bands = bands_for(sfreq, bands)
    square = check_option("square", square, SQUARE_OPTIONS)
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
    if layers is None:
        layers = default_layers(model, n_chans=n_chans, n_times=n_times)
    else:
        layers = check_layers(model, layers)
    dev = resolve_device(device)

    samples = check_option("samples", samples, SAMPLES_OPTIONS)
    if dense is not None:
        dense = check_bool("dense", dense)
    chance = check_bool("chance", chance)
    if chance and n_trials < 2:
        raise invalid(
            "chance",
            "the chance level pairs each trial with another one, but X holds "
            "a single trial.",
            "Pass at least two trials, or chance=False.",
        )
    baselines, untrained_source = _baselines(model, untrained_model, seed)
    trained, geometry, dense = _analysed_network(
        model, dev, dense, n_times, layers, n_chans, probe
    )
    nets = {"trained": trained}
    for k, baseline in enumerate(baselines):
        name = "untrained" if k == 0 else f"untrained_{k}"
        nets[name] = inference_copy(baseline, dev, dense=dense)
    positions = select_positions(geometry, samples)
    reference = structure(nets["trained"])
    for k, (name, net) in enumerate(nets.items()):
        if name != "trained" and structure(net) != reference:
            raise invalid(
                "untrained_model",
                f"the architecture of entry {k - 1} (modules, kernels, strides, "
                "dilations or parameter shapes) differs from the trained model's.",
                "Pass the same architecture with its initial weights.",
            )
    if class_field is None:
        class_field = _default_class_field(geometry)
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
        units_times = sum(g.n_units * len(positions[g.name]) for g in geometry)
        per_trial = 20 * n_feat * n_times + 12 * units_times
        budget = _BATCH_BYTES.get(dev.type, _BATCH_BYTES["cpu"])
        batch_size = int(np.clip(budget // per_trial, 1, _MAX_BATCH))
    batch_size = check_int("batch_size", batch_size, minimum=1)

    logger.info(
        "Correlating %d layers x %d bands x %d channels of %d networks over %d "
        "trials (batches of %d, %s)",
        len(geometry),
        len(bands),
        n_chans,
        len(nets),
        n_trials,
        batch_size,
        dev,
    )
    acc, ch_min, ch_max = _accumulate(
        X,
        y,
        n_classes=0 if class_names is None else len(class_names),
        nets={name: fast_convs(net, dev) for name, net in nets.items()},
        geometry=geometry,
        positions=positions,
        computer=computer,
        square=square,
        class_field=class_field,
        input_scale=input_scale,
        batch_size=batch_size,
        device=dev,
        chance=chance,
    )
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
        "dense": dense,
        "samples": samples,
        "chance": chance,
        "seed": seed,
    }
    keys = {
        g.name: _window_key(g.starts[p], g.stops[p])
        for g, p in _pairs(geometry, positions)
    }
    return assemble_maps(
        unit_corr={
            net: [acc[keys[g.name]].corr((net, g.name)) for g in geometry]
            for net in nets
        },
        chance_corr={
            net: [acc[keys[g.name]].corr(("chance", net, g.name)) for g in geometry]
            for net in nets
        }
        if chance
        else None,
        class_corr=None
        if y is None
        else acc[_class_key(class_field, n_times)].corr("class"),
        geometry=geometry,
        positions=positions,
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
            "dense": int(dense),
            "samples": samples,
            "model_name": type(model).__name__,
            "untrained_source": untrained_source,
            "filtering": "per-trial" if continuous is None else "continuous",
            "versions": json.dumps(versions()),
            "config": json.dumps(config),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )


def _accumulate(
    X: np.ndarray,
    y: np.ndarray | None,
    *,
    n_classes: int,
    nets: dict[str, nn.Module],
    geometry: list[LayerGeometry],
    positions: dict[str, np.ndarray],
    computer: EnvelopeComputer,
    square: str,
    class_field: int,
    input_scale: float,
    batch_size: int,
    device: torch.device,
    chance: bool = False,
) -> tuple[dict[tuple, PooledCorrelation], np.ndarray, np.ndarray]:
    """The one pass over the data: correlation sums of every network and layer.

    Returns the accumulators (one per set of windows, see :func:`_window_key`;
    groups ``(network, layer)`` and, with ``chance``, ``("chance", network,
    layer)``: the activations of each trial against the features of the
    trial before it) and each channel's minimum and maximum over all trials
    (to find constant channels).
    """
    n_trials, n_chans, n_times = X.shape
    n_feat = len(computer.bands) * n_chans
    keys = {}
    for g, p in _pairs(geometry, positions):
        keys[g.name] = _window_key(g.starts[p], g.stops[p])
    class_key = _class_key(class_field, n_times)
    windows_of = {key: key for key in keys.values()}
    if y is not None:
        windows_of[class_key] = class_key
    acc = {key: PooledCorrelation(n_feat, device=device) for key in windows_of}
    ch_min = np.full(n_chans, np.inf)
    ch_max = np.full(n_chans, -np.inf)
    # Chance pairs: trial i's activations with the envelopes of trial i - 1
    # (trial 0 with the last trial's), whatever the batches. ``previous`` holds
    # the prepared features of the last trial seen, ``first`` trial 0's
    # activations until the last trial's features are known.
    previous: dict[tuple, torch.Tensor] = {}
    first: dict[tuple, torch.Tensor] = {}
    starts = range(0, n_trials, batch_size)
    for start in progress(starts, desc="Analysing trials", unit="batch"):
        idx = np.arange(start, min(start + batch_size, n_trials))
        xb = X[idx]
        ch_min = np.minimum(ch_min, xb.min(axis=(0, 2)))
        ch_max = np.maximum(ch_max, xb.max(axis=(0, 2)))
        power = torch.from_numpy(computer(xb, idx)).to(device)
        power = power.reshape(len(idx), n_feat, n_times)
        if square == "before":
            power = power.square_()
        windows = WindowAverages(power)
        del power
        prepared = {}
        for key in acc:
            avg = _averages(windows, key)
            if square == "after":
                avg = avg.square_()
            prepared[key] = acc[key].add_features(avg)
            if y is not None and key == class_key:
                onehot = one_hot_over_time(y[idx], n_classes, avg.shape[-1])
                acc[key].add_group("class", onehot.to(device), prepared[key])
        del windows
        if chance:  # the features of trials start - 1 .. end - 2
            before = {
                key: prepared[key][:-1]
                if start == 0
                else torch.cat([previous[key], prepared[key][:-1]])
                for key in set(keys.values())
            }
            previous = {key: prepared[key][-1:].clone() for key in before}
        for net_name, net in nets.items():
            acts = layer_activations(net, xb, geometry, input_scale=input_scale)
            for g in geometry:
                key = keys[g.name]
                a = _at_positions(acts[g.name], positions[g.name], g.n_out)
                acc[key].add_group((net_name, g.name), a, prepared[key])
                if chance:
                    pair = ("chance", net_name, g.name)
                    if start == 0:
                        first[pair], a = a[:1].clone(), a[1:]
                    if len(a):
                        acc[key].add_group(pair, a, before[key])
            del acts
    for pair, a in first.items():
        key = keys[pair[2]]
        acc[key].add_group(pair, a, previous[key])
    return acc, ch_min, ch_max


def _pairs(geometry, positions):
    return [(g, positions[g.name]) for g in geometry]


def _window_key(starts: np.ndarray, stops: np.ndarray) -> tuple:
    """A hashable description of a set of windows, shared by equal sets.

    ``("valid", width, first, n)`` for ``n`` windows of ``width`` samples at
    stride 1 starting at sample ``first`` (dense layers: one cumulative-sum
    slice); ``("at", starts, stops)`` otherwise.
    """
    width = stops - starts
    n = len(starts)
    if np.all(width == width[0]) and np.array_equal(
        starts, np.arange(starts[0], starts[0] + n)
    ):
        return ("valid", int(width[0]), int(starts[0]), n)
    return ("at", tuple(starts.tolist()), tuple(stops.tolist()))


def _class_key(class_field: int, n_times: int) -> tuple:
    return ("valid", class_field, 0, n_times - class_field + 1)


def _averages(windows: WindowAverages, key: tuple) -> torch.Tensor:
    """The window averages that ``key`` (:func:`_window_key`) describes."""
    if key[0] == "valid":
        _, width, first, n = key
        avg = windows.valid(width)
        return avg if first == 0 and n == avg.shape[-1] else avg[..., first : first + n]
    return windows.at(np.asarray(key[1]), np.asarray(key[2]))


def _at_positions(acts: torch.Tensor, keep: np.ndarray, n_out: int) -> torch.Tensor:
    """Activations (n_trials, n_units, n_out) at the kept positions only."""
    if len(keep) == n_out:
        return acts
    if np.array_equal(keep, np.arange(keep[0], keep[0] + len(keep))):
        return acts[..., keep[0] : keep[0] + len(keep)]
    return acts[..., torch.as_tensor(keep, device=acts.device)]


def select_positions(
    geometry: Sequence[LayerGeometry], samples: str
) -> dict[str, np.ndarray]:
    """Output positions of each layer that the correlations pool over.

    Parameters
    ----------
    geometry : list of LayerGeometry
        The analysed layers, by depth.
    samples : "all" | "predictions"
        Every position, or only those whose window ends where a window of the
        deepest layer ends (the positions aligned with its predictions).

    Returns
    -------
    positions : dict of str to ndarray of int
        Per layer, the indices of the kept output positions, increasing.
    """
    if samples == "all":
        return {g.name: np.arange(g.n_out) for g in geometry}
    last = geometry[-1]
    if last.time_axis is None:
        raise invalid(
            "samples",
            f"'predictions' needs a deepest layer with positions in time, but "
            f"{last.name!r} has one output per trial (the network predicts per "
            "trial).",
            "Use samples='all', or a network trained for cropped decoding.",
        )
    positions = {}
    for g in geometry:
        keep = np.flatnonzero(np.isin(g.stops, last.stops))
        if keep.size == 0:
            raise invalid(
                "samples",
                f"no output position of layer {g.name!r} ends where a prediction "
                f"of {last.name!r} ends.",
                "Use samples='all'.",
            )
        positions[g.name] = keep
    return positions


def _default_class_field(geometry: Sequence[LayerGeometry]) -> int:
    """Window of the envelope-class correlation: the deepest block's field.

    The deepest analysed layer that is not the classifier (braindecode's
    ``final_layer`` modules, or the last layer when it sees the whole trial).
    """
    body = [g for g in geometry if not g.name.startswith("final_layer")]
    if len(body) == len(geometry) and len(geometry) > 1:
        if geometry[-1].time_axis is None:
            body = geometry[:-1]
    return (body or geometry)[-1].receptive_field


def _analysed_network(
    model: nn.Module,
    device: torch.device,
    dense: bool | None,
    n_times: int,
    layers: Sequence[str],
    n_chans: int,
    probe: bool,
) -> tuple[nn.Module, list[LayerGeometry], bool]:
    """The trained network's analysis copy, its layers' geometry, and whether
    the copy is dense (see ``dense`` of :func:`compute_maps`)."""
    if dense is not False:
        net = None
        try:
            net = inference_copy(model, device)
            # probed below once the copy is known to be dense
            geometry = layer_geometry(
                net, n_times, layers, n_chans=n_chans, probe=False
            )
        except InvalidInputError as err:
            if dense:
                if net is not None:  # say which layers the trials are too short for
                    _geometry(net, n_times, layers, n_chans, probe=False)
                raise
            reason = str(err).splitlines()[0]
        except Exception as err:  # the conversion or the dense copy's forward
            if dense:
                raise invalid(
                    "dense",
                    f"{type(model).__name__} cannot be made dense: "
                    f"{type(err).__name__}: {err}",
                    "Pass dense=None or dense=False to analyse the network at its "
                    "own output positions.",
                ) from err
            reason = f"{type(err).__name__}: {str(err).splitlines()[0]}"
        else:
            not_dense = [g.name for g in geometry if not g.dense]
            if not not_dense:
                if probe:
                    probe_geometry(net, geometry, n_chans=n_chans, n_times=n_times)
                return net, geometry, True
            reason = f"layer(s) {not_dense} are not dense after the conversion"
            if dense:
                raise invalid(
                    "dense",
                    f"the dense copy of {type(model).__name__} is not exact: "
                    f"{reason} (padding, or operations over all time).",
                    "Pass dense=None or dense=False to analyse the network at its "
                    "own output positions.",
                )
        logger.info(
            "%s is analysed at its own output positions: no exact dense copy (%s)",
            type(model).__name__,
            reason,
        )
    net = inference_copy(model, device, dense=False)
    return net, _geometry(net, n_times, layers, n_chans, probe), False


def _check_labels(y, class_names, n_trials):
    if y is None:
        return None, None
    return check_labels(y, class_names, n_trials)


def _baselines(
    model: nn.Module, untrained_model: Any, seed: int
) -> tuple[list[nn.Module], str]:
    """The untrained networks (the trained one's own first) and their source."""
    if untrained_model is None:
        logger.warning(
            "untrained_model not given: the baseline is a copy of the model with "
            "freshly initialised weights (seed=%d). Pass the network's own initial "
            "weights for the exact baseline of the method.",
            seed,
        )
        return [_reinitialized(model, seed)], "reinitialized"
    given = (
        [untrained_model]
        if isinstance(untrained_model, nn.Module)
        else list(untrained_model)
        if isinstance(untrained_model, Sequence)
        else None
    )
    if not given or not all(isinstance(m, nn.Module) for m in given):
        raise invalid(
            "untrained_model",
            f"expected a torch.nn.Module or a non-empty list of them, got "
            f"{untrained_model!r:.80}.",
        )
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for k, baseline in enumerate(given):
        other = {k: tuple(v.shape) for k, v in baseline.state_dict().items()}
        if shapes != other:
            raise invalid(
                "untrained_model",
                f"the parameters of entry {k} differ from the model's in names or "
                "shapes.",
                "Pass the same architecture with its initial weights.",
            )
    return given, "given"


def _reinitialized(model: nn.Module, seed: int) -> nn.Module:
    """A copy of ``model`` with fresh weights drawn with ``seed``."""
    baseline = copy.deepcopy(model)
    with seeded(seed):
        for module in baseline.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return baseline


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
