"""Tests of envcorr.training.scoring: trial-wise predictions and scores."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from _training_fixtures import (
    make_trials,
    scores_of,
    shallow_result,
    tiny_model,
    with_changes,
)
from envcorr._utils.check import InvalidInputError
from envcorr.training import DEFAULT_INPUT_SCALE, Scores, evaluate, predict_trials
from envcorr.training.scoring import crop_log_proba, scaled_input


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


def test_accuracy_above_chance_known_answer():
    # all 4 right, two classes of 2: chance 1/2, p = (1/2)^4
    assert scores_of([0, 0, 1, 1], [0, 0, 1, 1], 2).above_chance() == (0.5, 0.0625)
    # classes 5/3/2: chance is the largest class's share; 5 of 10 right:
    # P(X >= 5) for X ~ Binomial(10, 1/2) = 638 / 1024
    chance, p = scores_of([0] * 5 + [1] * 3 + [2] * 2, [0] * 10, 3).above_chance()
    assert chance == 0.5 and p == pytest.approx(638 / 1024, abs=1e-12)
    empty = np.array([], dtype=np.int64)
    none = Scores(
        np.nan, np.full(2, np.nan), np.zeros((2, 2), int), np.nan, empty, empty
    )
    assert none.above_chance() == (0.0, 1.0)


def _untrained():
    return tiny_model("shallow", seed=0).eval(), DEFAULT_INPUT_SCALE


def _trained():
    result = shallow_result()
    return result.model, result.input_scale


@pytest.mark.parametrize(
    "network",
    [
        pytest.param(_untrained, id="untrained"),
        pytest.param(_trained, id="trained", marks=pytest.mark.slow),
    ],
)
def test_evaluate_loss_is_mean_crop_cross_entropy(network):
    model, input_scale = network()
    trials = make_trials(6, seed=3)
    scores = evaluate(model, trials, input_scale=input_scale)
    with torch.no_grad():
        out = model(torch.from_numpy(trials.X) * 1e6)  # (n, classes, crops)
    n_crops = out.shape[2]
    per_crop = F.cross_entropy(
        out.permute(0, 2, 1).reshape(-1, 3),
        torch.from_numpy(trials.y).repeat_interleave(n_crops),
    )
    assert scores.loss == pytest.approx(float(per_crop), rel=1e-5)
    expected_pred = F.log_softmax(out, dim=1).mean(dim=2).argmax(dim=1).numpy()
    np.testing.assert_array_equal(scores.y_pred, expected_pred)
    log_proba = predict_trials(model, trials.X)
    assert log_proba.shape == (6, 3)
    np.testing.assert_array_equal(log_proba.argmax(axis=1), expected_pred)


def test_predict_trials_runs_in_eval_mode_and_restores_each_modules_mode():
    model = tiny_model("shallow", seed=0)  # training mode: dropout on
    model.bnorm.eval()  # one module in another mode than the rest
    modes = {name: m.training for name, m in model.named_modules()}
    X = make_trials(5, seed=2).X
    first = predict_trials(model, X)
    assert {name: m.training for name, m in model.named_modules()} == modes
    np.testing.assert_array_equal(predict_trials(model, X), first)  # no dropout
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(X) * 1e6)
    expected = F.log_softmax(expected, dim=1).mean(dim=2).double().numpy()
    np.testing.assert_allclose(first, expected, rtol=1e-6, atol=1e-7)
    assert first.dtype == np.float64
    # Batches do not matter, and the input is not scaled in place.
    X_before = X.copy()
    np.testing.assert_allclose(predict_trials(model, X, batch_size=2), first, atol=1e-6)
    np.testing.assert_array_equal(X, X_before)


def test_crop_log_proba_and_scaled_input():
    out = torch.randn(4, 3)  # braindecode squeezes a single crop prediction
    lp = crop_log_proba(out)
    assert lp.shape == (4, 3, 1)
    torch.testing.assert_close(lp.exp().sum(dim=1), torch.ones(4, 1))
    lp3 = crop_log_proba(torch.randn(4, 3, 7))
    assert lp3.shape == (4, 3, 7)
    X = np.ones((2, 3, 4), dtype=np.float64)
    t = scaled_input(X, 1e6, torch.device("cpu"))
    assert t.dtype == torch.float32 and float(t[0, 0, 0]) == 1e6
    assert X[0, 0, 0] == 1.0


def test_scoring_bad_input():
    model = tiny_model("shallow").eval()
    trials = make_trials(4)
    with pytest.raises(InvalidInputError, match="'trials'.*Trials.*envcorr.data"):
        evaluate(model, trials.X)
    with pytest.raises(InvalidInputError, match="'model'.*Module"):
        predict_trials("net", trials.X)
    with pytest.raises(InvalidInputError, match="'X'.*3 dimensions"):
        predict_trials(model, trials.X[0])
    with pytest.raises(InvalidInputError, match="'batch_size'"):
        predict_trials(model, trials.X, batch_size=0)
    with pytest.raises(InvalidInputError, match="'input_scale'"):
        predict_trials(model, trials.X, input_scale=-1.0)
    four = with_changes(trials, y=trials.y % 2, class_names=["a", "b", "c", "d"])
    with pytest.raises(InvalidInputError, match=r"'trials'.*4 classes.*3 outputs"):
        evaluate(model, four)
