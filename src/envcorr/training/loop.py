"""Cropped training of the dense ConvNets, evaluation and checkpoints.

Cropped training as in braindecode's cropped-decoding example and the paper:
the dense network (see :mod:`envcorr.models`) gives ``n_preds`` class
predictions per trial, one per crop of its classifier's receptive field; the
loss is the mean over crops of the per-crop cross-entropy (braindecode's
``CroppedLoss`` applied to per-crop log-probabilities) and a trial's
prediction is the mean of its crops' log-probabilities. Each trial is one
window (``n_times`` samples), so a window's stride of ``n_preds`` samples
yields exactly one window per trial.

Inputs are in volts; networks see ``X * input_scale`` (µV by default). The
scale is kept with the network (:attr:`TrainResult.input_scale`, the
checkpoint's ``model.json``): whoever feeds data to a trained network must
multiply by it.

A checkpoint is a directory::

    trained.pt       trained weights (state dict)
    initial.pt       the same network's initial weights (untrained baseline)
    untrained_k.pt   extra random initialisations, seeds seed + k (optional)
    model.json       model name, constructor arguments, input scale
    data.json        ch_names, sfreq, n_times, class_names, tmin, description
    history.json     per-epoch history, accuracies, confusion matrices, settings
    config.json      the caller's configuration
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from braindecode.training import CroppedLoss

from ._check import (
    check_array,
    check_int,
    check_option,
    check_positive_float,
    invalid,
)
from ._logging import logger, progress, use_log_level
from .activations import resolve_device
from .data import Trials
from .models import MODELS, build_model, n_predictions, rebuild_model
from .receptive import fast_modules

TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    # braindecode's example uses lr 0.01 and batches of 64 for Deep4; with the
    # ~100 updates that 20 epochs of 288 trials give, Deep4 stayed at chance on
    # the simulated BCI-IV-2a data, while lr 1e-3 (Adam's default, as in the
    # paper) and batches of 16 reached ~54% (chance 25%) after 10 epochs at the
    # same cost per epoch. Weight decay as in braindecode's example (torch's
    # AdamW multiplies it by the learning rate).
    "deep4": {"lr": 1e-3, "weight_decay": 0.5 * 0.001, "batch_size": 16},
    # braindecode's cropped-decoding example.
    "shallow": {"lr": 0.0625 * 0.01, "weight_decay": 0.0, "batch_size": 64},
}
"""Learning rate, weight decay and batch size per model, used when not given."""

DEFAULT_N_EPOCHS = 20
"""Default number of training epochs.

Deep4 on 288 trials × 22 channels × 1125 samples takes about 10 s per epoch
(training, batch-norm recalibration and validation on 288 trials) on 2 CPU
cores, so 20 epochs take about 3.3 minutes; Shallow about 5 s per epoch.
"""

DEFAULT_INPUT_SCALE = 1e6
"""Volts to µV."""

CHECKPOINT_FORMAT = 1

# Training trials used to re-estimate batch-norm statistics before each
# per-epoch validation (all training trials are used at the end).
_N_CALIBRATION = 96

_FILES = {
    "trained": "trained.pt",
    "initial": "initial.pt",
    "model": "model.json",
    "data": "data.json",
    "history": "history.json",
    "config": "config.json",
}


def _untrained_file(k: int) -> str:
    return f"untrained_{k}.pt"


# --------------------------------------------------------------------------
# Results


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


@dataclass
class TrainResult:
    """A trained network with its initial weights, scores and history.

    Parameters
    ----------
    model : torch.nn.Module
        The trained dense network, in eval mode, on the training device.
    model_name : str
        Key of :data:`envcorr.models.MODELS`.
    model_kwargs : dict
        JSON-serialisable constructor arguments (see
        :func:`envcorr.models.rebuild_model`).
    input_scale : float
        Factor applied to the data (volts) before it enters the network.
    initial_state : dict of str to Tensor
        State dict of the network right after construction (seed ``seed``),
        before any training step, on the CPU: the untrained baseline.
    extra_untrained_states : list of dict
        State dicts of further random initialisations, seeds
        ``seed + 1 .. seed + n_untrained``, on the CPU.
    history : list of dict
        One dict per epoch: ``epoch`` (1-based), ``lr``, ``train_loss`` and
        ``train_accuracy`` (during the epoch, with dropout), ``valid_loss`` and
        ``valid_accuracy`` (None without validation trials), ``duration_s``.
    train_scores : Scores
        Trial-wise scores on the training trials after training (eval mode).
    valid_scores : Scores | None
        Trial-wise scores on the validation trials after training.
    n_preds : int
        Crop predictions per trial.
    data : dict
        ``ch_names``, ``sfreq``, ``n_times``, ``class_names``, ``tmin`` of the
        training trials: what the network expects.
    settings : dict
        Training settings (n_epochs, batch_size, lr, weight_decay, seed,
        n_untrained, device, input_scale).
    """

    model: torch.nn.Module
    model_name: str
    model_kwargs: dict[str, Any]
    input_scale: float
    initial_state: dict[str, torch.Tensor]
    extra_untrained_states: list[dict[str, torch.Tensor]]
    history: list[dict[str, Any]]
    train_scores: Scores
    valid_scores: Scores | None
    n_preds: int
    data: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def train_accuracy(self) -> float:
        """Trial-wise accuracy on the training trials."""
        return self.train_scores.accuracy

    @property
    def valid_accuracy(self) -> float | None:
        """Trial-wise accuracy on the validation trials (None without them)."""
        return None if self.valid_scores is None else self.valid_scores.accuracy

    def untrained_model(self, k: int = 0) -> torch.nn.Module:
        """The dense network with initial weights, in eval mode, on the CPU.

        Parameters
        ----------
        k : int
            0 for the trained network's own initialisation, ``1 ..
            n_untrained`` for the extra random initialisations.
        """
        k = check_int("k", k, minimum=0)
        states = [self.initial_state, *self.extra_untrained_states]
        if k >= len(states):
            raise invalid(
                "k",
                f"{k} is out of range: there are {len(states) - 1} extra "
                "untrained initialisations.",
                "Train with a larger n_untrained.",
            )
        model = rebuild_model(self.model_name, self.model_kwargs)
        model.load_state_dict(states[k])
        return model.eval()


# --------------------------------------------------------------------------
# Training


def train_cropped(
    train: Trials,
    valid: Trials | None = None,
    *,
    model: str = "deep4",
    n_epochs: int = DEFAULT_N_EPOCHS,
    batch_size: int | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    input_scale: float = DEFAULT_INPUT_SCALE,
    n_untrained: int = 0,
    seed: int = 0,
    device: str | torch.device | None = None,
    model_kwargs: dict[str, Any] | None = None,
    recalibrate_bn: bool = True,
    verbose: bool | str | int | None = None,
) -> TrainResult:
    """Train a dense ConvNet with cropped decoding.

    Parameters
    ----------
    train : Trials
        Training trials, X shape (n_trials, n_channels, n_times), in volts.
        The whole trial is one input window.
    valid : Trials | None
        Validation trials with the same channels, sampling rate, length and
        class names. Scored after every epoch (monitoring only: no early
        stopping, the last epoch's network is returned).
    model : str
        ``"deep4"`` or ``"shallow"`` (see :func:`envcorr.models.build_model`).
    n_epochs : int
        Training epochs. The learning rate follows a cosine from ``lr`` down
        towards 0 over them.
    batch_size : int | None
        Trials per batch. None: 16 for Deep4, 64 for Shallow.
    lr : float | None
        Learning rate of AdamW. None: 0.001 for Deep4, 0.000625 for Shallow.
    weight_decay : float | None
        AdamW weight decay (multiplied by the learning rate inside AdamW).
        None: 0.0005 for Deep4, 0 for Shallow.
    input_scale : float
        The network sees ``X * input_scale``; 1e6 turns volts into µV.
    n_untrained : int
        Number of extra random initialisations (seeds ``seed + 1 ..``) whose
        weights are kept, for the spread of the untrained baseline.
    seed : int
        Seed of the initial weights, the batch order and dropout. With the same
        seed on the same device the training is repeated exactly on the CPU.
        The global random state is left untouched.
    device : str | torch.device | None
        None: ``"cuda"`` if available, else ``"cpu"``.
    model_kwargs : dict | None
        Further constructor arguments of the braindecode network.
    recalibrate_bn : bool
        Re-estimate the batch-norm statistics with dropout off (see
        :func:`recalibrate_batchnorm`) before every validation and at the end:
        on all training trials at the end, on up to 96 of them for the
        per-epoch validation. Without it, Deep4's eval-mode outputs suffer from
        the variance shift between dropout (training) and no dropout (eval).
    verbose : bool | str | int | None
        Logs one line per epoch at INFO, with a progress bar over batches.

    Returns
    -------
    result : TrainResult
        The trained network, its initial weights, scores and history.
    """
    with use_log_level(verbose):
        _check_trials("train", train)
        if valid is not None:
            _check_trials("valid", valid)
            _check_same_layout(train, valid)
        model = check_option("model", model, MODELS)
        n_epochs = check_int("n_epochs", n_epochs, minimum=1)
        if batch_size is None:
            batch_size = TRAIN_DEFAULTS[model]["batch_size"]
        batch_size = check_int("batch_size", batch_size, minimum=1)
        n_untrained = check_int("n_untrained", n_untrained, minimum=0)
        seed = check_int("seed", seed, minimum=0)
        input_scale = check_positive_float("input_scale", input_scale)
        if lr is None:
            lr = TRAIN_DEFAULTS[model]["lr"]
        lr = check_positive_float("lr", lr)
        if weight_decay is None:
            weight_decay = TRAIN_DEFAULTS[model]["weight_decay"]
        weight_decay = _check_non_negative("weight_decay", weight_decay)
        if model_kwargs is None:
            model_kwargs = {}
        if not isinstance(model_kwargs, dict):
            raise invalid("model_kwargs", f"expected a dict, got {model_kwargs!r}.")
        if not isinstance(recalibrate_bn, bool):
            raise invalid(
                "recalibrate_bn", f"expected True or False, got {recalibrate_bn!r}."
            )
        dev = resolve_device(device)
        counts = train.class_counts()
        empty = [c for c, n in counts.items() if n == 0]
        if empty:
            logger.warning("No training trials of the classes %s.", empty)

        with _seeded(seed, dev), _deterministic():
            net, kwargs = build_model(
                model,
                n_chans=train.n_channels,
                n_outputs=len(train.class_names),
                n_times=train.n_times,
                seed=seed,
                **model_kwargs,
            )
            initial_state = copy.deepcopy(net.state_dict())
            extra_states = [
                rebuild_model(model, kwargs, seed=seed + k).state_dict()
                for k in range(1, n_untrained + 1)
            ]
            n_preds = n_predictions(net)
            logger.info(
                "Training %s on %d trials (%d crop predictions per trial) on %s: "
                "%d epochs, batch size %d, lr %g, weight decay %g.",
                model,
                train.n_trials,
                n_preds,
                dev,
                n_epochs,
                batch_size,
                lr,
                weight_decay,
            )
            net.to(dev)
            with fast_modules(net, dev):
                history, train_scores, valid_scores = _train_and_score(
                    net,
                    train,
                    valid,
                    n_epochs=n_epochs,
                    batch_size=batch_size,
                    lr=lr,
                    weight_decay=weight_decay,
                    input_scale=input_scale,
                    seed=seed,
                    device=dev,
                    recalibrate_bn=recalibrate_bn,
                )
        msg = f"Trained: train accuracy {train_scores.accuracy:.1%}"
        if valid_scores is not None:
            msg += f", valid accuracy {valid_scores.accuracy:.1%}"
        logger.info("%s.", msg)
    return TrainResult(
        model=net.eval(),
        model_name=model,
        model_kwargs=kwargs,
        input_scale=input_scale,
        initial_state=initial_state,
        extra_untrained_states=extra_states,
        history=history,
        train_scores=train_scores,
        valid_scores=valid_scores,
        n_preds=n_preds,
        data=_data_info(train),
        settings={
            "n_epochs": n_epochs,
            "batch_size": batch_size,
            "lr": lr,
            "weight_decay": weight_decay,
            "seed": seed,
            "n_untrained": n_untrained,
            "device": str(dev),
            "input_scale": input_scale,
            "recalibrate_bn": recalibrate_bn,
        },
    )


def _train_and_score(
    net: torch.nn.Module,
    train: Trials,
    valid: Trials | None,
    *,
    batch_size: int,
    input_scale: float,
    recalibrate_bn: bool,
    **fit_kwargs: Any,
) -> tuple[list[dict[str, Any]], Scores, Scores | None]:
    """Fit, re-estimate batch-norm statistics, score on train and valid."""
    history = _fit(
        net,
        train,
        valid,
        batch_size=batch_size,
        input_scale=input_scale,
        recalibrate_bn=recalibrate_bn,
        **fit_kwargs,
    )
    if recalibrate_bn:
        recalibrate_batchnorm(
            net, train.X, input_scale=input_scale, batch_size=batch_size
        )
    train_scores = evaluate(net, train, input_scale=input_scale, batch_size=batch_size)
    valid_scores = None
    if valid is not None:
        valid_scores = evaluate(
            net, valid, input_scale=input_scale, batch_size=batch_size
        )
    return history, train_scores, valid_scores


def _fit(
    net: torch.nn.Module,
    train: Trials,
    valid: Trials | None,
    *,
    n_epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    input_scale: float,
    seed: int,
    device: torch.device,
    recalibrate_bn: bool,
) -> list[dict[str, Any]]:
    """The training loop on ``net``, already on ``device``; the per-epoch history."""
    X = _to_tensor(train.X, input_scale, device)
    y = torch.from_numpy(train.y).to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    # braindecode's example uses T_max = n_epochs - 1, which makes the last epoch
    # train with a learning rate of 0; T_max = n_epochs keeps it useful.
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_epochs)
    # Mean over crops of per-crop log-probabilities, then NLL: the mean over crops
    # of the per-crop cross-entropy.
    criterion = CroppedLoss(F.nll_loss)
    generator = torch.Generator().manual_seed(seed)
    n_batches = math.ceil(len(X) / batch_size)
    # Evenly spread training trials for the per-epoch batch-norm statistics.
    calib = np.linspace(0, len(X) - 1, min(len(X), _N_CALIBRATION)).round()
    calib = np.unique(calib.astype(np.int64))
    history = []
    for epoch in range(1, n_epochs + 1):
        start = time.perf_counter()
        lr_now = optimizer.param_groups[0]["lr"]
        net.train()
        order = torch.randperm(len(X), generator=generator).to(device)
        loss_sum, n_correct = 0.0, 0
        batches = progress(
            torch.split(order, batch_size),
            desc=f"Epoch {epoch}/{n_epochs}",
            total=n_batches,
            unit="batch",
        )
        for idx in batches:
            log_proba = _crop_log_proba(net(X[idx]))
            loss = criterion(log_proba, y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                loss_sum += float(loss) * len(idx)
                pred = log_proba.mean(dim=2).argmax(dim=1)
                n_correct += int((pred == y[idx]).sum())
        scheduler.step()
        entry = {
            "epoch": epoch,
            "lr": lr_now,
            "train_loss": loss_sum / len(X),
            "train_accuracy": n_correct / len(X),
            "valid_loss": None,
            "valid_accuracy": None,
        }
        line = (
            f"Epoch {epoch}/{n_epochs}: train loss {entry['train_loss']:.4f}, "
            f"train accuracy {entry['train_accuracy']:.1%}"
        )
        if valid is not None:
            if recalibrate_bn:
                recalibrate_batchnorm(
                    net, train.X[calib], input_scale=input_scale, batch_size=batch_size
                )
            scores = evaluate(
                net, valid, input_scale=input_scale, batch_size=batch_size
            )
            entry["valid_loss"] = scores.loss
            entry["valid_accuracy"] = scores.accuracy
            line += (
                f", valid loss {scores.loss:.4f}, valid accuracy {scores.accuracy:.1%}"
            )
        entry["duration_s"] = time.perf_counter() - start
        history.append(entry)
        logger.info("%s (%.1f s).", line, entry["duration_s"])
    return history


def recalibrate_batchnorm(
    model: torch.nn.Module,
    X: np.ndarray,
    *,
    input_scale: float = DEFAULT_INPUT_SCALE,
    batch_size: int = 64,
) -> None:
    """Re-estimate the batch-norm running statistics with dropout off, in place.

    During training, dropout (p = 0.5 before Deep4's conv blocks 2–4) inflates
    the variance of the inputs of the following batch-norm layers, so the
    running statistics collected in training mode do not fit the eval-mode
    network (at Deep4's last block they overestimate the variance about
    tenfold). Running the data once through the network with dropout off and
    batch norm accumulating plain averages fixes this; weights are unchanged.

    Parameters
    ----------
    model : torch.nn.Module
        The network; put back into the mode it was in.
    X : ndarray, shape (n_trials, n_channels, n_times)
        Training trials in volts.
    input_scale : float
        Factor applied to X before the network.
    batch_size : int
        Trials per forward pass; every batch counts equally in the averages.
    """
    X = check_array("X", X, ndim=3, dims="(n_trials, n_channels, n_times)")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    norms = [
        m
        for m in model.modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
    ]
    if not norms:
        return
    device = next(model.parameters()).device
    was_training = model.training
    momenta = [m.momentum for m in norms]
    model.eval()
    try:
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches
            m.train()
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                model(_to_tensor(X[start : start + batch_size], input_scale, device))
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.train(was_training)


def _crop_log_proba(out: torch.Tensor) -> torch.Tensor:
    """Per-crop log-probabilities, shape (n, n_classes, n_preds)."""
    if out.ndim == 2:  # braindecode squeezes a single prediction
        out = out[:, :, None]
    return F.log_softmax(out, dim=1)


def _to_tensor(X: np.ndarray, scale: float, device: torch.device) -> torch.Tensor:
    # A copy: never scale the caller's array in place.
    return torch.as_tensor(X, dtype=torch.float32).to(device) * scale


# --------------------------------------------------------------------------
# Prediction


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
        A dense network (trained or not); run in eval mode on its own device,
        and put back into the mode it was in.
    X : ndarray, shape (n_trials, n_channels, n_times)
        Trials in volts.
    input_scale : float
        Factor applied to X before the network (the network's own, e.g.
        :attr:`TrainResult.input_scale` or :attr:`Checkpoint.input_scale`).
    batch_size : int
        Trials per forward pass.

    Returns
    -------
    log_proba : ndarray, shape (n_trials, n_classes)
        Mean over the crops of each trial of the log-softmax outputs; the
        predicted class is its argmax.
    """
    X = check_array("X", X, ndim=3, dims="(n_trials, n_channels, n_times)")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    input_scale = check_positive_float("input_scale", input_scale)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.inference_mode():
            for start in range(0, len(X), batch_size):
                xb = _to_tensor(X[start : start + batch_size], input_scale, device)
                out.append(_crop_log_proba(model(xb)).mean(dim=2).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out).double().numpy()


def evaluate(
    model: torch.nn.Module,
    trials: Trials,
    *,
    input_scale: float = DEFAULT_INPUT_SCALE,
    batch_size: int = 64,
) -> Scores:
    """Trial-wise scores of a dense network on labelled trials.

    Parameters
    ----------
    model : torch.nn.Module
        A dense network whose outputs are the classes of ``trials``.
    trials : Trials
        Trials in volts, X shape (n_trials, n_channels, n_times).
    input_scale : float
        Factor applied to the data before the network.
    batch_size : int
        Trials per forward pass.

    Returns
    -------
    scores : Scores
        Accuracy, per-class accuracy, confusion matrix and loss.
    """
    _check_trials("trials", trials)
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


# --------------------------------------------------------------------------
# Checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """A trained network and its untrained baseline, loaded from disk.

    Parameters
    ----------
    directory : Path
        Where the checkpoint was read from.
    model : torch.nn.Module
        Trained dense network, eval mode.
    untrained_model : torch.nn.Module
        The same architecture with the trained network's initial weights,
        dense, eval mode.
    extra_untrained_models : list of torch.nn.Module
        Further random initialisations (seeds ``seed + 1 ..``), dense, eval.
    model_name : str
        Key of :data:`envcorr.models.MODELS`.
    model_kwargs : dict
        Constructor arguments.
    input_scale : float
        Factor to apply to data in volts before it enters the networks.
    data : dict
        ``ch_names``, ``sfreq``, ``n_times``, ``class_names``, ``tmin`` and
        ``description`` of the training data.
    history : dict
        ``history`` (per epoch), ``train`` and ``valid`` scores (as
        :meth:`Scores.to_dict`), ``settings``.
    config : dict
        The configuration stored with the checkpoint.
    """

    directory: Path
    model: torch.nn.Module
    untrained_model: torch.nn.Module
    extra_untrained_models: list[torch.nn.Module]
    model_name: str
    model_kwargs: dict[str, Any]
    input_scale: float
    data: dict[str, Any]
    history: dict[str, Any]
    config: dict[str, Any]

    @property
    def ch_names(self) -> list[str]:
        """Channel names the networks expect, in order."""
        return list(self.data["ch_names"])

    @property
    def sfreq(self) -> float:
        """Sampling frequency the networks expect, in Hz."""
        return float(self.data["sfreq"])

    @property
    def n_times(self) -> int:
        """Samples per trial the networks were built for."""
        return int(self.data["n_times"])

    @property
    def class_names(self) -> list[str]:
        """Names of the network's outputs."""
        return list(self.data["class_names"])

    @property
    def train_scores(self) -> Scores:
        """Scores on the training trials at the end of training."""
        return Scores.from_dict(self.history["train"])

    @property
    def valid_scores(self) -> Scores | None:
        """Scores on the validation trials at the end of training."""
        valid = self.history.get("valid")
        return None if valid is None else Scores.from_dict(valid)


def save_checkpoint(
    result: TrainResult,
    directory: str | os.PathLike,
    *,
    trials_description: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a training result to a checkpoint directory.

    Everything is written to a temporary directory beside ``directory`` and
    renamed at the end, so an interrupted save leaves no half-written
    checkpoint.

    Parameters
    ----------
    result : TrainResult
        From :func:`train_cropped`.
    directory : path-like
        The checkpoint directory to create.
    trials_description : dict | None
        Provenance of the training data (e.g. ``Trials.description``), stored
        in ``data.json``. JSON-serialisable.
    config : dict | None
        The caller's configuration, stored as ``config.json``.
        JSON-serialisable.
    overwrite : bool
        Replace an existing checkpoint at ``directory``.

    Returns
    -------
    directory : Path
        The checkpoint directory.
    """
    if not isinstance(result, TrainResult):
        raise invalid("result", f"expected a TrainResult, got {type(result).__name__}.")
    target = Path(directory).expanduser()
    if target.exists() and not overwrite:
        raise invalid(
            "directory",
            f"'{target}' already exists.",
            "Choose another directory or pass overwrite=True.",
        )
    if target.exists() and not target.is_dir():
        raise invalid("directory", f"'{target}' exists and is not a directory.")
    texts = {
        "model": _dumps(
            {
                "format": CHECKPOINT_FORMAT,
                "model": result.model_name,
                "kwargs": result.model_kwargs,
                "input_scale": result.input_scale,
                "n_preds": result.n_preds,
                "n_untrained": len(result.extra_untrained_states),
                "versions": _versions(),
            },
            "result",
        ),
        "data": _dumps(
            {**result.data, "description": trials_description or {}},
            "trials_description",
        ),
        "history": _dumps(
            {
                "history": result.history,
                "train": result.train_scores.to_dict(),
                "valid": None
                if result.valid_scores is None
                else result.valid_scores.to_dict(),
                "class_names": result.data["class_names"],
                "settings": result.settings,
            },
            "result",
        ),
        "config": _dumps(config or {}, "config"),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        torch.save(_cpu_state(result.model.state_dict()), tmp / _FILES["trained"])
        torch.save(_cpu_state(result.initial_state), tmp / _FILES["initial"])
        for k, state in enumerate(result.extra_untrained_states, start=1):
            torch.save(_cpu_state(state), tmp / _untrained_file(k))
        for key, text in texts.items():
            (tmp / _FILES[key]).write_text(text, encoding="utf-8")
        if target.exists():
            old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("Saved the checkpoint to '%s'.", target)
    return target


def load_checkpoint(
    directory: str | os.PathLike, *, device: str | torch.device = "cpu"
) -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint`.

    Parameters
    ----------
    directory : path-like
        The checkpoint directory.
    device : str | torch.device
        Device to put the networks on.

    Returns
    -------
    checkpoint : Checkpoint
        Trained and untrained dense networks in eval mode, and the metadata.
    """
    path = Path(directory).expanduser()
    if not path.exists():
        raise invalid(
            "checkpoint",
            f"directory not found: '{path}'.",
            "Give a directory written by 'envcorr train' or save_checkpoint.",
        )
    if not path.is_dir():
        raise invalid(
            "checkpoint",
            f"'{path}' is not a directory.",
            "A checkpoint is a directory written by save_checkpoint.",
        )
    device = resolve_device(device)
    meta = {
        key: _read_json(path, _FILES[key])
        for key in ("model", "data", "history", "config")
    }
    model_info = meta["model"]
    for key in ("model", "kwargs", "input_scale"):
        if key not in model_info:
            raise _corrupt(path, _FILES["model"], f"the entry {key!r} is missing")
    for key in ("ch_names", "sfreq", "n_times", "class_names"):
        if key not in meta["data"]:
            raise _corrupt(path, _FILES["data"], f"the entry {key!r} is missing")
    name = model_info["model"]
    if name not in MODELS:
        raise _corrupt(path, _FILES["model"], f"unknown model {name!r}")
    try:
        input_scale = check_positive_float("input_scale", model_info["input_scale"])
    except ValueError as err:
        raise _corrupt(path, _FILES["model"], str(err)) from None

    def load(file: str) -> torch.nn.Module:
        try:
            net = rebuild_model(name, model_info["kwargs"])
        except ValueError as err:
            raise _corrupt(path, _FILES["model"], str(err)) from None
        state = _read_state(path, file)
        try:
            net.load_state_dict(state)
        except (RuntimeError, KeyError, TypeError) as err:
            raise _corrupt(
                path, file, f"its weights do not fit the network of model.json ({err})"
            ) from None
        return net.to(device).eval()

    try:
        n_untrained = check_int("n_untrained", model_info.get("n_untrained", 0))
    except ValueError as err:
        raise _corrupt(path, _FILES["model"], str(err)) from None
    return Checkpoint(
        directory=path,
        model=load(_FILES["trained"]),
        untrained_model=load(_FILES["initial"]),
        extra_untrained_models=[
            load(_untrained_file(k)) for k in range(1, n_untrained + 1)
        ],
        model_name=name,
        model_kwargs=dict(model_info["kwargs"]),
        input_scale=input_scale,
        data=meta["data"],
        history=meta["history"],
        config=meta["config"],
    )


def check_compatible(checkpoint: Checkpoint | TrainResult, trials: Trials) -> None:
    """Raise if ``trials`` cannot be fed to the checkpoint's networks.

    The channels (names and order), the sampling frequency and the number of
    samples per trial must be those the networks were trained with.

    Parameters
    ----------
    checkpoint : Checkpoint | TrainResult
        The networks and what they expect.
    trials : Trials
        The data to analyse.

    Raises
    ------
    InvalidInputError
        Naming every mismatch and how to fix it.
    """
    _check_trials("trials", trials)
    if not isinstance(checkpoint, Checkpoint | TrainResult):
        raise invalid(
            "checkpoint",
            f"expected a Checkpoint or TrainResult, got {type(checkpoint).__name__}.",
        )
    expected = checkpoint.data
    problems = []
    want = list(expected["ch_names"])
    have = list(trials.ch_names)
    if want != have:
        missing = [c for c in want if c not in have]
        extra = [c for c in have if c not in want]
        if not missing and not extra:
            problems.append(
                "the channels are in another order than the network's. Reorder them "
                f"to {want}."
            )
        else:
            detail = []
            if missing:
                detail.append(f"missing {missing}")
            if extra:
                detail.append(f"not in the network {extra}")
            problems.append(
                f"the channels differ from the network's ({'; '.join(detail)}). "
                f"Pick (and interpolate missing) channels to get exactly {want}, "
                "in this order."
            )
    sfreq = float(expected["sfreq"])
    if not math.isclose(trials.sfreq, sfreq, rel_tol=1e-6):
        problems.append(
            f"the sampling frequency is {trials.sfreq:g} Hz, the network's is "
            f"{sfreq:g} Hz. Resample the data to {sfreq:g} Hz."
        )
    n_times = int(expected["n_times"])
    if trials.n_times != n_times:
        problems.append(
            f"the trials have {trials.n_times} samples, the network was built for "
            f"{n_times} ({n_times / sfreq:g} s at {sfreq:g} Hz). Cut trials of "
            f"{n_times} samples."
        )
    if problems:
        listed = " ".join(f"({i}) {p}" for i, p in enumerate(problems, start=1))
        raise invalid("trials", f"they do not match the checkpoint: {listed}")
    if list(trials.class_names) != list(expected["class_names"]):
        logger.warning(
            "The trials' classes %s differ from the network's outputs %s.",
            trials.class_names,
            expected["class_names"],
        )


# --------------------------------------------------------------------------
# Helpers


def _check_trials(name: str, trials: Any) -> None:
    if not isinstance(trials, Trials):
        raise invalid(
            name,
            f"expected envcorr.data.Trials, got {type(trials).__name__}.",
            "Load or simulate the data with envcorr.data.",
        )


def _check_same_layout(train: Trials, valid: Trials) -> None:
    for attr in ("ch_names", "sfreq", "n_times", "class_names"):
        a, b = getattr(train, attr), getattr(valid, attr)
        if a != b:
            raise invalid(
                "valid",
                f"its {attr} ({b!r}) differ from the training trials' ({a!r}).",
                "Validation trials must come from the same montage, sampling rate, "
                "trial window and classes.",
            )


def _check_non_negative(name: str, value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise invalid(name, f"expected a number >= 0, got {value!r}.") from None
    if not math.isfinite(out) or out < 0:
        raise invalid(name, f"expected a number >= 0, got {value!r}.")
    return out


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch (dropout, initialisation) without changing the global state."""
    devices = []
    if device.type == "cuda":
        index = device.index
        devices = [torch.cuda.current_device() if index is None else index]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def _deterministic() -> Iterator[None]:
    """Deterministic algorithms (warn where none exists), restored afterwards."""
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    benchmark = torch.backends.cudnn.benchmark
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        torch.backends.cudnn.benchmark = benchmark


def _data_info(trials: Trials) -> dict[str, Any]:
    return {
        "ch_names": list(trials.ch_names),
        "sfreq": float(trials.sfreq),
        "n_times": int(trials.n_times),
        "class_names": list(trials.class_names),
        "tmin": float(trials.tmin),
    }


def _cpu_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in state.items()}


def _versions() -> dict[str, str]:
    import braindecode

    from . import __version__

    return {
        "envcorr": __version__,
        "braindecode": braindecode.__version__,
        "torch": torch.__version__,
    }


def _jsonable(obj: Any, name: str) -> Any:
    """A JSON-compatible copy of ``obj`` (numpy and paths converted, NaN → None)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, name) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v, name) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist(), name)
    if isinstance(obj, np.generic):
        return _jsonable(obj.item(), name)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise invalid(
        name,
        f"its value {obj!r} of type {type(obj).__name__} cannot be written to JSON.",
        "Use numbers, strings, lists and dicts.",
    )


def _dumps(obj: Any, name: str) -> str:
    return json.dumps(_jsonable(obj, name), indent=2, allow_nan=False) + "\n"


def _corrupt(path: Path, file: str, problem: str) -> Exception:
    return invalid(
        "checkpoint",
        f"the file '{file}' in '{path}' is damaged: {problem}.",
        "Copy the checkpoint again or retrain the network.",
    )


def _read_json(path: Path, file: str) -> dict[str, Any]:
    p = path / file
    if not p.is_file():
        raise invalid(
            "checkpoint",
            f"the file '{file}' is missing from '{path}'.",
            f"A checkpoint holds {', '.join(_FILES.values())}; copy it completely "
            "or retrain.",
        )
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _corrupt(path, file, f"not valid JSON ({err})") from None
    if not isinstance(obj, dict):
        raise _corrupt(path, file, "expected a JSON object")
    return obj


def _read_state(path: Path, file: str) -> dict[str, torch.Tensor]:
    p = path / file
    if not p.is_file():
        raise invalid(
            "checkpoint",
            f"the file '{file}' is missing from '{path}'.",
            "Copy the checkpoint completely or retrain the network.",
        )
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged archive
        raise _corrupt(path, file, f"it cannot be read ({err})") from None
    if not isinstance(state, dict) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise _corrupt(path, file, "it does not hold a state dict of tensors")
    return state
