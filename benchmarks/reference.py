"""A plain NumPy/SciPy implementation of docs/method.md: the yardstick for envcorr.

Written for clarity, not speed: float64 throughout, every intermediate array
materialised for all trials at once, one ``np.corrcoef`` per layer. It shares
nothing with :func:`envcorr.compute_maps` except the filter design
(:func:`envcorr.signal.envelopes.band_sos`) and the default margin, so that the edge
handling is the same as envcorr's per-trial mode:

* each trial is mirrored by ``margin`` samples on both sides
  (``np.pad(mode="reflect")``, margin capped at ``n_times - 1``);
* ``scipy.signal.sosfiltfilt(..., padtype=None)`` (the mirror is the padding);
* ``scipy.signal.hilbert`` on the padded trial, zero-padded to
  ``scipy.fft.next_fast_len`` as envcorr does (without that, r differs from
  envcorr's sosfiltfilt mode by ~3e-6 instead of ~2e-8), then cropped.

Like envcorr's per-trial mode, trials are cast to float32 after mirroring (the
precision envcorr filters from); everything after that is float64.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.fft
import scipy.signal
import torch
from torch import nn

from envcorr.signal.envelopes import band_sos, default_margin


def band_power(
    X: np.ndarray, sfreq: float, bands: Mapping[str, tuple[float, float]]
) -> np.ndarray:
    """Squared band envelopes, shape (n_trials, n_bands, n_channels, n_times)."""
    n_times = X.shape[-1]
    margin = min(default_margin(bands, sfreq), n_times - 1)
    padded = np.pad(X, [(0, 0), (0, 0), (margin, margin)], mode="reflect")
    padded = padded.astype(np.float32).astype(np.float64)
    n_fft = scipy.fft.next_fast_len(padded.shape[-1], real=True)
    power = []
    for low, high in bands.values():
        sos = band_sos(low, high, sfreq)
        filtered = scipy.signal.sosfiltfilt(sos, padded, axis=-1, padtype=None)
        analytic = scipy.signal.hilbert(filtered, N=n_fft, axis=-1)
        envelope = np.abs(analytic[..., margin : margin + n_times])
        power.append(envelope**2)
    return np.stack(power, axis=1)


def moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """``out[..., t] = mean(x[..., t : t + width])`` (valid, stride 1)."""
    csum = np.cumsum(x, axis=-1)
    csum = np.concatenate([np.zeros_like(csum[..., :1]), csum], axis=-1)
    return (csum[..., width:] - csum[..., :-width]) / width


def dense_activations(
    model: nn.Module,
    X: np.ndarray,
    layers: Sequence[str],
    *,
    input_scale: float = 1.0,
    batch_size: int = 64,
) -> dict[str, np.ndarray]:
    """Outputs of ``layers`` of the dense network, each (n_trials, n_units, n_out).

    A full forward pass with hooks, in batches; float64 afterwards.
    """
    net = copy.deepcopy(model)
    net.to_dense_prediction_model()  # braindecode: strides become dilations
    net.eval()
    found: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    handles = [
        module.register_forward_hook(
            lambda m, args, out, name=name: found[name].append(out)
        )
        for name, module in net.named_modules()
        if name in found
    ]
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            x = torch.as_tensor(X[start : start + batch_size], dtype=torch.float32)
            net(x * input_scale)
    for handle in handles:
        handle.remove()
    acts = {}
    for name, outs in found.items():
        a = torch.cat(outs).double().numpy()
        while a.ndim > 3 and a.shape[-1] == 1:  # braindecode's trailing 1-axes
            a = a[..., 0]
        acts[name] = a
    return acts


def pooled_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of rows of a and b, trials concatenated along time.

    a : (n_trials, n_a, n_t), b : (n_trials, n_b, n_t) -> r : (n_a, n_b).
    """
    n_a = a.shape[1]
    a = a.transpose(1, 0, 2).reshape(n_a, -1)
    b = b.transpose(1, 0, 2).reshape(b.shape[1], -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.corrcoef(a, b)[:n_a, n_a:]


def reference_maps(
    trained: nn.Module,
    untrained: nn.Module,
    X: np.ndarray,
    *,
    sfreq: float,
    bands: Mapping[str, tuple[float, float]],
    layers: Sequence[str],
    y: np.ndarray | None = None,
    n_classes: int | None = None,
    class_layer: str | None = None,
    input_scale: float = 1.0,
    batch_size: int = 64,
) -> dict[str, np.ndarray]:
    """Envelope-activation correlations of docs/method.md, steps 1-6 and 9.

    Parameters
    ----------
    trained, untrained : torch.nn.Module
        braindecode networks (not yet dense) with the same architecture.
    X : ndarray, shape (n_trials, n_channels, n_times)
        The trials.
    sfreq : float
        Sampling frequency in Hz.
    bands : dict of str to (float, float)
        Bands in Hz.
    layers : list of str
        Module names, ordered by depth.
    y : ndarray of int, shape (n_trials,) | None
        Class indices, for the envelope-class correlation.
    n_classes : int | None
        Number of classes (default ``y.max() + 1``).
    class_layer : str | None
        Layer whose receptive field averages the envelopes for the class
        correlation; None for the last of ``layers`` outside ``final_layer``.
    input_scale : float
        Factor applied to ``X`` before the networks.
    batch_size : int
        Trials per forward pass.

    Returns
    -------
    result : dict
        ``unit_corr`` shape (2, n_bands, n_channels, n_units) for (trained,
        untrained), units layer after layer; ``receptive_field`` (one per
        layer); ``class_corr`` shape (n_bands, n_channels, n_classes) when
        ``y`` is given.
    """
    n_trials, n_chans, n_times = X.shape
    n_bands = len(bands)
    power = band_power(X, sfreq, bands)
    power = power.reshape(n_trials, n_bands * n_chans, n_times)

    unit_corr = []
    for model in (trained, untrained):
        acts = dense_activations(
            model, X, layers, input_scale=input_scale, batch_size=batch_size
        )
        blocks = []
        fields = []
        for name in layers:
            a = acts[name]
            field = n_times - a.shape[-1] + 1  # a dense, unpadded layer
            r = pooled_corr(a, moving_average(power, field))
            blocks.append(r.reshape(-1, n_bands, n_chans).transpose(1, 2, 0))
            fields.append(field)
        unit_corr.append(np.concatenate(blocks, axis=-1))
    result = {"unit_corr": np.stack(unit_corr), "receptive_field": np.array(fields)}

    if y is not None:
        if class_layer is None:
            body = [n for n in layers if not n.startswith("final_layer")] or layers
            class_layer = body[-1]
        field = fields[list(layers).index(class_layer)]
        avg = moving_average(power, field)
        n_classes = int(y.max()) + 1 if n_classes is None else n_classes
        onehot = np.eye(n_classes)[y][:, :, None].repeat(avg.shape[-1], axis=-1)
        r = pooled_corr(onehot, avg)
        result["class_corr"] = r.T.reshape(n_bands, n_chans, n_classes)
    return result
