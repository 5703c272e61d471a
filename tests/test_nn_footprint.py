"""Tests of envcorr.nn.footprint: input windows derived from the operations.

Known answers computed by hand for small networks, and a brute-force check on
braindecode's networks: the window of every output position, from the
derivative of that position (summed over units) with respect to each input
sample, must equal the derived one.
"""

import time
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from _probes import probed_windows
from envcorr import InvalidInputError, layer_geometry
from envcorr.nn.capture import run_until
from envcorr.nn.footprint import footprint_windows, layer_footprints


def windows(net, names, n_times=20, n_chans=2):
    """(time axis, starts, stops) of each layer, from one traced pass."""
    traced = layer_footprints(net.eval(), torch.randn(2, n_chans, n_times), names)
    result = {}
    for name, (_, fp) in traced.items():
        starts, stops, contiguous = footprint_windows(fp.masks(n_times))
        assert contiguous.all()
        result[name] = (fp.axis, starts.tolist(), stops.tolist())
    return result


def clipped(lo, hi, n):
    return np.clip(lo, 0, n).tolist(), np.clip(hi, 0, n).tolist()


def test_padding_pooling_strides_and_a_linear_head():
    n = 20
    net = nn.Sequential(
        nn.Conv1d(2, 4, 5, padding="same"),
        nn.ReLU(),
        nn.MaxPool1d(2, stride=2),
        nn.Conv1d(4, 3, 3, stride=2, padding=1),
        nn.Flatten(),
        nn.Linear(15, 2),
    )
    got = windows(net, ["0", "2", "3", "4", "5"], n)
    j = np.arange(20)
    assert got["0"] == (2, *clipped(j - 2, j + 3, n))
    i = np.arange(10)  # pooled i: conv outputs 2i, 2i+1
    assert got["2"] == (2, *clipped(2 * i - 2, 2 * i + 4, n))
    k = np.arange(5)  # reads pooled 2k-1 .. 2k+1 (padding 1)
    assert got["3"] == (2, *clipped(4 * k - 4, 4 * k + 6, n))
    assert got["4"] == (None, [0], [n])  # flatten merges time with channels
    assert got["5"] == (None, [0], [n])


class EEGNetLike(nn.Module):
    """(batch, chans, time) -> (batch, 1, chans, time): temporal, spatial, pool."""

    def __init__(self, n_chans):
        super().__init__()
        self.temporal = nn.Conv2d(1, 4, (1, 7), padding=(0, 3))
        self.spatial = nn.Conv2d(4, 4, (n_chans, 1))
        self.pool = nn.AvgPool2d((1, 4))

    def forward(self, x):
        return self.pool(self.spatial(self.temporal(x.unsqueeze(1))))


def test_conv2d_on_batch_one_chans_time_layouts():
    n = 22
    net = EEGNetLike(3)
    got = windows(net, ["temporal", "spatial", "pool"], n, n_chans=3)
    j = np.arange(n)
    assert got["temporal"] == got["spatial"] == (3, *clipped(j - 3, j + 4, n))
    p = np.arange(5)  # pooled p: temporal outputs 4p .. 4p+3
    assert got["pool"] == (3, *clipped(4 * p - 3, 4 * p + 7, n))
    (geo,) = layer_geometry(net, n, ["temporal"], n_chans=3)
    assert (geo.unit_shape, geo.n_units, geo.time_axis) == ((4, 3), 12, 3)


def test_adaptive_pooling_uses_pytorchs_windows():
    net = nn.Sequential(nn.Conv1d(2, 3, 1), nn.AdaptiveAvgPool1d(7))
    got = windows(net, ["1"])
    i = np.arange(7)
    assert got["1"] == (2, (i * 20 // 7).tolist(), (-(-(i + 1) * 20 // 7)).tolist())


class Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.narrow = nn.Conv1d(2, 3, 3, padding="same")
        self.wide = nn.Conv1d(2, 3, 7, padding="same")

    def forward(self, x):
        return torch.cat([self.narrow(x), self.wide(x)], dim=1)


def test_concatenated_branches_take_the_widest_window():
    net = nn.Sequential(Branches(), nn.ELU())
    j = np.arange(20)
    assert windows(net, ["0.narrow", "1"]) == {
        "0.narrow": (2, *clipped(j - 1, j + 2, 20)),
        "1": (2, *clipped(j - 3, j + 4, 20)),
    }


class Attention(nn.Module):
    """Self-attention over time: every query position reads every key."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Conv1d(2, 12, 1)

    def forward(self, x):
        q, k, v = self.qkv(x).transpose(1, 2).chunk(3, dim=-1)  # (batch, time, 4)
        scores = torch.einsum("btd,bsd->bts", q, k).softmax(dim=-1)
        return scores @ v


def test_attention_over_time_depends_on_the_whole_trial():
    net = nn.Sequential(Attention(), nn.ReLU())
    (geo,) = layer_geometry(net, 20, ["1"], n_chans=2)
    assert (geo.time_axis, geo.n_out, geo.unit_shape) == (None, 1, (20, 4))
    assert (geo.starts.tolist(), geo.stops.tolist()) == ([0], [20])
    with torch.no_grad():
        out = layer_footprints(net, torch.randn(2, 2, 20), ["0.qkv"])["0.qkv"]
    assert out[1].axis == 2  # before the attention, time is still there


KEYS = [
    "sliced",
    "cumsum",
    "stacked",
    "cat",
    "reflect",
    "replicate",
    "unfold",
    "select",
    "merged",
    "split",
    "flat",
]


class PerStep(nn.Module):
    """Linear layers on (batch, time, features): time passes through the batch."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 4, 3)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        return self.fc(self.conv(x).transpose(1, 2)).relu().transpose(1, 2)


def test_linear_layers_applied_at_each_time_step_keep_time():
    net = nn.Sequential(PerStep(), nn.Conv1d(5, 3, 2))
    geo = {g.name: g for g in layer_geometry(net, 20, ["0.fc", "1"], n_chans=2)}
    assert (geo["0.fc"].time_axis, geo["0.fc"].unit_shape) == (1, (5,))
    np.testing.assert_array_equal(geo["0.fc"].starts, np.arange(18))
    np.testing.assert_array_equal(geo["1"].stops, np.arange(17) + 4)


class Ops(nn.Module):
    """Views, slices, stacks, cumulative sums and padding modes."""

    def forward(self, x):
        y = x.transpose(1, 2).reshape(x.shape[0], x.shape[2], 1, -1)  # (b, t, 1, c)
        y = y.permute(0, 2, 3, 1).squeeze(1)  # (b, c, t) again
        a, b = y.split([10, 10], dim=-1)
        return {
            "sliced": y[..., 3:17:2],
            "cumsum": y.cumsum(dim=-1),
            "stacked": torch.stack([a[..., 1:], a[..., :-1]], dim=1).flatten(1, 2),
            "cat": torch.cat([a, b], dim=-1),
            "reflect": nn.functional.pad(y, (2, 2), mode="reflect"),
            "replicate": nn.functional.pad(y, (2, 0), mode="replicate"),
            "unfold": y.unfold(-1, 4, 3),
            "select": y[:, :, 5],
            "merged": y.transpose(1, 2).reshape(y.shape[0], -1),  # (b, t * c)
            "split": y.reshape(y.shape[0], y.shape[1], 5, 4),  # (b, c, t / 4, 4)
            "flat": y.reshape(y.shape[0], -1),  # (b, c * t): time is lost
        }


class Pick(nn.Module):
    def __init__(self, key):
        super().__init__()
        self.key = key

    def forward(self, d):
        return d[self.key]


class OpsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.ops = Ops()
        self.picks = nn.ModuleList([Pick(k) for k in KEYS])

    def forward(self, x):
        out = self.ops(x)
        return [pick(out) for pick in self.picks]


def test_views_slices_and_padding_modes():
    got = windows(OpsNet(), [f"picks.{i}" for i in range(len(KEYS))])
    got = dict(zip(KEYS, got.values(), strict=True))
    j = np.arange(3, 17, 2)
    assert got["sliced"] == (2, j.tolist(), (j + 1).tolist())
    assert got["cumsum"] == (2, [0] * 20, list(range(1, 21)))
    assert got["stacked"] == (2, list(range(9)), list(range(2, 11)))
    assert got["cat"] == (2, list(range(20)), list(range(1, 21)))
    mirrored = [2, 1, *range(20), 18, 17]
    assert got["reflect"] == (2, mirrored, [m + 1 for m in mirrored])
    edge = [0, 0, *range(20)]
    assert got["replicate"] == (2, edge, [m + 1 for m in edge])
    w = 3 * np.arange(6)
    assert got["unfold"] == (2, w.tolist(), (w + 4).tolist())
    assert got["select"] == (None, [5], [6])
    assert got["merged"] == (None, [0], [20])  # time merged with channels
    assert got["split"] == (2, [0, 4, 8, 12, 16], [4, 8, 12, 16, 20])
    assert got["flat"] == (None, [0], [20])


def test_flip_is_refused_naming_the_layer():
    class Flip(nn.Module):
        def forward(self, x):
            return torch.flip(x, dims=[-1])

    net = nn.Sequential(nn.Conv1d(2, 3, 3), Flip(), nn.Conv1d(3, 3, 3))
    with pytest.raises(
        InvalidInputError,
        match=r"Layer '2' is not in time order.*aten.flip along time in module '1'",
    ):
        layer_geometry(net, 20, ["0", "2"], n_chans=2)


def test_unknown_operations_fall_back_to_the_whole_input(caplog):
    class Sorted(nn.Module):
        def forward(self, x):
            return torch.sort(x, dim=1, stable=True)[0]  # sorts channels only

    class Unknown(nn.Module):
        def forward(self, x):
            return torch.tril(x)  # mixes time and channels in a way not followed

    net = nn.Sequential(nn.Conv1d(2, 3, 3), Sorted(), Unknown())
    got = windows(net, ["1", "2"])
    assert got["1"] == (2, list(range(18)), list(range(3, 21)))
    assert got["2"] == (None, [0], [20])
    with caplog.at_level("DEBUG", logger="envcorr"):
        windows(net, ["2"])
    assert "aten.tril.default in module '2' is not known" in caplog.text


# ------------------------------------------------ brute force on braindecode


def tensor_children(net, n_chans, n_times):
    """The top-level modules that the forward pass calls and that return a tensor."""
    trace = []
    with torch.no_grad():
        run_until(net, torch.randn(1, n_chans, n_times), [], trace=trace)
    children = [n for n, _ in net.named_children()]
    called = {name for name, *_ in trace}
    return [n for n in children if n in called]


MODELS = [
    "EEGNet",
    "EEGNeX",
    "SCCNet",
    "EEGInceptionMI",
    "ATCNet",
    "EEGConformer",
    "TIDNet",
    "EEGTCNet",
    "EEGITNet",
    "EEGSimpleConv",
    "ShallowFBCSPNet",
]


# Fewer filters than the defaults where probing would take minutes: the
# windows depend on kernels, strides, dilations and padding, not on widths.
SMALLER = {"EEGInceptionMI": {"n_filters": 12}, "EEGNeX": {"filter_2": 16}}


# Blocks inside module lists, which the forward pass calls one by one
BLOCKS = {
    "EEGInceptionMI": ["intermediate_inception_modules_1.1"],
    "ATCNet": [
        "attention_blocks.0",
        "temporal_conv_nets.0",
        "final_layer.0",
        "final_layer.4",
    ],
    "EEGSimpleConv": ["blocks.0", "blocks.1"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_windows_equal_brute_force_probes_of_every_position(name):
    import braindecode.models

    n_chans, n_times = 22, 1125
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        net = getattr(braindecode.models, name)(
            n_chans=n_chans,
            n_times=n_times,
            sfreq=250,
            n_outputs=4,
            **SMALLER.get(name, {}),
        ).eval()
    layers = tensor_children(net, n_chans, n_times) + BLOCKS.get(name, [])
    start = time.perf_counter()
    geometry = layer_geometry(net, n_times, layers, n_chans=n_chans)
    seconds = time.perf_counter() - start
    _, bad = probed_windows(net, geometry, n_chans, n_times)
    described = {
        g.name: (g.time_axis, g.n_out, g.receptive_field, g.dense) for g in geometry
    }
    print(f"{name}: geometry {seconds:.2f} s, {described}")
    assert not bad, {k: v[:10].tolist() for k, v in bad.items()}
