"""Training: cropped decoding where a network can predict per crop, else trial-wise.

:func:`train_model` trains any network of :mod:`envcorr.nn.models`; it uses

* cropped decoding (:func:`train_cropped`) for Deep4, Shallow and EEGNet
  (:data:`envcorr.config.CROPPED_MODELS`), as in braindecode's
  cropped-decoding example and the paper: the network gives ``n_preds``
  class predictions per trial, one per crop of its classifier's receptive
  field (every sample for the dense Deep4 and Shallow, every 32 samples for
  EEGNet built with a short classifier, see
  :func:`envcorr.nn.models.build_model`); the loss is the mean over crops of
  the per-crop cross-entropy (braindecode's ``CroppedLoss`` applied to
  per-crop log-probabilities) and a trial's prediction is the mean of its
  crops' log-probabilities. Each trial is one window (``n_times`` samples),
  so a window's stride of ``n_preds`` samples yields exactly one window per
  trial;
* trial-wise decoding (:func:`envcorr.training.trialwise.train_trialwise`)
  for every other model: one prediction per trial, the cross-entropy of the
  log-softmax of the network's outputs. braindecode's classifiers output raw
  scores (logits), and the log-softmax of log-probabilities is themselves, so
  the same loss holds for both. It is the cropped loss with a single crop: both
  run through one loop, with the same optimiser, learning-rate schedule,
  batches, seeds, batch-norm recalibration, scores and logs.

Inputs are in volts; networks see ``X * input_scale`` (µV by default). The
scale is kept with the network (:attr:`TrainResult.input_scale`, the
checkpoint's ``model.json``): whoever feeds data to a trained network must
multiply by it.

Cropped training runs through :func:`envcorr.nn.fast.fast_view` (faster
max-pools, the same parameters), so the network's own modules are never
changed; trial-wise training runs the network itself.

Why EEGNet is trained on crops: on the simulated data, trial-wise EEGNet fits
the training session by its trials' waveforms and stays at chance on the test
session (26.7 % after 20 epochs, 27.4 % after 80; chance 25 %), while the same
network with 19 crop predictions per 1125-sample trial reaches 51.0 % after 20
epochs and 72.6 % after 40.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

# torch sets the environment variable TORCHINDUCTOR_CACHE_DIR when it first
# imports its compiler package, which the first optimizer step would do;
# importing it with this module keeps training calls free of that side effect.
import torch._dynamo
import torch.nn.functional as F
from braindecode.training import CroppedLoss

from .._utils.check import (
    check_bool,
    check_instance,
    check_int,
    check_non_negative_float,
    check_positive_float,
    invalid,
)
from .._utils.docs import docdict, fill_doc
from .._utils.logs import logger, progress, verbose
from .._utils.torchutils import deterministic, resolve_device, seeded
from ..config import CROPPED_MODELS, DEFAULT_N_EPOCHS, resolve_model_name
from ..data import Trials
from ..nn.fast import fast_view
from ..nn.models import MODELS, build_model, n_predictions, rebuild_model
from .batchnorm import recalibrate_batchnorm
from .scoring import (
    _TRIALS_FIX,
    DEFAULT_INPUT_SCALE,
    Scores,
    crop_log_proba,
    evaluate,
    scaled_input,
)

__all__ = [
    "DEFAULT_INPUT_SCALE",
    "TRAIN_DEFAULTS",
    "TRIALWISE_DEFAULTS",
    "TrainResult",
    "train_cropped",
    "train_model",
    "training_defaults",
]

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

TRIALWISE_DEFAULTS: dict[str, Any] = {
    # Adam(W) with lr 1e-3, as EEGNet, EEGNeX and ATCNet were published (and as
    # Deep4 here). Batches of 32: 180 updates in 20 epochs of 288 trials
    # (braindecode's trial-wise example takes 64 for fewer trials' worth of
    # updates). No weight decay, as that example; on the simulated data neither
    # weight decay (up to 10), other rates and batch sizes nor more epochs made
    # trial-wise EEGNet generalise, cropped training did (module docstring).
    # EEGNet's cropped training keeps these settings.
    "lr": 1e-3,
    "weight_decay": 0.0,
    "batch_size": 32,
}
"""Learning rate, weight decay and batch size of every model but Deep4 and Shallow."""

# Arguments of build_model that come from the data (or the seed), not from
# model_kwargs.
_FROM_DATA = (
    "name",
    "n_chans",
    "n_outputs",
    "n_times",
    "sfreq",
    "ch_names",
    "chs_info",
    "input_window_seconds",
    "seed",
)

# Training trials used to re-estimate batch-norm statistics before each
# per-epoch validation (all training trials are used at the end).
_N_CALIBRATION = 96


@dataclass
class TrainResult:
    """A trained network with its initial weights, scores and history.

    Parameters
    ----------
    model : torch.nn.Module
        The trained network (plain braindecode modules; dense for Deep4 and
        Shallow), in eval mode, on the training device.
    model_name : str
        Key of :data:`envcorr.nn.models.MODELS`: ``"deep4"``, ``"shallow"``
        or a braindecode class name such as ``"EEGNet"``.
    model_kwargs : dict
        JSON-serialisable constructor arguments (see
        :func:`envcorr.nn.models.rebuild_model`).
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
        Crop predictions per trial (1 for trial-wise training).
    data : dict
        ``ch_names``, ``sfreq``, ``n_times``, ``class_names``, ``tmin`` of the
        training trials: what the network expects.
    settings : dict
        Training settings (n_epochs, batch_size, lr, weight_decay, seed,
        n_untrained, device, input_scale, recalibrate_bn, and decoding:
        ``"cropped"`` or ``"trialwise"``).
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

    def to_record(self) -> dict[str, Any]:
        """History, final scores, class names and settings (``history.json``).

        The same dict as :meth:`Checkpoint.to_record` of the saved result.
        """
        valid = self.valid_scores
        return {
            "history": copy.deepcopy(self.history),
            "train": self.train_scores.to_dict(),
            "valid": None if valid is None else valid.to_dict(),
            "class_names": list(self.data["class_names"]),
            "settings": copy.deepcopy(self.settings),
        }

    def untrained_model(self, k: int = 0) -> torch.nn.Module:
        """The network with initial weights, in eval mode, on the CPU.

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

    def untrained_models(self) -> list[torch.nn.Module]:
        """All untrained networks: the own initialisation first, then the extras.

        Returns
        -------
        models : list of torch.nn.Module
            ``1 + n_untrained`` networks, in eval mode, on the CPU
            (:meth:`untrained_model` of ``k = 0, 1, ..``).
        """
        n = 1 + len(self.extra_untrained_states)
        return [self.untrained_model(k) for k in range(n)]


def training_defaults(model: str) -> dict[str, Any]:
    """Learning rate, weight decay and batch size used for ``model`` by default.

    Parameters
    ----------
    model : str
        A model name (see :func:`envcorr.nn.models.build_model`).

    Returns
    -------
    defaults : dict
        ``lr``, ``weight_decay`` and ``batch_size``: :data:`TRAIN_DEFAULTS`
        for Deep4 and Shallow, :data:`TRIALWISE_DEFAULTS` for the others
        (EEGNet's cropped training included).
    """
    key = resolve_model_name(model)
    return dict(TRAIN_DEFAULTS.get(key, TRIALWISE_DEFAULTS))


docdict["train_trials"] = """\
train : Trials
    Training trials, X shape (n_trials, n_channels, n_times), in volts.
    The whole trial is one input window.
valid : Trials | None
    Validation trials with the same channels, sampling rate, length and
    class names. Scored after every epoch (monitoring only: no early
    stopping, the last epoch's network is returned)."""

docdict["train_options"] = """\
n_epochs : int
    Training epochs. The learning rate follows a cosine from ``lr`` down
    towards 0 over them.
batch_size : int | None
    Trials per batch. None: 16 for Deep4, 64 for Shallow, 32 for the others
    (:func:`training_defaults`).
lr : float | None
    Learning rate of AdamW. None: 0.001 for Deep4, 0.000625 for Shallow,
    0.001 for the others.
weight_decay : float | None
    AdamW weight decay (multiplied by the learning rate inside AdamW).
    None: 0.0005 for Deep4, 0 for the others.
input_scale : float
    Factor applied to the data before it enters a network (1e6 when the
    network was trained on µV and the data are in volts).
n_untrained : int
    Number of extra random initialisations (seeds ``seed + 1 ..``) whose
    weights are kept, for the spread of the untrained baseline.
seed : int
    Seed of the initial weights, the batch order and dropout. With the same
    seed on the same device the training is repeated exactly on the CPU.
device : str | torch.device | None
    Where the networks run: ``"cpu"``, ``"cuda"``, ``"cuda:1"``; None for
    CUDA when available, else the CPU.
model_kwargs : dict | None
    Further constructor arguments of the braindecode network.
recalibrate_bn : bool
    Re-estimate the batch-norm statistics with dropout off (see
    :func:`recalibrate_batchnorm`) before every validation and at the end:
    on all training trials at the end, on up to 96 of them for the
    per-epoch validation. Without it, Deep4's eval-mode outputs suffer from
    the variance shift between dropout (training) and no dropout (eval),
    and the running statistics of slow batch norms (EEGNet's momentum is
    0.01) lag behind the weights.
verbose : bool | str | int | None
    Logging level for this call: None keeps envcorr's level (see
    :func:`envcorr.set_log_level`), True/False mean INFO/WARNING, or a level
    name such as ``"DEBUG"``. Progress bars show at INFO and below.

Returns
-------
result : TrainResult
    The trained network, its initial weights, scores and history."""


_OPTIONS = (
    "n_epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "input_scale",
    "n_untrained",
    "seed",
    "device",
    "model_kwargs",
    "recalibrate_bn",
)


def _options(namespace: dict[str, Any]) -> dict[str, Any]:
    """The training options of train_model among a caller's locals()."""
    return {name: namespace[name] for name in _OPTIONS}


@verbose
@fill_doc
def train_model(
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
    """Train a network: cropped decoding for Deep4, Shallow and EEGNet, else trial-wise.

    Deep4, Shallow and EEGNet (:data:`envcorr.config.CROPPED_MODELS`) are
    trained with :func:`train_cropped`, every other model with
    :func:`envcorr.training.trialwise.train_trialwise`: one loop, the same
    settings. Logs one line per epoch at INFO, with a progress bar over the
    batches. The global random state and torch's deterministic-algorithm
    settings are left as they were.

    Parameters
    ----------
    %(train_trials)s
    model : str
        ``"deep4"``, ``"shallow"`` or a braindecode classifier's class name,
        any case (see :func:`envcorr.nn.models.build_model`).
    %(train_options)s
    """
    key = resolve_model_name(model)
    return _train(
        train,
        valid,
        key=key,
        cropped=key in CROPPED_MODELS,
        **_options(locals()),
    )


@verbose
@fill_doc
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
    """Train a network with cropped decoding: several predictions per trial.

    Logs one line per epoch at INFO, with a progress bar over the batches.
    The global random state and torch's deterministic-algorithm settings are
    left as they were.

    Parameters
    ----------
    %(train_trials)s
    model : str
        ``"deep4"``, ``"shallow"`` or ``"eegnet"`` (see
        :func:`envcorr.nn.models.build_model` with ``cropped=True``); other
        models are trained trial-wise (:func:`train_model`).
    %(train_options)s
    """
    key = resolve_model_name(model)
    if key not in CROPPED_MODELS:
        raise invalid(
            "model",
            f"{MODELS[key].__name__} makes one prediction per trial, so it cannot "
            "be trained with cropped decoding; only "
            f"{', '.join(map(repr, CROPPED_MODELS))} can.",
            "Use train_model (or train_trialwise) for it.",
        )
    return _train(
        train,
        valid,
        key=key,
        cropped=True,
        **_options(locals()),
    )


def _train(
    train: Trials,
    valid: Trials | None,
    *,
    key: str,
    cropped: bool,
    model_kwargs: dict[str, Any] | None,
    device: str | torch.device | None,
    **options: Any,
) -> TrainResult:
    """Build, train and score model ``key`` (cropped or trial-wise)."""
    check_instance("train", train, Trials, _TRIALS_FIX)
    if valid is not None:
        check_instance("valid", valid, Trials, _TRIALS_FIX)
        _check_same_layout(train, valid)
    if model_kwargs is None:
        model_kwargs = {}
    if not isinstance(model_kwargs, dict):
        raise invalid("model_kwargs", f"expected a dict, got {model_kwargs!r}.")
    for name in model_kwargs:
        if name in _FROM_DATA:
            raise invalid(
                name,
                "cannot be set in model_kwargs: the training data give the "
                "channels, sampling rate, trial length and classes.",
                f"Leave {name!r} out of model_kwargs.",
            )
    dev = resolve_device(device)
    settings = _check_settings(training_defaults(key), device=str(dev), **options)
    settings["decoding"] = "cropped" if cropped else "trialwise"
    empty = [c for c, n in train.class_counts().items() if n == 0]
    if empty:
        logger.warning("No training trials of the classes %s.", empty)

    seed = settings["seed"]
    with seeded(seed, dev), deterministic():
        net, kwargs = build_model(
            key,
            n_chans=train.n_channels,
            n_outputs=len(train.class_names),
            n_times=train.n_times,
            sfreq=train.sfreq,
            ch_names=train.ch_names,
            seed=seed,
            cropped=cropped,
            **model_kwargs,
        )
        initial_state = copy.deepcopy(net.state_dict())
        extra_states = [
            rebuild_model(key, kwargs, seed=seed + k).state_dict()
            for k in range(1, settings["n_untrained"] + 1)
        ]
        n_preds = n_predictions(net)
        logger.info(
            "Training %s on %d trials (%s) on %s: "
            "%d epochs, batch size %d, lr %g, weight decay %g.",
            key,
            train.n_trials,
            f"{n_preds} crop predictions per trial"
            if cropped
            else "trial-wise, one prediction per trial",
            dev,
            *(settings[k] for k in ("n_epochs", "batch_size", "lr", "weight_decay")),
        )
        net.to(dev)
        # Cropped training runs through the fast view; the optimizer holds net's
        # own parameters, which the view shares.
        runner = fast_view(net, dev) if cropped else contextlib.nullcontext(net)
        with runner as view:
            history = _fit(net, view, train, valid, settings, dev)
            kw = {k: settings[k] for k in ("input_scale", "batch_size")}
            if settings["recalibrate_bn"]:
                recalibrate_batchnorm(view, train.X, **kw)
            train_scores, valid_scores = (
                None if t is None else evaluate(view, t, **kw) for t in (train, valid)
            )
    msg = f"Trained: train accuracy {train_scores.accuracy:.1%}"
    if valid_scores is not None:
        msg += f", valid accuracy {valid_scores.accuracy:.1%}"
    logger.info("%s.", msg)
    return TrainResult(
        model=net.eval(),
        model_name=key,
        model_kwargs=kwargs,
        input_scale=settings["input_scale"],
        initial_state=initial_state,
        extra_untrained_states=extra_states,
        history=history,
        train_scores=train_scores,
        valid_scores=valid_scores,
        n_preds=n_preds,
        data=_data_info(train),
        settings=settings,
    )


def _check_settings(defaults: dict[str, Any], **given: Any) -> dict[str, Any]:
    """The checked training settings, None replaced by the model's default."""
    s = {k: defaults[k] if v is None and k in defaults else v for k, v in given.items()}
    return {
        "n_epochs": check_int("n_epochs", s["n_epochs"], minimum=1),
        "batch_size": check_int("batch_size", s["batch_size"], minimum=1),
        "lr": check_positive_float("lr", s["lr"]),
        "weight_decay": check_non_negative_float("weight_decay", s["weight_decay"]),
        "seed": check_int("seed", s["seed"], minimum=0),
        "n_untrained": check_int("n_untrained", s["n_untrained"], minimum=0),
        "device": s["device"],
        "input_scale": check_positive_float("input_scale", s["input_scale"]),
        "recalibrate_bn": check_bool("recalibrate_bn", s["recalibrate_bn"]),
    }


def _fit(
    net: torch.nn.Module,
    view: torch.nn.Module,
    train: Trials,
    valid: Trials | None,
    settings: dict[str, Any],
    device: torch.device,
) -> list[dict[str, Any]]:
    """The training loop; the per-epoch history.

    The optimizer holds ``net``'s parameters, the forward passes go through
    ``view`` (which shares them); both are on ``device``.
    """
    n_epochs, batch_size = settings["n_epochs"], settings["batch_size"]
    input_scale, recalibrate_bn = settings["input_scale"], settings["recalibrate_bn"]
    lr, weight_decay = settings["lr"], settings["weight_decay"]
    X = scaled_input(train.X, input_scale, device)
    y = torch.from_numpy(train.y).to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    # braindecode's example uses T_max = n_epochs - 1, which makes the last epoch
    # train with a learning rate of 0; T_max = n_epochs keeps it useful.
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_epochs)
    # Mean over crops of per-crop log-probabilities, then NLL: the mean over crops
    # of the per-crop cross-entropy.
    criterion = CroppedLoss(F.nll_loss)
    generator = torch.Generator().manual_seed(settings["seed"])
    n_batches = math.ceil(len(X) / batch_size)
    # Evenly spread training trials for the per-epoch batch-norm statistics.
    calib = np.linspace(0, len(X) - 1, min(len(X), _N_CALIBRATION)).round()
    calib = np.unique(calib.astype(np.int64))
    history = []
    for epoch in range(1, n_epochs + 1):
        start = time.perf_counter()
        lr_now = optimizer.param_groups[0]["lr"]
        view.train()
        order = torch.randperm(len(X), generator=generator).to(device)
        loss_sum, n_correct = 0.0, 0
        batches = progress(
            torch.split(order, batch_size),
            desc=f"Epoch {epoch}/{n_epochs}",
            total=n_batches,
            unit="batch",
        )
        for idx in batches:
            log_proba = crop_log_proba(view(X[idx]))
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
                    view, train.X[calib], input_scale=input_scale, batch_size=batch_size
                )
            scores = evaluate(
                view, valid, input_scale=input_scale, batch_size=batch_size
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


def _data_info(trials: Trials) -> dict[str, Any]:
    """What a network trained on ``trials`` expects of its input."""
    return {
        "ch_names": list(trials.ch_names),
        "sfreq": float(trials.sfreq),
        "n_times": int(trials.n_times),
        "class_names": list(trials.class_names),
        "tmin": float(trials.tmin),
    }
