"""Tests of envcorr.train: cropped training, evaluation and checkpoints."""

import json
import logging
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from envcorr._check import InvalidInputError
from envcorr._logging import logger
from envcorr.data import Trials
from envcorr.models import build_model
from envcorr.train import (
    Checkpoint,
    Scores,
    TrainResult,
    check_compatible,
    evaluate,
    load_checkpoint,
    predict_trials,
    recalibrate_batchnorm,
    save_checkpoint,
    train_cropped,
)

SFREQ = 100.0
N_TIMES = 100
CH_NAMES = ["C3", "Cz", "C4"]

# Tiny architectures (receptive fields 48 and 62 samples) so tests stay fast.
TINY = {
    "shallow": {
        "n_filters_time": 4,
        "n_filters_spat": 4,
        "filter_time_length": 9,
        "pool_time_length": 20,
        "pool_time_stride": 5,
        "final_conv_length": 5,
    },
    "deep4": {
        "n_filters_time": 4,
        "n_filters_spat": 4,
        "n_filters_2": 4,
        "n_filters_3": 4,
        "n_filters_4": 4,
        "filter_time_length": 3,
        "filter_length_2": 3,
        "filter_length_3": 3,
        "filter_length_4": 3,
        "pool_time_length": 2,
        "pool_time_stride": 2,
        "final_conv_length": 2,
    },
}


def make_trials(n_trials=24, *, n_classes=3, seed=0, sfreq=SFREQ, n_times=N_TIMES):
    """Toy trials in volts: class k has strong 10-Hz power at channel k."""
    rng = np.random.default_rng(seed)
    y = np.arange(n_trials) % n_classes
    rng.shuffle(y)
    t = np.arange(n_times) / sfreq
    X = 5e-6 * rng.standard_normal((n_trials, len(CH_NAMES), n_times))
    phase = rng.uniform(0, 2 * np.pi, n_trials)
    X[np.arange(n_trials), y % len(CH_NAMES)] += 20e-6 * np.sin(
        2 * np.pi * 10 * t[None] + phase[:, None]
    )
    return Trials(
        X=X.astype(np.float32),
        y=y,
        class_names=[f"class_{k}" for k in range(n_classes)],
        sfreq=sfreq,
        ch_names=CH_NAMES,
        tmin=-0.5,
        description={"dataset": "toy", "seed": np.int64(seed)},
    )


def tiny_train(name="shallow", *, train=None, valid=None, **kwargs):
    params = {
        "model": name,
        "n_epochs": 2,
        "batch_size": 8,
        "lr": 0.01,
        "model_kwargs": TINY[name],
        "verbose": False,
        **kwargs,
    }
    if train is None:
        train = make_trials(24, seed=0)
    return train_cropped(train, valid, **params)


def _states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def result():
    """A tiny Shallow run with validation and two extra initialisations."""
    return tiny_train(
        "shallow", valid=make_trials(12, seed=1), n_untrained=2, n_epochs=3
    )


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
    assert _states_equal(result.initial_state, model.state_dict())
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
    assert _states_equal(result.extra_untrained_states[0], extra_1.state_dict())
    assert not _states_equal(
        result.extra_untrained_states[0], result.extra_untrained_states[1]
    )
    untrained = result.untrained_model()
    assert not untrained.training
    assert _states_equal(untrained.state_dict(), result.initial_state)
    with pytest.raises(InvalidInputError, match="'k'.*2 extra"):
        result.untrained_model(3)


@pytest.mark.parametrize("name", ["shallow", "deep4"])
def test_deterministic(name):
    a = tiny_train(name, valid=make_trials(9, seed=1))
    b = tiny_train(name, valid=make_trials(9, seed=1))
    strip = [{k: v for k, v in h.items() if k != "duration_s"} for h in a.history]
    assert strip == [
        {k: v for k, v in h.items() if k != "duration_s"} for h in b.history
    ]
    assert _states_equal(a.model.state_dict(), b.model.state_dict())
    np.testing.assert_array_equal(a.valid_scores.y_pred, b.valid_scores.y_pred)
    c = tiny_train(name, valid=make_trials(9, seed=1), seed=1)
    assert not _states_equal(a.model.state_dict(), c.model.state_dict())


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


def test_learns_separable_toy_problem():
    train = make_trials(60, seed=0)
    valid = make_trials(30, seed=1)
    res = tiny_train(train=train, valid=valid, n_epochs=6)
    # Chance is 1/3; the 10-Hz power at channel k gives the class away.
    assert res.valid_accuracy >= 0.8
    assert res.train_accuracy >= 0.8
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]


def test_evaluate_loss_is_mean_crop_cross_entropy(result):
    trials = make_trials(6, seed=3)
    scores = evaluate(result.model, trials, input_scale=result.input_scale)
    with torch.no_grad():
        out = result.model(torch.from_numpy(trials.X) * 1e6)  # (n, classes, crops)
    n_crops = out.shape[2]
    per_crop = F.cross_entropy(
        out.permute(0, 2, 1).reshape(-1, 3),
        torch.from_numpy(trials.y).repeat_interleave(n_crops),
    )
    assert scores.loss == pytest.approx(float(per_crop), rel=1e-5)
    expected_pred = F.log_softmax(out, dim=1).mean(dim=2).argmax(dim=1).numpy()
    np.testing.assert_array_equal(scores.y_pred, expected_pred)
    log_proba = predict_trials(result.model, trials.X)
    assert log_proba.shape == (6, 3)
    np.testing.assert_array_equal(log_proba.argmax(axis=1), expected_pred)


def test_recalibrate_batchnorm_matches_eval_statistics():
    # Trained with dropout, the running statistics of the last batch norm do not
    # fit the eval-mode network; after recalibration they are the eval-mode
    # statistics of the calibration data (one batch, so up to the biased versus
    # unbiased variance used by the earlier batch norms).
    res = tiny_train("deep4", n_epochs=2, recalibrate_bn=False)
    model = res.model
    trials = make_trials(24, seed=0)
    bn = model.bnorm_4
    seen = {}
    handle = bn.register_forward_hook(lambda m, i, o: seen.update(x=i[0]))

    def eval_stats():
        model.eval()
        with torch.no_grad():
            model(torch.from_numpy(trials.X) * 1e6)
        return seen["x"].mean(dim=(0, 2, 3)), seen["x"].var(dim=(0, 2, 3))

    try:
        _, var = eval_stats()
        assert (bn.running_var / var).min() > 1.5  # dropout inflated them
        recalibrate_batchnorm(model, trials.X, batch_size=24)
        assert not model.training
        assert bn.momentum == 0.1
        mean, var = eval_stats()
    finally:
        handle.remove()
    torch.testing.assert_close(bn.running_mean, mean, rtol=1e-2, atol=1e-3)
    torch.testing.assert_close(bn.running_var, var, rtol=1e-2, atol=1e-3)


def test_scores_known_answer():
    log_proba = np.log(
        np.array([[0.8, 0.2], [0.4, 0.6], [0.3, 0.7], [0.9, 0.1]], dtype=float)
    )
    s = Scores.from_predictions(np.array([0, 0, 1, 1]), log_proba, 2)
    np.testing.assert_array_equal(s.confusion, [[1, 1], [1, 1]])
    assert s.accuracy == 0.5
    np.testing.assert_allclose(s.per_class_accuracy, [0.5, 0.5])
    assert s.loss == pytest.approx(-np.mean(np.log([0.8, 0.4, 0.7, 0.1])))
    s3 = Scores.from_predictions(np.array([0, 0]), log_proba[:2], 3)
    assert s3.confusion.shape == (3, 3)
    assert np.isnan(s3.per_class_accuracy[1])
    back = Scores.from_dict(json.loads(json.dumps(s3.to_dict())))
    np.testing.assert_array_equal(back.confusion, s3.confusion)
    np.testing.assert_array_equal(back.per_class_accuracy, s3.per_class_accuracy)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


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
# Checkpoints


def _outputs(model, X):
    with torch.no_grad():
        return model(torch.from_numpy(X) * 1e6)


def test_checkpoint_round_trip(result, tmp_path):
    target = tmp_path / "ckpt"
    trials = make_trials(5, seed=4)
    out = save_checkpoint(
        result,
        target,
        trials_description={"dataset": "toy", "path": tmp_path, "n": np.int64(3)},
        config={"bands": {"alpha": [7, 13]}, "n_epochs": 3},
    )
    assert out == target
    files = sorted(p.name for p in target.iterdir())
    assert files == [
        "config.json",
        "data.json",
        "history.json",
        "initial.pt",
        "model.json",
        "trained.pt",
        "untrained_1.pt",
        "untrained_2.pt",
    ]
    # No temporary directory left beside the target.
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]

    ckpt = load_checkpoint(target)
    assert isinstance(ckpt, Checkpoint)
    assert ckpt.model_name == "shallow"
    assert ckpt.model_kwargs == result.model_kwargs
    assert ckpt.input_scale == result.input_scale
    assert ckpt.ch_names == CH_NAMES
    assert ckpt.sfreq == SFREQ and ckpt.n_times == N_TIMES
    assert ckpt.class_names == result.data["class_names"]
    assert ckpt.data["tmin"] == -0.5
    assert ckpt.data["description"] == {
        "dataset": "toy",
        "path": str(tmp_path),
        "n": 3,
    }
    assert ckpt.config == {"bands": {"alpha": [7, 13]}, "n_epochs": 3}
    assert ckpt.history["history"] == json.loads(json.dumps(result.history))
    assert ckpt.history["settings"]["seed"] == 0
    np.testing.assert_array_equal(
        ckpt.valid_scores.confusion, result.valid_scores.confusion
    )
    assert ckpt.train_scores.accuracy == result.train_accuracy

    for model in (ckpt.model, ckpt.untrained_model, *ckpt.extra_untrained_models):
        assert not model.training
    torch.testing.assert_close(
        _outputs(ckpt.model, trials.X), _outputs(result.model, trials.X), rtol=0, atol=0
    )
    torch.testing.assert_close(
        _outputs(ckpt.untrained_model, trials.X),
        _outputs(result.untrained_model(), trials.X),
        rtol=0,
        atol=0,
    )
    assert len(ckpt.extra_untrained_models) == 2
    torch.testing.assert_close(
        _outputs(ckpt.extra_untrained_models[1], trials.X),
        _outputs(result.untrained_model(2), trials.X),
        rtol=0,
        atol=0,
    )
    # Trained and untrained differ.
    assert not torch.equal(
        _outputs(ckpt.model, trials.X), _outputs(ckpt.untrained_model, trials.X)
    )


def test_checkpoint_overwrite(result, tmp_path):
    target = tmp_path / "ckpt"
    save_checkpoint(result, target)
    with pytest.raises(InvalidInputError, match=r"'directory'.*already exists"):
        save_checkpoint(result, target)
    save_checkpoint(result, target, config={"again": True}, overwrite=True)
    assert load_checkpoint(target).config == {"again": True}
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_checkpoint_rejects_unserialisable_config(result, tmp_path):
    with pytest.raises(InvalidInputError, match=r"'config'.*cannot be written"):
        save_checkpoint(result, tmp_path / "ckpt", config={"f": object()})
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def saved(result, tmp_path):
    return save_checkpoint(result, tmp_path / "ckpt")


def test_load_missing_directory(tmp_path):
    with pytest.raises(InvalidInputError, match=r"'checkpoint'.*not found"):
        load_checkpoint(tmp_path / "nope")


@pytest.mark.parametrize("file", ["trained.pt", "initial.pt", "untrained_2.pt"])
def test_load_truncated_weights(saved, file):
    path = saved / file
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InvalidInputError, match=rf"'checkpoint'.*'{file}'.*damaged"):
        load_checkpoint(saved)


@pytest.mark.parametrize("file", ["model.json", "data.json", "history.json"])
def test_load_bad_json(saved, file):
    (saved / file).write_text('{"model": "shallow", ', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=rf"'{file}'.*not valid JSON"):
        load_checkpoint(saved)


@pytest.mark.parametrize("file", ["trained.pt", "config.json", "data.json"])
def test_load_missing_file(saved, file):
    (saved / file).unlink()
    with pytest.raises(InvalidInputError, match=rf"'{file}' is missing"):
        load_checkpoint(saved)


def test_load_weights_of_another_architecture(saved):
    info = json.loads((saved / "model.json").read_text())
    info["kwargs"]["n_filters_time"] = 6
    (saved / "model.json").write_text(json.dumps(info))
    with pytest.raises(InvalidInputError, match=r"'trained.pt'.*do not fit"):
        load_checkpoint(saved)


def test_load_unknown_model(saved):
    info = json.loads((saved / "model.json").read_text())
    info["model"] = "eegnet"
    (saved / "model.json").write_text(json.dumps(info))
    with pytest.raises(InvalidInputError, match=r"'model.json'.*unknown model"):
        load_checkpoint(saved)


# --------------------------------------------------------------------------
# Compatibility of data with a checkpoint


def _with(trials, **changes):
    from dataclasses import replace

    return replace(trials, **changes)


def test_check_compatible_ok(result):
    check_compatible(result, make_trials(6, seed=5))


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"ch_names": ["C4", "Cz", "C3"]}, r"another order.*Reorder"),
        ({"ch_names": ["C3", "Cz", "Pz"]}, r"missing \['C4'\].*not in the network"),
        ({"sfreq": 250.0}, r"250 Hz.*Resample the data to 100 Hz"),
    ],
)
def test_check_compatible_mismatch(result, changes, match):
    trials = _with(make_trials(6), **changes)
    with pytest.raises(InvalidInputError, match=rf"'trials'.*{match}"):
        check_compatible(result, trials)


def test_check_compatible_n_times(result, saved):
    trials = make_trials(6, n_times=120)
    for ckpt in (result, load_checkpoint(saved)):
        with pytest.raises(InvalidInputError, match=r"120 samples.*built for 100"):
            check_compatible(ckpt, trials)


def test_check_compatible_lists_all_problems(result):
    trials = _with(make_trials(6, n_times=120), sfreq=200.0)
    with pytest.raises(InvalidInputError, match=r"\(1\).*Resample.*\(2\).*120"):
        check_compatible(result, trials)


# --------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": "deep5"}, r"'model'.*'deep4', 'shallow'"),
        ({"n_epochs": 0}, "'n_epochs'"),
        ({"batch_size": 1.5}, "'batch_size'"),
        ({"lr": -1.0}, "'lr'"),
        ({"weight_decay": -0.1}, "'weight_decay'"),
        ({"input_scale": 0}, "'input_scale'"),
        ({"device": "tpu0"}, "'device'"),
        ({"model_kwargs": {"bogus": 1}}, "'bogus'"),
    ],
)
def test_train_bad_parameters(kwargs, match):
    params = {"model": "shallow", "verbose": False, **kwargs}
    with pytest.raises(InvalidInputError, match=match):
        train_cropped(make_trials(6), **params)


def test_train_bad_data():
    with pytest.raises(InvalidInputError, match="'train'.*Trials"):
        train_cropped(np.zeros((2, 3, 100)), model="shallow")
    valid = _with(make_trials(6), sfreq=200.0)
    with pytest.raises(InvalidInputError, match="'valid'.*sfreq"):
        train_cropped(make_trials(6), valid, model="shallow")
    with pytest.raises(InvalidInputError, match=r"'n_times'.*534 samples"):
        train_cropped(make_trials(6), model="shallow", verbose=False)
