"""Trial-wise predictions and scores of a network.

A dense network gives one class prediction per crop of its classifier's
receptive field, ``n_preds`` per trial. A trial's log-probabilities are the
mean over its crops of the per-crop log-softmax outputs, and the trial's
predicted class is their argmax; the loss is the mean over trials of the mean
over crops of the cross-entropy, as in cropped training. A network that makes
one prediction per trial (trial-wise training) is the case of one crop: the
log-softmax of its outputs (logits or log-probabilities alike).

Inputs are in volts; networks see ``X * input_scale`` (µV by default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats
import torch
import torch.nn.functional as F

from .._utils.check import (
    check_array,
    check_instance,
    check_int,
    check_positive_float,
    invalid,
)
from .._utils.docs import fill_doc
from .._utils.torchutils import eval_mode, first_parameter
from ..data import Trials

DEFAULT_INPUT_SCALE = 1e6
"""Volts to µV: the factor applied to data in volts before a network."""

_TRIALS_FIX = "Load or simulate the data with envcorr.data."


@dataclass(frozen=True)
class Scores:
    """Trial-wise classification scores of a network on a set of trials.

    Parameters
    ----------
    accuracy : float
        Fraction of trials classified correctly.
    per_class_accuracy : ndarray, shape (n_classes,)
        Accuracy among the trials of each class (recall); NaN for a class
        without trials.
    confusion : ndarray of int, shape (n_classes, n_classes)
        Trial counts, rows = true class, columns = predicted class.
    loss : float
        Mean over trials of the mean over crops of the cross-entropy.
    y_true : ndarray of int, shape (n_trials,)
        True classes.
    y_pred : ndarray of int, shape (n_trials,)
        Predicted classes (argmax of the crops' mean log-probabilities).
    """

    accuracy: float
    per_class_accuracy: np.ndarray
    confusion: np.ndarray
    loss: float
    y_true: np.ndarray
    y_pred: np.ndarray

    @classmethod
    def from_predictions(
        cls, y_true: np.ndarray, log_proba: np.ndarray, n_classes: int
    ) -> Scores:
        """Scores from true classes and trial log-probabilities.

        Parameters
        ----------
        y_true : ndarray of int, shape (n_trials,)
            True classes.
        log_proba : ndarray, shape (n_trials, n_classes)
            Mean over crops of the log-probabilities of each trial.
        n_classes : int
            Number of classes.
        """
        y_true = np.asarray(y_true, dtype=np.int64)
        log_proba = np.asarray(log_proba, dtype=np.float64)
        y_pred = log_proba.argmax(axis=1)
        confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
        np.add.at(confusion, (y_true, y_pred), 1)
        n_per_class = confusion.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_class = np.where(
                n_per_class > 0, np.diag(confusion) / n_per_class, np.nan
            )
        loss = float(-log_proba[np.arange(len(y_true)), y_true].mean())
        return cls(
            accuracy=float((y_pred == y_true).mean()),
            per_class_accuracy=per_class,
            confusion=confusion,
            loss=loss,
            y_true=y_true,
            y_pred=y_pred.astype(np.int64),
        )

    def above_chance(self) -> tuple[float, float]:
        """Chance level and the one-sided binomial p of the accuracy above it.

        Chance is the share of the most frequent true class (a network that
        always predicts it reaches it); p is that of at least as many correct
        trials among ``n_trials`` if each were correct with that probability
        (:func:`scipy.stats.binomtest`, alternative "greater").

        Returns
        -------
        chance : float
            Chance accuracy.
        p : float
            One-sided p-value; 1.0 without trials.
        """
        n = len(self.y_true)
        if n == 0:
            return 0.0, 1.0
        chance = float(np.bincount(self.y_true).max() / n)
        correct = int((self.y_pred == self.y_true).sum())
        test = scipy.stats.binomtest(correct, n, chance, alternative="greater")
        return chance, float(test.pvalue)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (NaN written as None)."""
        return {
            "accuracy": self.accuracy,
            "per_class_accuracy": [
                None if math.isnan(a) else float(a) for a in self.per_class_accuracy
            ],
            "confusion": self.confusion.tolist(),
            "loss": self.loss,
            "y_true": self.y_true.tolist(),
            "y_pred": self.y_pred.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scores:
        """Inverse of :meth:`to_dict`."""
        return cls(
            accuracy=float(d["accuracy"]),
            per_class_accuracy=np.array(
                [np.nan if a is None else a for a in d["per_class_accuracy"]],
                dtype=np.float64,
            ),
            confusion=np.asarray(d["confusion"], dtype=np.int64),
            loss=float(d["loss"]),
            y_true=np.asarray(d["y_true"], dtype=np.int64),
            y_pred=np.asarray(d["y_pred"], dtype=np.int64),
        )


def crop_log_proba(out: torch.Tensor) -> torch.Tensor:
    """Per-crop log-probabilities of a network's output.

    Parameters
    ----------
    out : Tensor, shape (n, n_classes, n_preds) or (n, n_classes)
        The network's output: logits or log-probabilities, per crop of a
        dense network, or one per trial (braindecode squeezes a single
        prediction).

    Returns
    -------
    log_proba : Tensor, shape (n, n_classes, n_preds)
        Log-softmax over the classes.
    """
    if out.ndim == 2:
        out = out[:, :, None]
    return F.log_softmax(out, dim=1)


def scaled_input(X: np.ndarray, scale: float, device: torch.device) -> torch.Tensor:
    """``X * scale`` as a float32 tensor on ``device``.

    Always a new tensor: the caller's array is never scaled in place.
    """
    return torch.as_tensor(X, dtype=torch.float32).to(device) * scale


@fill_doc
def predict_trials(
    model: torch.nn.Module,
    X: np.ndarray,
    *,
    input_scale: float = DEFAULT_INPUT_SCALE,
    batch_size: int = 64,
) -> np.ndarray:
    """Trial log-probabilities: the mean over crops of the log-probabilities.

    Parameters
    ----------
    model : torch.nn.Module
        A network (trained or not), dense or trial-wise; run in eval mode on
        its own device.
        Every module's train/eval mode is restored afterwards.
    X : ndarray, shape (n_trials, n_channels, n_times)
        Trials in volts.
    %(input_scale)s
        Use the network's own (:attr:`TrainResult.input_scale`,
        :attr:`Checkpoint.input_scale`).
    batch_size : int
        Trials per forward pass.

    Returns
    -------
    log_proba : ndarray, shape (n_trials, n_classes)
        Mean over the crops of each trial of the log-softmax outputs; the
        predicted class is its argmax.
    """
    check_instance("model", model, torch.nn.Module)
    X = check_array("X", X, ndim=3, dims="(n_trials, n_channels, n_times)")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    input_scale = check_positive_float("input_scale", input_scale)
    device = first_parameter(model).device
    out = []
    with eval_mode(model), torch.inference_mode():
        for start in range(0, len(X), batch_size):
            xb = scaled_input(X[start : start + batch_size], input_scale, device)
            out.append(crop_log_proba(model(xb)).mean(dim=2).cpu())
    return torch.cat(out).double().numpy()


@fill_doc
def evaluate(
    model: torch.nn.Module,
    trials: Trials,
    *,
    input_scale: float = DEFAULT_INPUT_SCALE,
    batch_size: int = 64,
) -> Scores:
    """Trial-wise scores of a network on labelled trials.

    Parameters
    ----------
    model : torch.nn.Module
        A network whose outputs are the classes of ``trials``; run as
        in :func:`predict_trials`.
    trials : Trials
        Trials in volts, X shape (n_trials, n_channels, n_times).
    %(input_scale)s
    batch_size : int
        Trials per forward pass.

    Returns
    -------
    scores : Scores
        Accuracy, per-class accuracy, confusion matrix and loss.
    """
    check_instance("trials", trials, Trials, _TRIALS_FIX)
    log_proba = predict_trials(
        model, trials.X, input_scale=input_scale, batch_size=batch_size
    )
    if log_proba.shape[1] != len(trials.class_names):
        raise invalid(
            "trials",
            f"{len(trials.class_names)} classes, but the network has "
            f"{log_proba.shape[1]} outputs.",
            "Evaluate on trials of the classes the network was trained on.",
        )
    return Scores.from_predictions(trials.y, log_proba, len(trials.class_names))
