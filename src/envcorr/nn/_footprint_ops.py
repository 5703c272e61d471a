"""How footprints move through ATen operations (see :mod:`envcorr.nn.footprint`).

Each handler takes an :class:`Op` (the operation's bound arguments, its input
tensors and outputs, and the footprints known so far) and returns the
footprint of its output, or a list with one per output tensor; None for an
output that does not depend on the input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True, eq=False)
class Footprint:
    """The input samples each position of a tensor depends on.

    Attributes
    ----------
    axis : int | None
        The tensor's time axis; None when it has none (one footprint for the
        whole tensor, e.g. after a reduction over time).
    rows : ndarray of uint8, shape (n_positions, n_bytes)
        Row ``j``: the footprint of position ``j`` along ``axis`` as a bitset
        over the input's samples (:func:`numpy.packbits` order). One row when
        ``axis`` is None.
    reordered : str | None
        Why positions are not in time order (e.g. time was reversed), or None.
    period : int | None
        Set when ``axis`` also holds the trials (time merged with the batch
        axis, as a linear layer on (batch, time, features) does): positions
        repeat every ``period`` rows.
    """

    axis: int | None
    rows: np.ndarray
    reordered: str | None = None
    period: int | None = None

    def masks(self, n_times: int) -> np.ndarray:
        """Footprints as booleans, shape (n_positions, n_times)."""
        return np.unpackbits(self.rows, axis=1, count=n_times).astype(bool)


class Op:
    """One operation being followed: its arguments, outputs and footprints."""

    def __init__(self, mode, func, bound, inputs, outs):
        self.mode = mode
        self.func = func
        self.bound = bound
        self.inputs = inputs
        self.outs = outs

    def fp(self, t) -> Footprint | None:
        if isinstance(t, torch.Tensor):
            return self.mode.meta.get(t)
        return None

    def arg(self, name: str):
        return self.bound.get(name)

    def whole(self, tensors=None) -> Footprint | None:
        """The union of every footprint of ``tensors``, without a time axis."""
        tensors = self.inputs if tensors is None else tensors
        rows = [fp.rows for t in tensors if (fp := self.fp(t)) is not None]
        if not rows:
            return None
        return Footprint(None, or_rows(np.concatenate(rows)))

    def reordered(self, what: str) -> str:
        return f"{what} along time in {self.mode.where()}"


def or_rows(rows: np.ndarray) -> np.ndarray:
    return np.bitwise_or.reduce(rows, axis=0, keepdims=True)


def merge(parts: list[tuple[int | None, Footprint]], shape: Sequence[int]) -> Footprint:
    """Union of footprints aligned on the axes of an output of ``shape``.

    ``parts`` pairs each footprint with its time axis in the output (None:
    its union reaches every output position).
    """
    axes = {a for a, _ in parts if a is not None}
    if len(axes) != 1:
        return Footprint(None, or_rows(np.concatenate([fp.rows for _, fp in parts])))
    axis = axes.pop()
    n = shape[axis]
    rows = np.zeros((n, parts[0][1].rows.shape[1]), dtype=np.uint8)
    reordered = None
    periods = set()
    for a, fp in parts:
        if a is None or fp.rows.shape[0] == 1:
            rows |= or_rows(fp.rows)
        elif fp.rows.shape[0] == n:
            rows |= fp.rows
            reordered = reordered or fp.reordered
            periods.add(fp.period)
        else:
            return Footprint(None, or_rows(np.concatenate([f.rows for _, f in parts])))
    period = periods.pop() if len(periods) == 1 else None
    return Footprint(axis, rows, reordered, period)


def _gather(rows: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Row ``j``: the union of ``rows[idx[j, m]]`` over ``m``, skipping ``-1``."""
    padded = np.concatenate([np.zeros((1, rows.shape[1]), np.uint8), rows])
    idx = np.where((idx >= 0) & (idx < rows.shape[0]), idx + 1, 0)
    if idx.size * rows.shape[1] <= 2**24:
        return np.bitwise_or.reduce(padded[idx], axis=1)
    out = np.zeros((idx.shape[0], rows.shape[1]), np.uint8)
    for m in range(idx.shape[1]):
        out |= padded[idx[:, m]]
    return out


def _norm_dim(dim: int, ndim: int) -> int:
    return dim % ndim if ndim else 0


def _dims(value, ndim: int) -> list[int]:
    if value is None:
        return list(range(ndim))
    if isinstance(value, int):
        value = [value]
    value = list(value)
    return [_norm_dim(d, ndim) for d in value] if value else list(range(ndim))


def _per_dim(value, n: int, default: int) -> list[int]:
    if value is None or (isinstance(value, Sequence) and len(value) == 0):
        return [default] * n
    if isinstance(value, int):
        return [value] * n
    value = list(value)
    return value * n if len(value) == 1 else value


# ---------------------------------------------------------------- handlers


def pointwise(op: Op) -> Footprint | None:
    out_shape = op.outs[0].shape
    parts = []
    for t in op.inputs:
        fp = op.fp(t)
        if fp is not None:
            axis = None if fp.axis is None else fp.axis + len(out_shape) - t.ndim
            parts.append((axis, fp))
    return merge(parts, out_shape) if parts else None


def copy_into(op: Op) -> Footprint | None:
    src = op.arg("src")
    fp = op.fp(src)
    if fp is None or fp.axis is None:
        return fp
    return merge([(fp.axis + op.outs[0].ndim - src.ndim, fp)], op.outs[0].shape)


def constant(op: Op) -> None:
    return None


def fill(op: Op) -> Footprint | None:
    return op.whole([op.arg("value")])


def reshape(op: Op) -> Footprint | None:
    self = op.arg("self")
    fp = op.fp(self)
    if fp is None or fp.axis is None:
        return fp
    out_shape = tuple(op.outs[0].shape)
    in_shape = tuple(self.shape)
    n, inner = in_shape[fp.axis], math.prod(in_shape[fp.axis + 1 :])
    below = [math.prod(out_shape[b + 1 :]) for b in range(len(out_shape))]
    for b in range(len(out_shape)):
        if out_shape[b] == n and below[b] == inner:
            return Footprint(b, fp.rows, fp.reordered, fp.period)
    if fp.period:  # the trials split off time again
        for b in range(len(out_shape)):
            if out_shape[b] == fp.period and below[b] == inner:
                return Footprint(b, fp.rows[: fp.period], fp.reordered)
    lead = math.prod(in_shape[: fp.axis])
    for b in range(len(out_shape)):
        if (
            fp.period is None
            and out_shape[b] == lead * n
            and below[b] == inner
            and math.prod(out_shape[:b]) == 1
        ):  # time merged with the trials (and axes between them)
            return Footprint(b, np.tile(fp.rows, (lead, 1)), fp.reordered, n)
    for b in range(len(out_shape) if inner else 0):
        step = below[b] // inner  # time split into (positions, samples within)
        if out_shape[b] > 1 and below[b] % inner == 0 and out_shape[b] * step == n:
            idx = np.arange(out_shape[b])[:, None] * step + np.arange(step)
            return Footprint(b, _gather(fp.rows, idx), fp.reordered)
    # time merged with another axis: a position would hold only some of the
    # units whose union the footprint is, so their windows are not known
    return op.whole([self])


def permute(op: Op) -> Footprint | None:
    fp = op.fp(op.arg("self"))
    if fp is None or fp.axis is None:
        return fp
    ndim = op.arg("self").ndim
    name = op.func.overloadpacket.__name__
    if name == "permute":
        order = [_norm_dim(d, ndim) for d in op.arg("dims")]
    else:
        order = list(range(ndim))
        if name in ("transpose", "swapaxes", "swapdims"):
            d0, d1 = (_norm_dim(op.arg(k), ndim) for k in ("dim0", "dim1"))
        elif name == "movedim":
            src, dst = _dims(op.arg("source"), ndim), _dims(op.arg("destination"), ndim)
            order = [int(i) for i in np.moveaxis(np.arange(ndim), src, dst)]
            return Footprint(order.index(fp.axis), fp.rows, fp.reordered)
        else:  # t, numpy_T, mT
            d0, d1 = (ndim - 2, ndim - 1) if ndim >= 2 else (0, 0)
            if name == "numpy_T":
                order = order[::-1]
                return Footprint(order.index(fp.axis), fp.rows, fp.reordered)
        order[d0], order[d1] = order[d1], order[d0]
    return Footprint(order.index(fp.axis), fp.rows, fp.reordered)


def unsqueeze(op: Op) -> Footprint | None:
    fp = op.fp(op.arg("self"))
    if fp is None or fp.axis is None:
        return fp
    dim = _norm_dim(op.arg("dim"), op.outs[0].ndim)
    return Footprint(fp.axis + (dim <= fp.axis), fp.rows, fp.reordered)


def squeeze(op: Op) -> Footprint | None:
    self = op.arg("self")
    fp = op.fp(self)
    if fp is None or fp.axis is None:
        return fp
    dims = _dims(op.arg("dim"), self.ndim) if "dim" in op.bound else range(self.ndim)
    removed = [d for d in dims if self.ndim and self.shape[d] == 1]
    if fp.axis in removed:
        return Footprint(None, fp.rows)
    return Footprint(fp.axis - sum(d < fp.axis for d in removed), fp.rows, fp.reordered)


def expand(op: Op) -> Footprint | None:
    self = op.arg("self")
    fp = op.fp(self)
    if fp is None or fp.axis is None:
        return fp
    axis = fp.axis + op.outs[0].ndim - self.ndim
    n = op.outs[0].shape[axis]
    rows = fp.rows if fp.rows.shape[0] == n else np.repeat(fp.rows, n, axis=0)
    return Footprint(axis, rows, fp.reordered)


def repeat(op: Op) -> Footprint | None:
    self = op.arg("self")
    fp = op.fp(self)
    if fp is None or fp.axis is None:
        return fp
    repeats = list(op.arg("repeats"))
    axis = fp.axis + len(repeats) - self.ndim
    if repeats[axis] == 1:
        return Footprint(axis, fp.rows, fp.reordered)
    rows = np.tile(fp.rows, (repeats[axis], 1))
    return Footprint(axis, rows, fp.reordered or op.reordered("repeat"))


def select(op: Op) -> Footprint | None:
    self = op.arg("self")
    fp = op.fp(self)
    if fp is None or fp.axis is None:
        return fp
    dim = _norm_dim(op.arg("dim"), self.ndim)
    if dim == fp.axis:
        index = op.arg("index") % self.shape[dim]
        return Footprint(None, fp.rows[index : index + 1])
    return Footprint(fp.axis - (dim < fp.axis), fp.rows, fp.reordered)


def slice_along(op: Op) -> Footprint | None:
    self = op.arg("self")
    fp = op.fp(self)
    if fp is None or fp.axis is None:
        return fp
    dim = _norm_dim(op.arg("dim"), self.ndim)
    if dim != fp.axis:
        return fp
    if op.func.overloadpacket.__name__ == "narrow":
        start = op.arg("start") % max(self.shape[dim], 1)
        sl = slice(start, start + op.arg("length"))
    else:
        sl = slice(op.arg("start"), op.arg("end"), op.arg("step"))
    return Footprint(fp.axis, fp.rows[sl], fp.reordered)


def index_select(op: Op) -> Footprint | None:
    self = op.arg("self")
    fp = op.fp(self)
    index = op.arg("index")
    if fp is None or fp.axis is None or op.fp(index) is not None:
        return op.whole()
    dim = _norm_dim(op.arg("dim"), self.ndim)
    if dim != fp.axis:
        return fp
    idx = index.cpu().numpy().astype(np.int64)
    reordered = None if np.all(np.diff(idx) >= 0) else op.reordered("index_select")
    return Footprint(fp.axis, fp.rows[idx], fp.reordered or reordered)


def split(op: Op) -> list[Footprint | None]:
    self = op.arg("self")
    fp = op.fp(self)
    if fp is None or fp.axis is None:
        return [fp] * len(op.outs)
    name = op.func.overloadpacket.__name__
    dim = _norm_dim(op.arg("dim"), self.ndim) if "dim" in op.bound else 0
    if name == "unbind":
        if dim == fp.axis:
            return [Footprint(None, fp.rows[i : i + 1]) for i in range(len(op.outs))]
        return [Footprint(fp.axis - (dim < fp.axis), fp.rows, fp.reordered)] * len(
            op.outs
        )
    if dim != fp.axis:
        return [fp] * len(op.outs)
    result, start = [], 0
    for t in op.outs:
        n = t.shape[dim]
        result.append(Footprint(fp.axis, fp.rows[start : start + n], fp.reordered))
        start += n
    return result


def cat(op: Op) -> Footprint | None:
    tensors = [t for t in op.arg("tensors") if not (t.ndim == 1 and t.numel() == 0)]
    out = op.outs[0]
    dim = _norm_dim(op.arg("dim"), out.ndim)
    stack = op.func.overloadpacket.__name__ == "stack"
    parts = []
    for t in tensors:
        fp = op.fp(t)
        if fp is not None and fp.axis is not None and stack:
            fp = Footprint(fp.axis + (dim <= fp.axis), fp.rows, fp.reordered)
        parts.append(fp)
    tracked = [fp for fp in parts if fp is not None]
    if not tracked:
        return None
    axes = {fp.axis for fp in tracked if fp.axis is not None}
    if stack or axes != {dim}:
        return merge([(fp.axis, fp) for fp in tracked], out.shape)
    nb = tracked[0].rows.shape[1]
    rows, reordered = [], None
    for t, fp in zip(tensors, parts, strict=True):
        n = t.shape[dim]
        if fp is None:
            rows.append(np.zeros((n, nb), np.uint8))
        elif fp.axis is None:
            rows.append(np.repeat(fp.rows, n, axis=0))
        else:
            rows.append(fp.rows)
            reordered = reordered or fp.reordered
    return Footprint(dim, np.concatenate(rows), reordered)


def unfold(op: Op) -> Footprint | None:
    self = op.arg("self")
    fp = op.fp(self)
    if fp is None or fp.axis is None:
        return fp
    dim = _norm_dim(op.arg("dimension"), self.ndim)
    if dim != fp.axis:
        return fp
    n_out = op.outs[0].shape[dim]
    idx = np.arange(n_out)[:, None] * op.arg("step") + np.arange(op.arg("size"))
    return Footprint(fp.axis, _gather(fp.rows, idx), fp.reordered)


def flip(op: Op) -> Footprint | None:
    self = op.arg("self")
    fp = op.fp(self)
    if fp is None or fp.axis is None:
        return fp
    if op.func.overloadpacket.__name__ == "flip":
        if fp.axis not in _dims(op.arg("dims"), self.ndim):
            return fp
        return Footprint(fp.axis, fp.rows[::-1].copy(), op.reordered("aten.flip"))
    shifts, dims = list(op.arg("shifts")), list(op.arg("dims"))
    if not dims:
        return op.whole([self])  # a roll of the flattened tensor
    shift = sum(
        s
        for s, d in zip(shifts, dims, strict=True)
        if _norm_dim(d, self.ndim) == fp.axis
    )
    if shift % fp.rows.shape[0] == 0:
        return fp
    return Footprint(
        fp.axis, np.roll(fp.rows, shift, axis=0), op.reordered("aten.roll")
    )


def reduction(op: Op) -> Footprint | None:
    self = op.arg("self")
    fp = op.fp(self)
    if fp is None or fp.axis is None:
        return fp
    dim = op.arg("dim")
    dims = _dims(dim, self.ndim)
    if fp.axis in dims:
        return Footprint(None, or_rows(fp.rows))
    if op.arg("keepdim"):
        return fp
    return Footprint(fp.axis - sum(d < fp.axis for d in dims), fp.rows, fp.reordered)


def along(op: Op) -> Footprint | None:
    """Softmax, sorting, FFTs: over time, every position sees the whole tensor."""
    self = op.arg("self")
    fp = op.fp(self)
    if fp is None or fp.axis is None:
        return fp
    if fp.axis in _dims(op.arg("dim"), self.ndim):
        return Footprint(None, or_rows(fp.rows))
    return fp


def cumulative(op: Op) -> Footprint | None:
    self = op.arg("self")
    fp = op.fp(self)
    if fp is None or fp.axis is None:
        return fp
    if _norm_dim(op.arg("dim"), self.ndim) == fp.axis:
        return Footprint(
            fp.axis, np.bitwise_or.accumulate(fp.rows, axis=0), fp.reordered
        )
    return fp


def _window_op(
    op: Op,
    x: torch.Tensor,
    n_spatial: int,
    kernel,
    stride,
    padding,
    dilation,
    *,
    transposed=False,
) -> Footprint | None:
    """Convolutions and poolings over the last ``n_spatial`` axes of ``x``."""
    fp = op.fp(x)
    if fp is None or fp.axis is None:
        return fp
    first = x.ndim - n_spatial
    if fp.axis < first:
        if fp.axis == first - 1 and op.func.overloadpacket.__name__ in CONVS:
            return Footprint(None, or_rows(fp.rows))  # channels are summed over
        return fp
    i = fp.axis - first
    k = _per_dim(kernel, n_spatial, 1)[i]
    s = _per_dim(stride, n_spatial, k)[i]
    p = _per_dim(padding, n_spatial, 0)[i]
    d = _per_dim(dilation, n_spatial, 1)[i]
    n_in = x.shape[fp.axis]
    n_out = op.outs[0].shape[fp.axis]
    if not transposed:
        idx = np.arange(n_out)[:, None] * s - p + np.arange(k) * d
        return Footprint(fp.axis, _gather(fp.rows, idx), fp.reordered)
    rows = np.zeros((n_out, fp.rows.shape[1]), np.uint8)
    for m in range(k):
        o = np.arange(n_in) * s - p + m * d
        ok = (o >= 0) & (o < n_out)
        np.bitwise_or.at(rows, o[ok], fp.rows[ok])
    return Footprint(fp.axis, rows, fp.reordered)


CONVS = {
    "convolution",
    "_convolution",
    "convolution_overrideable",
    "mkldnn_convolution",
}


def conv(op: Op) -> Footprint | None:
    x = op.arg("input") if "input" in op.bound else op.arg("self")
    weight = op.arg("weight")
    fp = _window_op(
        op,
        x,
        weight.ndim - 2,
        list(weight.shape[2:]),
        op.arg("stride"),
        op.arg("padding"),
        op.arg("dilation"),
        transposed=bool(op.arg("transposed")),
    )
    others = [t for t in (weight, op.arg("bias")) if op.fp(t) is not None]
    if others:  # weights computed from the input
        extra = op.whole(others)
        fp = (
            extra
            if fp is None
            else merge([(fp.axis, fp), (None, extra)], op.outs[0].shape)
        )
    return fp


def pool(op: Op) -> Footprint | None:
    name = op.func.overloadpacket.__name__
    n_spatial = int(next(c for c in name if c.isdigit()))
    return _window_op(
        op,
        op.arg("self"),
        n_spatial,
        op.arg("kernel_size"),
        op.arg("stride"),
        op.arg("padding"),
        op.arg("dilation"),
    )


def adaptive_pool(op: Op) -> Footprint | None:
    self = op.arg("self")
    fp = op.fp(self)
    if fp is None or fp.axis is None:
        return fp
    name = op.func.overloadpacket.__name__
    n_spatial = int(next(c for c in name if c.isdigit()))
    if fp.axis < self.ndim - n_spatial:
        return fp
    n_in = self.shape[fp.axis]
    n_out = op.outs[0].shape[fp.axis]
    if n_out == 1:  # global pooling: an operation over all time
        return Footprint(None, or_rows(fp.rows))
    j = np.arange(n_out)
    starts = (j * n_in) // n_out
    stops = -((-(j + 1) * n_in) // n_out)
    width = int((stops - starts).max())
    idx = starts[:, None] + np.arange(width)
    idx = np.where(idx < stops[:, None], idx, -1)
    return Footprint(fp.axis, _gather(fp.rows, idx), fp.reordered)


def pad(op: Op) -> Footprint | None:
    self = op.arg("self")
    fp = op.fp(self)
    if fp is None or fp.axis is None:
        return fp
    pad = list(op.arg("pad") if "pad" in op.bound else op.arg("padding"))
    r = self.ndim - 1 - fp.axis
    if 2 * r + 1 >= len(pad):
        return fp
    left = pad[2 * r]
    n_in = self.shape[fp.axis]
    n_out = op.outs[0].shape[fp.axis]
    i = np.arange(n_out) - left
    name = op.func.overloadpacket.__name__
    if name.startswith("reflection"):
        i = np.abs(i)
        i = np.where(i > n_in - 1, 2 * (n_in - 1) - i, i)
    elif name.startswith("replication"):
        i = np.clip(i, 0, n_in - 1)
    elif name.startswith("_pad_circular"):
        i = i % n_in
    return Footprint(fp.axis, _gather(fp.rows, i[:, None]), fp.reordered)


def _contract(op: Op, specs: list[tuple[torch.Tensor | None, list[int | None]]]):
    """Matrix products: each input's axes mapped to output axes (None: summed)."""
    parts = []
    for t, mapping in specs:
        fp = op.fp(t)
        if fp is None:
            continue
        if fp.axis is None or mapping[fp.axis] is None:
            parts.append((None, Footprint(None, or_rows(fp.rows))))
        else:
            parts.append((mapping[fp.axis], fp))
    return merge(parts, op.outs[0].shape) if parts else None


def matmul(op: Op) -> Footprint | None:
    name = op.func.overloadpacket.__name__
    b = op.bound
    ndim = op.outs[0].ndim
    if name in ("mm", "bmm", "addmm", "baddbmm", "_addmm_activation"):
        a_, b_ = (
            (b["self"], b["mat2"])
            if name in ("mm", "bmm")
            else ((b["mat1"], b["mat2"]) if "mat1" in b else (b["batch1"], b["batch2"]))
        )
        lead = list(range(a_.ndim - 2))
        specs = [(a_, [*lead, ndim - 2, None]), (b_, [*lead, None, ndim - 1])]
        if name in ("addmm", "baddbmm", "_addmm_activation"):
            bias = b["self"]
            specs.append((bias, list(range(ndim - bias.ndim, ndim))))
        return _contract(op, specs)
    if name in ("mv", "addmv"):
        specs = [(b["mat"] if "mat" in b else b["self"], [0, None]), (b["vec"], [None])]
        if name == "addmv":
            specs.append((b["self"], [0] * b["self"].ndim))
        return _contract(op, specs)
    return op.whole()


def attention(op: Op) -> list[Footprint | None]:
    q, k, v = op.arg("query"), op.arg("key"), op.arg("value")
    out = op.outs[0]
    ndim = out.ndim
    lead = lambda t: list(range(ndim - t.ndim, ndim - 2))  # noqa: E731
    specs = [
        (q, [*lead(q), ndim - 2, None]),
        (k, [*lead(k), None, None]),
        (v, [*lead(v), None, ndim - 1]),
    ]
    mask = op.arg("attn_mask")
    if mask is not None:
        specs.append((mask, [*list(range(ndim - mask.ndim, ndim - 1)), None]))
    fp = _contract(op, specs)
    if op.arg("is_causal") and fp is not None:
        fk, fv = op.fp(k), op.fp(v)
        fq = op.fp(q)
        if (
            fq is not None
            and fq.axis == q.ndim - 2
            and all(f is None or f.axis == t.ndim - 2 for f, t in ((fk, k), (fv, v)))
        ):
            rows = fq.rows.copy()
            for f in (fk, fv):
                if f is not None:
                    rows |= np.bitwise_or.accumulate(f.rows, axis=0)[: rows.shape[0]]
            fp = Footprint(ndim - 2, rows, fq.reordered)
    results = [fp] + [op.whole([q, k, v])] * (len(op.outs) - 1)
    return results


def batch_norm(op: Op) -> list[Footprint | None] | Footprint | None:
    x = op.arg("input")
    fp = op.fp(x)
    training = op.arg("training")
    name = op.func.overloadpacket.__name__
    if name == "_native_batch_norm_legit_no_training" or training is False:
        stats = None
    else:  # statistics over the batch and every spatial axis
        stats = op.whole([x])
        if fp is not None and fp.axis != 1:
            fp = stats
    return [fp] + [stats] * (len(op.outs) - 1)


def layer_norm(op: Op) -> Footprint | None:
    x = op.arg("input")
    fp = op.fp(x)
    if fp is None or fp.axis is None:
        return fp
    if fp.axis >= x.ndim - len(op.arg("normalized_shape")):
        return Footprint(None, or_rows(fp.rows))
    return fp


def group_norm(op: Op) -> Footprint | None:
    fp = op.fp(op.arg("input"))
    if fp is None or fp.axis is None or fp.axis == 0:
        return fp
    return Footprint(None, or_rows(fp.rows))
