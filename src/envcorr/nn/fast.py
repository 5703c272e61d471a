"""Faster modules that compute exactly what the network's own modules compute.

Two changes, both measured on a dense Deep4Net on 2 CPU cores (37 trials):

* Max pooling with stride 1 and no padding as a running maximum of shifted
  slices (:class:`SliceMaxPool1d`, :class:`SliceMaxPool2d`): ``kernel - 1``
  elementwise maxima per pooled axis instead of PyTorch's index-tracking
  kernel, which is slow on CPU with dilations (3 ms against 185 ms for the
  four pools). The output is identical, NaN included.
* On CPU, 2-D convolution weights stored channels-last, which selects
  oneDNN's fast path for braindecode's ``(kernel, 1)`` temporal convolutions
  (82 ms against 331 ms for the three dilated convolutions); the activations
  agree to about 2e-6 relative.

The user's network is never changed: :func:`inference_copy` builds a new
network, and :func:`fast_view` a new module tree that shares the network's
parameters (for training) and leaves the network's own modules untouched.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from .dense import densify_


class _SliceMaxPool:
    """Max pooling with stride 1 as a running maximum of shifted slices.

    The output equals :class:`torch.nn.MaxPool1d` / :class:`~torch.nn.MaxPool2d`
    with stride 1 and no padding (NaN propagates the same way), but costs
    ``kernel - 1`` elementwise maxima per pooled axis instead of PyTorch's
    index-tracking kernel, which is slow on CPU with dilations: 185 ms against
    3 ms for the four pools of a dense Deep4Net on 37 trials.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_dims = self._n_dims
        kernel = np.broadcast_to(self.kernel_size, (n_dims,)).tolist()
        dilation = np.broadcast_to(self.dilation, (n_dims,)).tolist()
        axes = range(x.ndim - n_dims, x.ndim)
        out = x
        for k, d, axis in zip(kernel, dilation, axes, strict=True):
            n = out.shape[axis] - d * (k - 1)
            if n < 1:  # let PyTorch word the error
                return super().forward(x)
            if k == 1:
                continue
            acc = torch.maximum(out.narrow(axis, 0, n), out.narrow(axis, d, n))
            for j in range(2, k):
                shifted = out.narrow(axis, j * d, n)
                if acc.requires_grad:  # out= does not support autograd
                    acc = torch.maximum(acc, shifted)
                else:
                    torch.maximum(acc, shifted, out=acc)
            out = acc
        return out

    @classmethod
    def like(cls, pool: nn.MaxPool1d | nn.MaxPool2d):
        """A new slice pool with the kernel and dilation of ``pool``."""
        return cls(pool.kernel_size, stride=1, dilation=pool.dilation)


class SliceMaxPool1d(_SliceMaxPool, nn.MaxPool1d):
    """:class:`torch.nn.MaxPool1d` with stride 1, as a running maximum."""

    _n_dims = 1


class SliceMaxPool2d(_SliceMaxPool, nn.MaxPool2d):
    """:class:`torch.nn.MaxPool2d` with stride 1, as a running maximum."""

    _n_dims = 2


_SLICE_POOLS = {nn.MaxPool1d: SliceMaxPool1d, nn.MaxPool2d: SliceMaxPool2d}


def _plain_dense_pool(module: nn.Module) -> bool:
    if type(module) not in _SLICE_POOLS:
        return False
    stride = module.stride if module.stride is not None else module.kernel_size
    return (
        bool(np.all(np.asarray(stride) == 1))
        and bool(np.all(np.asarray(module.padding) == 0))
        and not module.ceil_mode
        and not module.return_indices
    )


def _with_slice_pools(module: nn.Module) -> nn.Module:
    """``module``, or a shallow copy of it whose max-pools are slice pools.

    Containers on the way to a replaced pool are shallow copies with tables of
    their own (children, parameters, buffers, hooks) that hold the same
    objects; every other module, parameter and buffer is shared with
    ``module``.
    """
    if _plain_dense_pool(module):
        return _SLICE_POOLS[type(module)].like(module)
    children = dict(module.named_children())
    rebuilt = {name: _with_slice_pools(child) for name, child in children.items()}
    if all(rebuilt[name] is child for name, child in children.items()):
        return module
    clone = copy.copy(module)
    for key, value in vars(module).items():
        if isinstance(value, dict | set):  # own tables, the same tensors and hooks
            vars(clone)[key] = copy.copy(value)
    clone._modules.update(rebuilt)
    return clone


def inference_copy(
    model: nn.Module, device: torch.device, *, dense: bool = True
) -> nn.Module:
    """A fast copy of ``model`` for analysis, in eval mode on ``device``.

    One deep copy, made dense (:func:`envcorr.nn.dense.make_dense`) unless
    ``dense`` is False, with slice max-pools where pools have stride 1 and, for
    dense copies on CPU, channels-last convolution weights. Module names, kernels and
    dilations are those of the copy, so hooks and
    :func:`envcorr.nn.geometry.layer_geometry` see the same layers.

    Parameters
    ----------
    model : torch.nn.Module
        The network (dense or not); it is not changed.
    device : torch.device
        Where the copy will run.
    dense : bool
        Replace strides by dilations (True), or keep the network's own
        strides and output positions (False).

    Returns
    -------
    net : torch.nn.Module
    """
    net = copy.deepcopy(model)
    if dense:
        net = densify_(net)
    net = _with_slice_pools(net).to(device).eval()
    if dense and device.type == "cpu":
        # stacks of convolutions run faster so; a network analysed at its own
        # positions may reshape with .view(), which needs contiguous outputs
        net.to(memory_format=torch.channels_last)
    return net


@contextlib.contextmanager
def fast_view(model: nn.Module, device: torch.device) -> Iterator[nn.Module]:
    """Train ``model`` through a faster module tree that shares its parameters.

    Yields a new module tree with slice max-pools whose parameters, buffers
    and other modules are those of ``model``, so an optimizer over
    ``model.parameters()`` trains both. On CPU the convolution weights are
    stored channels-last inside the block and contiguous again afterwards.

    Parameters
    ----------
    model : torch.nn.Module
        A dense network on ``device``.
    device : torch.device
        Where it runs.

    Yields
    ------
    view : torch.nn.Module
    """
    view = _with_slice_pools(model)
    channels_last = device.type == "cpu"
    if channels_last:
        model.to(memory_format=torch.channels_last)
    try:
        yield view
    finally:
        if channels_last:
            model.to(memory_format=torch.contiguous_format)
