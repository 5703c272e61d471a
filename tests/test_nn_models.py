"""Tests of envcorr.nn.models: braindecode networks with seeded weights."""

import json
import re

import pytest
import torch

from envcorr._utils.check import InvalidInputError
from envcorr.config import (
    BRAINDECODE_MODELS,
    CROPPED_MODELS,
    DENSE_MODELS,
    MODEL_ALIASES,
)
from envcorr.nn.models import (
    MODELS,
    build_model,
    chs_info_from_names,
    classifier_receptive_field,
    is_cropped,
    n_predictions,
    predicts_densely,
    rebuild_model,
)

# BCI IV 2a's 22 channels: the shape every listed model is tried on.
CH_22 = (
    "Fz FC3 FC1 FCz FC2 FC4 C5 C3 C1 Cz C2 C4 C6 CP3 CP1 CPz CP2 CP4 P1 Pz P2 POz"
).split()
SHAPE_22 = {"n_chans": 22, "n_outputs": 4, "n_times": 1125, "sfreq": 250.0}

# Models braindecode 1.8 cannot build for 22 channels × 1125 samples at
# 250 Hz with the arguments envcorr gives, and what the error says.
CANNOT_BUILD = {
    "AttnSleep": "d_model",  # its width must match the trial length
    "CBraMod": "patches of 200 samples",  # pretrained patch length
    "EEGDINO": r"n_chans \(22\) must not exceed",  # 19 pretrained channels
    "InterpolatedLaBraM": "patches of 200 samples",
    "LUNA": "patches of 40 samples",
    "Labram": "patches of 200 samples",
    "USleep": "time_conv_size must be an odd number",
    "ZUNA": "patches of 32 samples",
}
# REVE downloads a bank of electrode positions when built: it builds online,
# and says why not offline.
NEEDS_NETWORK = {"REVE"}


def _assert_same_network(model, again, x):
    """With ``model``'s weights loaded, ``again`` gives exactly its outputs."""
    again.load_state_dict(model.state_dict())
    model.eval()
    again.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), again(x), rtol=0, atol=0)


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


@pytest.mark.parametrize("name", list(MODEL_ALIASES))
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


@pytest.mark.parametrize("name", [*MODEL_ALIASES, "EEGNet"])
def test_rebuild_model_same_architecture(name):
    model, kwargs = build_model(
        name, n_chans=5, n_outputs=2, n_times=800, seed=2, drop_prob=0.3
    )
    assert kwargs["drop_prob"] == 0.3
    again = rebuild_model(name.lower(), json.loads(json.dumps(kwargs)), seed=9)
    assert not _states_equal(model.state_dict(), again.state_dict())
    _assert_same_network(model, again, torch.randn(3, 5, 800))


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
    with pytest.raises(
        InvalidInputError, match=r"'name'.*unknown model 'deep5'.*'deep4', 'shallow'"
    ):
        build_model("deep5", n_chans=22, n_outputs=4, n_times=1125)
    with pytest.raises(InvalidInputError, match="Did you mean 'deep4'"):
        rebuild_model("deep", {"n_chans": 22, "n_outputs": 4, "n_times": 1125})
    with pytest.raises(InvalidInputError, match="Did you mean 'EEGNet'"):
        build_model("eegnett", n_chans=22, n_outputs=4, n_times=1125)


@pytest.mark.parametrize(
    ("name", "key", "cls"),
    [
        ("deep4", "deep4", "Deep4Net"),
        ("Deep4Net", "deep4", "Deep4Net"),
        ("DEEP4NET", "deep4", "Deep4Net"),
        ("Shallow", "shallow", "ShallowFBCSPNet"),
        ("shallowfbcspnet", "shallow", "ShallowFBCSPNet"),
        ("eegnet", "EEGNet", "EEGNet"),
        ("EEGNEX", "EEGNeX", "EEGNeX"),
        ("atcnet", "ATCNet", "ATCNet"),
    ],
)
def test_model_names_any_case_and_aliases(name, key, cls):
    # The aliases are exactly today's networks: dense, with envcorr's defaults.
    model, kwargs = build_model(name, n_chans=22, n_outputs=4, n_times=1125)
    assert type(model).__name__ == cls
    assert type(rebuild_model(name, kwargs)).__name__ == cls
    assert is_cropped(name) == (key in CROPPED_MODELS)
    assert MODELS[key].__name__ == cls


def test_models_are_the_listed_names():
    classes = {*MODEL_ALIASES.values()}
    assert set(MODELS) == {*MODEL_ALIASES, *(set(BRAINDECODE_MODELS) - classes)}
    assert {MODELS[a].__name__ for a in MODEL_ALIASES} == classes


def test_aliases_are_built_as_before():
    # Neither sampling rate nor channels enter Deep4's and Shallow's arguments.
    for name in ("deep4", "Deep4Net"):
        _, kwargs = build_model(name, **SHAPE_22, ch_names=CH_22)
        assert kwargs == {
            "n_chans": 22,
            "n_outputs": 4,
            "n_times": 1125,
            "final_conv_length": 2,
        }


def test_trialwise_models_get_the_sampling_rate():
    model, kwargs = build_model("eegnet", **SHAPE_22, seed=1)
    assert kwargs == {"n_chans": 22, "n_outputs": 4, "n_times": 1125, "sfreq": 250.0}
    assert not predicts_densely(model)  # EEGNet pads its convolutions
    assert n_predictions(model) == 1
    assert classifier_receptive_field(model) == 1125
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(3, 22, 1125)).shape == (3, 4)


def test_eegnet_built_for_cropped_decoding():
    model, kwargs = build_model("eegnet", **SHAPE_22, seed=1, cropped=True)
    # 1125 samples pooled by 4 and 8 leave 35 positions; the classifier spans
    # 17 of them (braindecode's default spans all 35), so it predicts at 19.
    assert kwargs == {
        "n_chans": 22,
        "n_outputs": 4,
        "n_times": 1125,
        "sfreq": 250.0,
        "final_conv_length": 17,
    }
    assert n_predictions(model) == 19 and not predicts_densely(model)
    # Its receptive field follows the network's operations: 17 positions 32
    # samples apart, plus what one position after the last pooling sees.
    assert classifier_receptive_field(model) == 667
    whole, _ = build_model("eegnet", **SHAPE_22, seed=1)
    layers = dict(model.named_children())
    assert list(layers) == list(dict(whole.named_children()))
    # The same seeded weights for every layer but the shorter classifier.
    state, base = model.state_dict(), whole.state_dict()
    for name, value in state.items():
        if not name.startswith("final_layer"):
            assert torch.equal(value, base[name]), name
    again = rebuild_model("eegnet", kwargs, seed=1)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in state.items())
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(3, 22, 1125)).shape == (3, 4, 19)
    # A given classifier length wins; short trials still get one position.
    _, kwargs = build_model("eegnet", **SHAPE_22, cropped=True, final_conv_length=5)
    assert kwargs["final_conv_length"] == 5
    short = {**SHAPE_22, "n_times": 40}
    model, kwargs = build_model("eegnet", **short, cropped=True)
    assert kwargs["final_conv_length"] == 1 and n_predictions(model) == 1
    # Deep4 is dense either way; a model without a cropped form refuses.
    assert (
        build_model("deep4", **SHAPE_22, cropped=True)[1]
        == build_model("deep4", **SHAPE_22)[1]
    )
    with pytest.raises(InvalidInputError, match=r"'cropped'.*EEGNeX has no cropped"):
        build_model("eegnex", **SHAPE_22, cropped=True)
    with pytest.raises(InvalidInputError, match=r"'cropped'"):
        build_model("eegnet", **SHAPE_22, cropped="yes")


def test_models_that_need_positions_get_them_from_the_channel_names():
    # DGCNN builds its graph from the electrode positions.
    model, kwargs = build_model("DGCNN", **SHAPE_22, ch_names=CH_22)
    info = kwargs["chs_info"]
    assert [ch["ch_name"] for ch in info] == CH_22
    assert all(len(ch["loc"]) == 12 and any(ch["loc"][:3]) for ch in info)
    assert json.loads(json.dumps(kwargs)) == kwargs
    again = rebuild_model("dgcnn", json.loads(json.dumps(kwargs)))
    _assert_same_network(model, again, torch.randn(2, 22, 1125))


def test_positions_are_the_standard_montage_case_insensitive():
    info = chs_info_from_names(["cz", "C3"])
    assert [ch["ch_name"] for ch in info] == ["cz", "C3"]
    assert info[0]["loc"][:3] != info[1]["loc"][:3]
    with pytest.raises(InvalidInputError, match=r"'ch_names'.*\['X1'\].*positions"):
        chs_info_from_names(["Cz", "X1"])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({}, r"'ch_names'.*DGCNN needs channel positions"),
        ({"ch_names": ["C3", "C4"]}, r"'ch_names'.*2 names for n_chans=22"),
        ({"ch_names": [f"E{i}" for i in range(22)]}, r"'ch_names'.*no position"),
    ],
)
def test_models_that_need_positions_without_them(params, match):
    with pytest.raises(InvalidInputError, match=match):
        build_model("DGCNN", **SHAPE_22, **params)


def test_a_model_that_needs_the_sampling_rate_without_it():
    with pytest.raises(InvalidInputError, match=r"'sfreq'.*EEGMiner needs"):
        build_model("EEGMiner", n_chans=22, n_outputs=4, n_times=1125)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("CBraMod", r"patches of 200 samples, and 1125 samples is not a multiple"),
        ("AttnSleep", r"ValueError: d_model is 80"),
    ],
)
def test_a_model_that_cannot_be_built_says_why(name, match):
    with pytest.raises(
        InvalidInputError,
        match=rf"'model'.*{name} cannot be built for 22 channels × 1125 samples "
        rf"at 250 Hz: .*{match}",
    ):
        build_model(name, **SHAPE_22, ch_names=CH_22)


def test_a_trialwise_model_on_too_short_trials():
    with pytest.raises(
        InvalidInputError, match=r"'model'.*EEGNet cannot be built.*too short"
    ):
        build_model("EEGNet", n_chans=22, n_outputs=4, n_times=20, sfreq=250.0)


def test_the_dense_prediction_rule():
    for name in ("deep4", "shallow"):
        model, _ = build_model(name, n_chans=3, n_outputs=2, n_times=1125)
        assert predicts_densely(model)
    strided = MODELS["deep4"](n_chans=3, n_outputs=2, n_times=1125)
    assert predicts_densely(strided)
    assert not predicts_densely(torch.nn.Conv1d(3, 2, 5))


@pytest.mark.slow
@pytest.mark.parametrize("name", BRAINDECODE_MODELS)
def test_every_listed_model_builds_or_says_why(name):
    """Each braindecode classifier, on BCI IV 2a's shape: built, or refused."""
    if name in CANNOT_BUILD or name in NEEDS_NETWORK:
        pattern = CANNOT_BUILD.get(name, "")
        try:
            model, kwargs = build_model(name, **SHAPE_22, ch_names=CH_22)
        except InvalidInputError as err:
            assert re.search(
                rf"'model'.*{name} cannot be built for 22 channels × 1125 "
                rf"samples at 250 Hz: .*{pattern}",
                str(err),
            ), err
            return
        assert name in NEEDS_NETWORK, f"{name} builds now: update CANNOT_BUILD"
    else:
        model, kwargs = build_model(name, **SHAPE_22, ch_names=CH_22)
    assert type(model).__name__ == name
    assert json.loads(json.dumps(kwargs)) == kwargs
    # Dense predictions exactly for Deep4Net and ShallowFBCSPNet.
    dense = name in {MODEL_ALIASES[a] for a in DENSE_MODELS}
    assert predicts_densely(model) == dense
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 22, 1125))
    if dense:
        assert out.shape[:2] == (2, 4) and out.shape[2] > 1
    else:
        assert out.shape == (2, 4)
        # Scores (logits), not probabilities: the trial-wise loss takes the
        # log-softmax of the outputs.
        probabilities = (out >= 0).all() and torch.allclose(out.sum(1), torch.ones(2))
        assert not probabilities


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
        ({"input_window_seconds": 4.5}, r"'input_window_seconds'.*cannot be set"),
        ({"chs_info": []}, r"'chs_info'.*cannot be set"),
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
