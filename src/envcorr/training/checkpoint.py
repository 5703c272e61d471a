"""Checkpoints: a trained network and its untrained baselines on disk.

A checkpoint is a directory::

    trained.pt       trained weights (state dict)
    initial.pt       the same network's initial weights (untrained baseline)
    untrained_k.pt   extra random initialisations, seeds seed + k (optional)
    model.json       format, model name (``deep4``, ``shallow`` or a braindecode
                     class name), constructor arguments, input scale, number of
                     extra initialisations, library versions
    data.json        ch_names, sfreq, n_times, class_names, tmin, description
    history.json     per-epoch history, final scores, class names, settings
    config.json      the caller's configuration

Weights are plain state dicts of CPU tensors, read with
``torch.load(weights_only=True)``; the networks are rebuilt from
``model.json`` with :func:`envcorr.nn.models.rebuild_model`. Keys the reader
does not use are ignored, such as the ``n_preds`` entry of the ``model.json``
of older checkpoints.
"""

from __future__ import annotations

import copy
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .._utils.check import (
    check_instance,
    check_int,
    check_positive_float,
    invalid,
)
from .._utils.io import atomic_dir
from .._utils.jsonutil import dumps
from .._utils.logs import logger
from .._utils.torchutils import resolve_device
from .._utils.versions import versions
from ..data import Trials
from ..nn.models import MODELS, rebuild_model
from .loop import TrainResult
from .scoring import _TRIALS_FIX, Scores

__all__ = ["Checkpoint", "check_compatible", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = 1
"""Version of the checkpoint layout written by :func:`save_checkpoint`."""

FILES = {
    "trained": "trained.pt",
    "initial": "initial.pt",
    "model": "model.json",
    "data": "data.json",
    "history": "history.json",
    "config": "config.json",
}
"""File of each part of a checkpoint (and ``untrained_{k}.pt``, k = 1 ..)."""


def untrained_file(k: int) -> str:
    """File of the ``k``-th extra random initialisation (``k >= 1``)."""
    return f"untrained_{k}.pt"


@dataclass(frozen=True)
class Checkpoint:
    """A trained network and its untrained baseline, loaded from disk.

    Parameters
    ----------
    directory : Path
        Where the checkpoint was read from.
    model : torch.nn.Module
        Trained network (dense for Deep4 and Shallow), eval mode.
    untrained_model : torch.nn.Module
        The same architecture with the trained network's initial weights,
        eval mode.
    extra_untrained_models : list of torch.nn.Module
        Further random initialisations (seeds ``seed + 1 ..``), eval mode.
    model_name : str
        Key of :data:`envcorr.nn.models.MODELS`: ``"deep4"``, ``"shallow"``
        or a braindecode class name such as ``"EEGNet"``.
    model_kwargs : dict
        Constructor arguments (with ``sfreq`` and ``chs_info`` for the models
        built with them).
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

    def to_record(self) -> dict[str, Any]:
        """History, final scores, class names and settings (``history.json``).

        As :meth:`TrainResult.to_record` of the result that was saved (with
        NaN read back as None).
        """
        return copy.deepcopy(self.history)

    def untrained_models(self) -> list[torch.nn.Module]:
        """All untrained networks: the own initialisation first, then the extras.

        As :meth:`TrainResult.untrained_models`, but the networks are those
        loaded (eval mode, on the device they were loaded to).
        """
        return [self.untrained_model, *self.extra_untrained_models]


def save_checkpoint(
    result: TrainResult,
    directory: str | os.PathLike,
    *,
    trials_description: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a training result to a checkpoint directory.

    Everything is written to a temporary directory beside ``directory`` that
    replaces it only once complete: an interrupted save leaves no
    half-written checkpoint, and any previous one at ``directory`` intact.

    Parameters
    ----------
    result : TrainResult
        From :func:`~envcorr.training.loop.train_model` (cropped or
        trial-wise).
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
    check_instance("result", result, TrainResult)
    target = Path(directory).expanduser()
    if target.exists() and not overwrite:
        raise invalid(
            "directory",
            f"'{target}' already exists.",
            "Choose another directory or pass overwrite=True.",
        )
    if target.exists() and not target.is_dir():
        raise invalid("directory", f"'{target}' exists and is not a directory.")
    # Serialise everything before touching the disk, so bad input writes nothing.
    texts = {
        "model": dumps(
            {
                "format": CHECKPOINT_FORMAT,
                "model": result.model_name,
                "kwargs": result.model_kwargs,
                "input_scale": result.input_scale,
                "n_untrained": len(result.extra_untrained_states),
                "versions": versions(),
            },
            "result",
        ),
        "data": dumps(
            {**result.data, "description": trials_description or {}},
            "trials_description",
        ),
        "history": dumps(result.to_record(), "result"),
        "config": dumps(config or {}, "config"),
    }
    states = {
        FILES["trained"]: result.model.state_dict(),
        FILES["initial"]: result.initial_state,
        **{
            untrained_file(k): state
            for k, state in enumerate(result.extra_untrained_states, start=1)
        },
    }
    with atomic_dir(target) as tmp:
        for file, state in states.items():
            torch.save(_cpu_state(state), tmp / file)
        for key, text in texts.items():
            (tmp / FILES[key]).write_text(text, encoding="utf-8")
    logger.info("Saved the checkpoint to '%s'.", target)
    return target


def load_checkpoint(
    directory: str | os.PathLike, *, device: str | torch.device | None = "cpu"
) -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint`.

    Parameters
    ----------
    directory : path-like
        The checkpoint directory.
    device : str | torch.device | None
        Device to put the networks on (the CPU by default); None for CUDA
        when available, else the CPU.

    Returns
    -------
    checkpoint : Checkpoint
        Trained and untrained networks in eval mode, and the metadata.
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
        key: _read_json(path, FILES[key])
        for key in ("model", "data", "history", "config")
    }
    model_info = meta["model"]
    for key in ("model", "kwargs", "input_scale"):
        if key not in model_info:
            raise _corrupt(path, FILES["model"], f"the entry {key!r} is missing")
    for key in ("ch_names", "sfreq", "n_times", "class_names"):
        if key not in meta["data"]:
            raise _corrupt(path, FILES["data"], f"the entry {key!r} is missing")
    name = model_info["model"]
    if name not in MODELS:
        raise _corrupt(
            path,
            FILES["model"],
            f"unknown model {name!r} (not one of this braindecode's models)",
        )
    try:
        input_scale = check_positive_float("input_scale", model_info["input_scale"])
        n_untrained = check_int(
            "n_untrained", model_info.get("n_untrained", 0), minimum=0
        )
    except ValueError as err:
        raise _corrupt(path, FILES["model"], str(err)) from None

    def load(file: str) -> torch.nn.Module:
        try:
            net = rebuild_model(name, model_info["kwargs"])
        except ValueError as err:
            raise _corrupt(path, FILES["model"], str(err)) from None
        state = _read_state(path, file)
        try:
            net.load_state_dict(state)
        except (RuntimeError, KeyError, TypeError) as err:
            raise _corrupt(
                path, file, f"its weights do not fit the network of model.json ({err})"
            ) from None
        return net.to(device).eval()

    return Checkpoint(
        directory=path,
        model=load(FILES["trained"]),
        untrained_model=load(FILES["initial"]),
        extra_untrained_models=[
            load(untrained_file(k)) for k in range(1, n_untrained + 1)
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
    samples per trial must be those the networks were trained with. Other
    class names than the network's outputs only log a warning.

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
    check_instance("trials", trials, Trials, _TRIALS_FIX)
    if not isinstance(checkpoint, Checkpoint | TrainResult):
        raise invalid(
            "checkpoint",
            f"expected a Checkpoint or TrainResult, got {type(checkpoint).__name__}.",
        )
    expected = checkpoint.data
    problems = _channel_problems(list(expected["ch_names"]), list(trials.ch_names))
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


def _channel_problems(want: list[str], have: list[str]) -> list[str]:
    """How the channels ``have`` differ from the network's ``want`` (or [])."""
    if want == have:
        return []
    missing = [c for c in want if c not in have]
    extra = [c for c in have if c not in want]
    if not missing and not extra:
        return [
            "the channels are in another order than the network's. Reorder them "
            f"to {want}."
        ]
    detail = []
    if missing:
        detail.append(f"missing {missing}")
    if extra:
        detail.append(f"not in the network {extra}")
    return [
        f"the channels differ from the network's ({'; '.join(detail)}). "
        f"Pick (and interpolate missing) channels to get exactly {want}, "
        "in this order."
    ]


def _cpu_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in state.items()}


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
            f"A checkpoint holds {', '.join(FILES.values())}; copy it completely "
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
