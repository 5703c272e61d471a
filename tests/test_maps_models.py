"""compute_maps on many EEG networks, against a brute-force computation.

For each network (braindecode 1.8 models at 22 channels x 1125 samples,
250 Hz, and a hand-made one with 'same' padding, a stride and a linear head),
the window of every output position of every default layer is found by
probing (derivatives with respect to each input sample, tests/_probes.py), the
squared envelope is averaged over it in a Python loop and r is np.corrcoef's
(benchmarks/brute_force.py). compute_maps must agree.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from _probes import probed_windows
from envcorr import compute_maps
from envcorr.maps import select_positions
from envcorr.nn.geometry import layer_geometry
from envcorr.nn.layers import default_layers
from envcorr.nn.models import build_model

_path = Path(__file__).resolve().parents[1] / "benchmarks" / "brute_force.py"
_spec = importlib.util.spec_from_file_location("envcorr_benchmark_brute_force", _path)
_brute = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_brute)
brute_force_corr = _brute.brute_force_corr
probed_support = _brute.probed_support

N_CHANS, N_TIMES, SFREQ = 22, 1125, 250.0
BANDS = {"alpha": (7.0, 13.0), "high_gamma": (71.0, 91.0)}
CH_NAMES = (
    "Fz FC3 FC1 FCz FC2 FC4 C5 C3 C1 Cz C2 C4 C6 CP3 CP1 CPz CP2 CP4 P1 Pz P2 POz"
).split()
TOL = 1e-4


def _braindecode(name: str, **kwargs):
    def build():
        import braindecode.models

        cls = getattr(braindecode.models, name)
        return cls(n_chans=N_CHANS, n_outputs=4, n_times=N_TIMES, sfreq=SFREQ, **kwargs)

    return build


class _SamePaddedNet(nn.Sequential):
    """'same' padding, a strided convolution, max pooling, a linear head."""

    def __init__(self):
        super().__init__()
        self.conv_same = nn.Conv1d(N_CHANS, 6, 9, padding="same")
        self.act = nn.ELU()
        self.conv_stride = nn.Conv1d(6, 6, 5, stride=2, padding=2)
        self.pool = nn.MaxPool1d(3, stride=3)
        self.flatten = nn.Flatten()
        self.head = nn.Linear(6 * 187, 4)


HAND_MADE_LAYERS = ["conv_same", "conv_stride", "pool", "head"]

MODELS = {
    "Deep4Net": _braindecode("Deep4Net", final_conv_length=2),
    "ShallowFBCSPNet": _braindecode("ShallowFBCSPNet", final_conv_length=30),
    "EEGNet": _braindecode("EEGNet"),
    # fewer filters than the default 48: the same windows at a tenth of the cost
    "EEGInceptionMI": _braindecode("EEGInceptionMI", n_filters=12),
    "EEGITNet": _braindecode("EEGITNet"),
    "ATCNet": _braindecode("ATCNet"),
    "EEGConformer": _braindecode("EEGConformer"),
    "EEGTCNet": _braindecode("EEGTCNet"),
    "TIDNet": _braindecode("TIDNet"),
    "EEGNeX": _braindecode("EEGNeX"),
    "SCCNet": _braindecode("SCCNet"),
    "EEGSimpleConv": _braindecode("EEGSimpleConv"),
    "same_padded": _SamePaddedNet,
}


@pytest.fixture(scope="module")
def trials():
    rng = np.random.default_rng(0)
    t = np.arange(N_TIMES) / SFREQ
    # noise plus a 10 Hz rhythm whose amplitude varies by trial and channel
    amp = rng.uniform(0.2, 2.0, size=(8, N_CHANS, 1))
    X = rng.standard_normal((8, N_CHANS, N_TIMES)) + amp * np.sin(2 * np.pi * 10 * t)
    return X.astype(np.float32), np.arange(8) % 4


def _check_against_brute_force(model, layers, X, y, *, dense, samples="all", tol=TOL):
    untrained = copy.deepcopy(model)
    for module in untrained.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    maps = compute_maps(
        model,
        X,
        y=y,
        sfreq=SFREQ,
        ch_names=CH_NAMES,
        bands=BANDS,
        layers=layers,
        untrained_model=untrained,
        dense=dense,
        samples=samples,
        verbose=False,
    )
    analysed = maps.attrs["dense"]
    net = copy.deepcopy(model)
    if analysed:
        from envcorr.nn.dense import densify_

        densify_(net)
    geometry = {
        g.name: g
        for g in layer_geometry(net, N_TIMES, layers, n_chans=N_CHANS, probe=False)
    }
    layers_here = list(maps.layer.values)
    own = [geometry[n] for n in layers_here if not geometry[n].dense]
    windows = {}
    if own:
        # every position, probed (tests/_probes.py)
        support, bad = probed_windows(copy.deepcopy(net), own, N_CHANS, N_TIMES)
        assert not bad, {k: v[:10].tolist() for k, v in bad.items()}
        for g in own:  # first and last sample each position depends on
            s = support[g.name]
            windows[g.name] = (s.argmax(axis=1), N_TIMES - s[:, ::-1].argmax(axis=1))
    dense_layers = {n: geometry[n].time_axis for n in layers_here if n not in windows}
    if dense_layers:
        # regular windows: probe input samples at the edges and a stride of the
        # middle; position j must depend on exactly the samples j .. j + R - 1
        probe = np.unique(np.r_[0:20, 20 : N_TIMES - 20 : 97, N_TIMES - 20 : N_TIMES])
        support = probed_support(
            net, dense_layers, n_chans=N_CHANS, n_times=N_TIMES, samples=probe
        )
        for name in dense_layers:
            j = np.arange(geometry[name].n_out)[:, None]
            inside = (probe >= j) & (probe < j + geometry[name].receptive_field)
            np.testing.assert_array_equal(support[name], inside, err_msg=name)
    last_stops = None
    for layer in layers_here[::-1]:
        g = geometry[layer]
        if layer in windows:
            starts, stops = windows[layer]
        else:
            starts = np.arange(g.n_out)
            stops = starts + g.receptive_field
        pos = np.arange(len(starts))
        if samples == "predictions":
            if last_stops is None:
                last_stops = stops
            keep = np.isin(stops, last_stops)
            pos, starts, stops = pos[keep], starts[keep], stops[keep]
            chosen = select_positions(list(geometry.values()), "predictions")
            np.testing.assert_array_equal(chosen[layer], pos, err_msg=layer)
        assert int(maps.layer_n_times.sel(layer=layer)) == len(pos)
        expected = brute_force_corr(
            copy.deepcopy(net),
            X,
            sfreq=SFREQ,
            bands=BANDS,
            layer=layer,
            positions=pos,
            starts=starts,
            stops=stops,
            time_axis=g.time_axis,
        )
        got = (
            maps.unit_corr.sel(network="trained")
            .where(maps.unit_layer == layer, drop=True)
            .transpose("unit", "band", "channel")
            .values
        )
        assert got.shape == expected.shape, layer
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=layer)
        ok = ~np.isnan(expected)
        err = np.abs(got[ok] - expected[ok]).max(initial=0.0)
        assert err <= tol, f"{layer}: max |dr| = {err:.2e}"
    return maps


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MODELS))
def test_maps_match_brute_force(name, trials):
    X, y = trials
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = MODELS[name]().eval()
    if name == "same_padded":
        layers = HAND_MADE_LAYERS
    else:
        layers = default_layers(model)
    maps = _check_against_brute_force(model, layers, X, y, dense=None)
    assert bool(maps.attrs["dense"]) == (name in ("Deep4Net", "ShallowFBCSPNet"))


@pytest.mark.slow
def test_shallow_at_its_own_positions_matches_brute_force(trials):
    X, y = trials
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = MODELS["ShallowFBCSPNet"]().eval()
    maps = _check_against_brute_force(model, default_layers(model), X, y, dense=False)
    assert maps.attrs["dense"] == 0


@pytest.mark.slow
def test_predictions_keep_the_positions_aligned_with_the_classifier(trials):
    X, y = trials
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = MODELS["Deep4Net"]().eval()
    # The positions are compared exactly. On 8 trials the band power of envcorr
    # and of benchmarks/reference.py differ by up to 1 % near the trials' ends
    # (filter edges; the maps agree to 1e-5 on a whole session, W1 of the
    # benchmark), which the first layer's 12-sample windows at the last 604
    # positions turn into up to 5e-4 in r.
    maps = _check_against_brute_force(
        model, default_layers(model), X, y, dense=None, samples="predictions", tol=1e-3
    )
    # 1125 - 522 + 1 predictions per trial, and as many positions in every layer
    assert set(maps.layer_n_times.values) == {604}


@pytest.mark.slow
def test_eegnet_trained_on_crops_keeps_the_positions_of_its_predictions(trials):
    # EEGNet as envcorr trains it: 19 predictions per trial, 32 samples apart.
    X, y = trials
    shape = {"n_chans": N_CHANS, "n_outputs": 4, "n_times": N_TIMES, "sfreq": SFREQ}
    model, _ = build_model("EEGNet", **shape, cropped=True)
    model.eval()
    layers = default_layers(model)
    maps = _check_against_brute_force(model, layers, X, y, dense=None)
    assert maps.attrs["dense"] == 0
    assert int(maps.layer_n_times.sel(layer="final_layer.conv_classifier")) == 19
    # As for Deep4's predictions above, the kept positions crowd at the trials'
    # ends (the last predictions' windows are cut there), where 8 trials' band
    # power differs most from the reference's: up to 1.1e-4 in r at pool_1.
    maps = _check_against_brute_force(
        model, layers, X, y, dense=None, samples="predictions", tol=1e-3
    )
    assert int(maps.layer_n_times.sel(layer="pool_2")) == 19
