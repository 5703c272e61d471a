"""Tests of envcorr.training.trialwise: one prediction per trial, any model."""

import json

import numpy as np
import pytest
import torch

from _training_fixtures import (
    CH_NAMES,
    N_TIMES,
    SFREQ,
    TINY,
    make_trials,
    states_equal,
    tiny_train,
)
from envcorr._utils.check import InvalidInputError
from envcorr.nn.fast import SliceMaxPool1d, SliceMaxPool2d
from envcorr.nn.models import build_model, rebuild_model
from envcorr.training import load_checkpoint, save_checkpoint, train_cropped
from envcorr.training.loop import (
    TRAIN_DEFAULTS,
    TRIALWISE_DEFAULTS,
    train_model,
    training_defaults,
)
from envcorr.training.trialwise import train_trialwise

# A small EEGNet for the toy trials (3 channels, 100 samples at 100 Hz).
TINY_EEGNET = {
    "F1": 4,
    "D": 2,
    "kernel_length": 16,
    "depthwise_kernel_length": 8,
    "pool1_kernel_size": 4,
    "pool2_kernel_size": 4,
}


def _eegnet(**kwargs):
    params = {
        "model": "eegnet",
        "n_epochs": 2,
        "batch_size": 8,
        "lr": 0.01,
        "model_kwargs": TINY_EEGNET,
        "verbose": False,
        **kwargs,
    }
    train = params.pop("train", None) or make_trials(24, seed=0)
    return train_trialwise(train, params.pop("valid", None), **params)


@pytest.mark.slow
def test_trialwise_training_learns_a_toy_problem():
    res = _eegnet(
        train=make_trials(60, seed=0), valid=make_trials(30, seed=1), n_epochs=8
    )
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < 0.8 * losses[0]
    # Chance is 1/3; the 10-Hz power at channel k gives the class away.
    assert res.valid_accuracy >= 0.8
    assert res.settings["decoding"] == "trialwise"


@pytest.mark.slow
def test_trialwise_result_fields_and_global_state():
    rng_state = torch.get_rng_state()
    deterministic = torch.are_deterministic_algorithms_enabled()
    res = _eegnet(valid=make_trials(9, seed=1), n_untrained=1)
    assert torch.equal(rng_state, torch.get_rng_state())
    assert torch.are_deterministic_algorithms_enabled() == deterministic
    assert res.model_name == "EEGNet" and type(res.model).__name__ == "EEGNet"
    assert res.n_preds == 1
    assert res.model_kwargs == {
        "n_chans": 3,
        "n_outputs": 3,
        "n_times": N_TIMES,
        "sfreq": SFREQ,
        **TINY_EEGNET,
    }
    assert res.settings["decoding"] == "trialwise"
    assert res.data["ch_names"] == CH_NAMES
    assert len(res.history) == 2 and res.history[-1]["valid_accuracy"] is not None
    # The initial state is the seeded construction; the extra one is seed 1.
    first, _ = build_model(
        "EEGNet", n_chans=3, n_outputs=3, n_times=N_TIMES, sfreq=SFREQ, **TINY_EEGNET
    )
    assert states_equal(res.initial_state, first.state_dict())
    again = rebuild_model("EEGNet", res.model_kwargs, seed=1)
    assert states_equal(res.extra_untrained_states[0], again.state_dict())
    assert not states_equal(res.model.state_dict(), res.initial_state)
    # The network itself ran (no fast view): plain modules, contiguous weights.
    assert not any(
        isinstance(m, SliceMaxPool1d | SliceMaxPool2d) for m in res.model.modules()
    )
    assert all(p.is_contiguous() for p in res.model.parameters())
    x = torch.from_numpy(make_trials(2, seed=7).X) * 1e6
    for net in (res.model, *res.untrained_models()):
        assert not net.training
        with torch.no_grad():
            assert net(x).shape == (2, 3)


@pytest.mark.slow
def test_trialwise_training_is_deterministic():
    kwargs = {
        "model": "EEGNet",
        "n_epochs": 2,
        "batch_size": 8,
        "model_kwargs": TINY_EEGNET,
        "verbose": False,
    }
    a = train_trialwise(make_trials(24), make_trials(9, seed=1), **kwargs)
    b = train_trialwise(make_trials(24), make_trials(9, seed=1), **kwargs)
    assert states_equal(a.model.state_dict(), b.model.state_dict())
    strip = [{k: v for k, v in h.items() if k != "duration_s"} for h in a.history]
    assert strip == [
        {k: v for k, v in h.items() if k != "duration_s"} for h in b.history
    ]
    c = train_trialwise(make_trials(24), make_trials(9, seed=1), seed=1, **kwargs)
    assert not states_equal(a.model.state_dict(), c.model.state_dict())


@pytest.mark.slow
def test_eegnet_checkpoint_round_trip(tmp_path):
    res = _eegnet(valid=make_trials(9, seed=1), n_untrained=1, n_epochs=1)
    path = save_checkpoint(res, tmp_path / "ckpt")
    info = json.loads((path / "model.json").read_text())
    assert info["model"] == "EEGNet" and info["kwargs"] == res.model_kwargs
    ckpt = load_checkpoint(path)
    assert ckpt.model_name == "EEGNet"
    assert ckpt.history["settings"]["decoding"] == "trialwise"
    x = torch.from_numpy(make_trials(5, seed=3).X) * 1e6
    pairs = zip(
        (ckpt.model, *ckpt.untrained_models()),
        (res.model, *res.untrained_models()),
        strict=True,
    )
    for loaded, original in pairs:
        assert states_equal(loaded.state_dict(), original.state_dict())
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), original(x), rtol=0, atol=0)


@pytest.mark.slow
def test_train_model_trains_deep4_and_shallow_cropped():
    # The dispatcher gives the same result as train_cropped itself.
    a = tiny_train("shallow", n_epochs=1)
    b = train_model(
        make_trials(24, seed=0),
        model="ShallowFBCSPNet",
        n_epochs=1,
        batch_size=8,
        lr=0.01,
        model_kwargs=TINY["shallow"],
        verbose=False,
    )
    assert b.model_name == "shallow" and b.settings["decoding"] == "cropped"
    assert b.n_preds == a.n_preds > 1
    assert states_equal(a.model.state_dict(), b.model.state_dict())


@pytest.mark.slow
def test_train_model_trains_eegnet_on_crops():
    trials, valid = make_trials(24, seed=0), make_trials(9, seed=1)
    kwargs = {
        "model": "eegnet",
        "n_epochs": 2,
        "batch_size": 8,
        "lr": 0.01,
        "model_kwargs": TINY_EEGNET,
        "n_untrained": 1,
        "verbose": False,
    }
    res = train_model(trials, valid, **kwargs)
    assert res.model_name == "EEGNet" and res.settings["decoding"] == "cropped"
    # 100 samples, pooled by 4 and 4: 6 positions; the classifier spans 3 of
    # them, so it predicts at 4.
    assert res.model_kwargs["final_conv_length"] == 3 and res.n_preds == 4
    assert res.model_kwargs == {
        "n_chans": 3,
        "n_outputs": 3,
        "n_times": N_TIMES,
        "sfreq": SFREQ,
        **TINY_EEGNET,
        "final_conv_length": 3,
    }
    x = torch.from_numpy(make_trials(2, seed=7).X) * 1e6
    for net in (res.model, *res.untrained_models()):
        with torch.no_grad():
            assert net(x).shape == (2, 3, 4)
    # The same training as train_cropped's; train_trialwise trains the
    # network braindecode defines instead, with one prediction per trial.
    again = train_cropped(trials, valid, **kwargs)
    assert states_equal(res.model.state_dict(), again.model.state_dict())
    assert res.history[-1]["train_loss"] == again.history[-1]["train_loss"]
    whole = train_trialwise(trials, valid, **kwargs)
    assert whole.n_preds == 1 and "final_conv_length" not in whole.model_kwargs


def test_each_training_refuses_the_other_kind_of_model():
    with pytest.raises(InvalidInputError, match=r"'model'.*EEGNeX.*train_model"):
        train_cropped(make_trials(6), model="eegnex")
    with pytest.raises(InvalidInputError, match=r"'model'.*'deep4'.*cropped"):
        train_trialwise(make_trials(6), model="Deep4Net")
    with pytest.raises(InvalidInputError, match=r"'model'.*Did you mean 'EEGNet'"):
        train_model(make_trials(6), model="eegnett")


def test_training_defaults():
    assert training_defaults("deep4") == TRAIN_DEFAULTS["deep4"]
    assert training_defaults("ShallowFBCSPNet") == TRAIN_DEFAULTS["shallow"]
    assert training_defaults("eegnet") == TRIALWISE_DEFAULTS
    assert TRIALWISE_DEFAULTS == {"lr": 1e-3, "weight_decay": 0.0, "batch_size": 32}
    training_defaults("atcnet")["lr"] = 1.0  # a copy
    assert TRIALWISE_DEFAULTS["lr"] == 1e-3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model_kwargs": {"sfreq": 100.0}}, r"'sfreq'.*cannot be set"),
        ({"model_kwargs": {"bogus": 1}}, r"'bogus'.*EEGNet has no argument"),
        ({"n_epochs": 0}, "'n_epochs'"),
    ],
)
def test_trialwise_bad_parameters(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        train_trialwise(make_trials(6), model="eegnet", verbose=False, **kwargs)


def test_trialwise_bad_data():
    with pytest.raises(InvalidInputError, match="'train'.*Trials"):
        train_trialwise(np.zeros((2, 3, 100)), model="eegnet")
