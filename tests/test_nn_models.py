"""Tests of envcorr.nn.models: dense braindecode networks with seeded weights."""

import json

import pytest
import torch

from envcorr._utils.check import InvalidInputError
from envcorr.nn.models import (
    MODELS,
    build_model,
    classifier_receptive_field,
    n_predictions,
    rebuild_model,
)


def _states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    ("name", "field", "final_conv_length"),
    [("deep4", 522, 2), ("shallow", 534, 30)],
)
def test_build_model_documented_fields(name, field, final_conv_length):
    model, kwargs = build_model(name, n_chans=22, n_outputs=4, n_times=1125, seed=0)
    assert isinstance(model, MODELS[name])
    assert kwargs["final_conv_length"] == final_conv_length
    assert kwargs == {
        "n_chans": 22,
        "n_outputs": 4,
        "n_times": 1125,
        "final_conv_length": final_conv_length,
    }
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert classifier_receptive_field(model) == field
    assert n_predictions(model) == 1125 - field + 1
    # Dense: no stride left anywhere, and the output has one sample per crop.
    for module in model.modules():
        stride = getattr(module, "stride", 1)
        assert stride in (1, (1, 1)), module
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 22, 1125))
    assert out.shape == (2, 4, 1125 - field + 1)


def test_deep4_dense_output_matches_strided_network():
    # The dense network's crop predictions, taken every 81 samples (the product
    # of the four pooling strides of 3), are the predictions of the strided network.
    dense, kwargs = build_model("deep4", n_chans=3, n_outputs=2, n_times=1125, seed=3)
    strided = MODELS["deep4"](**kwargs)
    strided.load_state_dict(dense.state_dict())
    dense.eval()
    strided.eval()
    x = torch.randn(2, 3, 1125)
    with torch.no_grad():
        d = dense(x)
        s = strided(x)
    assert s.shape == (2, 2, 8)
    torch.testing.assert_close(d[:, :, ::81], s, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", list(MODELS))
def test_same_seed_same_initial_weights(name):
    a, _ = build_model(name, n_chans=4, n_outputs=3, n_times=700, seed=7)
    b, _ = build_model(name, n_chans=4, n_outputs=3, n_times=700, seed=7)
    c, _ = build_model(name, n_chans=4, n_outputs=3, n_times=700, seed=8)
    assert _states_equal(a.state_dict(), b.state_dict())
    assert not _states_equal(a.state_dict(), c.state_dict())


def test_build_model_leaves_global_rng_alone():
    state = torch.get_rng_state()
    build_model("shallow", n_chans=4, n_outputs=2, n_times=600, seed=1)
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("name", list(MODELS))
def test_rebuild_model_same_architecture(name):
    model, kwargs = build_model(
        name, n_chans=5, n_outputs=2, n_times=800, seed=2, drop_prob=0.3
    )
    assert kwargs["drop_prob"] == 0.3
    again = rebuild_model(name, json.loads(json.dumps(kwargs)))
    again.load_state_dict(model.state_dict())
    model.eval()
    again.eval()
    x = torch.randn(3, 5, 800)
    with torch.no_grad():
        torch.testing.assert_close(model(x), again(x), rtol=0, atol=0)


def test_small_architecture_via_kwargs():
    model, kwargs = build_model(
        "shallow",
        n_chans=2,
        n_outputs=2,
        n_times=100,
        n_filters_time=4,
        n_filters_spat=4,
        filter_time_length=9,
        pool_time_length=20,
        pool_time_stride=5,
        final_conv_length=5,
    )
    # 9 + (20 - 1) + (5 - 1) * 5
    assert classifier_receptive_field(model) == 48
    assert kwargs["pool_time_stride"] == 5


def test_unknown_model_name():
    with pytest.raises(InvalidInputError, match=r"'name'.*'deep4', 'shallow'"):
        build_model("deep5", n_chans=22, n_outputs=4, n_times=1125)
    with pytest.raises(InvalidInputError, match="Did you mean 'deep4'"):
        rebuild_model("deep", {"n_chans": 22, "n_outputs": 4, "n_times": 1125})


@pytest.mark.parametrize(("name", "field"), [("deep4", 522), ("shallow", 534)])
@pytest.mark.parametrize("n_times", [300, 500])
def test_too_short_input(name, field, n_times):
    with pytest.raises(InvalidInputError, match=rf"'n_times'.*{field} samples"):
        build_model(name, n_chans=22, n_outputs=4, n_times=n_times)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"foo": 1}, r"'foo'.*no argument 'foo'"),
        ({"conv_nonlin": abs}, r"'conv_nonlin'.*not JSON-serialisable"),
        ({"sfreq": 250.0}, r"'sfreq'.*cannot be set"),
    ],
)
def test_bad_kwargs(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        build_model("shallow", n_chans=22, n_outputs=4, n_times=1125, **kwargs)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_chans": 0}, "'n_chans'"),
        ({"n_outputs": 1}, "'n_outputs'"),
        ({"n_times": 1125.0}, "'n_times'"),
    ],
)
def test_bad_shape_parameters(params, match):
    base = {"n_chans": 22, "n_outputs": 4, "n_times": 1125}
    with pytest.raises(InvalidInputError, match=match):
        build_model("deep4", **{**base, **params})


def test_rebuild_model_needs_shape():
    with pytest.raises(InvalidInputError, match=r"'constructor_kwargs'.*n_times"):
        rebuild_model("deep4", {"n_chans": 22, "n_outputs": 4})
