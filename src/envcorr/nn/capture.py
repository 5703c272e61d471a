"""Dense layer activations (METHOD.md, step 5)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ._check import invalid
from .receptive import LayerGeometry, run_until

DEFAULT_LAYERS: dict[str, list[str]] = {
    "Deep4Net": [
        "pool_nonlin",
        "pool_nonlin_2",
        "pool_nonlin_3",
        "pool_nonlin_4",
        "final_layer.conv_classifier",
    ],
    "ShallowFBCSPNet": ["pool_nonlin_exp", "final_layer.conv_classifier"],
}
"""Block outputs and classifier of braindecode's networks."""


def default_layers(model: nn.Module) -> list[str]:
    """Layers analysed by default: block outputs and the classifier.

    Parameters
    ----------
    model : torch.nn.Module
        A braindecode ``Deep4Net`` or ``ShallowFBCSPNet``.

    Returns
    -------
    layers : list of str
        Module names.
    """
    name = type(model).__name__
    if name not in DEFAULT_LAYERS:
        names = [n for n, _ in model.named_modules() if n]
        raise invalid(
            "layers",
            f"no default layers are known for {name}.",
            f"Name the layers to analyse, from: {', '.join(names)}.",
        )
    return list(DEFAULT_LAYERS[name])


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device``, or CUDA when available and CPU otherwise."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise invalid("device", f"{device!r} is not a torch device.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise invalid(
            "device", "CUDA was requested but is not available.", "Use 'cpu'."
        )
    return dev


@torch.no_grad()
def layer_activations(
    model: nn.Module,
    X: np.ndarray | torch.Tensor,
    geometry: Sequence[LayerGeometry],
    *,
    input_scale: float = 1.0,
) -> dict[str, torch.Tensor]:
    """Activations of dense layers for one batch of trials.

    Parameters
    ----------
    model : torch.nn.Module
        Dense network in eval mode, on its device.
    X : ndarray | torch.Tensor, shape (n_trials, n_channels, n_times)
        The trials.
    geometry : list of LayerGeometry
        The layers (see :func:`envcorr.receptive.layer_geometry`).
    input_scale : float
        Factor applied to ``X`` before the network (e.g. 1e6 for a network
        trained on microvolts when ``X`` is in volts).

    Returns
    -------
    activations : dict of str to torch.Tensor, each shape (n_trials, n_units, n_out)
        Outputs of each layer with all non-time dimensions flattened into units;
        sample ``t`` sees input samples ``t .. t + receptive_field - 1``.
    """
    param = next(model.parameters())
    x = torch.as_tensor(X).to(device=param.device, dtype=param.dtype)
    if input_scale != 1.0:
        x = x * input_scale
    out = run_until(model, x, [g.name for g in geometry])
    acts = {}
    for g in geometry:
        a = out[g.name].movedim(g.time_axis, -1)
        acts[g.name] = a.reshape(a.shape[0], g.n_units, g.n_out)
    return acts
