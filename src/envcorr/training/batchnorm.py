"""Batch-norm statistics that fit the eval-mode network.

During training, dropout (p = 0.5 before Deep4's conv blocks 2–4) inflates
the variance of the inputs of the following batch-norm layers, so the running
statistics collected in training mode do not fit the network in eval mode,
where dropout is off: at Deep4's last block they overestimate the variance
about tenfold. :func:`recalibrate_batchnorm` re-estimates them from one pass
over training data with dropout off.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from .._utils.check import (
    check_array,
    check_instance,
    check_int,
    check_positive_float,
)
from .._utils.docs import fill_doc
from .._utils.torchutils import eval_mode, first_parameter
from .scoring import DEFAULT_INPUT_SCALE, scaled_input


@fill_doc
def recalibrate_batchnorm(
    model: torch.nn.Module,
    X: np.ndarray,
    *,
    input_scale: float = DEFAULT_INPUT_SCALE,
    batch_size: int = 64,
) -> None:
    """Re-estimate the batch-norm running statistics with dropout off, in place.

    The data run once through the network in eval mode except for its batch
    norms, which accumulate the plain average of the batch statistics
    (momentum None) from reset statistics. Weights are unchanged, and every
    module's train/eval mode and every batch norm's momentum are restored.

    Parameters
    ----------
    model : torch.nn.Module
        The network, on its own device.
    X : ndarray, shape (n_trials, n_channels, n_times)
        Training trials in volts.
    %(input_scale)s
    batch_size : int
        Trials per forward pass; every batch counts equally in the averages.
    """
    check_instance("model", model, torch.nn.Module)
    X = check_array("X", X, ndim=3, dims="(n_trials, n_channels, n_times)")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    input_scale = check_positive_float("input_scale", input_scale)
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    if not norms:
        return
    device = first_parameter(model).device
    momenta = [m.momentum for m in norms]
    with eval_mode(model):
        try:
            for m in norms:
                m.reset_running_stats()
                m.momentum = None  # cumulative average over the batches
                m.train()
            with torch.no_grad():
                for start in range(0, len(X), batch_size):
                    model(
                        scaled_input(X[start : start + batch_size], input_scale, device)
                    )
        finally:
            for m, momentum in zip(norms, momenta, strict=True):
                m.momentum = momentum
