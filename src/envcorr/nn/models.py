"""The networks: any braindecode classifier, built with seeded weights.

``"deep4"`` and ``"shallow"`` (braindecode's Deep4Net and ShallowFBCSPNet) are
built *dense* (braindecode's ``to_dense_prediction_model``): strides are
replaced by dilations in the following layers, so a layer whose receptive
field is ``R`` samples outputs ``n_times - R + 1`` samples per trial, sample
``t`` seeing inputs ``t .. t + R - 1`` (docs/method.md, step 5). Cropped
training uses these dense networks, one class prediction per output sample.

EEGNet built for cropped decoding (``build_model("eegnet", cropped=True)``,
as training builds it) keeps braindecode's architecture but its classifier
spans half of the time positions left after its last pooling instead of all
of them, so it predicts every 32 samples, one prediction per crop.

Every other classifier of ``braindecode.models``
(:data:`envcorr.config.BRAINDECODE_MODELS`) is built as braindecode defines
it, with one prediction per trial, and trained trial-wise. It gets the shape
of the data (``n_chans``, ``n_times``, ``n_outputs``), the sampling rate when
its constructor takes one, and channel positions (``chs_info``, from the
channel names and MNE's standard 10-05 montage) when braindecode lists them
among the model's mandatory parameters. A model that cannot be built for the
data (a pretrained model's fixed channel set or patch length, a minimum input
length, a download) is refused with an error that says why.

The architecture is described by a JSON-serialisable dict of constructor
arguments, so a checkpoint can rebuild it without the training code::

    model, kwargs = build_model("deep4", n_chans=22, n_outputs=4, n_times=1125)
    same_architecture = rebuild_model("deep4", kwargs)
"""

from __future__ import annotations

import inspect
import json
import re
import warnings
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

import mne
import numpy as np
import torch

from .._utils.check import check_bool, check_int, check_positive_float, invalid
from .._utils.torchutils import eval_mode, seeded
from ..config import (
    BRAINDECODE_MODELS,
    CROPPED_MODELS,
    DENSE_MODELS,
    MODEL_ALIASES,
    resolve_model_name,
)
from .geometry import receptive_fields
from .layers import default_layers

with warnings.catch_warnings():
    # braindecode's model zoo builds a montage under a name MNE 1.13 deprecates
    # when it is imported; the warning concerns braindecode, not our users.
    warnings.filterwarnings(
        "ignore", "Montage name 'standard_1020' is deprecated", FutureWarning
    )
    import braindecode.models as _zoo

MODELS: dict[str, type[torch.nn.Module]] = {
    **{alias: getattr(_zoo, cls) for alias, cls in MODEL_ALIASES.items()},
    **{
        name: getattr(_zoo, name)
        for name in BRAINDECODE_MODELS
        if name not in MODEL_ALIASES.values() and hasattr(_zoo, name)
    },
}
"""Model names accepted by :func:`build_model` and their braindecode classes.

``"deep4"`` and ``"shallow"`` stand for Deep4Net and ShallowFBCSPNet; every
other model goes by its class name (:func:`envcorr.config.resolve_model_name`
accepts any case, and the class names of the two).
"""

MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    # Classifier field 522 samples (pool_4: 441, + (2 - 1) * 81), as in the
    # paper's cropped training: 604 predictions per 1125-sample trial.
    "deep4": {"final_conv_length": 2},
    # braindecode's cropped example: field 534 samples (conv 25, mean-pool 75
    # with stride 15, + (30 - 1) * 15): 592 predictions per 1125-sample trial.
    "shallow": {"final_conv_length": 30},
}
"""Constructor arguments that differ from braindecode's defaults, per model."""

# Given by build_model's own parameters (the data's shape, sampling rate and
# channels), not by the caller's kwargs.
_RESERVED = (
    "n_chans",
    "n_outputs",
    "n_times",
    "chs_info",
    "input_window_seconds",
    "sfreq",
)

# The signal parameters braindecode's own tests must give each model.
_MANDATORY: dict[str, list[str]] = {
    name: list(params) for name, params, _ in _zoo.models_mandatory_parameters
}


def is_cropped(name: str) -> bool:
    """Whether model ``name`` is trained with cropped decoding.

    True for ``"deep4"`` and ``"shallow"`` (built dense) and ``"EEGNet"``
    (built with a short classifier), any spelling of them; False for every
    other model, which is trained trial-wise.
    """
    return resolve_model_name(name, param="name") in CROPPED_MODELS


def predicts_densely(model: torch.nn.Module) -> bool:
    """Whether a braindecode network can make dense (cropped) predictions.

    The rule behind :data:`envcorr.config.DENSE_MODELS`: the network has
    braindecode's ``to_dense_prediction_model``, ends in a convolutional
    classifier (``final_layer.conv_classifier``) whose output keeps a time
    axis, and pads nowhere, so that every output position of the dense network
    is one crop of the input.

    Parameters
    ----------
    model : torch.nn.Module
        The network (strided or dense).

    Returns
    -------
    dense : bool
    """
    final = getattr(model, "final_layer", None)
    classifier = getattr(final, "conv_classifier", None)
    if not hasattr(model, "to_dense_prediction_model") or not isinstance(
        classifier, torch.nn.Conv2d
    ):
        return False
    return not any(_pads(module) for module in model.modules())


def _pads(module: torch.nn.Module) -> bool:
    padding = getattr(module, "padding", 0)
    if isinstance(padding, str):
        return padding != "valid"
    try:
        return bool(np.any(np.asarray(padding, dtype=np.float64) != 0))
    except (TypeError, ValueError):
        return True


def build_model(
    name: str,
    *,
    n_chans: int,
    n_outputs: int,
    n_times: int,
    sfreq: float | None = None,
    ch_names: Sequence[str] | None = None,
    seed: int | None = 0,
    cropped: bool = False,
    **kwargs: Any,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Build a braindecode network with seeded initial weights.

    Parameters
    ----------
    name : str
        ``"deep4"`` (:class:`braindecode.models.Deep4Net`, built dense),
        ``"shallow"`` (:class:`braindecode.models.ShallowFBCSPNet`, dense) or
        the class name of another braindecode classifier (any case, e.g.
        ``"eegnet"``; :data:`envcorr.config.BRAINDECODE_MODELS`).
    n_chans : int
        Number of EEG channels of the input.
    n_outputs : int
        Number of classes.
    n_times : int
        Samples per input window (trial). For the dense networks it must be at
        least the receptive field of the classifier (522 samples for the
        default Deep4, 534 for Shallow).
    sfreq : float | None
        Sampling rate in Hz, given to models whose constructor takes it (not
        to Deep4 and Shallow, whose architecture does not depend on it).
        Models that need it refuse None.
    ch_names : sequence of str | None
        Channel names, for models that need channel positions (``chs_info``,
        from MNE's standard 10-05 montage; see :func:`chs_info_from_names`).
    seed : int | None
        Seed of the random initialisation; the same seed gives the same
        initial weights, and the global torch random state is left untouched.
        ``None`` draws from (and advances) the global torch random state, as
        constructing a torch module does.
    cropped : bool
        Build EEGNet for cropped decoding, as :func:`envcorr.training.train_model`
        does: its convolutional classifier spans half (rounded down, at least
        one) of the time positions left after its last pooling, where
        braindecode's default spans all of them, so it predicts every 32
        samples, one prediction per crop (19 predictions of 4 classes for a
        1125-sample trial). A ``final_conv_length`` in ``kwargs`` wins. Deep4
        and Shallow are built dense either way; other models have no cropped
        form and refuse True.
    **kwargs
        Further constructor arguments of the braindecode class, overriding
        :data:`MODEL_DEFAULTS` (e.g. ``final_conv_length=4``,
        ``n_filters_time=8``). Values must be JSON-serialisable (numbers,
        strings, booleans, None).

    Returns
    -------
    model : torch.nn.Module
        The network, in training mode, on the CPU. Deep4 and Shallow are
        dense: their output has shape (n_trials, n_outputs, n_preds) with
        ``n_preds = n_times - receptive_field + 1`` (shape (n_trials,
        n_outputs) when ``n_preds == 1``, as braindecode squeezes it), and so
        does a cropped EEGNet. Other models output shape (n_trials,
        n_outputs).
    constructor_kwargs : dict
        JSON-serialisable constructor arguments; :func:`rebuild_model` with
        them gives the same architecture.
    """
    key = resolve_model_name(name, param="name")
    n_chans = check_int("n_chans", n_chans, minimum=1)
    n_outputs = check_int("n_outputs", n_outputs, minimum=2)
    n_times = check_int("n_times", n_times, minimum=1)
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
    extra = _check_extra_kwargs(key, kwargs)
    crop = check_bool("cropped", cropped) and key not in DENSE_MODELS
    if crop and key not in CROPPED_MODELS:
        raise invalid(
            "cropped",
            f"{MODELS[key].__name__} has no cropped form: it makes one prediction "
            "per trial.",
            f"Use cropped=False, or one of {', '.join(CROPPED_MODELS)}.",
        )
    constructor_kwargs = {
        "n_chans": n_chans,
        "n_outputs": n_outputs,
        "n_times": n_times,
        **_signal_kwargs(key, n_chans, sfreq, ch_names),
        **MODEL_DEFAULTS.get(key, {}),
        **extra,
    }
    with nullcontext() if seed is None else seeded(seed):
        model = _construct(key, constructor_kwargs)
    if crop and "final_conv_length" not in extra:
        # braindecode's default ("auto") has set the attribute to the time
        # positions left after the last pooling; the cropped classifier spans
        # half of them.
        constructor_kwargs["final_conv_length"] = max(1, model.final_conv_length // 2)
        with nullcontext() if seed is None else seeded(seed):
            model = _construct(key, constructor_kwargs)
    return model, constructor_kwargs


def rebuild_model(
    name: str, constructor_kwargs: dict[str, Any], *, seed: int | None = 0
) -> torch.nn.Module:
    """Rebuild the network described by :func:`build_model`'s kwargs.

    Parameters
    ----------
    name : str
        Model name, a key of :data:`MODELS` (any case).
    constructor_kwargs : dict
        The second return value of :func:`build_model` (e.g. read back from a
        checkpoint's ``model.json``).
    seed : int | None
        Seed of the initial weights (usually replaced by loaded ones); see
        :func:`build_model`.

    Returns
    -------
    model : torch.nn.Module
        The network (dense for Deep4 and Shallow), in training mode, on the
        CPU.
    """
    key = resolve_model_name(name, param="name")
    if not isinstance(constructor_kwargs, dict):
        raise invalid(
            "constructor_kwargs",
            f"expected a dict of constructor arguments, got {constructor_kwargs!r}.",
        )
    required = ("n_chans", "n_outputs", "n_times")
    missing = [k for k in required if k not in constructor_kwargs]
    if missing:
        raise invalid(
            "constructor_kwargs",
            f"the arguments {missing} are missing.",
            "Use the dict returned by build_model.",
        )
    kwargs = dict(constructor_kwargs)
    check_int("n_chans", kwargs["n_chans"], minimum=1)
    check_int("n_outputs", kwargs["n_outputs"], minimum=2)
    check_int("n_times", kwargs["n_times"], minimum=1)
    signal = ("sfreq", "chs_info") if key not in DENSE_MODELS else ()
    _check_extra_kwargs(
        key, {k: v for k, v in kwargs.items() if k not in (*required, *signal)}
    )
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
    with nullcontext() if seed is None else seeded(seed):
        return _construct(key, kwargs)


def chs_info_from_names(ch_names: Sequence[str]) -> list[dict[str, Any]]:
    """Channel descriptions with positions of MNE's standard 10-05 montage.

    Parameters
    ----------
    ch_names : sequence of str
        Channel names (matched case-insensitively to the montage).

    Returns
    -------
    chs_info : list of dict
        One dict per channel, JSON-serialisable: ``ch_name``, ``kind``
        (``"eeg"``) and ``loc`` (the 12 numbers of MNE's ``info["chs"]``:
        the position in metres, then the reference position and the unused
        rest as zeros), as braindecode's ``chs_info`` takes them.
    """
    from ..data._montage import channels_without_position, standard_montage

    names = [str(c) for c in ch_names]
    if len(set(names)) != len(names):
        raise invalid("ch_names", f"channel names repeat: {names}.")
    info = mne.create_info(names, 1000.0, "eeg")
    info.set_montage(
        standard_montage(), match_case=False, on_missing="ignore", verbose=False
    )
    missing = channels_without_position(info)
    if missing:
        raise invalid(
            "ch_names",
            f"the channels {missing} have no position in MNE's standard 10-05 "
            "montage, and the model needs channel positions (chs_info).",
            "Rename the channels to 10-05 names, or choose a model that does "
            "not need positions.",
        )
    # MNE leaves the orientation part of an EEG channel's loc NaN; JSON has no
    # NaN, and braindecode's models read only the position.
    return [
        {
            "ch_name": ch["ch_name"],
            "kind": "eeg",
            "loc": np.nan_to_num(ch["loc"], nan=0.0).tolist(),
        }
        for ch in info["chs"]
    ]


def _signal_kwargs(
    key: str, n_chans: int, sfreq: float | None, ch_names: Sequence[str] | None
) -> dict[str, Any]:
    """Sampling rate and channel positions for the models that take them.

    Deep4 and Shallow are built as they always were: their architecture does
    not depend on either.
    """
    if key in DENSE_MODELS:
        return {}
    cls = MODELS[key]
    params = inspect.signature(cls.__init__).parameters
    mandatory = _MANDATORY.get(cls.__name__, [])
    out: dict[str, Any] = {}
    if sfreq is not None and "sfreq" in params:
        out["sfreq"] = check_positive_float("sfreq", sfreq)
    elif sfreq is None and "sfreq" in mandatory:
        raise invalid(
            "sfreq",
            f"{cls.__name__} needs the sampling rate.",
            "Give sfreq (in Hz).",
        )
    if "chs_info" in mandatory:
        if ch_names is None:
            raise invalid(
                "ch_names",
                f"{cls.__name__} needs channel positions (chs_info).",
                "Give the channel names (positions come from MNE's standard "
                "10-05 montage).",
            )
        if len(ch_names) != n_chans:
            raise invalid(
                "ch_names",
                f"{len(ch_names)} names for n_chans={n_chans} channels.",
            )
        out["chs_info"] = chs_info_from_names(ch_names)
    return out


def _check_extra_kwargs(key: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    cls = MODELS[key]
    params = inspect.signature(cls.__init__).parameters
    known = [
        p
        for p, par in params.items()
        if p != "self"
        and p not in _RESERVED
        and par.kind not in (par.VAR_POSITIONAL, par.VAR_KEYWORD)
    ]
    for k, value in kwargs.items():
        if k in _RESERVED:
            raise invalid(
                k,
                f"cannot be set for a {key!r} model here.",
                "n_chans, n_outputs, n_times, sfreq and the channels are "
                "build_model's own parameters; the input window follows from them.",
            )
        if k not in known:
            raise invalid(
                k,
                f"{cls.__name__} has no argument {k!r}.",
                f"Known arguments: {', '.join(known)}.",
            )
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise invalid(
                k,
                f"{value!r} is not JSON-serialisable, so a checkpoint could not "
                "rebuild the network.",
                "Use numbers, strings, booleans or None (layer classes such as "
                "nonlinearities keep braindecode's defaults).",
            ) from None
    return dict(kwargs)


def _construct(key: str, kwargs: dict[str, Any]) -> torch.nn.Module:
    cls = MODELS[key]
    with warnings.catch_warnings(), mne.utils.use_log_level("warning"):
        # (MNE at WARNING: the interpolating models log their set-up at INFO.)
        # Deep4Net silently shrinks its kernels when n_times is below the field of
        # its conv-pool blocks; that would be another architecture: refuse it.
        warnings.filterwarnings("error", message=r".*smaller than the minimum")
        # braindecode's notices about its own API and our JSON form of chs_info
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="Modifying chs_info argument")
        try:
            model = cls(**kwargs)
        except UserWarning:
            raise _too_short(key, kwargs) from None
        except (TypeError, ValueError, RuntimeError) as err:
            if key in DENSE_MODELS:
                raise invalid(
                    "kwargs", f"{cls.__name__} rejected them: {err}"
                ) from None
            raise _cannot_build(key, kwargs, err) from None
        except Exception as err:  # any failure of a third-party constructor
            raise _cannot_build(key, kwargs, err) from None
        if key in DENSE_MODELS:
            model.to_dense_prediction_model()
            try:
                n_predictions(model)
            except (RuntimeError, ValueError):
                raise _too_short(key, kwargs) from None
            return model
        try:
            with eval_mode(model):
                shape = tuple(model.get_output_shape())
        except Exception as err:  # any failure of a third-party forward pass
            raise _cannot_build(key, kwargs, err) from None
    if len(shape) not in (2, 3) or shape[1] != kwargs["n_outputs"]:
        raise _cannot_build(
            key,
            kwargs,
            f"its output has shape {shape} for one trial, not (1, n_outputs="
            f"{kwargs['n_outputs']})",
        )
    return model


def _too_short(key: str, kwargs: dict[str, Any]) -> Exception:
    """The error for an input shorter than the network's receptive field."""
    field = ""
    probe = 1 << 14
    if kwargs["n_times"] < probe:
        try:
            model = _construct(key, {**kwargs, "n_times": probe})
            field = f" of {classifier_receptive_field(model)} samples"
        except ValueError:
            pass
    return invalid(
        "n_times",
        f"{kwargs['n_times']} samples are shorter than the receptive "
        f"field{field} of the {key!r} network's classifier.",
        "Use longer trials, or a smaller final_conv_length or shorter "
        "kernels/pools via the model kwargs.",
    )


_PATCHES = re.compile(r"can't divide axis of length (\d+) in chunks of (\d+)")
_PATCH_SIZE = re.compile(r"patch_size\W*(\d+)")
_ABOUT_PATCHES = re.compile(r"patch|divisible|is invalid for input of size")
_SHORT = re.compile(
    r"too small|Output size is too small|Kernel size can't be greater|"
    r"smaller than kernel|Padding size should be less"
)


def _cannot_build(key: str, kwargs: dict[str, Any], err: Exception | str) -> Exception:
    """The error for a model that cannot be built for the data, with the reason."""
    cls = MODELS[key]
    n_times = kwargs["n_times"]
    what = f"{kwargs['n_chans']} channels × {n_times} samples"
    if kwargs.get("sfreq") is not None:
        what += f" at {kwargs['sfreq']:g} Hz"
    text = " ".join(str(err).split()).rstrip(".")
    fix = (
        "Choose another model ('envcorr run --help' lists them), or give the "
        "arguments it needs as keyword arguments of build_model / model_kwargs."
    )
    # A patch length the trials are no multiple of: from einops' error, from
    # braindecode's, or the model's patch_size when the error is about patches.
    patch = None
    if (found := _PATCHES.search(text)) and int(found.group(1)) == n_times:
        patch = int(found.group(2))
    elif (found := _PATCH_SIZE.search(text)) is not None:
        patch = int(found.group(1))
    elif _ABOUT_PATCHES.search(text):
        patch = kwargs.get("patch_size")
        for base in cls.__mro__ if patch is None else ():  # wrappers: their model's
            param = inspect.signature(base.__init__).parameters.get("patch_size")
            if param is not None:
                patch = param.default
                break
    if isinstance(patch, int) and patch > 0 and n_times % patch:
        reason = (
            f"it cuts each trial into patches of {patch} samples, and "
            f"{n_times} samples is not a multiple of {patch}"
        )
        fix = (
            f"Cut trials of a multiple of {patch} samples (--tmin/--tmax, "
            f"--resample), or choose another model."
        )
    elif isinstance(err, Exception) and _SHORT.search(text):
        reason = f"the trials are too short for it ({type(err).__name__}: {text})"
        fix = "Use longer trials (--tmin/--tmax), or choose another model."
    else:
        reason = f"{type(err).__name__}: {text}" if isinstance(err, Exception) else text
    if len(reason) > 400:
        reason = reason[:397] + "..."
    return invalid(
        "model", f"{cls.__name__} cannot be built for {what}: {reason}.", fix
    )


def n_predictions(model: torch.nn.Module) -> int:
    """Number of output samples (crop predictions) per input window.

    Parameters
    ----------
    model : torch.nn.Module
        A braindecode network (from :func:`build_model`).

    Returns
    -------
    n_preds : int
        ``n_times - receptive_field + 1`` of the classifier of a dense
        network, for the model's ``n_times``; 1 for a network that makes one
        prediction per trial.
    """
    with eval_mode(model):
        shape = model.get_output_shape()
    return int(shape[2]) if len(shape) == 3 else 1


def classifier_receptive_field(model: torch.nn.Module) -> int:
    """Input samples seen by one output sample of the network.

    Parameters
    ----------
    model : torch.nn.Module
        A braindecode network (from :func:`build_model`).

    Returns
    -------
    field : int
        The classifier's receptive field in samples (522 for the default
        Deep4, 534 for the default Shallow, 667 for EEGNet built for cropped
        decoding on 1125-sample trials); ``n_times`` for a network that makes
        one prediction per trial.
    """
    n_times, n_preds = int(model.n_times), n_predictions(model)
    if n_preds == 1 or predicts_densely(model):
        return n_times - n_preds + 1
    last = default_layers(model)[-1]
    return receptive_fields(model, n_times, [last], n_chans=model.n_chans)[last]
