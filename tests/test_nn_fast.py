"""Tests of envcorr.nn.fast: the same outputs from faster, new modules."""

import copy

import pytest
import torch
from braindecode.models import Deep4Net
from torch import nn

from envcorr import layer_geometry, make_dense
from envcorr.nn.capture import layer_activations
from envcorr.nn.fast import (
    SliceMaxPool1d,
    SliceMaxPool2d,
    ToeplitzConv2d,
    fast_convs,
    fast_view,
    inference_copy,
)
from envcorr.nn.geometry import structure

DEEP4_LAYERS = [
    "pool_nonlin",
    "pool_nonlin_2",
    "pool_nonlin_3",
    "pool_nonlin_4",
    "final_layer.conv_classifier",
]
CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("pool", "shape"),
    [
        (nn.MaxPool2d((3, 1), stride=1, dilation=(27, 1)), (2, 5, 200, 1)),
        (nn.MaxPool2d((2, 3), stride=1, dilation=(4, 2)), (2, 3, 40, 9)),
        (nn.MaxPool1d(4, stride=1, dilation=5), (3, 2, 60)),
    ],
)
def test_slice_pool_is_exact_with_nan_and_gradients(pool, shape):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    x[0, 0, 7] = float("nan")
    fast = inference_copy(nn.Sequential(pool), CPU)
    assert isinstance(fast[0], SliceMaxPool1d | SliceMaxPool2d)
    assert isinstance(fast[0], type(pool))
    assert type(pool) in (nn.MaxPool1d, nn.MaxPool2d)  # the user's pool unchanged
    expected = pool(x)
    torch.testing.assert_close(fast(x), expected, equal_nan=True, rtol=0, atol=0)
    xg = torch.randn(shape, requires_grad=True)
    (grad_fast,) = torch.autograd.grad(fast(xg).sum(), xg)
    (grad_ref,) = torch.autograd.grad(pool(xg).sum(), xg)
    torch.testing.assert_close(grad_fast, grad_ref)


def test_copy_makes_strided_pools_dense_and_leaves_padded_ones_alone():
    net = nn.Sequential(
        nn.MaxPool1d(3, stride=2), nn.MaxPool1d(3, stride=1, padding=1), nn.ReLU()
    )
    fast = inference_copy(net, CPU)
    assert [type(m) for m in fast] == [SliceMaxPool1d, nn.MaxPool1d, nn.ReLU]
    assert fast[1].dilation == 2  # dense: the stride became a dilation
    assert [type(m) for m in net] == [nn.MaxPool1d, nn.MaxPool1d, nn.ReLU]
    assert net[0].stride == 2  # the input model is not modified


def test_copy_of_deep4_gives_the_same_activations_and_leaves_it_alone(deep4):
    dense = deep4[0]
    before = structure(dense)
    state = copy.deepcopy(dense.state_dict())
    fast = inference_copy(dense, CPU)
    assert not fast.training
    assert structure(dense) == before  # no class changed, no weight moved
    for key, value in dense.state_dict().items():
        assert torch.equal(value, state[key]) and value.is_contiguous()
    geo = layer_geometry(dense, 1125, DEEP4_LAYERS, n_chans=22)
    assert layer_geometry(fast, 1125, DEEP4_LAYERS, n_chans=22) == geo
    pools = [m for m in fast.modules() if isinstance(m, nn.MaxPool2d)]
    assert all(isinstance(m, SliceMaxPool2d) for m in pools) and len(pools) == 4
    assert [m.dilation for m in pools] == [
        m.dilation for m in dense.modules() if isinstance(m, nn.MaxPool2d)
    ]
    x = 20 * torch.randn(3, 22, 1125, generator=torch.Generator().manual_seed(1))
    plain = layer_activations(dense.eval(), x, geo)
    quick = layer_activations(fast, x, geo)
    for name in DEEP4_LAYERS:
        scale = plain[name].abs().max()
        torch.testing.assert_close(quick[name], plain[name], rtol=0, atol=1e-5 * scale)


def test_copy_of_a_strided_network_is_dense():
    torch.manual_seed(0)
    net = Deep4Net(n_chans=3, n_outputs=2, n_times=600, final_conv_length=2)
    fast = inference_copy(net, CPU)
    dense = make_dense(net).eval()
    x = torch.randn(2, 3, 600)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), dense(x), rtol=1e-4, atol=1e-5)


def test_view_trains_the_same_network_and_never_changes_its_modules():
    torch.manual_seed(0)
    plain = Deep4Net(3, 2, n_times=600, final_conv_length=2, drop_prob=0.0).double()
    plain.to_dense_prediction_model()
    model = copy.deepcopy(plain)
    classes = [type(m) for m in model.modules()]
    params = list(model.parameters())
    x = torch.randn(4, 3, 600, dtype=torch.float64)
    plain(x).logsumexp(1).mean().backward()
    with fast_view(model, CPU) as view:
        assert view is not model
        assert any(isinstance(m, SliceMaxPool2d) for m in view.modules())
        assert [type(m) for m in model.modules()] == classes
        assert list(view.parameters()) == params  # shared: one optimizer trains both
        assert model.conv_2.weight.is_contiguous(memory_format=torch.channels_last)
        view(x).logsumexp(1).mean().backward()
    assert list(model.parameters()) == params
    assert all(p.is_contiguous() for p in model.parameters())
    assert [type(m) for m in model.modules()] == classes
    for (name, a), b in zip(plain.named_parameters(), params, strict=True):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-9, atol=1e-12, msg=name)


def test_view_shares_batch_norm_statistics_and_hooks_stay_separate():
    net = nn.Sequential(nn.Conv1d(1, 2, 3), nn.BatchNorm1d(2), nn.MaxPool1d(2, 1))
    calls = []
    with fast_view(net, CPU) as view:
        assert view[1] is net[1] and view[0] is net[0]
        assert view[2] is not net[2]
        view.register_forward_hook(lambda *a: calls.append("view"))
        view.train()
        view(torch.randn(4, 1, 20))
    assert net[1].num_batches_tracked == 1  # statistics updated through the view
    net(torch.randn(4, 1, 20))
    assert calls == ["view"]  # a hook on the view is not a hook on the network


@pytest.mark.parametrize("padding", [(0, 32), (0, 3), "same", "valid"])
@pytest.mark.parametrize(
    ("kernel", "n_filters", "bias"), [(64, 8, False), (7, 3, True), (125, 2, True)]
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_toeplitz_conv_equals_the_convolution(padding, kernel, n_filters, bias, dtype):
    # 301 samples: the output is no whole number of blocks; kernel 125 spans
    # several blocks
    gen = torch.Generator().manual_seed(kernel)
    conv = nn.Conv2d(1, n_filters, (1, kernel), padding=padding, bias=bias)
    conv = conv.to(dtype)
    fast = ToeplitzConv2d.like(conv)
    assert fast.weight is conv.weight and fast.bias is conv.bias
    x = torch.randn(3, 1, 5, 301, generator=gen, dtype=dtype)
    expected = conv(x)
    out = fast(x)
    assert out.shape == expected.shape and out.is_contiguous()
    scale = expected.abs().max().item()
    torch.testing.assert_close(out / scale, expected / scale, rtol=0, atol=1e-6)
    (grad_fast,) = torch.autograd.grad(out.square().sum(), conv.weight)
    (grad_ref,) = torch.autograd.grad(expected.square().sum(), conv.weight)
    torch.testing.assert_close(grad_fast, grad_ref, rtol=1e-4, atol=1e-6 * scale)


@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv2d(1, 4, (1, 8), stride=(1, 2)),
        nn.Conv2d(1, 4, (1, 8), dilation=(1, 2)),
        nn.Conv2d(2, 4, (1, 8)),
        nn.Conv2d(1, 4, (3, 8)),
        nn.Conv2d(1, 4, (1, 8), padding=(1, 4)),
        nn.Conv2d(1, 4, (1, 8), padding=(0, 4), padding_mode="reflect"),
        nn.Conv2d(1, 4, (1, 1)),
        nn.Conv1d(1, 4, 8),
    ],
)
def test_toeplitz_conv_applies_only_where_it_is_exact(conv):
    assert not ToeplitzConv2d.applies_to(conv)
    assert fast_convs(nn.Sequential(conv), CPU)[0] is conv


def test_fast_convs_shares_everything_and_keeps_names():
    from braindecode.models import EEGNet

    torch.manual_seed(0)
    eegnet = EEGNet(n_chans=4, n_outputs=2, n_times=250, sfreq=100.0)
    net = inference_copy(eegnet, CPU, dense=False)
    fast = fast_convs(net, CPU)
    replaced = [n for n, m in fast.named_modules() if isinstance(m, ToeplitzConv2d)]
    assert replaced == ["conv_temporal"]
    assert type(net.conv_temporal) is nn.Conv2d  # the copy it came from unchanged
    assert [n for n, _ in fast.named_modules()] == [n for n, _ in net.named_modules()]
    assert all(a is b for a, b in zip(fast.parameters(), net.parameters(), strict=True))
    x = torch.randn(4, net.n_chans, net.n_times)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), net(x), rtol=1e-5, atol=1e-6)
    assert fast_convs(net, torch.device("cuda")) is net  # CPU only
