"""The layers analysed by default: block outputs and the classifier.

No braindecode import: the analysis of a network needs only its modules.
Networks of braindecode are matched by class name in :data:`DEFAULT_LAYERS`;
for any other network :func:`default_layers` finds the block outputs by
running it on two input lengths (the rule is in its docstring).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from .._utils.check import check_int, invalid
from .._utils.docs import fill_doc
from .._utils.logs import logger, verbose

# Chosen by reading each network's module tree and the shapes of its module
# outputs in a forward pass (braindecode 1.8.1, 22 channels x 1125 samples at
# 250 Hz, 4 classes). Each name returns one tensor, is called once, and the
# lists are in depth order (the order in which the outputs are produced).
DEFAULT_LAYERS: dict[str, list[str]] = {
    "Deep4Net": [
        "pool_nonlin",
        "pool_nonlin_2",
        "pool_nonlin_3",
        "pool_nonlin_4",
        "final_layer.conv_classifier",
    ],
    "ShallowFBCSPNet": ["pool_nonlin_exp", "final_layer.conv_classifier"],
    # temporal conv + BN; depthwise spatial block after pooling; separable
    # block after pooling; classifier conv (before braindecode's squeeze).
    "EEGNet": [
        "bnorm_temporal",
        "pool_1",
        "pool_2",
        "final_layer.conv_classifier",
    ],
    # First inception module, the ends of the two residual stages (before the
    # functional residual sums, which are no modules), classifier.
    "EEGInceptionMI": [
        "initial_inception_module",
        "intermediate_inception_modules_1.1",
        "intermediate_inception_modules_2.2",
        "final_layer.fc",
    ],
    # Inception (temporal + depthwise spatial) block after pooling; middle and
    # last temporal-convolution residual block; reduction block after
    # pooling; classifier.
    "EEGITNet": [
        "pooling.0",
        "TC_block2",
        "TC_block4",
        "dim_reduction.3",
        "final_layer",
    ],
    # Temporal conv + BN; depthwise spatial block after pooling; conv block
    # after pooling; attention and TCN of the first sliding window; the mean
    # of the windows' class scores (out_fun, an identity by default).
    "ATCNet": [
        "conv_block.bn1",
        "conv_block.pool2",
        "conv_block.pool3",
        "attention_blocks.0",
        "temporal_conv_nets.0",
        "out_fun",
    ],
    # Shallow conv block after pooling; tokens; middle and last transformer
    # encoder block; classifier (the fully connected block before it has no
    # time axis).
    "EEGConformer": [
        "patch_embedding.shallownet.4",
        "patch_embedding",
        "transformer.2",
        "transformer.5",
        "final_layer",
    ],
    # EEGNet part: temporal conv + BN (its ELU module is shared, called three
    # times), depthwise block after pooling, separable block after pooling;
    # the TCN; classifier (on the TCN's last time step).
    "EEGTCNet": [
        "eegnet_tc.bn1",
        "eegnet_tc.pool1",
        "eegnet_tc.pool2",
        "tcn_block",
        "final_layer",
    ],
    # Temporal filter; after max-pooling; dense spatial filter with channels
    # collapsed; classifier (the adaptive pooling before it fixes the length).
    "TIDNet": [
        "dscnn.temporal.2",
        "dscnn.temporal.3",
        "dscnn.spatial",
        "final_layer.0",
    ],
    # The five conv blocks (3 and 5 after pooling, 5 before its flatten);
    # classifier.
    "EEGNeX": [
        "block_1",
        "block_2",
        "block_3.3",
        "block_4",
        "block_5.3",
        "final_layer",
    ],
    # Spatial conv + BN; spatio-temporal conv + BN; log of the smoothed
    # power; classifier.
    "SCCNet": [
        "spatial_batch_norm",
        "batch_norm",
        "activation",
        "final_layer",
    ],
    # Stem conv + BN (its ReLU is functional); the two conv blocks (after
    # the resampling to 80 Hz); classifier (after a global mean over time).
    "EEGSimpleConv": ["bn", "blocks.0", "blocks.1", "final_layer"],
}
"""Block outputs and classifier of braindecode's networks, by class name."""

_SOFTMAX = (nn.Softmax, nn.LogSoftmax)
_MAX_BLOCKS = 5  # block outputs kept by the rule (the classifier comes on top)
_NORMS = (
    nn.modules.batchnorm._NormBase,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
)


@verbose
@fill_doc
def default_layers(
    model: nn.Module,
    *,
    n_chans: int | None = None,
    n_times: int | None = None,
    verbose: bool | str | int | None = None,
) -> list[str]:
    """Layers analysed by default: block outputs and the classifier.

    Networks named in :data:`DEFAULT_LAYERS` (braindecode's, matched by
    class name) get the layers listed there. Any other network, or one of
    those names whose modules differ from the list, gets the layers found
    by the following rule, from a forward pass in eval mode on random input
    of ``n_times`` samples and one on ``2 * n_times`` samples:

    1. *Units* are the top-level children called in ``forward``. A child
       that is never called itself (a ``ModuleList``) is replaced by its
       called children, recursively. A called child with parameters whose
       output has no time axis (step 4) while outputs inside it have one
       (it pools or flattens time away internally) is replaced by its
       children too, once on each path down the tree.
    2. A unit is skipped if it is called more than once (a shared
       activation), returns anything but one tensor, returns the same
       values for every trial (it does not depend on the input: a
       positional encoding), or has no parameters and returns the same
       values as the unit called just before it, in any arrangement
       (dropout and identity in eval mode, reshapes, permutations).
    3. A unit with parameters starts a block, unless it is a normalisation
       layer whose output has the shape of the unit before it; units
       without parameters and such normalisation layers continue the block
       before them. Units before the first block (input reshapes) are
       ignored.
    4. Each block's output is its last unit whose output has a time axis:
       the output has at least three axes, one of which has more than one
       sample and changes length with the input (the batch axis aside).
       Blocks without such a unit are left out (whole-trial layers such as
       flatten + linear or global pooling).
    5. Of more than five block outputs, five evenly spaced in depth are
       kept, the first and the last included.
    6. The last unit called (not skipped by step 2, and before a trailing
       ``Softmax``/``LogSoftmax``) gives the class scores and is added
       last.

    A network that fails on the longer input keeps, as having a time axis,
    only the units that ran on it. The layers chosen are logged at INFO.

    Parameters
    ----------
    model : torch.nn.Module
        The network, taking input (n_trials, n_chans, n_times).
    n_chans : int | None
        Input channels, for the rule; None for ``model.n_chans`` (set by
        braindecode's networks). Not needed for networks in
        :data:`DEFAULT_LAYERS`.
    n_times : int | None
        Input samples per trial, for the rule; None for ``model.n_times``.
    %(verbose)s

    Returns
    -------
    layers : list of str
        Module names, in the order in which ``forward`` calls them.
    """
    name = type(model).__name__
    names = {n for n, _ in model.named_modules() if n}
    if name in DEFAULT_LAYERS:
        missing = [layer for layer in DEFAULT_LAYERS[name] if layer not in names]
        if not missing:
            return list(DEFAULT_LAYERS[name])
        logger.info(
            "%s lacks the default layers %s of braindecode's %s; finding its "
            "block outputs instead.",
            name,
            missing,
            name,
        )
    n_chans = _input_size(model, "n_chans", n_chans)
    n_times = _input_size(model, "n_times", n_times)
    layers = block_outputs(model, n_chans=n_chans, n_times=n_times)
    logger.info("Default layers of %s (block outputs): %s", name, ", ".join(layers))
    return layers


def _input_size(model: nn.Module, attr: str, value: int | None) -> int:
    """``value``, or the network's own attribute ``attr`` (braindecode's)."""
    if value is None:
        try:
            value = getattr(model, attr)
        except (AttributeError, ValueError):  # braindecode raises if unset
            value = None
    if value is None:
        names = [n for n, _ in model.named_modules() if n]
        raise invalid(
            "layers",
            f"no default layers are known for {type(model).__name__}, and its "
            f"input size is unknown (no {attr}).",
            f"Name the layers to analyse, from: {', '.join(names)}; or pass "
            "n_chans and n_times to envcorr.nn.layers.default_layers.",
        )
    return check_int(attr, value, minimum=1)


@dataclass
class _Call:
    """What the probing forward passes saw of one module."""

    order: int
    calls: int = 0
    tensor: bool = True
    shape: tuple | None = None
    long_shape: tuple | None = None
    values: tuple = ()
    constant: bool = False  # the same output for both probing trials

    @property
    def time_axis(self) -> bool:
        a, b = self.shape, self.long_shape
        if a is None or b is None or len(a) < 3 or len(b) != len(a) or a[0] != b[0]:
            return False
        # An axis of one sample at n_times is a whole-trial output (global
        # pooling), not a time axis.
        return any(m != n and m > 1 for m, n in zip(a[1:], b[1:], strict=True))


def block_outputs(model: nn.Module, *, n_chans: int, n_times: int) -> list[str]:
    """Block outputs and classifier of any network, by the rule of
    :func:`default_layers` (which validates the arguments and logs).

    Parameters
    ----------
    model : torch.nn.Module
        The network, taking input (n_trials, n_chans, n_times).
    n_chans : int
        Input channels.
    n_times : int
        Input samples per trial.

    Returns
    -------
    layers : list of str
        Module names, in call order.
    """
    calls = _probe(model, n_chans, n_times)
    units = _units(model, "", calls)
    units.sort(key=lambda n: calls[n].order)
    modules = dict(model.named_modules())

    kept: list[str] = []
    previous = None
    for unit in units:
        call = calls[unit]
        same = previous is not None and _same_values(call, calls[previous])
        previous = unit
        if call.calls != 1 or not call.tensor or call.constant:
            previous = None
            continue
        if same and not _has_params(modules[unit]):
            continue
        kept.append(unit)

    blocks: list[list[str]] = []
    for unit in kept:
        module = modules[unit]
        continues = not _has_params(module) or (
            isinstance(module, _NORMS)
            and blocks
            and _same_shapes(calls[unit], calls[blocks[-1][-1]])
        )
        if not continues:
            blocks.append([unit])
        elif blocks:
            blocks[-1].append(unit)
    layers = []
    for block in blocks:
        timed = [unit for unit in block if calls[unit].time_axis]
        if timed:
            layers.append(timed[-1])
    if len(layers) > _MAX_BLOCKS:
        # Evenly spaced in depth, the first and the last block included.
        last = len(layers) - 1
        n = _MAX_BLOCKS - 1
        picks = sorted({(2 * k * last + n) // (2 * n) for k in range(n + 1)})
        layers = [layers[k] for k in picks]
    scores = [u for u in kept if not isinstance(modules[u], _SOFTMAX)]
    if not scores:
        scores = kept
    if scores and scores[-1] not in layers:
        layers.append(scores[-1])
    if not layers:
        raise invalid(
            "layers",
            f"{type(model).__name__} has no module that returns one tensor.",
            "Name the layers to analyse.",
        )
    return layers


def _same_shapes(a: _Call, b: _Call) -> bool:
    """Whether two outputs have the same shape at both input lengths."""
    return a.shape == b.shape and a.long_shape == b.long_shape


def _same_values(a: _Call, b: _Call) -> bool:
    """Whether two outputs hold the same values, in any arrangement."""
    if not a.values or not b.values or a.values[0] != b.values[0]:
        return False
    return all(
        math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9)
        for x, y in zip(a.values[1:], b.values[1:], strict=True)
    )


def _has_params(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def _units(
    module: nn.Module, prefix: str, calls: dict[str, _Call], look_inside: bool = True
) -> list[str]:
    """Step 1 of the rule: the called top-level children, looked into where
    they are not called, or (once on each path) where they take time away."""
    units = []
    for child_name, child in module.named_children():
        name = prefix + child_name
        call = calls.get(name)
        inner = [
            n for n, _ in child.named_modules(prefix=name) if n != name and n in calls
        ]
        if call is None:
            if inner:
                units.extend(_units(child, name + ".", calls, look_inside))
        elif (
            look_inside
            and not call.time_axis
            and call.calls == 1
            and _has_params(child)
            and any(calls[n].time_axis for n in inner)
        ):
            units.extend(_units(child, name + ".", calls, look_inside=False))
        else:
            units.append(name)
    return units


def _probe(model: nn.Module, n_chans: int, n_times: int) -> dict[str, _Call]:
    """Run ``model`` on ``n_times`` and ``2 * n_times`` samples, recording
    every module call."""
    import torch

    from .._utils.torchutils import eval_mode, first_parameter

    param = first_parameter(model)
    dtype = param.dtype if param.is_floating_point() else torch.float32
    generator = torch.Generator().manual_seed(0)
    calls: dict[str, _Call] = {}

    def run(length: int, long: bool) -> None:
        x = torch.randn(2, n_chans, length, generator=generator)
        x = x.to(device=param.device, dtype=dtype)
        handles = []
        counter = [0]

        def pre_hook(module, args, name):
            if not long and name not in calls:
                calls[name] = _Call(order=counter[0])
                counter[0] += 1

        def hook(module, args, out, name):
            call = calls.get(name)
            if call is None:
                return
            if long:
                if call.long_shape is None and torch.is_tensor(out):
                    call.long_shape = tuple(out.shape)
                return
            call.calls += 1
            if not torch.is_tensor(out):
                call.tensor = False
            elif call.shape is None:
                call.shape = tuple(out.shape)
                # Different random trials, the same output: no input in it.
                call.constant = (
                    out.ndim > 0 and len(out) == len(x) and torch.equal(out[0], out[1])
                )
                # Statistics that do not depend on the arrangement of values.
                v = out.detach().double()
                if v.numel():
                    stats = (v.min(), v.max(), v.sum(), (v * v).sum())
                    call.values = (v.numel(), *(float(s) for s in stats))

        for name, module in model.named_modules():
            if name:
                handles.append(
                    module.register_forward_pre_hook(
                        lambda m, a, n=name: pre_hook(m, a, n)
                    )
                )
                handles.append(
                    module.register_forward_hook(
                        lambda m, a, o, n=name: hook(m, a, o, n)
                    )
                )
        try:
            with torch.no_grad(), eval_mode(model):
                model(x)
        finally:
            for handle in handles:
                handle.remove()

    try:
        run(n_times, long=False)
    except Exception as err:
        names = [n for n, _ in model.named_modules() if n]
        raise invalid(
            "layers",
            f"{type(model).__name__} fails on input of shape (2, {n_chans}, "
            f"{n_times}), so its default layers cannot be found: "
            f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
            f"Check n_chans and n_times, or name the layers to analyse, from: "
            f"{', '.join(names)}.",
        ) from err
    try:
        run(2 * n_times, long=True)
    except Exception as err:
        # Whole-trial layers (flatten + linear) fail on other lengths; the
        # modules that ran before the failure are still measured.
        logger.debug(
            "%s fails on %d samples (%s); modules after the failure count as "
            "having no time axis.",
            type(model).__name__,
            2 * n_times,
            err,
        )
    return calls
