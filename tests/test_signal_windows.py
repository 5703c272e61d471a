"""Tests of envcorr.signal.windows: averages over receptive fields."""

import numpy as np
import pytest
import torch

from envcorr import InvalidInputError, moving_average
from envcorr.signal.windows import WindowAverages


def test_moving_average_equals_convolution():
    rng = np.random.default_rng(2)
    x = rng.random((3, 2, 300))
    for width in (1, 7, 300):
        out = moving_average(x, width)
        ref = np.apply_along_axis(
            lambda v, w=width: np.convolve(v, np.ones(w) / w, mode="valid"), -1, x
        )
        assert out.shape == (3, 2, 300 - width + 1)
        np.testing.assert_allclose(out, ref, rtol=1e-10)
    with pytest.raises(InvalidInputError, match="'width'.*longer"):
        moving_average(x, 301)


@pytest.mark.parametrize("width", [1, 7, 50])
def test_window_averages_equal_the_numpy_moving_average(width):
    rng = np.random.default_rng(0)
    x = rng.random((3, 4, 50)).astype(np.float32) * 1e-10  # volts squared
    windows = WindowAverages(torch.from_numpy(x))
    out = windows.valid(width)
    assert out.dtype == torch.float32 and out.shape == (3, 4, 51 - width)
    np.testing.assert_allclose(out.numpy(), moving_average(x, width), rtol=1e-5)
    # the cumulative sum is shared: another width from the same object
    np.testing.assert_allclose(
        windows.valid(2).numpy(), moving_average(x, 2), rtol=1e-5
    )
