"""Tests of envcorr.training.loop: cropped training and its result."""

import logging
import math

import numpy as np
import pytest
import torch

from _training_fixtures import (
    CH_NAMES,
    N_TIMES,
    SFREQ,
    TINY,
    make_trials,
    shallow_result,
    states_equal,
    tiny_train,
    with_changes,
)
from envcorr._utils.check import InvalidInputError
from envcorr._utils.logs import logger
from envcorr.nn.fast import SliceMaxPool1d, SliceMaxPool2d
from envcorr.nn.models import build_model
from envcorr.training import TrainResult, train_cropped


@pytest.fixture(scope="session")
def result():
    """A tiny Shallow run with validation and two extra initialisations."""
    return shallow_result()


@pytest.mark.slow
def test_result_fields(result):
    assert isinstance(result, TrainResult)
    assert result.model_name == "shallow"
    assert result.input_scale == 1e6
    assert result.settings["recalibrate_bn"] is True
    assert result.n_preds == N_TIMES - 48 + 1
    assert not result.model.training
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    for h in result.history:
        assert set(h) == {
            "epoch",
            "lr",
            "train_loss",
            "train_accuracy",
            "valid_loss",
            "valid_accuracy",
            "duration_s",
        }
        assert math.isfinite(h["valid_loss"]) and 0 <= h["valid_accuracy"] <= 1
    # Cosine annealing: the learning rate decreases from lr.
    lrs = [h["lr"] for h in result.history]
    assert lrs[0] == 0.01 and lrs[0] > lrs[1] > lrs[2] > 0
    assert result.data == {
        "ch_names": CH_NAMES,
        "sfreq": SFREQ,
        "n_times": N_TIMES,
        "class_names": ["class_0", "class_1", "class_2"],
        "tmin": -0.5,
    }
    scores = result.valid_scores
    assert scores.confusion.shape == (3, 3)
    assert scores.confusion.sum() == 12
    np.testing.assert_array_equal(scores.confusion.sum(axis=1), [4, 4, 4])
    np.testing.assert_allclose(scores.per_class_accuracy, np.diag(scores.confusion) / 4)
    assert result.valid_accuracy == pytest.approx(np.trace(scores.confusion) / 12)
    assert result.train_scores.confusion.sum() == 24


@pytest.mark.slow
def test_initial_state_kept(result):
    model, _ = build_model(
        "shallow",
        n_chans=3,
        n_outputs=3,
        n_times=N_TIMES,
        seed=0,
        **TINY["shallow"],
    )
    # The initial state is the seeded construction, before any step ...
    assert states_equal(result.initial_state, model.state_dict())
    # ... and training changed the weights.
    trained = result.model.state_dict()
    changed = [
        k for k in trained if not torch.equal(trained[k], result.initial_state[k])
    ]
    assert "final_layer.conv_classifier.weight" in changed
    assert "conv_time_spat.conv_time.weight" in changed
    # Extra initialisations: seeds 1 and 2, all different.
    assert len(result.extra_untrained_states) == 2
    extra_1, _ = build_model(
        "shallow", n_chans=3, n_outputs=3, n_times=N_TIMES, seed=1, **TINY["shallow"]
    )
    assert states_equal(result.extra_untrained_states[0], extra_1.state_dict())
    assert not states_equal(
        result.extra_untrained_states[0], result.extra_untrained_states[1]
    )
    untrained = result.untrained_model()
    assert not untrained.training
    assert states_equal(untrained.state_dict(), result.initial_state)
    with pytest.raises(InvalidInputError, match="'k'.*2 extra"):
        result.untrained_model(3)


@pytest.mark.slow
def test_to_record(result):
    record = result.to_record()
    assert record["history"] == result.history
    assert record["train"] == result.train_scores.to_dict()
    assert record["valid"] == result.valid_scores.to_dict()
    assert record["class_names"] == result.data["class_names"]
    assert record["settings"] == result.settings
    record["history"].clear()
    record["settings"]["seed"] = 99
    assert len(result.history) == 3 and result.settings["seed"] == 0


@pytest.mark.slow
def test_untrained_models(result):
    models = result.untrained_models()
    states = [result.initial_state, *result.extra_untrained_states]
    assert len(models) == 3
    assert len({id(m) for m in models}) == 3
    x = torch.from_numpy(make_trials(2, seed=7).X) * 1e6
    for model, state in zip(models, states, strict=True):
        assert states_equal(model.state_dict(), state)  # own first, then extras
        assert not any(m.training for m in model.modules())
        assert all(p.device.type == "cpu" for p in model.parameters())
        with torch.no_grad():
            assert model(x).shape == (2, 3, result.n_preds)  # dense
    # New networks each time: changing one does not change the result.
    with torch.no_grad():
        next(models[0].parameters()).add_(1.0)
    assert states_equal(result.untrained_models()[0].state_dict(), states[0])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["shallow", "deep4"])
def test_deterministic(name):
    a = tiny_train(name, valid=make_trials(9, seed=1))
    b = tiny_train(name, valid=make_trials(9, seed=1))
    strip = [{k: v for k, v in h.items() if k != "duration_s"} for h in a.history]
    assert strip == [
        {k: v for k, v in h.items() if k != "duration_s"} for h in b.history
    ]
    assert states_equal(a.model.state_dict(), b.model.state_dict())
    np.testing.assert_array_equal(a.valid_scores.y_pred, b.valid_scores.y_pred)
    c = tiny_train(name, valid=make_trials(9, seed=1), seed=1)
    assert not states_equal(a.model.state_dict(), c.model.state_dict())


@pytest.mark.slow
def test_training_leaves_inputs_and_global_state_alone():
    train = make_trials(12)
    X = train.X.copy()
    rng_state = torch.get_rng_state()
    deterministic = torch.are_deterministic_algorithms_enabled()
    res = tiny_train(train=train, n_epochs=1, batch_size=None, lr=None)
    assert res.settings["batch_size"] == 64  # Shallow's default
    assert res.settings["lr"] == 0.0625 * 0.01
    assert res.valid_scores is None and res.valid_accuracy is None
    assert res.history[0]["valid_accuracy"] is None
    np.testing.assert_array_equal(train.X, X)
    assert torch.equal(rng_state, torch.get_rng_state())
    assert torch.are_deterministic_algorithms_enabled() == deterministic


def _global_state():
    np_state = np.random.get_state()  # noqa: NPY002 (the global state on purpose)
    return {
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": (np_state[0], np_state[1].copy(), *np_state[2:]),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "benchmark": torch.backends.cudnn.benchmark,
        "log_level": logger.level,
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("deterministic", "warn_only", "benchmark"),
    [(False, False, False), (True, False, True), (True, True, False)],
)
def test_training_leaves_torch_and_numpy_state_and_model_plain(
    deterministic, warn_only, benchmark
):
    saved = _global_state()
    try:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.backends.cudnn.benchmark = benchmark
        np.random.seed(123)  # noqa: NPY002
        torch.manual_seed(456)
        before = _global_state()
        res = tiny_train("deep4", n_epochs=1, valid=make_trials(6, seed=1))
        after = _global_state()
    finally:
        torch.use_deterministic_algorithms(
            saved["deterministic"], warn_only=saved["warn_only"]
        )
        torch.backends.cudnn.benchmark = saved["benchmark"]
    assert torch.equal(after["torch_rng"], before["torch_rng"])
    assert after["numpy_rng"][0] == before["numpy_rng"][0]
    np.testing.assert_array_equal(after["numpy_rng"][1], before["numpy_rng"][1])
    assert after["numpy_rng"][2:] == before["numpy_rng"][2:]
    for key in ("deterministic", "warn_only", "benchmark", "log_level"):
        assert after[key] == before[key], key
    assert (after["deterministic"], after["warn_only"], after["benchmark"]) == (
        deterministic,
        warn_only,
        benchmark,
    )
    # The returned network is the plain braindecode network: its own modules
    # never changed class (training ran through a separate fast view).
    modules = list(res.model.modules())
    for module in modules:
        assert type(module).__module__.split(".")[0] in (
            "torch",
            "braindecode",
            "einops",
        )
        assert not isinstance(module, SliceMaxPool1d | SliceMaxPool2d)
        assert not module.training
    assert sum(type(m) is torch.nn.MaxPool2d for m in modules) == 4
    assert all(p.is_contiguous() for p in res.model.parameters())


@pytest.mark.slow
def test_training_runs_through_the_fast_view(monkeypatch):
    modes = []
    forward = SliceMaxPool2d.forward

    def counting(self, x):
        modes.append(self.training)
        return forward(self, x)

    monkeypatch.setattr(SliceMaxPool2d, "forward", counting)
    res = tiny_train("deep4", n_epochs=1, batch_size=8, valid=make_trials(6, seed=1))
    # 4 pools × (3 training batches, then eval passes for batch norm and scores)
    assert modes.count(True) == 4 * 3
    assert modes.count(False) > 0
    assert not any(isinstance(m, SliceMaxPool2d) for m in res.model.modules())


@pytest.mark.slow
def test_learns_separable_toy_problem():
    train = make_trials(60, seed=0)
    valid = make_trials(30, seed=1)
    res = tiny_train(train=train, valid=valid, n_epochs=6)
    # Chance is 1/3; the 10-Hz power at channel k gives the class away.
    assert res.valid_accuracy >= 0.8
    assert res.train_accuracy >= 0.8
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.mark.slow
def test_logging(capsys):
    handler = _Records()
    logger.addHandler(handler)
    try:
        tiny_train(n_epochs=1, valid=make_trials(6, seed=1), verbose=True)
        assert any(
            m.startswith("Epoch 1/1: train loss") and "valid accuracy" in m
            for m in handler.messages
        )
        handler.messages.clear()
        capsys.readouterr()
        tiny_train(n_epochs=1, verbose=False)
        assert handler.messages == []
        assert capsys.readouterr().err == ""  # no progress bar either
    finally:
        logger.removeHandler(handler)


# --------------------------------------------------------------------------
# Bad input (all rejected before any training)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": "deep5"}, r"'model'.*'deep4', 'shallow'"),
        ({"n_epochs": 0}, "'n_epochs'"),
        ({"batch_size": 1.5}, "'batch_size'"),
        ({"lr": -1.0}, "'lr'"),
        ({"weight_decay": -0.1}, "'weight_decay'"),
        ({"weight_decay": "much"}, "'weight_decay'"),
        ({"input_scale": 0}, "'input_scale'"),
        ({"n_untrained": -1}, "'n_untrained'"),
        ({"seed": -1}, "'seed'"),
        ({"device": "tpu0"}, "'device'"),
        ({"model_kwargs": {"bogus": 1}}, "'bogus'"),
        ({"model_kwargs": [1]}, "'model_kwargs'.*dict"),
        ({"recalibrate_bn": "yes"}, "'recalibrate_bn'.*True or False"),
    ],
)
def test_train_bad_parameters(kwargs, match):
    params = {"model": "shallow", "verbose": False, **kwargs}
    with pytest.raises(InvalidInputError, match=match):
        train_cropped(make_trials(6), **params)


def test_train_bad_data():
    with pytest.raises(InvalidInputError, match="'train'.*Trials"):
        train_cropped(np.zeros((2, 3, 100)), model="shallow")
    with pytest.raises(InvalidInputError, match="'valid'.*Trials.*envcorr.data"):
        train_cropped(make_trials(6), np.zeros((2, 3, 100)), model="shallow")
    valid = with_changes(make_trials(6), sfreq=200.0)
    with pytest.raises(InvalidInputError, match="'valid'.*sfreq"):
        train_cropped(make_trials(6), valid, model="shallow")
    with pytest.raises(InvalidInputError, match=r"'n_times'.*534 samples"):
        train_cropped(make_trials(6), model="shallow", verbose=False)
