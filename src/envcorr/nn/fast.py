"""Faster modules that compute exactly what the network's own modules compute.

Three changes. The first two were measured on a dense Deep4Net on 2 CPU
cores (37 trials), the third on EEGNet (12 trials of 22 × 1125 samples):

* Max pooling with stride 1 and no padding as a running maximum of shifted
  slices (:class:`SliceMaxPool1d`, :class:`SliceMaxPool2d`): ``kernel - 1``
  elementwise maxima per pooled axis instead of PyTorch's index-tracking
  kernel, which is slow on CPU with dilations (3 ms against 185 ms for the
  four pools). The output is identical, NaN included.
* On CPU, 2-D convolution weights stored channels-last, which selects
  oneDNN's fast path for braindecode's ``(kernel, 1)`` temporal convolutions
  (82 ms against 331 ms for the three dilated convolutions); the activations
  agree to about 2e-6 relative.
* On CPU, a convolution of a single input map along its last axis into at
  most 16 maps (EEGNet's ``conv_temporal``: one map of electrodes × time,
  8 kernels of ``(1, 64)``) as one matrix product with a block-Toeplitz
  matrix of the kernels (:class:`ToeplitzConv2d`, through
  :func:`fast_convs`): 2.7-3.4 ms against 11.8-12.5 ms for oneDNN's direct
  convolution, which reaches only about 25 GFLOP/s on a single input map.
  Each output is the same sum of ``kernel`` products, so it agrees with
  :class:`torch.nn.Conv2d` to float32 rounding (identical in the tests).

The user's network is never changed: :func:`inference_copy` builds a new
network, and :func:`fast_view` and :func:`fast_convs` a new module tree that
shares the network's parameters and leaves the network's own modules
untouched.
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


class ToeplitzConv2d(nn.Conv2d):
    """A single-map 2-D convolution along the last axis, as a matrix product.

    Equals :class:`torch.nn.Conv2d` with one input channel, kernel ``(1, k)``,
    stride and dilation 1 and zero padding along the last axis only
    (:meth:`applies_to`). Each
    trial's rows are cut into blocks of ``block`` outputs; block ``j`` of
    every output map is the product of the ``block + k - 1`` inputs it sees
    with a block-Toeplitz matrix of shape ``(block + k - 1, out_channels *
    block)`` built from the kernels, so one large matrix product computes the
    whole layer.

    Made by :meth:`like`, which shares the convolution's weight and bias.
    """

    block = 16
    """Outputs per block: the product does ``(block + k - 1) / k`` times the
    multiplications of a direct convolution, and on 2 CPU cores 16 to 32 is
    fastest for kernels of 64 samples."""

    max_out_channels = 16
    """Up to this many output maps the product is faster: 1.6 to 4.4 times for
    kernels of 8 to 125 samples (12 trials of 22 × 1125 samples, 2 CPU cores);
    with 40 to 64 maps it costs as much as oneDNN's convolution."""

    @classmethod
    def applies_to(cls, conv: nn.Module) -> bool:
        """Whether ``conv`` is a convolution this class computes exactly and
        faster."""
        if type(conv) is not nn.Conv2d:
            return False
        padding = conv.padding
        return (
            conv.in_channels == 1
            and conv.out_channels <= cls.max_out_channels
            and conv.groups == 1
            and conv.kernel_size[0] == 1
            and conv.kernel_size[1] > 1
            and tuple(conv.stride) == (1, 1)
            and tuple(conv.dilation) == (1, 1)
            and conv.padding_mode == "zeros"
            and (isinstance(padding, str) or padding[0] == 0)
        )

    @classmethod
    def like(cls, conv: nn.Conv2d) -> ToeplitzConv2d:
        """A Toeplitz convolution with the parameters (shared) of ``conv``."""
        new = cls(
            1,
            conv.out_channels,
            conv.kernel_size,
            padding=conv.padding,
            bias=conv.bias is not None,
            device="meta",
        )
        new.weight, new.bias = conv.weight, conv.bias
        return new.train(conv.training)

    def _pads(self) -> tuple[int, int]:
        k = self.kernel_size[1]
        if self.padding == "valid":
            return 0, 0
        if self.padding == "same":  # as torch pads: the odd sample on the right
            return (k - 1) // 2, k - 1 - (k - 1) // 2
        return self.padding[1], self.padding[1]

    def _toeplitz(self) -> torch.Tensor:
        """Kernels as a ``(block + k - 1, out_channels * block)`` matrix."""
        k, b = self.kernel_size[1], self.block
        w = self.weight.reshape(self.out_channels, k)
        lag = torch.arange(b + k - 1, device=w.device)[:, None] - torch.arange(
            b, device=w.device
        )
        inside = (lag >= 0) & (lag < k)
        taps = w[:, lag.clamp(0, k - 1)] * inside  # (out, b + k - 1, b)
        return taps.transpose(0, 1).reshape(b + k - 1, self.out_channels * b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 1:  # let PyTorch word the error
            return super().forward(x)
        k, b = self.kernel_size[1], self.block
        left, right = self._pads()
        n, _, n_rows, n_in = x.shape
        n_out = n_in + left + right - k + 1
        if n_out < 1:
            return super().forward(x)
        n_blocks = -(-n_out // b)
        padded = nn.functional.pad(x[:, 0], (left, n_blocks * b + k - 1 - n_in - left))
        seen = padded.unfold(-1, b + k - 1, b)  # (n, rows, blocks, b + k - 1)
        prod = seen.contiguous() @ self._toeplitz()  # (n, rows, blocks, out * b)
        prod = prod.view(n, n_rows, n_blocks, self.out_channels, b).permute(
            0, 3, 1, 2, 4
        )
        # one copy into the output's layout: the whole blocks, then the rest
        out = prod.new_empty((n, self.out_channels, n_rows, n_out))
        whole, rest = divmod(n_out, b)
        out[..., : whole * b].view(*out.shape[:3], whole, b).copy_(prod[..., :whole, :])
        if rest:
            out[..., whole * b :].copy_(prod[..., whole, :rest])
        if self.bias is not None:
            out = out + self.bias[:, None, None]
        return out


def fast_convs(net: nn.Module, device: torch.device) -> nn.Module:
    """``net`` with :class:`ToeplitzConv2d` for its single-map time convolutions.

    For forward passes on CPU only: the result is ``net`` itself on other
    devices or when no convolution qualifies, else a shallow copy (containers
    copied as :func:`_with_slice_pools` does) that shares every parameter,
    buffer and other module with ``net`` and keeps its module names. Layer
    geometry (:func:`envcorr.nn.geometry.layer_geometry`) follows the
    network's operations, so it is computed on ``net``, not on the result.

    Parameters
    ----------
    net : torch.nn.Module
        The network (an :func:`inference_copy`).
    device : torch.device
        Where it runs.

    Returns
    -------
    net : torch.nn.Module
    """
    if device.type != "cpu":
        return net
    return _with_toeplitz_convs(net)


def _with_toeplitz_convs(module: nn.Module) -> nn.Module:
    if ToeplitzConv2d.applies_to(module):
        return ToeplitzConv2d.like(module)
    return _rebuilt(module, _with_toeplitz_convs)


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
    return _rebuilt(module, _with_slice_pools)


def _rebuilt(module: nn.Module, replace) -> nn.Module:
    """``module`` with ``replace`` applied to its children; a shallow copy if
    any child changes, else ``module`` itself."""
    children = dict(module.named_children())
    rebuilt = {name: replace(child) for name, child in children.items()}
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
