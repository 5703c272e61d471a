"""Tests of envcorr.nn.geometry: input windows derived and probed."""

import numpy as np
import pytest
import torch
from braindecode.models import Deep4Net, ShallowFBCSPNet
from torch import nn

from envcorr import InvalidInputError, layer_geometry, make_dense, receptive_fields
from envcorr.nn.geometry import LayerGeometry, structure

DEEP4_LAYERS = [
    "pool_nonlin",
    "pool_nonlin_2",
    "pool_nonlin_3",
    "pool_nonlin_4",
    "final_layer.conv_classifier",
]


def test_deep4_fields_match_the_paper(deep4):
    fields = receptive_fields(deep4[0], 1125, DEEP4_LAYERS, n_chans=22)
    assert list(fields.values()) == [12, 45, 144, 441, 1089]


def test_deep4_geometry_lengths_and_units(deep4):
    geo = layer_geometry(deep4[0], 1125, DEEP4_LAYERS, n_chans=22)
    assert [g.n_out for g in geo] == [1114, 1081, 982, 685, 37]
    assert [g.n_units for g in geo] == [25, 50, 100, 200, 4]
    assert all(g.n_out == 1125 - g.receptive_field + 1 for g in geo)


@pytest.mark.parametrize(
    ("n_times", "final_conv_length", "field"),
    [(1000, "auto", 927), (1000, 2, 522), (1125, 2, 522)],
)
def test_deep4_classifier_field(n_times, final_conv_length, field):
    net = make_dense(
        Deep4Net(
            n_chans=3, n_outputs=2, n_times=n_times, final_conv_length=final_conv_length
        )
    )
    fields = receptive_fields(net, n_times, ["final_layer.conv_classifier"], n_chans=3)
    assert fields == {"final_layer.conv_classifier": field}


def test_shallow_fields():
    net = make_dense(
        ShallowFBCSPNet(n_chans=22, n_outputs=4, n_times=1125, final_conv_length=30)
    )
    fields = receptive_fields(
        net,
        1125,
        ["conv_time_spat", "pool_nonlin_exp", "final_layer.conv_classifier"],
        n_chans=22,
    )
    assert fields == {
        "conv_time_spat": 25,
        "pool_nonlin_exp": 99,
        "final_layer.conv_classifier": 534,
    }


def test_derived_and_probed_fields_agree_for_every_deep4_module(deep4):
    """Footprints and gradient probe both run; a mismatch would raise."""
    names = ["conv_time_spat", "conv_2", "pool_2", "conv_3", "conv_4", "pool_4"]
    geo = layer_geometry(deep4[0], 1125, names, n_chans=22, probe=True)
    assert [g.receptive_field for g in geo] == [10, 39, 45, 126, 387, 441]
    assert all(g.dense and g.time_axis == 2 for g in geo)
    assert [g.unit_shape for g in geo] == [(25, 1), (50, 1), (50, 1), (100, 1)] + [
        (200, 1)
    ] * 2


def test_dense_geometry_windows_and_defaults():
    geo = LayerGeometry("a", 5, 4, 3, 2)  # positional, as before: dense
    np.testing.assert_array_equal(geo.starts, [0, 1, 2, 3])
    np.testing.assert_array_equal(geo.stops, [5, 6, 7, 8])
    assert geo.unit_shape == (3,) and geo.dense
    assert geo == LayerGeometry("a", 5, 4, 3, 2) and len({geo, geo}) == 1
    assert geo != LayerGeometry(
        "a", 5, 4, 3, 2, starts=[0, 1, 2, 3], stops=[5, 6, 7, 7]
    )
    with pytest.raises(ValueError, match="read-only"):
        geo.starts[0] = 1
    with pytest.raises(
        InvalidInputError, match="'receptive_field'.*widest window has 4"
    ):
        LayerGeometry("a", 5, 2, 3, 2, starts=[0, 1], stops=[4, 5])
    with pytest.raises(InvalidInputError, match="'starts'.*expected 2 windows"):
        LayerGeometry("a", 5, 2, 3, 2, starts=[0], stops=[5])


@pytest.mark.parametrize("seed", [3, 14, 16])
def test_probe_sees_the_whole_field_of_relu_networks(seed):
    """With these weights some edge samples reach the probed output through no
    active ReLU on the first probe's trial; the second probe finds them."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv1d(2, 4, 5), nn.ReLU(), nn.MaxPool1d(2), nn.Conv1d(4, 3, 3), nn.ReLU()
    )
    with torch.no_grad():  # the probe needs gradients even here
        fields = receptive_fields(make_dense(net), 64, ["2", "4"], n_chans=2)
    assert fields == {"2": 6, "4": 10}


def test_strides_space_windows_out():
    net = nn.Sequential(nn.Conv1d(2, 4, 5), nn.MaxPool1d(2), nn.Conv1d(4, 3, 3))
    (geo,) = layer_geometry(net, 64, ["2"], n_chans=2)
    # pooled position i sees 2i .. 2i+5; the conv reads pooled j .. j+2
    assert (geo.n_out, geo.receptive_field, geo.time_axis) == (28, 10, 2)
    np.testing.assert_array_equal(geo.starts, 2 * np.arange(28))
    np.testing.assert_array_equal(geo.stops, 2 * np.arange(28) + 10)
    assert not geo.dense


def test_padding_cuts_windows_at_the_trial_edges():
    net = nn.Sequential(nn.Conv1d(2, 4, 5, padding=2), nn.ReLU())
    (geo,) = layer_geometry(net, 64, ["1"], n_chans=2)
    j = np.arange(64)
    np.testing.assert_array_equal(geo.starts, np.maximum(j - 2, 0))
    np.testing.assert_array_equal(geo.stops, np.minimum(j + 3, 64))
    assert geo.receptive_field == 5 and not geo.dense


def test_global_pooling_gives_one_whole_trial_position():
    net = nn.Sequential(nn.Conv1d(2, 4, 5), nn.AdaptiveAvgPool1d(1))
    (geo,) = layer_geometry(net, 64, ["1"], n_chans=2)
    assert (geo.time_axis, geo.n_out, geo.n_units, geo.unit_shape) == (
        None,
        1,
        4,
        (4, 1),
    )
    assert (geo.starts.tolist(), geo.stops.tolist(), geo.receptive_field) == (
        [0],
        [64],
        64,
    )


class FunctionalCrop(nn.Module):
    """Crops inside forward(), where no module attribute shows it."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(3, 2, 5))

    def forward(self, x):
        return nn.functional.conv1d(x[..., 2:], self.weight, padding=0)


def test_a_crop_inside_forward_is_followed():
    net = nn.Sequential(FunctionalCrop(), nn.ReLU())
    (geo,) = layer_geometry(net, 64, ["1"], n_chans=2)
    # 62 samples after the crop, 58 outputs; output t sees inputs t+2 .. t+6
    np.testing.assert_array_equal(geo.starts, np.arange(58) + 2)
    np.testing.assert_array_equal(geo.stops, np.arange(58) + 7)


def test_empty_and_gapped_windows_are_refused():
    net = nn.Sequential(nn.ConstantPad1d(3, 0.0), nn.ReLU())
    with pytest.raises(
        InvalidInputError,
        match=r"Layer '1': output position 0 \(of 26\) depends on no input sample",
    ):
        layer_geometry(net, 20, ["1"], n_chans=2)
    net = nn.Sequential(nn.Conv1d(2, 2, 3, dilation=2))
    with pytest.raises(
        InvalidInputError,
        match=r"Layer '0': output position 0 \(of 16\) depends on input samples "
        r"0 \.\. 4 but not on 2 samples between them \(the first is 1\).*not "
        "contiguous",
    ):
        layer_geometry(net, 20, ["0"], n_chans=2)


def test_unknown_layer_lists_valid_names(deep4):
    with pytest.raises(
        InvalidInputError, match="'layers'.*pool_nonlin_9.*pool_nonlin_2"
    ):
        layer_geometry(deep4[0], 1125, ["pool_nonlin_9"], n_chans=22)


def test_geometry_leaves_each_module_in_its_own_mode(deep4):
    net = make_dense(
        Deep4Net(n_chans=22, n_outputs=4, n_times=1125, final_conv_length=2)
    )
    net.train()
    net.bnorm.eval()  # a batch norm frozen by its user stays so
    layer_geometry(net, 1125, ["pool_nonlin_2"], n_chans=22)
    assert net.training and net.conv_time_spat.training
    assert not net.bnorm.training


def test_structure_sees_kernels_and_shapes_not_weights():
    torch.manual_seed(0)
    a = nn.Sequential(nn.Conv1d(2, 3, 5), nn.MaxPool1d(2))
    b = nn.Sequential(nn.Conv1d(2, 3, 5), nn.MaxPool1d(2))
    c = nn.Sequential(nn.Conv1d(2, 3, 7), nn.MaxPool1d(2))
    assert not torch.equal(a[0].weight, b[0].weight)
    assert structure(a) == structure(b)
    assert structure(a) != structure(c)


class Reverse(nn.Module):
    """Reverses time: no kernel, no change of length, invisible to the module
    walk and the shapes."""

    def forward(self, x):
        return x.flip(-1)


def test_a_layer_that_reverses_time_is_refused():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(2, 4, 5), Reverse(), nn.Conv1d(4, 3, 3))
    # 63 samples: 57 outputs of field 7, the middle one (28) sees 28 .. 34 as an
    # aligned layer's would; the first sees the last inputs 56 .. 62
    x = torch.randn(1, 2, 63, requires_grad=True)
    (grad,) = torch.autograd.grad(net(x)[0, :, 28].sum(), x)
    assert torch.nonzero(grad.abs().sum(dim=(0, 1))).flatten().tolist() == list(
        range(28, 35)
    )
    with pytest.raises(
        InvalidInputError,
        match=r"Layer '2' is not in time order.*aten.flip along time in module '1'",
    ):
        layer_geometry(net, 63, ["2"], n_chans=2)
    # once time is summed over, the order no longer matters
    net.append(nn.AdaptiveAvgPool1d(1))
    (geo,) = layer_geometry(net, 63, ["3"], n_chans=2)
    assert (geo.time_axis, geo.starts.tolist(), geo.stops.tolist()) == (None, [0], [63])


def test_probe_catches_windows_the_operations_hide(monkeypatch):
    import envcorr.nn.footprint as footprint

    # an operation the footprints got wrong: claim slices keep their positions
    monkeypatch.setitem(footprint._HANDLERS, "slice", lambda op: op.fp(op.arg("self")))
    net = nn.Sequential(FunctionalCrop(), nn.ReLU())
    with pytest.raises(
        InvalidInputError,
        match=r"Layer '1': output position 0 \(of 58\) depends on input samples "
        r"2 \.\. 6 by its gradient, but on 0 \.\. 4 by the network's operations",
    ):
        layer_geometry(net, 64, ["1"], n_chans=2)


def test_probe_checks_the_first_middle_and_last_sample(monkeypatch):
    import envcorr.nn.geometry as geometry

    probed = []
    original = geometry._support_is_field

    def spy(grad, geo, t):
        probed.append((geo.name, t))
        return original(grad, geo, t)

    monkeypatch.setattr(geometry, "_support_is_field", spy)
    net = nn.Sequential(nn.Conv1d(2, 4, 5), nn.Tanh(), nn.Conv1d(4, 3, 3))
    layer_geometry(net, 64, ["0", "2"], n_chans=2)
    assert probed == [("0", 0), ("0", 30), ("0", 59), ("2", 0), ("2", 29), ("2", 57)]
