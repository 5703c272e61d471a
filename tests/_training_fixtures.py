"""Toy trials, tiny networks and training results shared by the training tests.

The expensive results are cached per test session (:func:`functools.cache`),
so every test module that asks for them shares one training run. Tests must
not change them (a network's mode, restored by every envcorr function, is
fine).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from envcorr.data import Trials
from envcorr.nn.models import build_model, n_predictions
from envcorr.training import Scores, TrainResult, train_cropped

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


def scores_of(y_true, y_pred, n_classes: int) -> Scores:
    """Scores of predictions ``y_pred``, each made with (almost) certainty."""
    log_proba = np.log(np.full((len(y_true), n_classes), 1e-3))
    log_proba[np.arange(len(y_true)), y_pred] = 0.0
    return Scores.from_predictions(np.asarray(y_true), log_proba, n_classes)


def with_changes(trials, **changes):
    """A copy of ``trials`` with some fields replaced."""
    from dataclasses import replace

    return replace(trials, **changes)


def tiny_model(name="shallow", *, seed=0):
    """A tiny dense network for the toy trials, in training mode, on the CPU."""
    model, _ = build_model(
        name, n_chans=3, n_outputs=3, n_times=N_TIMES, seed=seed, **TINY[name]
    )
    return model


def tiny_train(name="shallow", *, train=None, valid=None, **kwargs):
    """Train a tiny network on toy trials (2 epochs unless told)."""
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


def states_equal(a, b):
    """Whether two state dicts hold the same keys and equal tensors."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@functools.cache
def shallow_result() -> TrainResult:
    """A tiny Shallow run with validation and two extra initialisations."""
    return tiny_train(
        "shallow", valid=make_trials(12, seed=1), n_untrained=2, n_epochs=3
    )


@functools.cache
def fake_result() -> TrainResult:
    """A TrainResult put together without training (for fast I/O tests).

    Its "trained" network is the tiny Shallow of seed 5, its initialisations
    those of seeds 0, 1 and 2; the scores are those of the trained network.
    """
    from envcorr.training import predict_trials

    model = tiny_model("shallow", seed=5).eval()
    _, kwargs = build_model(
        "shallow", n_chans=3, n_outputs=3, n_times=N_TIMES, **TINY["shallow"]
    )
    train, valid = make_trials(24, seed=0), make_trials(12, seed=1)
    scores = [
        Scores.from_predictions(t.y, predict_trials(model, t.X), 3)
        for t in (train, valid)
    ]
    history = [
        {
            "epoch": 1,
            "lr": 0.01,
            "train_loss": 1.2,
            "train_accuracy": 0.25,
            "valid_loss": 1.5,
            "valid_accuracy": 1 / 3,
            "duration_s": 0.5,
        }
    ]
    return TrainResult(
        model=model,
        model_name="shallow",
        model_kwargs=kwargs,
        input_scale=1e6,
        initial_state=tiny_model("shallow", seed=0).state_dict(),
        extra_untrained_states=[
            tiny_model("shallow", seed=k).state_dict() for k in (1, 2)
        ],
        history=history,
        train_scores=scores[0],
        valid_scores=scores[1],
        n_preds=n_predictions(model),
        data={
            "ch_names": CH_NAMES,
            "sfreq": SFREQ,
            "n_times": N_TIMES,
            "class_names": ["class_0", "class_1", "class_2"],
            "tmin": -0.5,
        },
        settings={"seed": 0, "n_epochs": 1},
    )
