"""Where each layer's outputs lie in time: exact input windows for any network.

Output position ``j`` of a layer depends on a contiguous window
``starts[j] .. stops[j] - 1`` of the trial's samples: the union over all the
layer's units at that position (docs/method.md, step 5). In a dense network
without padding (:func:`envcorr.nn.dense.make_dense`) position ``t`` sees
``t .. t + R - 1``; where layers pad, the windows are cut at the trial's edges;
where they stride, windows are spaced out; after an operation over all time
(flatten and linear, global pooling, attention, softmax or mean over time) a
layer has one position per trial whose window is the whole trial.

:func:`layer_geometry` finds the windows in two independent ways and requires
them to agree:

1. from the arithmetic of every operation the network runs on one small input
   (:mod:`envcorr.nn.footprint`), which also gives each layer's time axis,
   output length and units;
2. by probing: the gradient of the sum over units at position ``j`` with
   respect to the input is non-zero exactly on the window of ``j``, for the
   first, the middle and the last position (so that a layer that shifts time
   is caught even where its middle position looks right).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .._utils.check import InvalidInputError, check_int, invalid
from .._utils.torchutils import eval_mode, first_parameter
from .capture import run_until
from .footprint import (
    Footprint,
    check_footprint,
    footprint_windows,
    layer_footprints,
)


@dataclass(frozen=True, eq=False)
class LayerGeometry:
    """Where a layer's outputs lie in time.

    Constructed with only the first five fields, it describes a dense layer:
    position ``t`` sees inputs ``t .. t + receptive_field - 1``.

    Attributes
    ----------
    name : str
        Module name of the layer (as in ``model.named_modules()``).
    receptive_field : int
        Input samples seen by the widest position, ``max(stops - starts)``.
    n_out : int
        Output positions per trial (1 when ``time_axis`` is None).
    n_units : int
        Units: the product of ``unit_shape``.
    time_axis : int | None
        Axis of the layer's output tensor that is time; None when the layer
        depends on the whole trial through an operation over all time, or when
        every position depends on the same samples (one position per trial;
        units are every non-batch axis).
    starts, stops : ndarray of int64, shape (n_out,)
        Position ``j`` depends on input samples ``starts[j] .. stops[j] - 1``
        (read-only arrays).
    unit_shape : tuple of int
        The output's non-batch, non-time dimensions, in order; units are
        flattened from them in C order.
    """

    name: str
    receptive_field: int
    n_out: int
    n_units: int
    time_axis: int | None
    starts: np.ndarray | None = field(default=None, repr=False)
    stops: np.ndarray | None = field(default=None, repr=False)
    unit_shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.starts is None or self.stops is None:
            starts = np.arange(self.n_out, dtype=np.int64)
            stops = starts + self.receptive_field
        else:
            starts = np.array(self.starts, dtype=np.int64)
            stops = np.array(self.stops, dtype=np.int64)
        if starts.shape != (self.n_out,) or stops.shape != (self.n_out,):
            raise invalid(
                "starts",
                f"expected {self.n_out} windows (n_out) for layer {self.name!r}, "
                f"got starts of shape {starts.shape} and stops of shape "
                f"{stops.shape}.",
            )
        if self.n_out and int((stops - starts).max()) != self.receptive_field:
            raise invalid(
                "receptive_field",
                f"{self.receptive_field} for layer {self.name!r}, but its widest "
                f"window has {int((stops - starts).max())} samples.",
            )
        starts.flags.writeable = False
        stops.flags.writeable = False
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "stops", stops)
        shape = (self.n_units,) if self.unit_shape is None else self.unit_shape
        object.__setattr__(self, "unit_shape", tuple(int(s) for s in shape))

    @property
    def dense(self) -> bool:
        """Whether position ``t`` sees ``t .. t + receptive_field - 1`` for all t."""
        return bool(
            np.array_equal(self.starts, np.arange(self.n_out))
            and np.all(self.stops - self.starts == self.receptive_field)
        )

    def _key(self) -> tuple:
        return (
            self.name,
            self.receptive_field,
            self.n_out,
            self.n_units,
            self.time_axis,
            self.unit_shape,
            self.starts.tobytes(),
            self.stops.tobytes(),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LayerGeometry):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


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


def layer_geometry(
    model: nn.Module,
    n_times: int,
    layers: Sequence[str],
    *,
    n_chans: int,
    probe: bool = True,
) -> list[LayerGeometry]:
    """Input windows, output length, units and time axis of each layer.

    Parameters
    ----------
    model : torch.nn.Module
        A network taking input of shape (n_trials, n_chans, n_times).
    n_times : int
        Samples per trial.
    layers : list of str
        Module names, in any order.
    n_chans : int
        Number of input channels.
    probe : bool
        Also check the windows by the gradients of the first, middle and last
        output position with respect to the input (one small forward and
        backward pass for all layers).

    Returns
    -------
    geometry : list of LayerGeometry
        One entry per layer, ordered by receptive field (depth), then as given.

    Raises
    ------
    InvalidInputError
        For unknown layers, a model that fails on such input (trials shorter
        than its receptive field), layers whose positions depend on no input
        sample or on samples with gaps between them, layers that reorder time,
        and windows the probe disagrees with.
    """
    layers = check_layers(model, layers)
    n_times = check_int("n_times", n_times, minimum=1)
    n_chans = check_int("n_chans", n_chans, minimum=1)
    p = first_parameter(model)
    gen = torch.Generator().manual_seed(0)
    with eval_mode(model):
        x = torch.randn((_TRACE_TRIALS, n_chans, n_times), generator=gen)
        x = x.to(device=p.device, dtype=p.dtype)
        try:
            traced = layer_footprints(model, x, layers)
        except RuntimeError as err:
            raise InvalidInputError(
                f"The model failed on an input of shape {tuple(x.shape)}: {err}. "
                "Check the number of channels (n_chans) and that trials are at "
                "least as long as the model's receptive field."
            ) from err
        geometry = [
            _geometry_of(name, out, fp, n_times) for name, (out, fp) in traced.items()
        ]
    if probe:
        probe_geometry(model, geometry, n_chans=n_chans, n_times=n_times)
    return sorted(geometry, key=lambda g: (g.receptive_field, layers.index(g.name)))


def probe_geometry(
    model: nn.Module, geometry: Sequence[LayerGeometry], *, n_chans: int, n_times: int
) -> None:
    """Check layers' windows by gradients (``probe`` of :func:`layer_geometry`).

    Raises
    ------
    InvalidInputError
        When the gradient of a probed position is non-zero outside its window,
        or zero over part of it on every probed trial.
    """
    p = first_parameter(model)
    # also when the caller runs under no_grad
    with eval_mode(model), torch.enable_grad():
        _check_probe(model, n_chans, n_times, p, list(geometry))


# Trials of the traced forward pass: two, so that a model that squeezes its
# output does not lose the batch axis.
_TRACE_TRIALS = 2


def _geometry_of(name: str, out: torch.Tensor, fp, n_times: int) -> LayerGeometry:
    """A layer's geometry from its output and footprint (see layer_footprints)."""
    fp = check_footprint(name, fp)
    shape = tuple(out.shape)
    if not shape or shape[0] != _TRACE_TRIALS or fp.axis == 0:
        raise InvalidInputError(
            f"Layer {name!r} does not keep the trials on its first axis (its output "
            f"has shape {shape} for {_TRACE_TRIALS} trials"
            + (", and time on that axis)." if fp.axis == 0 else ").")
        )
    axis = fp.axis
    if axis is not None and len(fp.rows) > 1 and (fp.rows == fp.rows[:1]).all():
        # every position depends on the same samples (e.g. attention over time):
        # no position in time, one per trial whose units are all the others
        axis, fp = None, Footprint(None, fp.rows[:1])
    starts, stops, contiguous = footprint_windows(fp.masks(n_times))
    empty = np.flatnonzero(stops == starts)
    if empty.size:
        raise InvalidInputError(
            f"Layer {name!r}: output position {empty[0]} (of {len(starts)}) depends "
            "on no input sample (it is padding). Analyse a layer after the padding "
            "has been convolved or cropped."
        )
    if not contiguous.all():
        j = int(np.flatnonzero(~contiguous)[0])
        seen = np.flatnonzero(fp.masks(n_times)[j])
        gaps = np.setdiff1d(np.arange(starts[j], stops[j]), seen)
        raise InvalidInputError(
            f"Layer {name!r}: output position {j} (of {len(starts)}) depends on "
            f"input samples {starts[j]} .. {stops[j] - 1} but not on {gaps.size} "
            f"samples between them (the first is {gaps[0]}): its input window is "
            "not contiguous (e.g. a dilated convolution or strided pooling over "
            "too few samples)."
        )
    unit_shape = tuple(s for i, s in enumerate(shape) if i not in (0, axis))
    return LayerGeometry(
        name=name,
        receptive_field=int((stops - starts).max()),
        n_out=len(starts),
        n_units=int(np.prod(unit_shape, dtype=np.int64)),
        time_axis=axis,
        starts=starts,
        stops=stops,
        unit_shape=unit_shape,
    )


# Each probed output sample (first, middle, last: _probed_samples) has
# _PROBE_REPS random trials of its own in the probe batch.
_PROBE_SAMPLES = 3
_PROBE_REPS = 1
# Random trials of the second probe, in chunks of this many, for samples whose
# first probe found a narrower dependence than the field.
_PROBE_RETRY_TRIALS = 64
_PROBE_RETRY_CHUNK = 8


def _probed_samples(geo: LayerGeometry) -> tuple[int, ...]:
    """The output positions whose windows the probe checks: first, middle, last."""
    return (0, geo.n_out // 2, geo.n_out - 1)


def _position(out: torch.Tensor, geo: LayerGeometry, t: int) -> torch.Tensor:
    """Output position ``t`` of each trial, shape (n_trials, ...)."""
    return out if geo.time_axis is None else out.select(geo.time_axis, t)


def _check_probe(
    model: nn.Module,
    n_chans: int,
    n_times: int,
    like: torch.Tensor,
    geometry: Sequence[LayerGeometry],
) -> None:
    """Check by gradients that output position t depends on its window exactly.

    Probed are the first, middle and last position of every layer (a layer
    that reverses time can look aligned at its middle position). One backward
    pass serves all: each (layer, position) pair takes its output from its own
    ``_PROBE_REPS`` random trials of one batch (trials are independent in eval
    mode), so each trial's input gradient belongs to one probed position. A
    random trial per position, and the sum over all units, make max-pooling
    reach every sample of the window in smooth networks such as Deep4Net.
    Where units are inactive (ReLU at zero) at the edge of the window, the
    gradient there is zero: such a position is probed again with many more
    trials before the check fails.
    """
    reps = _PROBE_REPS
    probes = [(geo, t) for geo in geometry for t in _probed_samples(geo)]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((reps * len(probes), n_chans, n_times), generator=gen)
    x = x.to(device=like.device, dtype=like.dtype).requires_grad_(True)
    outputs = run_until(model, x, list(dict.fromkeys(g.name for g in geometry)))
    total = 0
    for k, (geo, t) in enumerate(probes):
        total = (
            total
            + _position(outputs[geo.name], geo, t)[reps * k : reps * (k + 1)].sum()
        )
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
                where = (
                    "its output (one position per trial)"
                    if geo.time_axis is None
                    else f"output position {t} (of {geo.n_out})"
                )
                raise InvalidInputError(
                    f"Layer {geo.name!r}: {where} depends on input samples {seen} "
                    "by its gradient, but on "
                    f"{geo.starts[t]} .. {geo.stops[t] - 1} by the network's "
                    "operations. The network does something along time that "
                    "envcorr does not follow (reversing time or an operation it "
                    "does not know)."
                )


def _support_is_field(grad: torch.Tensor, geo: LayerGeometry, t: int) -> bool:
    """Whether the non-zero gradient spans exactly the window of position t."""
    support = np.flatnonzero(grad.cpu().numpy() > 0)
    expected = (geo.starts[t], geo.stops[t] - 1)
    return support.size > 0 and (support[0], support[-1]) == expected


def _probe_gradient(
    model: nn.Module, like: torch.Tensor, geo: LayerGeometry, t: int
) -> torch.Tensor:
    """Summed |input gradient| of output position t over many random trials."""
    gen = torch.Generator().manual_seed(1)
    total = torch.zeros(like.shape[-1], dtype=like.dtype, device=like.device)
    shape = (_PROBE_RETRY_CHUNK, *like.shape[1:])
    for _ in range(_PROBE_RETRY_TRIALS // _PROBE_RETRY_CHUNK):
        x = torch.randn(shape, generator=gen).to(like).requires_grad_(True)
        out = run_until(model, x, [geo.name])[geo.name]
        (grad,) = torch.autograd.grad(_position(out, geo, t).sum(), x)
        total += grad.abs().sum(dim=(0, 1))
    return total


def receptive_fields(
    model: nn.Module, n_times: int, layers: Sequence[str], *, n_chans: int
) -> dict[str, int]:
    """Receptive field in input samples of each layer (see :func:`layer_geometry`)."""
    geo = layer_geometry(model, n_times, layers, n_chans=n_chans)
    return {g.name: g.receptive_field for g in geo}
