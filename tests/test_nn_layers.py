"""Tests of envcorr.nn.layers: the layers analysed by default."""

import warnings

import pytest
import torch
from torch import nn

from envcorr import InvalidInputError
from envcorr.nn.layers import DEFAULT_LAYERS, block_outputs, default_layers

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import braindecode.models
    from braindecode.models import Deep4Net, ShallowFBCSPNet

N_CHANS, N_TIMES = 22, 1125

# Builds and one forward pass take seconds for these (8.9 M parameters in
# EEGInceptionMI's wide convolutions, TIDNet's dense spatial filter).
SLOW_MODELS = {"EEGInceptionMI", "TIDNet"}


def _build(name: str) -> nn.Module:
    cls = getattr(braindecode.models, name)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return cls(n_chans=N_CHANS, n_outputs=4, n_times=N_TIMES, sfreq=250.0)


def _calls(model: nn.Module, x: torch.Tensor):
    """Each module's outputs in a forward pass, the names in the order their
    calls end, and the network's output."""
    calls: dict[str, list] = {}
    ends: list[str] = []

    def ended(name, out):
        calls[name].append(out)
        ends.append(name)

    def started(name):
        calls.setdefault(name, [])  # a pre-hook must return None

    handles = []
    for name, module in model.named_modules():
        if name:
            handles.append(
                module.register_forward_pre_hook(lambda m, a, n=name: started(n))
            )
            handles.append(
                module.register_forward_hook(lambda m, a, o, n=name: ended(n, o))
            )
    try:
        with torch.no_grad():
            out = model.eval()(x)
    finally:
        for handle in handles:
            handle.remove()
    return calls, ends, out


def test_block_outputs_and_classifier_of_braindecode_networks():
    deep4 = Deep4Net(n_chans=22, n_outputs=4, n_times=1125, final_conv_length=2)
    assert default_layers(deep4) == [
        "pool_nonlin",
        "pool_nonlin_2",
        "pool_nonlin_3",
        "pool_nonlin_4",
        "final_layer.conv_classifier",
    ]
    names = dict(deep4.named_modules())
    assert all(layer in names for layer in default_layers(deep4))
    shallow = ShallowFBCSPNet(n_chans=22, n_outputs=4, n_times=1125)
    assert default_layers(shallow) == ["pool_nonlin_exp", "final_layer.conv_classifier"]


def test_the_table_covers_the_chosen_braindecode_networks():
    assert set(DEFAULT_LAYERS) == {
        "Deep4Net",
        "ShallowFBCSPNet",
        "EEGNet",
        "EEGInceptionMI",
        "EEGITNet",
        "ATCNet",
        "EEGConformer",
        "EEGTCNet",
        "TIDNet",
        "EEGNeX",
        "SCCNet",
        "EEGSimpleConv",
    }
    assert all(2 <= len(layers) <= 6 for layers in DEFAULT_LAYERS.values())


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.slow) if name in SLOW_MODELS else name
        for name in DEFAULT_LAYERS
    ],
)
def test_default_layers_run_once_each_in_call_order_ending_with_the_scores(name):
    model = _build(name)
    layers = default_layers(model)
    assert layers == DEFAULT_LAYERS[name]
    modules = dict(model.named_modules())
    assert all(layer in modules for layer in layers)
    x = torch.randn(1, N_CHANS, N_TIMES, generator=torch.Generator().manual_seed(0))
    calls, ends, out = _calls(model, x)
    for layer in layers:
        assert len(calls[layer]) == 1, f"{layer} is called {len(calls[layer])} times"
        assert torch.is_tensor(calls[layer][0]), f"{layer} returns no tensor"
    # Depth order: the order in which the layers' outputs are produced (a
    # module inside another one finishes first).
    assert sorted(layers, key=lambda n: ends.index(n)) == layers
    # The last layer gives the network's class scores (no softmax follows).
    assert torch.equal(calls[layers[-1]][0].flatten(), out.flatten())


def test_eegnet_is_the_class_of_braindecode_1_8():
    # EEGNetv4 was renamed EEGNet; braindecode 1.8 has no EEGNetv4 alias.
    assert braindecode.models.EEGNet.__name__ == "EEGNet"
    assert "EEGNet" in DEFAULT_LAYERS


def _hand_made(softmax: bool = False) -> nn.Sequential:
    # 100 samples: conv 5 -> 96, pool 4 -> 24, conv 3 -> 22 samples.
    layers = [
        nn.Conv1d(3, 4, 5),
        nn.BatchNorm1d(4),
        nn.ELU(),
        nn.AvgPool1d(4),
        nn.Dropout(0.5),
        nn.Conv1d(4, 5, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(5 * 22, 2),
    ]
    if softmax:
        layers.append(nn.LogSoftmax(dim=1))
    return nn.Sequential(*layers)


@pytest.mark.parametrize("softmax", [False, True])
def test_rule_keeps_block_ends_with_a_time_axis_and_the_classifier(softmax, caplog):
    net = _hand_made(softmax)
    with caplog.at_level("INFO", logger="envcorr"):
        layers = default_layers(net, n_chans=3, n_times=100)
    # Block 1 (conv, BN, ELU, pool; dropout repeats the pool) ends at the pool,
    # block 2 (conv, ReLU; flatten has no time axis) at the ReLU; the linear
    # layer has no time axis but gives the class scores.
    assert layers == ["3", "6", "8"]
    assert "Default layers of Sequential (block outputs): 3, 6, 8" in caplog.text


def test_rule_keeps_five_evenly_spaced_blocks_of_a_deep_network():
    blocks = []
    for _ in range(9):
        blocks += [nn.Conv1d(2, 2, 3), nn.Tanh()]
    net = nn.Sequential(*blocks, nn.Flatten(), nn.Linear(2 * 42, 4))
    # Block k ends at its tanh, module 2k + 1: blocks 0, 2, 4, 6, 8 are kept,
    # then the classifier.
    layers = default_layers(net, n_chans=2, n_times=60)
    assert layers == ["1", "5", "9", "13", "17", "19"]


def test_rule_leaves_the_network_and_random_state_as_they_were():
    net = _hand_made().train()
    net[1].eval()
    state = torch.get_rng_state()
    default_layers(net, n_chans=3, n_times=100)
    assert torch.equal(torch.get_rng_state(), state)
    assert net.training and not net[1].training and net[4].training


def test_rule_looks_into_module_lists_and_skips_shared_modules():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Conv1d(2, 2, 3), nn.Conv1d(2, 2, 3)])
            self.act = nn.ReLU()  # shared: called after each block
            self.head = nn.Conv1d(2, 4, 6)

        def forward(self, x):
            for block in self.blocks:
                x = self.act(block(x))
            return self.head(x).mean(-1)

    assert default_layers(Net(), n_chans=2, n_times=50) == [
        "blocks.0",
        "blocks.1",
        "head",
    ]


def test_rule_skips_a_unit_that_does_not_depend_on_the_input():
    class Positions(nn.Module):
        """A learned positional encoding, the same for every trial."""

        def __init__(self):
            super().__init__()
            self.table = nn.Parameter(torch.randn(1, 4, 64))

        def forward(self, x):
            return self.table[..., : x.shape[-1]].expand(len(x), -1, -1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Conv1d(2, 4, 3, padding=1)
            self.positions = Positions()
            self.mix = nn.Conv1d(4, 4, 5, padding=2)
            self.head = nn.Conv1d(4, 3, 1)

        def forward(self, x):
            h = self.features(x)
            return self.head(self.mix(h + self.positions(h))).mean(-1)

    assert default_layers(Net(), n_chans=2, n_times=30) == [
        "features",
        "mix",
        "head",
    ]


def test_rule_finds_the_same_outputs_as_the_table_for_shallow_and_deep4():
    # The classifiers output one position per trial here, so the rule takes
    # the whole final_layer (same values as its conv_classifier, squeezed);
    # pool_k and pool_nonlin_k (an identity) give the same values too.
    shallow = ShallowFBCSPNet(n_chans=N_CHANS, n_outputs=4, n_times=N_TIMES)
    assert block_outputs(shallow, n_chans=N_CHANS, n_times=N_TIMES) == [
        "pool_nonlin_exp",
        "final_layer",
    ]
    deep4 = Deep4Net(n_chans=N_CHANS, n_outputs=4, n_times=N_TIMES)
    assert block_outputs(deep4, n_chans=N_CHANS, n_times=N_TIMES) == [
        "pool",
        "pool_2",
        "pool_3",
        "pool_4",
        "final_layer",
    ]


def test_rule_on_a_braindecode_network_outside_the_table(caplog):
    model = _build("SincShallowNet")
    assert type(model).__name__ not in DEFAULT_LAYERS
    with caplog.at_level("INFO", logger="envcorr"):
        layers = default_layers(model)  # n_chans and n_times from the model
    assert layers == ["sinc_filter_layer", "temporal_aggregation.2", "final_layer"]
    assert "SincShallowNet" in caplog.text


def test_a_table_name_with_other_modules_gets_the_rule(caplog):
    class EEGNet(nn.Sequential):  # not braindecode's
        pass

    net = EEGNet(*_hand_made())
    with caplog.at_level("INFO", logger="envcorr"):
        layers = default_layers(net, n_chans=3, n_times=100)
    assert layers == ["3", "6", "8"]
    assert "lacks the default layers ['bnorm_temporal'" in caplog.text


def test_other_networks_name_their_layers():
    net = nn.Sequential(nn.Conv1d(2, 3, 5), nn.ReLU())
    with pytest.raises(InvalidInputError, match=r"'layers'.*Sequential.*0, 1"):
        default_layers(net)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_chans": 0, "n_times": 100}, r"'n_chans'.*below the minimum of 1"),
        ({"n_chans": 3, "n_times": 1.5}, r"'n_times'.*expected an integer"),
        ({"n_chans": 4, "n_times": 100}, r"'layers'.*fails on input of shape"),
        ({"n_chans": 3, "n_times": 60}, r"'layers'.*fails on input of shape"),
    ],
)
def test_bad_input_sizes_are_named(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        default_layers(_hand_made(), **kwargs)


def test_rule_looks_into_a_child_that_returns_no_tensor():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(2, 2, 3)

        def forward(self, x):
            return self.conv(x), x

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.pair = Pair()

        def forward(self, x):
            return self.pair(x)[0]

    assert default_layers(Net(), n_chans=2, n_times=20) == ["pair.conv"]


def test_a_network_without_modules_is_an_error():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(2, 1))

        def forward(self, x):
            return x * self.weight

    with pytest.raises(InvalidInputError, match=r"'layers'.*no module that returns"):
        default_layers(Net(), n_chans=2, n_times=20)
