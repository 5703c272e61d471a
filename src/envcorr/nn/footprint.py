"""Which input samples each output position of a layer depends on.

A layer's output position ``j`` depends on a set of the trial's samples: its
*footprint*, the union over every unit (every non-batch, non-time axis) at that
position. :func:`layer_footprints` derives the footprints from the arithmetic
of the operations the network runs, exactly and for any network: a
:class:`~torch.utils._python_dispatch.TorchDispatchMode` follows one forward
pass at the level of ATen operations and gives every tensor that depends on the
input a :class:`Footprint`: its time axis (or none) and, for each position along
it, the set of input samples that position depends on, as a packed bitset.

How the footprints move through operations:

* convolutions and poolings (stride, padding, dilation, ``ceil_mode``, 1-D to
  3-D, transposed convolutions): output ``j`` is the union over the input
  positions its kernel reads, ``j * stride - padding + m * dilation``; padded
  positions depend on nothing. Adaptive pooling reads PyTorch's windows
  ``floor(j * L / n) .. ceil((j + 1) * L / n) - 1``;
* padding: constant padding adds positions that depend on nothing, reflection
  and replication padding copy the footprint of the mirrored or edge sample;
* elementwise operations, with broadcasting: the union of the inputs' aligned
  footprints;
* views, permutations, slicing, selection, concatenation, stacking,
  splitting, ``unfold``: the time axis is followed. A reshape that splits
  time into (positions, samples) unites each position's samples; one that
  merges time with the trials (a linear layer on (batch, time, features))
  keeps it until they are split again; one that merges time with a unit
  axis (flatten) loses it;
* reductions, softmax and normalisations over time, matrix products that
  contract time (attention, flatten + linear): one footprint for the whole
  tensor, without a time axis (``axis=None``); matrix products that keep time
  as a row or batch axis keep it; cumulative sums accumulate;
* batch normalisation in eval mode is elementwise; in training mode it
  normalises over time;
* reversing or rolling time (``flip``, ``roll``) keeps the exact footprints
  but marks them as *reordered*: envcorr needs outputs in time order.

Operations it does not know give, conservatively, the union of all their
inputs' footprints without a time axis (logged at DEBUG level); the gradient
probe of :func:`envcorr.nn.geometry.layer_geometry` catches footprints that are
wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.weak import WeakTensorKeyDictionary

from .._utils.check import InvalidInputError
from .._utils.logs import logger
from ._footprint_ops import (
    CONVS,
    Footprint,
    Op,
    adaptive_pool,
    along,
    attention,
    batch_norm,
    cat,
    constant,
    conv,
    copy_into,
    cumulative,
    expand,
    fill,
    flip,
    group_norm,
    index_select,
    layer_norm,
    matmul,
    or_rows,
    pad,
    permute,
    pointwise,
    pool,
    reduction,
    repeat,
    reshape,
    select,
    slice_along,
    split,
    squeeze,
    unfold,
    unsqueeze,
)
from .capture import run_until

__all__ = ["Footprint", "check_footprint", "footprint_windows", "layer_footprints"]


def footprint_windows(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First and one-past-last sample of each footprint, and whether it is contiguous.

    Parameters
    ----------
    masks : ndarray of bool, shape (n_positions, n_times)
        Footprints (see :meth:`Footprint.masks`).

    Returns
    -------
    starts, stops : ndarray of int64, shape (n_positions,)
        ``[start, stop)`` spans each footprint; ``start == stop == 0`` for
        a position that depends on no sample.
    contiguous : ndarray of bool, shape (n_positions,)
        Whether the footprint is the whole span (no gap).
    """
    n_times = masks.shape[1]
    any_ = masks.any(axis=1)
    starts = np.where(any_, masks.argmax(axis=1), 0).astype(np.int64)
    stops = np.where(any_, n_times - masks[:, ::-1].argmax(axis=1), 0).astype(np.int64)
    contiguous = masks.sum(axis=1) == stops - starts
    return starts, stops, contiguous


def layer_footprints(
    model: nn.Module, x: torch.Tensor, layers: Sequence[str]
) -> dict[str, tuple[torch.Tensor, Footprint | None]]:
    """Footprints of the outputs of ``layers`` for inputs shaped like ``x``.

    Parameters
    ----------
    model : torch.nn.Module
        The network, in the mode to analyse (eval mode for exact footprints of
        batch normalisation).
    x : torch.Tensor, shape (n_trials, n_chans, n_times)
        An input (its values do not matter, except for control flow that
        depends on them); time is its last axis.
    layers : list of str
        Module names.

    Returns
    -------
    footprints : dict of str to (torch.Tensor, Footprint | None)
        Each layer's output and its footprint; None when the output does not
        depend on the input.
    """
    n_times = x.shape[-1]
    mode = _FootprintMode()
    stack: list[str] = []

    def enter(module, args, name):
        stack.append(name)

    def leave(module, args, out):
        if stack:
            stack.pop()

    handles = []
    for name, module in model.named_modules():
        if name:
            handles.append(
                module.register_forward_pre_hook(lambda m, a, n=name: enter(m, a, n))
            )
            handles.append(module.register_forward_hook(leave))
    mode.stack = stack
    eye = np.packbits(np.eye(n_times, dtype=bool), axis=1)
    x = x.detach().clone()
    mode.meta[x] = Footprint(x.ndim - 1, eye)
    try:
        with torch.no_grad(), mode:
            outputs = run_until(model, x, layers)
    finally:
        for handle in handles:
            handle.remove()
    return {name: (out, mode.meta.get(out)) for name, out in outputs.items()}


def check_footprint(name: str, fp: Footprint | None) -> Footprint:
    """``fp`` of layer ``name``, or an error when it cannot serve as one."""
    if fp is None:
        raise InvalidInputError(
            f"Layer {name!r} does not depend on the input: its output is the same "
            "for every trial."
        )
    if fp.reordered is not None and fp.axis is not None:
        raise InvalidInputError(
            f"Layer {name!r} is not in time order: the network reorders time "
            f"({fp.reordered}) before it. envcorr needs output positions that follow "
            "the input's time."
        )
    return fp


# ---------------------------------------------------------------- the mode


class _FootprintMode(TorchDispatchMode):
    """Carries a :class:`Footprint` along every operation on the input."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Nothing here is compiled: without this, torch wraps the dispatch in
        # a Dynamo guard whose first call imports torch._dynamo (about 2 s).
        return False

    def __init__(self) -> None:
        super().__init__()
        self.meta = WeakTensorKeyDictionary()
        self.stack: list[str] = []

    def where(self) -> str:
        return f"module {self.stack[-1]!r}" if self.stack else "the model's forward"

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        schema = func._schema
        written = {
            a.name
            for a in schema.arguments
            if a.kwarg_only and a.alias_info is not None and a.alias_info.is_write
        }
        inputs = [
            t
            for t in tree_flatten(
                (args, {k: v for k, v in kwargs.items() if k not in written})
            )[0]
            if isinstance(t, torch.Tensor)
        ]
        if not any(t in self.meta for t in inputs):
            return out
        outs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        if not outs:
            return out
        name = func.overloadpacket.__name__
        op = Op(self, func, _bind(schema, args, kwargs), inputs, outs)
        handler = _handler(func, name)
        if handler is None:
            result = op.whole(inputs)
            if result is not None:
                logger.debug(
                    "footprint: %s in %s is not known; its output depends on the "
                    "union of its inputs' footprints.",
                    func,
                    self.where(),
                )
        else:
            result = handler(op)
        results = result if isinstance(result, list) else [result] * len(outs)
        for t, fp in zip(outs, results, strict=True):
            if fp is None:
                self.meta.pop(t, None)
            else:
                self.meta[t] = fp
                base = t._base
                if base is not None and _mutates(schema):
                    # written through a view: the base's positions may now hold
                    # any of the view's inputs (conservative)
                    old = self.meta.get(base, Footprint(None, fp.rows[:0]))
                    rows = or_rows(np.concatenate([old.rows, fp.rows]))
                    self.meta[base] = Footprint(
                        old.axis,
                        old.rows | rows if len(old.rows) else rows,
                        old.reordered,
                    )
        return out


def _mutates(schema) -> bool:
    return any(
        a.alias_info is not None and a.alias_info.is_write for a in schema.arguments
    )


def _bind(schema, args, kwargs) -> dict:
    bound = {}
    for i, a in enumerate(schema.arguments):
        if i < len(args) and not a.kwarg_only:
            bound[a.name] = args[i]
        elif a.name in kwargs:
            bound[a.name] = kwargs[a.name]
        elif a.has_default_value():
            bound[a.name] = a.default_value
    return bound


_ELEMENTWISE = {
    "_to_copy", "clone", "detach", "alias", "lift_fresh", "contiguous", "leaky_relu",
    "elu", "celu", "selu", "rrelu", "prelu", "_prelu_kernel", "hardswish",
    "hardsigmoid", "mish", "native_dropout", "dropout", "feature_dropout",
    "alpha_dropout", "copy", "_conj", "resolve_conj", "resolve_neg", "type_as",
    "masked_fill", "lerp", "addcmul", "addcdiv", "clamp", "clamp_min", "clamp_max",
}  # fmt: skip
_CONSTANT = {
    "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like",
    "randint_like", "new_zeros", "new_ones", "new_empty", "new_full",
    "new_empty_strided", "zero_", "_shape_as_tensor", "bernoulli", "bernoulli_",
}  # fmt: skip
_REDUCTIONS = {
    "sum", "mean", "amax", "amin", "max", "min", "var", "std", "var_mean",
    "std_mean", "logsumexp", "prod", "norm", "linalg_vector_norm", "any", "all",
    "argmax", "argmin", "nansum", "nanmean", "count_nonzero", "median",
    "nanmedian", "mode", "aminmax",
}  # fmt: skip
_HANDLERS: dict[str, Callable[[Op], object]] = {
    **{n: reshape for n in (
        "view", "_unsafe_view", "reshape", "_reshape_alias", "view_copy",
        "_reshape_copy", "flatten", "unflatten", "view_as",
    )},
    **{n: permute for n in (
        "permute", "transpose", "t", "swapaxes", "swapdims", "movedim", "numpy_T", "mT",
    )},
    **{n: reduction for n in _REDUCTIONS},
    **{n: along for n in ("_softmax", "_log_softmax", "softmax", "log_softmax",
                           "_safe_softmax", "sort", "argsort", "topk")},
    **{n: cumulative for n in ("cumsum", "cumprod", "logcumsumexp", "cummax",
                                "cummin")},
    **{n: conv for n in CONVS},
    **{f"{kind}_pool{d}d{suffix}": pool for kind in ("max", "avg", "mkldnn_max")
       for d in (1, 2, 3) for suffix in ("", "_with_indices")},
    **{f"{prefix}adaptive_{kind}_pool{d}d": adaptive_pool for prefix in ("", "_")
       for kind in ("avg", "max") for d in (1, 2, 3)},
    **{f"{kind}_pad{d}d": pad for kind in ("reflection", "replication")
       for d in (1, 2, 3)},
    **{n: pad for n in ("constant_pad_nd", "_pad_circular")},
    **{n: matmul for n in ("mm", "bmm", "addmm", "baddbmm", "_addmm_activation",
                            "mv", "addmv")},
    **{n: attention for n in (
        "_scaled_dot_product_flash_attention_for_cpu",
        "_scaled_dot_product_flash_attention",
        "_scaled_dot_product_efficient_attention",
        "_scaled_dot_product_cudnn_attention",
    )},
    **{n: batch_norm for n in ("native_batch_norm", "_native_batch_norm_legit",
                                "_native_batch_norm_legit_no_training")},
    "native_layer_norm": layer_norm,
    "native_group_norm": group_norm,
    **{n: along for n in ("_fft_r2c", "_fft_c2r", "_fft_c2c")},
    **{n: squeeze for n in ("squeeze", "squeeze_")},
    **{n: unsqueeze for n in ("unsqueeze", "unsqueeze_")},
    **{n: split for n in ("split", "split_with_sizes", "unsafe_split",
                           "unsafe_split_with_sizes", "unbind", "chunk")},
    **{n: slice_along for n in ("slice", "narrow")},
    **{n: flip for n in ("flip", "roll")},
    **{n: cat for n in ("cat", "stack")},
    "expand": expand,
    "repeat": repeat,
    "select": select,
    "index_select": index_select,
    "unfold": unfold,
    "copy_": copy_into,
    **{n: fill for n in ("fill", "fill_")},
    **{n: constant for n in _CONSTANT},
}  # fmt: skip


def _handler(func, name: str) -> Callable[[Op], object] | None:
    if torch.Tag.pointwise in func.tags:
        return pointwise
    if name in _HANDLERS:
        return _HANDLERS[name]
    base = name.rstrip("_")
    if name in _ELEMENTWISE or base in _ELEMENTWISE:
        return pointwise
    packet = getattr(torch.ops.aten, base, None)
    default = getattr(packet, "default", None) if packet is not None else None
    if default is not None and torch.Tag.pointwise in default.tags:
        return pointwise
    return None
