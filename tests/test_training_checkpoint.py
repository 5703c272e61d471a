"""Tests of envcorr.training.checkpoint: saving, loading and compatibility.

Most tests use a result put together without training (fast); the round trip
runs on a trained one too.
"""

import json
import logging

import numpy as np
import pytest
import torch

from _training_fixtures import (
    CH_NAMES,
    N_TIMES,
    SFREQ,
    fake_result,
    make_trials,
    shallow_result,
    with_changes,
)
from envcorr._utils.check import InvalidInputError
from envcorr._utils.logs import logger
from envcorr.training import (
    Checkpoint,
    check_compatible,
    load_checkpoint,
    save_checkpoint,
)
from envcorr.training.checkpoint import CHECKPOINT_FORMAT


@pytest.fixture(scope="session")
def result():
    """A TrainResult with validation scores and two extra initialisations."""
    return fake_result()


@pytest.fixture(
    scope="session",
    params=[
        pytest.param(fake_result, id="fake"),
        pytest.param(shallow_result, id="trained", marks=pytest.mark.slow),
    ],
)
def any_result(request):
    return request.param()


def _outputs(model, X):
    with torch.no_grad():
        return model(torch.from_numpy(X) * 1e6)


def test_checkpoint_round_trip(any_result, tmp_path):
    result = any_result
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
    assert ckpt.directory == target
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
    # The record of the run is the same from the result and from the checkpoint.
    record = ckpt.to_record()
    assert record == json.loads(json.dumps(result.to_record()))
    assert set(record) == {"history", "train", "valid", "class_names", "settings"}
    record["history"].clear()
    assert ckpt.to_record()["history"] == ckpt.history["history"] != []

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
    # All untrained networks, own initialisation first, as from the result.
    loaded = ckpt.untrained_models()
    assert loaded[0] is ckpt.untrained_model
    assert loaded[1:] == ckpt.extra_untrained_models
    for a, b in zip(loaded, result.untrained_models(), strict=True):
        torch.testing.assert_close(
            _outputs(a, trials.X), _outputs(b, trials.X), rtol=0, atol=0
        )


def test_model_json_holds_no_n_preds(result, tmp_path):
    info = json.loads(
        (save_checkpoint(result, tmp_path / "ckpt") / "model.json").read_text()
    )
    assert "n_preds" not in info
    assert info["format"] == CHECKPOINT_FORMAT
    assert info["n_untrained"] == 2
    assert {"envcorr", "torch", "braindecode"} <= set(info["versions"])


def test_load_older_checkpoint_with_n_preds(saved, result):
    # Checkpoints written before n_preds was dropped from model.json still load.
    info = json.loads((saved / "model.json").read_text())
    info["n_preds"] = result.n_preds
    (saved / "model.json").write_text(json.dumps(info))
    ckpt = load_checkpoint(saved)
    assert ckpt.model_name == "shallow" and len(ckpt.untrained_models()) == 3


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


def test_save_bad_input(result, tmp_path):
    with pytest.raises(InvalidInputError, match=r"'result'.*TrainResult"):
        save_checkpoint({"model": result.model}, tmp_path / "ckpt")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInputError, match=r"'directory'.*not a directory"):
        save_checkpoint(result, tmp_path / "file", overwrite=True)


@pytest.fixture
def saved(result, tmp_path):
    return save_checkpoint(result, tmp_path / "ckpt")


def test_load_missing_directory(tmp_path):
    with pytest.raises(InvalidInputError, match=r"'checkpoint'.*not found"):
        load_checkpoint(tmp_path / "nope")


def test_load_not_a_directory(saved):
    with pytest.raises(InvalidInputError, match=r"'checkpoint'.*not a directory"):
        load_checkpoint(saved / "model.json")


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


_DELETE = object()


@pytest.mark.parametrize(
    ("file", "key", "value", "match"),
    [
        ("model.json", "input_scale", 0, r"'model.json'.*damaged.*input_scale"),
        ("model.json", "n_untrained", -1, r"'model.json'.*damaged.*n_untrained"),
        ("model.json", "kwargs", None, r"'model.json'.*damaged"),
        ("model.json", "kwargs", _DELETE, r"'model.json'.*'kwargs' is missing"),
        ("data.json", "sfreq", _DELETE, r"'data.json'.*'sfreq' is missing"),
        ("config.json", None, [1, 2], r"'config.json'.*JSON object"),
    ],
)
def test_load_bad_entries(saved, file, key, value, match):
    info = json.loads((saved / file).read_text())
    if key is None:
        info = value
    elif value is _DELETE:
        del info[key]
    else:
        info[key] = value
    (saved / file).write_text(json.dumps(info))
    with pytest.raises(InvalidInputError, match=match):
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


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def records():
    handler = _Records()
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def test_check_compatible_ok(result, saved, records):
    trials = make_trials(6, seed=5)
    for ckpt in (result, load_checkpoint(saved)):
        assert check_compatible(ckpt, trials) is None
    assert [r for r in records if r.levelno >= logging.WARNING] == []
    # The same trials with other channels do not fit.
    with pytest.raises(InvalidInputError, match=r"'trials'.*do not match"):
        check_compatible(result, with_changes(trials, ch_names=["C3", "Cz", "Pz"]))


def test_check_compatible_other_classes_only_warn(result, records):
    trials = with_changes(make_trials(6), class_names=["a", "b", "c"])
    assert check_compatible(result, trials) is None
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "differ from the network's outputs" in warnings[0]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"ch_names": ["C4", "Cz", "C3"]}, r"another order.*Reorder"),
        ({"ch_names": ["C3", "Cz", "Pz"]}, r"missing \['C4'\].*not in the network"),
        ({"sfreq": 250.0}, r"250 Hz.*Resample the data to 100 Hz"),
    ],
)
def test_check_compatible_mismatch(result, changes, match):
    trials = with_changes(make_trials(6), **changes)
    with pytest.raises(InvalidInputError, match=rf"'trials'.*{match}"):
        check_compatible(result, trials)


def test_check_compatible_n_times(result, saved):
    trials = make_trials(6, n_times=120)
    for ckpt in (result, load_checkpoint(saved)):
        with pytest.raises(InvalidInputError, match=r"120 samples.*built for 100"):
            check_compatible(ckpt, trials)


def test_check_compatible_lists_all_problems(result):
    trials = with_changes(make_trials(6, n_times=120), sfreq=200.0)
    with pytest.raises(InvalidInputError, match=r"\(1\).*Resample.*\(2\).*120"):
        check_compatible(result, trials)


def test_check_compatible_bad_input(result):
    with pytest.raises(InvalidInputError, match=r"'trials'.*Trials"):
        check_compatible(result, make_trials(6).X)
    with pytest.raises(InvalidInputError, match=r"'checkpoint'.*Checkpoint"):
        check_compatible({"data": result.data}, make_trials(6))
