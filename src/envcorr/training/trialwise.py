"""Trial-wise training: one prediction per trial.

:func:`envcorr.training.train_model` trains every braindecode classifier
other than Deep4, Shallow and EEGNet (:data:`envcorr.config.CROPPED_MODELS`)
this way, and :func:`train_trialwise` trains EEGNet so too when asked. The
network is built as braindecode defines it and gives one output per class and
trial. It is trained on the cross-entropy of
the log-softmax of these outputs: braindecode 1.8's classifiers output raw
scores (logits), and the log-softmax leaves log-probabilities unchanged, so
the loss is right for both. That is the cropped loss of
:mod:`envcorr.training.loop` with a single crop, and the training runs
through the same loop: AdamW with a cosine learning-rate schedule, the same
seeded batches and dropout, batch-norm recalibration, per-epoch progress bar
and log line, scores (:func:`envcorr.training.evaluate`) and
:class:`~envcorr.training.TrainResult`.

What to expect: trial-wise training has one example per trial where cropped
training has hundreds of crops, and a network that reaches band power only
through its nonlinearities can fit the few training trials by their waveforms
instead. On the simulated data (broadband, 250 Hz, 4.5-s trials) EEGNet,
EEGNeX and ATCNet fit session 1 but stay near chance on session 2 after 20
epochs, while networks with a power layer (variance, or square and log)
generalise (FBCNet 74 %, SCCNet 49 %, chance 25 %, before the simulation's
beta and high gamma were made stronger). Trial-wise EEGNet stays at chance on
the raw signal after 80 epochs too (27.4 %), and learned, on the earlier
simulation, once the strong 1/f background below 4 Hz was removed (54.9 %
after 80 epochs of data band-passed from 4 Hz); trained on crops, which is
what ``train_model`` does for it, it reaches 51.0 % after 20 epochs of the
raw signal.
"""

from __future__ import annotations

from typing import Any

import torch

from .._utils.check import invalid
from .._utils.docs import fill_doc
from .._utils.logs import verbose
from ..config import DEFAULT_N_EPOCHS, DENSE_MODELS, resolve_model_name
from ..data import Trials
from .loop import TRIALWISE_DEFAULTS, TrainResult, _options, _train
from .scoring import DEFAULT_INPUT_SCALE

__all__ = ["TRIALWISE_DEFAULTS", "train_trialwise"]


@verbose
@fill_doc
def train_trialwise(
    train: Trials,
    valid: Trials | None = None,
    *,
    model: str = "EEGNet",
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
    """Train a network that makes one prediction per trial.

    Logs one line per epoch at INFO, with a progress bar over the batches.
    The global random state and torch's deterministic-algorithm settings are
    left as they were.

    Parameters
    ----------
    %(train_trials)s
    model : str
        The class name of a braindecode classifier, any case (``"eegnet"``,
        ``"EEGNeX"``, ``"atcnet"``; :data:`envcorr.config.BRAINDECODE_MODELS`)
        other than Deep4Net and ShallowFBCSPNet, which are dense and trained
        with cropped decoding (:func:`envcorr.training.train_cropped`).
        EEGNet is built as braindecode defines it, with one prediction per
        trial.
    %(train_options)s
    """
    key = resolve_model_name(model)
    if key in DENSE_MODELS:
        raise invalid(
            "model",
            f"{key!r} is trained with cropped decoding here.",
            "Use train_cropped or train_model for it.",
        )
    return _train(
        train,
        valid,
        key=key,
        cropped=False,
        **_options(locals()),
    )
