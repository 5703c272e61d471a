"""Tests of envcorr._utils.torchutils: devices, and modes and random state that
are restored exactly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from envcorr._utils.check import InvalidInputError
from envcorr._utils.torchutils import (
    deterministic,
    eval_mode,
    first_parameter,
    resolve_device,
    seeded,
)


class _Boom(Exception):
    pass


def _no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


# --------------------------------------------------------------------------
# resolve_device
# --------------------------------------------------------------------------
def test_resolve_device_none_is_cpu_without_cuda(monkeypatch):
    _no_cuda(monkeypatch)
    assert resolve_device(None) == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_resolve_device_none_is_cpu_here():
    # unpatched: this machine has no CUDA
    assert resolve_device(None) == torch.device("cpu")


def test_resolve_device_none_is_cuda_when_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(None) == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("cpu", torch.device("cpu")),
        ("cpu:0", torch.device("cpu", 0)),
        (torch.device("cpu"), torch.device("cpu")),
        ("meta", torch.device("meta")),
    ],
)
def test_resolve_device_given(value, expected):
    out = resolve_device(value)
    assert isinstance(out, torch.device)
    assert out == expected


@pytest.mark.parametrize("value", ["cuda", "cuda:0", torch.device("cuda", 1), 0])
def test_resolve_device_cuda_without_cuda_names_device(monkeypatch, value):
    _no_cuda(monkeypatch)
    with pytest.raises(
        InvalidInputError,
        match="'device' parameter: CUDA was requested but is not available",
    ):
        resolve_device(value)


@pytest.mark.parametrize("value", ["gpu", "foo:0", "", "cuda:x", 3.5, [], object()])
def test_resolve_device_garbage_names_device(value):
    with pytest.raises(InvalidInputError, match="'device' parameter.*torch device"):
        resolve_device(value)


# --------------------------------------------------------------------------
# first_parameter
# --------------------------------------------------------------------------
def test_first_parameter():
    lin = nn.Linear(3, 2).double()
    p = first_parameter(nn.Sequential(nn.ReLU(), lin))
    assert p is lin.weight
    assert p.dtype == torch.float64


def test_first_parameter_without_parameters():
    p = first_parameter(nn.Sequential(nn.ReLU(), nn.Identity()))
    assert isinstance(p, torch.Tensor)
    assert p.numel() == 0
    assert p.device == torch.device("cpu")


# --------------------------------------------------------------------------
# eval_mode
# --------------------------------------------------------------------------
def _net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(2, 3, 3),
        nn.BatchNorm1d(3),
        nn.Dropout(0.5),
        nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1)),
    )


def _modes(net: nn.Module) -> list[bool]:
    return [m.training for m in net.modules()]


def test_eval_mode_restores_mixed_modes():
    net = _net()
    net.eval()
    net[1].train()  # the batch norm alone is training
    before = _modes(net)
    assert before == [False, False, True, False, False, False, False]
    with eval_mode(net):
        assert not any(_modes(net))
    assert _modes(net) == before


def test_eval_mode_restores_training_network():
    net = _net().train()
    with eval_mode(net):
        assert not any(_modes(net))
        # eval mode really applies: dropout is the identity
        x = torch.ones(5, 4)
        torch.testing.assert_close(net[3](x), net[3][0](x))
    assert all(_modes(net))


def test_eval_mode_several_models():
    a, b = _net().train(), _net().eval()
    b[2].train()
    before_a, before_b = _modes(a), _modes(b)
    with eval_mode(a, b):
        assert not any(_modes(a)) and not any(_modes(b))
    assert _modes(a) == before_a and _modes(b) == before_b


def test_eval_mode_restores_on_exception():
    net = _net().eval()
    net[1].train()
    net[3][1].train()
    before = _modes(net)
    with pytest.raises(_Boom), eval_mode(net):
        assert not any(_modes(net))
        raise _Boom
    assert _modes(net) == before


# --------------------------------------------------------------------------
# seeded
# --------------------------------------------------------------------------
def test_seeded_same_seed_same_draws():
    with seeded(42):
        a = torch.rand(10)
        lin_a = nn.Linear(4, 3)
    with seeded(42):
        b = torch.rand(10)
        lin_b = nn.Linear(4, 3)
    with seeded(43):
        c = torch.rand(10)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(lin_a.weight, lin_b.weight, rtol=0, atol=0)
    assert not torch.equal(a, c)


def test_seeded_matches_manual_seed():
    with seeded(7):
        a = torch.randn(5)
    state = torch.get_rng_state()
    try:
        torch.manual_seed(7)
        b = torch.randn(5)
    finally:
        torch.set_rng_state(state)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_seeded_restores_rng_state():
    before = torch.get_rng_state()
    with seeded(0, device=torch.device("cpu")):
        torch.rand(1000)
    after = torch.get_rng_state()
    assert torch.equal(before, after)


def test_seeded_leaves_caller_stream_unchanged():
    state = torch.get_rng_state()
    expected = torch.rand(5)
    torch.set_rng_state(state)
    with seeded(123):
        torch.rand(77)
    torch.testing.assert_close(torch.rand(5), expected, rtol=0, atol=0)


def test_seeded_restores_rng_state_on_exception():
    before = torch.get_rng_state()
    with pytest.raises(_Boom), seeded(1):
        torch.rand(10)
        raise _Boom
    assert torch.equal(before, torch.get_rng_state())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_seeded_cuda():  # pragma: no cover - only with a GPU
    dev = torch.device("cuda")
    before = torch.cuda.get_rng_state_all()
    with seeded(3, device=dev):
        a = torch.rand(10, device=dev)
    with seeded(3, device=dev):
        b = torch.rand(10, device=dev)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    after = torch.cuda.get_rng_state_all()
    assert all(torch.equal(x, y) for x, y in zip(before, after, strict=True))


# --------------------------------------------------------------------------
# deterministic
# --------------------------------------------------------------------------
def _flags() -> tuple[bool, bool, bool]:
    return (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
    )


@pytest.fixture
def restore_torch_flags():
    old = _flags()
    yield
    torch.use_deterministic_algorithms(old[0], warn_only=old[1])
    torch.backends.cudnn.benchmark = old[2]


@pytest.mark.parametrize(
    "start",
    [
        (False, False, True),
        (False, False, False),
        (True, False, True),
        (True, True, False),
    ],
)
def test_deterministic_sets_and_restores(restore_torch_flags, start):
    torch.use_deterministic_algorithms(start[0], warn_only=start[1])
    torch.backends.cudnn.benchmark = start[2]
    assert _flags() == start
    with deterministic():
        assert _flags() == (True, True, False)
    assert _flags() == start


def test_deterministic_restores_on_exception(restore_torch_flags):
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.benchmark = True
    with pytest.raises(_Boom), deterministic():
        assert _flags() == (True, True, False)
        raise _Boom
    assert _flags() == (False, False, True)
