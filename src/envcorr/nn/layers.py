"""The layers analysed by default: block outputs and the classifier.

No braindecode import: the analysis of a network needs only its modules.
"""

from __future__ import annotations

from torch import nn

from .._utils.check import invalid

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
        A braindecode ``Deep4Net`` or ``ShallowFBCSPNet`` (matched by class
        name).

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
