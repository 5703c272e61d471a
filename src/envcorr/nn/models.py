"""The ConvNets: braindecode's Deep4Net and ShallowFBCSPNet, built dense.

Every network of envcorr is *dense* (braindecode's
``to_dense_prediction_model``): strides are replaced by dilations in the
following layers, so a layer whose receptive field is ``R`` samples outputs
``n_times - R + 1`` samples per trial, sample ``t`` seeing inputs
``t .. t + R - 1`` (docs/method.md, step 5). Cropped training uses the same dense
networks, one class prediction per output sample.

The architecture is described by a JSON-serialisable dict of constructor
arguments, so a checkpoint can rebuild it without the training code::

    model, kwargs = build_model("deep4", n_chans=22, n_outputs=4, n_times=1125)
    same_architecture = rebuild_model("deep4", kwargs)
"""

from __future__ import annotations

import inspect
import json
import warnings
from contextlib import nullcontext
from typing import Any

import torch

from .._utils.check import check_int, check_option, invalid
from .._utils.torchutils import eval_mode, seeded

with warnings.catch_warnings():
    # braindecode's model zoo builds a montage under a name MNE 1.13 deprecates
    # when it is imported; the warning concerns braindecode, not our users.
    warnings.filterwarnings(
        "ignore", "Montage name 'standard_1020' is deprecated", FutureWarning
    )
    from braindecode.models import Deep4Net, ShallowFBCSPNet

MODELS: dict[str, type[torch.nn.Module]] = {
    "deep4": Deep4Net,
    "shallow": ShallowFBCSPNet,
}
"""Model names accepted by :func:`build_model` and the braindecode classes."""

MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    # Classifier field 522 samples (pool_4: 441, + (2 - 1) * 81), as in the
    # paper's cropped training: 604 predictions per 1125-sample trial.
    "deep4": {"final_conv_length": 2},
    # braindecode's cropped example: field 534 samples (conv 25, mean-pool 75
    # with stride 15, + (30 - 1) * 15): 592 predictions per 1125-sample trial.
    "shallow": {"final_conv_length": 30},
}
"""Constructor arguments that differ from braindecode's defaults, per model."""

# Given by build_model's own parameters or meaningless for a rebuilt network.
_RESERVED = (
    "n_chans",
    "n_outputs",
    "n_times",
    "chs_info",
    "input_window_seconds",
    "sfreq",
)


def build_model(
    name: str,
    *,
    n_chans: int,
    n_outputs: int,
    n_times: int,
    seed: int | None = 0,
    **kwargs: Any,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Build a dense braindecode ConvNet with seeded initial weights.

    Parameters
    ----------
    name : str
        ``"deep4"`` (:class:`braindecode.models.Deep4Net`) or ``"shallow"``
        (:class:`braindecode.models.ShallowFBCSPNet`).
    n_chans : int
        Number of EEG channels of the input.
    n_outputs : int
        Number of classes.
    n_times : int
        Samples per input window (trial). Must be at least the receptive field
        of the classifier (522 samples for the default Deep4, 534 for Shallow).
    seed : int | None
        Seed of the random initialisation; the same seed gives the same
        initial weights, and the global torch random state is left untouched.
        ``None`` draws from (and advances) the global torch random state, as
        constructing a torch module does.
    **kwargs
        Further constructor arguments of the braindecode class, overriding
        :data:`MODEL_DEFAULTS` (e.g. ``final_conv_length=4``,
        ``n_filters_time=8``). Values must be JSON-serialisable (numbers,
        strings, booleans, None).

    Returns
    -------
    model : torch.nn.Module
        The network, already dense, in training mode, on the CPU. Its output
        has shape (n_trials, n_outputs, n_preds) with
        ``n_preds = n_times - receptive_field + 1`` (shape (n_trials,
        n_outputs) when ``n_preds == 1``, as braindecode squeezes it).
    constructor_kwargs : dict
        JSON-serialisable constructor arguments; :func:`rebuild_model` with
        them gives the same architecture.
    """
    name = check_option("name", name, MODELS)
    n_chans = check_int("n_chans", n_chans, minimum=1)
    n_outputs = check_int("n_outputs", n_outputs, minimum=2)
    n_times = check_int("n_times", n_times, minimum=1)
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
    extra = _check_extra_kwargs(name, kwargs)
    constructor_kwargs = {
        "n_chans": n_chans,
        "n_outputs": n_outputs,
        "n_times": n_times,
        **MODEL_DEFAULTS[name],
        **extra,
    }
    with nullcontext() if seed is None else seeded(seed):
        model = _construct(name, constructor_kwargs)
    return model, constructor_kwargs


def rebuild_model(
    name: str, constructor_kwargs: dict[str, Any], *, seed: int | None = 0
) -> torch.nn.Module:
    """Rebuild the dense network described by :func:`build_model`'s kwargs.

    Parameters
    ----------
    name : str
        Model name, a key of :data:`MODELS`.
    constructor_kwargs : dict
        The second return value of :func:`build_model` (e.g. read back from a
        checkpoint's ``model.json``).
    seed : int | None
        Seed of the initial weights (usually replaced by loaded ones); see
        :func:`build_model`.

    Returns
    -------
    model : torch.nn.Module
        The dense network, in training mode, on the CPU.
    """
    name = check_option("name", name, MODELS)
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
    model, _ = build_model(
        name,
        n_chans=kwargs.pop("n_chans"),
        n_outputs=kwargs.pop("n_outputs"),
        n_times=kwargs.pop("n_times"),
        seed=seed,
        **kwargs,
    )
    return model


def _check_extra_kwargs(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    params = inspect.signature(MODELS[name].__init__).parameters
    known = [p for p in params if p != "self" and p not in _RESERVED]
    for key, value in kwargs.items():
        if key in _RESERVED:
            raise invalid(
                key,
                f"cannot be set for a {name!r} model here.",
                "n_chans, n_outputs and n_times are build_model's own parameters; "
                "channel info and sampling rate are not part of the architecture.",
            )
        if key not in known:
            raise invalid(
                key,
                f"{MODELS[name].__name__} has no argument {key!r}.",
                f"Known arguments: {', '.join(known)}.",
            )
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise invalid(
                key,
                f"{value!r} is not JSON-serialisable, so a checkpoint could not "
                "rebuild the network.",
                "Use numbers, strings, booleans or None (layer classes such as "
                "nonlinearities keep braindecode's defaults).",
            ) from None
    return dict(kwargs)


def _construct(name: str, kwargs: dict[str, Any]) -> torch.nn.Module:
    with warnings.catch_warnings():
        # Deep4Net silently shrinks its kernels when n_times is below the field of
        # its conv-pool blocks; that would be another architecture: refuse it.
        warnings.filterwarnings("error", message=r".*smaller than the minimum")
        try:
            model = MODELS[name](**kwargs)
        except UserWarning:
            raise _too_short(name, kwargs) from None
        except (TypeError, ValueError, RuntimeError) as err:
            raise invalid(
                "kwargs", f"{MODELS[name].__name__} rejected them: {err}"
            ) from None
    model.to_dense_prediction_model()
    try:
        n_predictions(model)
    except (RuntimeError, ValueError):
        raise _too_short(name, kwargs) from None
    return model


def _too_short(name: str, kwargs: dict[str, Any]) -> Exception:
    """The error for an input shorter than the network's receptive field."""
    field = ""
    probe = 1 << 14
    if kwargs["n_times"] < probe:
        try:
            model = _construct(name, {**kwargs, "n_times": probe})
            field = f" of {classifier_receptive_field(model)} samples"
        except ValueError:
            pass
    return invalid(
        "n_times",
        f"{kwargs['n_times']} samples are shorter than the receptive "
        f"field{field} of the {name!r} network's classifier.",
        "Use longer trials, or a smaller final_conv_length or shorter "
        "kernels/pools via the model kwargs.",
    )


def n_predictions(model: torch.nn.Module) -> int:
    """Number of output samples (crop predictions) per input window.

    Parameters
    ----------
    model : torch.nn.Module
        A dense braindecode network (from :func:`build_model`).

    Returns
    -------
    n_preds : int
        ``n_times - receptive_field + 1`` of the classifier, for the model's
        ``n_times``.
    """
    with eval_mode(model):
        shape = model.get_output_shape()
    return int(shape[2]) if len(shape) == 3 else 1


def classifier_receptive_field(model: torch.nn.Module) -> int:
    """Input samples seen by one output sample of the dense network.

    Parameters
    ----------
    model : torch.nn.Module
        A dense braindecode network (from :func:`build_model`).

    Returns
    -------
    field : int
        The classifier's receptive field in samples (522 for the default
        Deep4, 534 for the default Shallow).
    """
    return int(model.n_times) - n_predictions(model) + 1
