"""Training: cropped or trial-wise decoding, scores and checkpoints.

:mod:`.loop` trains Deep4Net, ShallowFBCSPNet or EEGNet with cropped decoding
(:func:`train_cropped`, giving a :class:`TrainResult` with the trained
network, its untrained initialisations, scores and history);
:mod:`.trialwise` trains any other braindecode classifier on one prediction
per trial (:func:`train_trialwise`), and :func:`train_model` picks the one
that fits the model.
:mod:`.scoring` turns a network's crop predictions into trial-wise
log-probabilities and :class:`Scores`, and :mod:`.batchnorm` re-estimates the
batch-norm statistics without dropout (:func:`recalibrate_batchnorm`).
:mod:`.checkpoint` writes a training result to a checkpoint directory and
reads it back (:class:`Checkpoint`), and checks that data fit its networks
(:func:`check_compatible`); its module docstring describes the layout::

    trained.pt, initial.pt, untrained_k.pt    weights (state dicts)
    model.json, data.json, history.json,      architecture and input scale,
    config.json                               data layout, history, config

Inputs are in volts everywhere; networks see ``X * input_scale``
(:data:`DEFAULT_INPUT_SCALE` = 1e6, µV).
"""

from .batchnorm import recalibrate_batchnorm
from .checkpoint import Checkpoint, check_compatible, load_checkpoint, save_checkpoint
from .loop import (
    TRAIN_DEFAULTS,
    TRIALWISE_DEFAULTS,
    TrainResult,
    train_cropped,
    train_model,
)
from .scoring import DEFAULT_INPUT_SCALE, Scores, evaluate, predict_trials
from .trialwise import train_trialwise

__all__ = [
    "DEFAULT_INPUT_SCALE",
    "TRAIN_DEFAULTS",
    "TRIALWISE_DEFAULTS",
    "Checkpoint",
    "Scores",
    "TrainResult",
    "check_compatible",
    "evaluate",
    "load_checkpoint",
    "predict_trials",
    "recalibrate_batchnorm",
    "save_checkpoint",
    "train_cropped",
    "train_model",
    "train_trialwise",
]
