"""Receptive fields of dense network layers, and their alignment with the input.

In a dense network (every stride replaced by dilations in the following layers,
see :func:`envcorr.nn.dense.make_dense`) without padding, output sample ``t`` of
a layer with receptive field ``R`` sees exactly the input samples
``t .. t + R - 1``, and the layer outputs ``n_times - R + 1`` samples per trial
(docs/method.md, step 5).

:func:`layer_geometry` finds each requested layer's time axis, output length,
number of units and receptive field in three independent ways and requires
them to agree:

1. from the modules: ``1 + sum((kernel - 1) * dilation)`` over the convolutions
   and poolings that run before the layer (time-length changes of other leaf
   modules, such as braindecode's ``CombinedConv``, are taken from shapes);
2. from shapes: ``n_times - n_out + 1``;
3. by probing: the gradient of an output sample ``t`` with respect to the input
   is non-zero exactly on ``t .. t + R - 1``, for the first, the middle and the
   last output sample (so that a layer that reverses or shifts time is caught
   even where its middle sample looks aligned).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .._utils.check import InvalidInputError, check_int, invalid
from .._utils.torchutils import eval_mode, first_parameter
from .capture import run_until


@dataclass(frozen=True)
class LayerGeometry:
    """Where a layer's outputs lie in time.

    Attributes
    ----------
    name : str
        Module name of the layer (as in ``model.named_modules()``).
    receptive_field : int
        Input samples seen by one output sample.
    n_out : int
        Output samples per trial, ``n_times - receptive_field + 1``.
    n_units : int
        Units: the product of the output's non-batch, non-time dimensions.
    time_axis : int
        Axis of the layer's output tensor that is time.
    """

    name: str
    receptive_field: int
    n_out: int
    n_units: int
    time_axis: int


def structure(model: nn.Module) -> list[tuple]:
    """What fixes a network's geometry: module types, kernels, strides,
    dilations, paddings and parameter shapes (not the weights' values)."""
    attrs = ("kernel_size", "stride", "dilation", "padding")
    modules = [
        (name, type(m).__name__, *(str(getattr(m, a, None)) for a in attrs))
        for name, m in model.named_modules()
    ]
    params = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    return modules + params


def check_layers(model: nn.Module, layers: Sequence[str]) -> list[str]:
    """Check that every name in ``layers`` is a module of ``model``."""
    if isinstance(layers, str) or not isinstance(layers, Sequence) or not layers:
        raise invalid("layers", f"expected a non-empty list of names, got {layers!r}.")
    names = [n for n, _ in model.named_modules() if n]
    unknown = [layer for layer in layers if layer not in names]
    if unknown:
        raise invalid(
            "layers",
            f"unknown layer(s) {unknown} for {type(model).__name__}.",
            f"Valid names are: {', '.join(names)}.",
        )
    if len(set(layers)) != len(layers):
        raise invalid("layers", f"duplicate names in {list(layers)}.")
    return list(layers)


def _time_axis(name: str, shape_a: tuple, shape_b: tuple) -> int:
    """The axis that grows by one sample when the input grows by one sample."""
    if len(shape_a) != len(shape_b):
        raise InvalidInputError(f"Layer {name!r} changes rank with the input length.")
    diff = [ax for ax in range(1, len(shape_a)) if shape_a[ax] != shape_b[ax]]
    if len(diff) != 1 or shape_b[diff[0]] - shape_a[diff[0]] != 1:
        raise InvalidInputError(
            f"Layer {name!r} is not aligned with its input window: one more input "
            f"sample changes its output shape (without the batch axis) from "
            f"{shape_a[1:]} to {shape_b[1:]}, not by "
            "exactly one time sample. Its outputs must be dense (no stride: use "
            "envcorr.make_dense), and it must not pool globally or crop."
        )
    return diff[0]


def _module_extent(
    name: str, module: nn.Module, axis_in: int, len_in: int, len_out: int
) -> int:
    """Receptive-field growth (samples) caused by one leaf module call."""
    kernel = getattr(module, "kernel_size", None)
    if kernel is None or isinstance(module, nn.Linear):
        if len_out > len_in:
            raise InvalidInputError(
                f"Module {name!r} makes the time axis longer ({len_in} -> {len_out}"
                " samples): padded outputs are not aligned with their input window."
            )
        return len_in - len_out

    def along_time(value, default):
        if value is None:
            return default
        if isinstance(value, int | str):
            return value
        idx = axis_in - 2
        return value[idx] if 0 <= idx < len(value) else default

    k = along_time(kernel, 1)
    d = along_time(getattr(module, "dilation", 1), 1)
    s = along_time(getattr(module, "stride", 1), 1)
    p = along_time(getattr(module, "padding", 0), 0)
    if s is None:  # pooling modules store stride=None for stride=kernel
        s = k
    if s != 1:
        raise InvalidInputError(
            f"Module {name!r} has stride {s} along time, so the network is not "
            "dense. Make it dense with envcorr.make_dense(model) (braindecode "
            "models: model.to_dense_prediction_model())."
        )
    if p not in (0, "valid"):
        raise InvalidInputError(
            f"Module {name!r} pads the time axis (padding={p!r}), so its outputs "
            "are not aligned with the end of their input window. envcorr needs "
            "layers whose output sample t sees inputs t .. t+R-1."
        )
    return (k - 1) * d


def _trace(model: nn.Module, x: torch.Tensor, layers: Sequence[str]):
    """Outputs of ``layers`` for input ``x``, and the trace of module calls."""
    trace: list = []
    try:
        out = run_until(model, x, layers, trace=trace)
    except RuntimeError as err:
        raise InvalidInputError(
            f"The model failed on an input of shape {tuple(x.shape)}: {err}. Check "
            "the number of channels (n_chans) and that trials are at least as long "
            "as the model's receptive field."
        ) from err
    return out, trace


def layer_geometry(
    model: nn.Module,
    n_times: int,
    layers: Sequence[str],
    *,
    n_chans: int,
    probe: bool = True,
) -> list[LayerGeometry]:
    """Receptive field, output length, units and time axis of each layer.

    Parameters
    ----------
    model : torch.nn.Module
        A dense network (see :func:`make_dense`) taking input of shape
        (n_trials, n_chans, n_times).
    n_times : int
        Samples per trial.
    layers : list of str
        Module names, in any order.
    n_chans : int
        Number of input channels.
    probe : bool
        Also check each field by the gradients of the first, middle and last
        output sample with respect to the input (one small forward and
        backward pass for all layers).

    Returns
    -------
    geometry : list of LayerGeometry
        One entry per layer, ordered by receptive field (depth).

    Raises
    ------
    InvalidInputError
        For unknown layers, layers that are not dense or not aligned with the
        end of their input window (padding, cropping, global pooling), and
        trials shorter than a layer's receptive field.
    """
    layers = check_layers(model, layers)
    n_times = check_int("n_times", n_times, minimum=1)
    p = first_parameter(model)
    with eval_mode(model):
        # One more input sample must give one more output sample along time.
        longer = torch.zeros((1, n_chans, n_times + 1), dtype=p.dtype, device=p.device)
        with torch.no_grad():
            out_b, trace_b = _trace(model, longer, layers)
        # The pass at n_times also serves the gradient probe: random trials for
        # each probed sample of each layer (see _check_probe), or one zero trial
        # without probing.
        n_probe = _PROBE_REPS * _PROBE_SAMPLES * len(layers) if probe else 1
        gen = torch.Generator().manual_seed(0)
        x = torch.randn((n_probe, n_chans, n_times), generator=gen)
        x = x.to(device=p.device, dtype=p.dtype).requires_grad_(probe)
        with torch.set_grad_enabled(probe):
            out_a, trace_a = _trace(model, x, layers)
        geometry = []
        for name in layers:
            shape_a, shape_b = tuple(out_a[name].shape), tuple(out_b[name].shape)
            axis = _time_axis(name, shape_a, shape_b)
            n_out = shape_a[axis]
            field_shape = n_times - n_out + 1
            field_modules = _field_from_modules(name, trace_a, trace_b)
            if field_modules != field_shape:
                raise InvalidInputError(
                    f"Layer {name!r}: its modules give a receptive field of "
                    f"{field_modules} samples, but its output length "
                    f"({n_out} of {n_times}) implies {field_shape}. The model pads, "
                    "crops or branches along time before this layer; envcorr needs "
                    "outputs whose sample t sees inputs t .. t+R-1."
                )
            n_units = int(
                np.prod([s for i, s in enumerate(shape_a[1:], 1) if i != axis])
            )
            geometry.append(LayerGeometry(name, field_shape, n_out, n_units, axis))
        if probe:
            with torch.enable_grad():  # also when the caller runs under no_grad
                _check_probe(model, x, out_a, geometry)
    return sorted(geometry, key=lambda g: (g.receptive_field, layers.index(g.name)))


def _field_from_modules(name: str, trace_a: list, trace_b: list) -> int:
    field = 1
    for call_a, call_b in zip(trace_a, trace_b, strict=True):
        mod_name, module, in_a, out_a, leaf = call_a
        in_b = call_b[2]
        if leaf and in_a is not None and in_b is not None and in_a[1:] != in_b[1:]:
            if len(in_a) == len(in_b):
                axis_in = _time_axis(mod_name, in_a, in_b)
                out_b = call_b[3]
                axis_out = _time_axis(mod_name, out_a, out_b)
                field += _module_extent(
                    mod_name, module, axis_in, in_a[axis_in], out_a[axis_out]
                )
        if mod_name == name:
            return field
    raise AssertionError(f"layer {name} missing from trace")  # run_until checked it


# Each probed output sample (first, middle, last: _probed_samples) has
# _PROBE_REPS random trials of its own in the probe batch.
_PROBE_SAMPLES = 3
_PROBE_REPS = 1
# Random trials of the second probe, in chunks of this many, for samples whose
# first probe found a narrower dependence than the field.
_PROBE_RETRY_TRIALS = 64
_PROBE_RETRY_CHUNK = 8


def _probed_samples(geo: LayerGeometry) -> tuple[int, ...]:
    """The output samples whose fields the probe checks: first, middle, last."""
    return (0, geo.n_out // 2, geo.n_out - 1)


def _check_probe(
    model: nn.Module,
    x: torch.Tensor,
    outputs: dict[str, torch.Tensor],
    geometry: Sequence[LayerGeometry],
) -> None:
    """Check by gradients that output sample t sees exactly inputs t..t+R-1.

    Probed are the first, middle and last output sample of every layer (a
    layer that reverses time can look aligned at its middle sample). One
    backward pass serves all: each (layer, sample) pair takes its output from
    its own ``_PROBE_REPS`` trials of the batch ``x`` (trials are independent
    in eval mode), so each trial's input gradient belongs to one probed
    sample: three trials per layer. A random trial per sample, and the sum
    over all units, make max-pooling reach every sample of the field in
    smooth networks such as Deep4Net. Where units are inactive (ReLU at zero)
    at the edge of the field, the gradient there is zero: such a sample is
    probed again with many more trials before the check fails.
    """
    reps = _PROBE_REPS
    probes = [(geo, t) for geo in geometry for t in _probed_samples(geo)]
    total = 0
    for k, (geo, t) in enumerate(probes):
        sample = outputs[geo.name].select(geo.time_axis, t)
        total = total + sample[reps * k : reps * (k + 1)].sum()
    (grad,) = torch.autograd.grad(total, x)
    for k, (geo, t) in enumerate(probes):
        g = grad[reps * k : reps * (k + 1)].abs().sum(dim=(0, 1))
        if not _support_is_field(g, geo, t):
            g = _probe_gradient(model, x, geo, t)
            if not _support_is_field(g, geo, t):
                support = np.flatnonzero(g.cpu().numpy() > 0)
                seen = (
                    "nothing" if support.size == 0 else f"{support[0]} .. {support[-1]}"
                )
                raise InvalidInputError(
                    f"Layer {geo.name!r}: output sample {t} (of {geo.n_out}) "
                    f"depends on input samples {seen}, not on "
                    f"{t} .. {t + geo.receptive_field - 1} as a receptive field of "
                    f"{geo.receptive_field} samples aligned with the end of its "
                    "window requires. The layer is not aligned (padding, cropping, "
                    "reversing time or another non-convolutional operation along "
                    "time)."
                )


def _support_is_field(grad: torch.Tensor, geo: LayerGeometry, t: int) -> bool:
    """Whether the non-zero gradient spans exactly the field of output sample t."""
    support = np.flatnonzero(grad.cpu().numpy() > 0)
    expected = (t, t + geo.receptive_field - 1)
    return support.size > 0 and (support[0], support[-1]) == expected


def _probe_gradient(
    model: nn.Module, like: torch.Tensor, geo: LayerGeometry, t: int
) -> torch.Tensor:
    """Summed |input gradient| of output sample t over many random trials."""
    gen = torch.Generator().manual_seed(1)
    total = torch.zeros(like.shape[-1], dtype=like.dtype, device=like.device)
    shape = (_PROBE_RETRY_CHUNK, *like.shape[1:])
    for _ in range(_PROBE_RETRY_TRIALS // _PROBE_RETRY_CHUNK):
        x = torch.randn(shape, generator=gen).to(like).requires_grad_(True)
        out = run_until(model, x, [geo.name])[geo.name]
        sample = out.select(geo.time_axis, t).sum()
        (grad,) = torch.autograd.grad(sample, x)
        total += grad.abs().sum(dim=(0, 1))
    return total


def receptive_fields(
    model: nn.Module, n_times: int, layers: Sequence[str], *, n_chans: int
) -> dict[str, int]:
    """Receptive field in input samples of each layer (see :func:`layer_geometry`)."""
    geo = layer_geometry(model, n_times, layers, n_chans=n_chans)
    return {g.name: g.receptive_field for g in geo}
