"""Brute-force windows of layer outputs, probed by derivatives.

Shared by the tests of the derived windows (test_nn_footprint.py) and of the
maps on many networks (test_maps_models.py).
"""

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD
from torch.nn.attention import SDPBackend, sdpa_kernel

from envcorr.nn.capture import run_until


def probed_windows(model, geometry, n_chans, n_times, *, chunk=64, retries=8):
    """Window of every output position of every layer, probed by derivatives.

    Position ``j`` of a layer depends on input sample ``i`` when the derivative
    of the sum over its units at ``j`` with respect to the input at ``i`` (any
    channel) is not zero on a random trial. Layers with few positions are
    probed row by row (the input gradient of each position, reverse mode);
    the others column by column (for each input sample, the forward-mode
    derivative of every output in a random direction over the channels at
    that sample), which costs ``n_times`` passes for all such layers
    together. Positions whose edges look unused (ReLU at zero, max-pooling)
    are probed again on ``retries`` more random trials.
    """
    gen = torch.Generator().manual_seed(0)
    support = {g.name: np.zeros((g.n_out, n_times), bool) for g in geometry}
    by_rows = [g for g in geometry if g.n_out <= 64]
    by_columns = [g for g in geometry if g.n_out > 64]

    def units_last(out, g):
        if g.time_axis is not None:
            out = out.movedim(g.time_axis, -1)
        return out.reshape(out.shape[0], -1, g.n_out).sum(dim=1)

    def rows(trial, g, positions):
        x = trial.expand(len(positions), -1, -1).clone().requires_grad_(True)
        out = units_last(run_until(model, x, [g.name])[g.name], g)
        (grad,) = torch.autograd.grad(
            out[np.arange(len(positions)), positions].sum(), x
        )
        support[g.name][positions] |= (grad != 0).any(dim=1).numpy()

    def columns(trial, samples):
        names = [g.name for g in by_columns]
        for c in range(0, len(samples), chunk):
            i = torch.as_tensor(samples[c : c + chunk])
            x = trial.expand(len(i), -1, -1).clone()
            v = torch.zeros_like(x)
            v[torch.arange(len(i)), :, i] = torch.randn(
                (len(i), n_chans), generator=gen
            )
            with fwAD.dual_level(), torch.no_grad():
                out = run_until(model, fwAD.make_dual(x, v), names)
                for g in by_columns:
                    d = units_last(fwAD.unpack_dual(out[g.name]).tangent, g)
                    support[g.name][:, i.numpy()] |= (d != 0).numpy().T

    def mismatched():
        bad = {}
        for g in geometry:
            s = support[g.name]
            first = np.where(s.any(1), s.argmax(1), -1)
            last = np.where(s.any(1), n_times - 1 - s[:, ::-1].argmax(1), -1)
            bad[g.name] = np.flatnonzero((first != g.starts) | (last != g.stops - 1))
        return {k: v for k, v in bad.items() if v.size}

    def trial():
        return torch.randn((1, n_chans, n_times), generator=gen)

    # the math kernel of attention has forward-mode derivatives
    with sdpa_kernel(SDPBackend.MATH):
        for g in by_rows:
            rows(trial(), g, np.arange(g.n_out))
        if by_columns:
            columns(trial(), np.arange(n_times))
        for _ in range(retries):
            bad = mismatched()
            edges = set()
            for g in geometry:
                positions = bad.get(g.name, np.array([], int))
                if positions.size and g.n_out <= 64:
                    rows(trial(), g, positions)
                elif positions.size:
                    edges |= set(g.starts[positions]) | set(g.stops[positions] - 1)
            if edges:
                columns(trial(), sorted(edges))
    return support, mismatched()
