"""Tests of envcorr.nn.capture: layer outputs from one stopped forward pass."""

import pytest
import torch
from torch import nn

from envcorr import InvalidInputError, layer_geometry
from envcorr.nn.capture import layer_activations, run_until


class Recorder(nn.Module):
    def __init__(self, log):
        super().__init__()
        self.log = log

    def forward(self, x):
        self.log.append(x.shape)
        return x


def test_stops_after_the_deepest_requested_layer():
    log = []
    net = nn.Sequential(
        nn.Conv1d(2, 3, 3), nn.ReLU(), Recorder(log), nn.Conv1d(3, 1, 3)
    )
    out = run_until(net, torch.randn(1, 2, 20), ["1"])
    assert set(out) == {"1"} and out["1"].shape == (1, 3, 18)
    assert log == []  # the module after the layer never ran
    run_until(net, torch.randn(1, 2, 20), ["3"])
    assert len(log) == 1


def test_trace_records_leaf_calls_in_order():
    net = nn.Sequential(nn.Conv1d(2, 3, 3), nn.Sequential(nn.ReLU(), nn.Identity()))
    trace = []
    run_until(net, torch.randn(1, 2, 20), ["1.1"], trace=trace)
    assert [(name, leaf) for name, _, _, _, leaf in trace] == [
        ("0", True),
        ("1.0", True),
        ("1.1", True),
    ]


def test_missing_and_non_tensor_layers_are_named():
    class Pair(nn.Module):
        def forward(self, x):
            return x, x

    class WithUnused(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(2, 3, 3)
            self.unused = nn.ReLU()

        def forward(self, x):
            return self.conv(x)

    net = WithUnused()
    with pytest.raises(InvalidInputError, match=r"'layers'.*\['unused'\] did not run"):
        run_until(net, torch.randn(1, 2, 20), ["unused"])
    pair = nn.Sequential(Pair())
    with pytest.raises(InvalidInputError, match="'0' returns tuple"):
        run_until(pair, torch.randn(1, 2, 20), ["0"])


def test_activations_flatten_units_and_put_time_last():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Unflatten(1, (1, 4)), nn.Conv2d(1, 3, (1, 5)), nn.Conv2d(3, 2, (4, 1))
    )
    geo = layer_geometry(net, 40, ["1", "2"], n_chans=4)
    x = torch.randn(5, 4, 40)
    acts = layer_activations(net, x.numpy(), geo, input_scale=2.0)
    assert acts["1"].shape == (5, 12, 36)  # 3 filters x 4 electrodes
    assert acts["2"].shape == (5, 2, 36)
    expected = net[1](net[0](2.0 * x)).reshape(5, 12, 36)
    torch.testing.assert_close(acts["1"], expected)


def test_activations_of_strided_padded_and_whole_trial_layers():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Unflatten(1, (1, 4)),
        nn.Conv2d(1, 3, (1, 5), stride=(1, 2), padding=(0, 2)),
        nn.Flatten(),
        nn.Linear(3 * 4 * 20, 2),
    )
    geo = {g.name: g for g in layer_geometry(net, 40, ["1", "3"], n_chans=4)}
    assert (geo["1"].n_out, geo["1"].unit_shape, geo["1"].time_axis) == (20, (3, 4), 3)
    assert (geo["3"].n_out, geo["3"].unit_shape, geo["3"].time_axis) == (1, (2,), None)
    x = torch.randn(5, 4, 40)
    acts = layer_activations(net, x, list(geo.values()))
    assert acts["1"].shape == (5, 12, 20) and acts["3"].shape == (5, 2, 1)
    with torch.no_grad():
        conv = net[1](net[0](x))
        torch.testing.assert_close(acts["1"], conv.reshape(5, 12, 20))
        torch.testing.assert_close(acts["3"][..., 0], net(x))


def test_activations_refuse_a_geometry_of_another_length():
    net = nn.Sequential(nn.Conv1d(2, 3, 3))
    geo = layer_geometry(net, 20, ["0"], n_chans=2)
    with pytest.raises(InvalidInputError, match="'geometry'.*layer '0' outputs shape"):
        layer_activations(net, torch.randn(2, 2, 30), geo)
