"""Capturing layer outputs: one forward pass that stops after the deepest layer."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from .._utils.check import invalid

if TYPE_CHECKING:
    from .geometry import LayerGeometry


class _StopForward(Exception):
    """Raised by a hook to end a forward pass once the needed layers have run."""


def run_until(
    model: nn.Module,
    x: torch.Tensor,
    layers: Sequence[str],
    *,
    trace: list | None = None,
) -> dict[str, torch.Tensor]:
    """Run ``model`` on ``x`` and return the outputs of ``layers``.

    The forward pass stops as soon as every requested layer has produced its
    output, so layers after the deepest requested one cost nothing.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    x : torch.Tensor, shape (n_trials, n_channels, n_times)
        Input batch, already on the model's device and dtype.
    layers : list of str
        Module names.
    trace : list | None
        If a list, every module call is appended to it as
        ``(name, module, input_shape, output_shape, is_leaf_call)`` in the
        order in which the calls end.

    Returns
    -------
    outputs : dict of str to torch.Tensor
        The output of each layer, as the module returned it.
    """
    wanted = set(layers)
    outputs: dict[str, torch.Tensor] = {}
    stack: list[list] = []
    handles = []

    def pre_hook(module, args, name):
        for frame in stack:
            frame[1] = False  # a call started inside: the outer call is no leaf
        stack.append([name, True])

    def hook(module, args, out, name):
        frame = stack.pop()
        if trace is not None and isinstance(out, torch.Tensor):
            in_shape = (
                tuple(args[0].shape) if args and torch.is_tensor(args[0]) else None
            )
            trace.append((name, module, in_shape, tuple(out.shape), frame[1]))
        if name in wanted and name not in outputs:
            if not isinstance(out, torch.Tensor):
                raise invalid(
                    "layers",
                    f"layer {name!r} returns {type(out).__name__}, not a tensor.",
                    "Name a module that outputs one tensor.",
                )
            outputs[name] = out
            if len(outputs) == len(wanted):
                raise _StopForward

    for name, module in model.named_modules():
        if not name:
            continue
        handles.append(
            module.register_forward_pre_hook(lambda m, a, n=name: pre_hook(m, a, n))
        )
        handles.append(
            module.register_forward_hook(lambda m, a, o, n=name: hook(m, a, o, n))
        )
    try:
        model(x)
    except _StopForward:
        pass
    finally:
        for handle in handles:
            handle.remove()
    missing = wanted - set(outputs)
    if missing:
        raise invalid(
            "layers",
            f"layer(s) {sorted(missing)} did not run in the forward pass.",
            "Name modules that are called by the model's forward().",
        )
    return outputs


@torch.no_grad()
def layer_activations(
    model: nn.Module,
    X: np.ndarray | torch.Tensor,
    geometry: Sequence[LayerGeometry],
    *,
    input_scale: float = 1.0,
) -> dict[str, torch.Tensor]:
    """Activations of layers for one batch of trials, units by positions.

    Parameters
    ----------
    model : torch.nn.Module
        Network in eval mode, on its device.
    X : ndarray | torch.Tensor, shape (n_trials, n_channels, n_times)
        The trials.
    geometry : list of LayerGeometry
        The layers (see :func:`envcorr.nn.geometry.layer_geometry`).
    input_scale : float
        Factor applied to ``X`` before the network (e.g. 1e6 for a network
        trained on microvolts when ``X`` is in volts).

    Returns
    -------
    activations : dict of str to torch.Tensor, each shape (n_trials, n_units, n_out)
        Outputs of each layer, time last and every other non-batch axis
        flattened into units in C order (``geometry.unit_shape``); position
        ``j`` sees input samples ``starts[j] .. stops[j] - 1``. A layer without
        time axis has one position.
    """
    param = next(model.parameters())
    x = torch.as_tensor(X).to(device=param.device, dtype=param.dtype)
    if input_scale != 1.0:
        x = x * input_scale
    out = run_until(model, x, [g.name for g in geometry])
    acts = {}
    for g in geometry:
        a = out[g.name]
        if g.time_axis is not None:
            a = a.movedim(g.time_axis, -1)
        n_out = 1 if g.time_axis is None else a.shape[-1]
        if n_out != g.n_out or math.prod(a.shape[1:]) != g.n_units * g.n_out:
            raise invalid(
                "geometry",
                f"layer {g.name!r} outputs shape {tuple(out[g.name].shape)}, which "
                f"does not match its geometry ({g.n_units} units of shape "
                f"{g.unit_shape}, {g.n_out} positions on axis {g.time_axis}).",
                "Compute the geometry for this model and trial length.",
            )
        acts[g.name] = a.reshape(a.shape[0], g.n_units, g.n_out)
    return acts
