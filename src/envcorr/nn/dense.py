"""Dense networks: every stride replaced by dilations (docs/method.md, step 5).

In a dense network without padding, output sample ``t`` of a layer with
receptive field ``R`` sees exactly the input samples ``t .. t + R - 1``, and
the layer outputs ``n_times - R + 1`` samples per trial: one sample for every
position at which the original, strided network could be applied.
"""

from __future__ import annotations

import copy

import numpy as np
from torch import nn


def make_dense(model: nn.Module) -> nn.Module:
    """Return a dense copy of ``model``: strides replaced by dilations.

    braindecode models are converted with their own
    ``to_dense_prediction_model()``. Other networks get the same
    transformation: modules are walked in definition order, every stride is set
    to 1 and the product of the strides seen so far becomes the dilation of the
    following convolutions and poolings (1-D modules along their only axis,
    2-D modules along both, as braindecode does). The input model is not
    modified.

    Parameters
    ----------
    model : torch.nn.Module
        A network whose convolutions and poolings may have strides.

    Returns
    -------
    dense : torch.nn.Module
        A deep copy with all strides 1 and dilations inserted after them.
    """
    return densify_(copy.deepcopy(model))


def densify_(model: nn.Module) -> nn.Module:
    """Make ``model`` dense in place (see :func:`make_dense`) and return it."""
    if not has_strides(model):
        return model
    undilated = all(
        np.all(np.asarray(m.dilation) == 1)
        for m in model.modules()
        if hasattr(m, "dilation")
    )
    if undilated and callable(getattr(model, "to_dense_prediction_model", None)):
        model.to_dense_prediction_model()  # braindecode's own conversion
        return model
    stride_so_far: np.ndarray | None = None
    for module in model.modules():
        stride = getattr(module, "stride", None)
        if stride is None:
            continue
        n_dims = len(stride) if isinstance(stride, tuple | list) else 1
        if stride_so_far is None:
            stride_so_far = np.ones(2, dtype=int)
        if hasattr(module, "dilation"):
            # a dilated convolution (a TCN) keeps its own dilation, times the
            # strides before it
            own = np.broadcast_to(np.asarray(module.dilation), (n_dims,))
            dilation = tuple(
                int(d * s) for d, s in zip(own, stride_so_far, strict=False)
            )
            module.dilation = (
                dilation if isinstance(stride, tuple | list) else dilation[0]
            )
        stride_so_far[:n_dims] *= np.broadcast_to(np.asarray(stride), (n_dims,))
        module.stride = (1,) * n_dims if isinstance(stride, tuple | list) else 1
    return model


def has_strides(model: nn.Module) -> bool:
    """Whether any module of ``model`` has a stride above 1."""
    for module in model.modules():
        stride = getattr(module, "stride", None)
        if stride is not None and np.any(np.asarray(stride) > 1):
            return True
    return False
