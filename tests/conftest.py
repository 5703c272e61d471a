"""Shared fixtures: small networks and data whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
from torch import nn

SFREQ = 250.0


class Square(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * x


class PowerNet(nn.Module):
    """A hand-built network whose unit 0 computes one band's power at one channel.

    ``select`` picks the channel, ``bandpass`` is an FIR band-pass (unit 0) and an
    FIR high-pass (unit 1), ``square`` and ``pool`` (moving average) turn the
    filtered signal into its running power.
    """

    def __init__(self, n_chans: int, channel: int, band: tuple[float, float]):
        super().__init__()
        self.select = nn.Conv1d(n_chans, 1, 1, bias=False)
        self.bandpass = nn.Conv1d(1, 2, 101, bias=False)
        self.square = Square()
        self.pool = nn.AvgPool1d(50, stride=1)
        with torch.no_grad():
            self.select.weight.zero_()
            self.select.weight[0, channel, 0] = 1.0
            fir = scipy.signal.firwin(101, band, pass_zero=False, fs=SFREQ)
            high = scipy.signal.firwin(101, 100.0, pass_zero=False, fs=SFREQ)
            self.bandpass.weight[0, 0] = torch.tensor(fir, dtype=torch.float32)
            self.bandpass.weight[1, 0] = torch.tensor(high, dtype=torch.float32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.square(self.bandpass(self.select(x))))


def modulated_alpha(
    n_trials: int = 40, n_chans: int = 4, n_times: int = 1000, channel: int = 2, seed=0
) -> np.ndarray:
    """White noise plus, at ``channel``, a 10 Hz rhythm of varying amplitude.

    The amplitude varies across trials and slowly within them, so alpha power
    at that channel changes over time while every other band and channel
    carries stationary noise.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n_times) / SFREQ
    X = rng.standard_normal((n_trials, n_chans, n_times))
    for i in range(n_trials):
        slow = 1 + np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t + rng.uniform(0, 6))
        amp = rng.uniform(0.2, 3.0) * slow
        X[i, channel] += amp * np.sin(2 * np.pi * 10.0 * t + rng.uniform(0, 6))
    return X.astype(np.float32)


@pytest.fixture
def power_net():
    return PowerNet


@pytest.fixture(scope="session")
def deep4():
    """A dense Deep4Net for 22 channels and 1125 samples, and its initial copy."""
    from braindecode.models import Deep4Net

    torch.manual_seed(0)
    trained = Deep4Net(n_chans=22, n_outputs=4, n_times=1125, final_conv_length="auto")
    untrained = Deep4Net(
        n_chans=22, n_outputs=4, n_times=1125, final_conv_length="auto"
    )
    trained.to_dense_prediction_model()
    untrained.to_dense_prediction_model()
    return trained.eval(), untrained.eval()
