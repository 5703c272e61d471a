"""Torch helpers: devices, modes and random state that leave no trace.

Every public call of envcorr leaves torch as it found it: random state
(:func:`seeded`), deterministic-algorithm flags (:func:`deterministic`) and
the train/eval mode of each module of a network (:func:`eval_mode`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from .check import invalid


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device``, or CUDA when available and CPU otherwise.

    Parameters
    ----------
    device : str | torch.device | None
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, a device, or None.

    Returns
    -------
    device : torch.device
    """
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


def first_parameter(model: nn.Module) -> torch.Tensor:
    """The first parameter of ``model`` (its device and dtype), or an empty tensor."""
    try:
        return next(model.parameters())
    except StopIteration:
        return torch.empty(0)


@contextlib.contextmanager
def eval_mode(*models: nn.Module) -> Iterator[None]:
    """Put networks in eval mode; restore every module's own mode afterwards.

    Each module's flag is restored as it was (not the whole network to one
    mode), so a network whose batch norms alone were training stays so.
    """
    modes = [(m, m.training) for model in models for m in model.modules()]
    for model in models:
        model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Seed torch's generators inside the block, restoring them afterwards.

    For code that draws from the global generators (weight initialisation,
    dropout): the draws inside are reproducible, and the caller's random state
    is the same after the block as before. The CPU generator is always seeded;
    the CUDA generators only when ``device`` is a CUDA device.
    """
    cuda = device is not None and device.type == "cuda"
    devices = list(range(torch.cuda.device_count())) if cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.default_generator.manual_seed(seed)
        if cuda:
            torch.cuda.manual_seed_all(seed)
        yield


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    """Deterministic algorithms (warn where none exists), restored afterwards."""
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    benchmark = torch.backends.cudnn.benchmark
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        torch.backends.cudnn.benchmark = benchmark
