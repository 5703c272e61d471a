"""The benchmark's plain reference (benchmarks/reference.py) agrees with envcorr."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from braindecode.models import Deep4Net

import envcorr
from envcorr.data.simulate import BCI_IV_2A_CH_NAMES
from envcorr.nn.layers import default_layers

_path = Path(__file__).resolve().parents[1] / "benchmarks" / "reference.py"
_spec = importlib.util.spec_from_file_location("envcorr_benchmark_reference", _path)
_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_reference)
reference_maps = _reference.reference_maps

SFREQ = 250.0
BANDS = {"delta": (0.0, 4.0), "alpha": (7.0, 13.0), "high_gamma": (71.0, 91.0)}


def _deep4(seed: int) -> Deep4Net:
    torch.manual_seed(seed)
    return Deep4Net(n_chans=22, n_outputs=4, n_times=1125, final_conv_length="auto")


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 22, 1125)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 0, 1])
    trained, untrained = _deep4(1), _deep4(2)
    layers = default_layers(trained)
    ref = reference_maps(
        trained, untrained, X, sfreq=SFREQ, bands=BANDS, layers=layers, y=y
    )
    return X, y, trained, untrained, ref


@pytest.mark.parametrize(
    ("filter_method", "tol_lowpass", "tol_bandpass"),
    [("sosfiltfilt", 1e-5, 1e-5), ("auto", 1e-5, 1e-3), ("fft", 3e-2, 1e-3)],
)
def test_reference_matches_compute_maps(case, filter_method, tol_lowpass, tol_bandpass):
    X, y, trained, untrained, ref = case
    maps = envcorr.compute_maps(
        trained,
        X,
        sfreq=SFREQ,
        ch_names=BCI_IV_2A_CH_NAMES,
        y=y,
        bands=BANDS,
        untrained_model=untrained,
        filter_method=filter_method,
        verbose="warning",
    )
    assert ref["unit_corr"].shape == maps["unit_corr"].shape
    assert list(ref["receptive_field"]) == list(maps["receptive_field"].values)
    assert not np.isnan(ref["unit_corr"]).any()
    # Largest difference per band, unit and class correlations together.
    d_unit = np.abs(maps["unit_corr"].values - ref["unit_corr"]).max(axis=(0, 2, 3))
    d_class = np.abs(maps["class_corr"].values - ref["class_corr"]).max(axis=(1, 2))
    d_band = np.maximum(d_unit, d_class)
    lowpass = np.array([lo == 0 for lo, _ in BANDS.values()])
    # Measured on these 6 white-noise trials: sosfiltfilt ~1e-6 in every band
    # (envcorr runs the networks with channels-last convolutions, whose float32
    # rounding differs from the reference's plain ones); fft 9e-3 in delta,
    # where the FFT filter's edges differ from sosfiltfilt's, and 1e-4 / 3e-6
    # in alpha / high gamma; auto takes delta from sosfiltfilt.
    assert (d_band[lowpass] < tol_lowpass).all(), d_band
    assert (d_band[~lowpass] < tol_bandpass).all(), d_band
