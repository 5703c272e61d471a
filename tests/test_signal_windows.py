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


def test_window_averages_at_equal_valid_for_dense_windows():
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.random((2, 3, 60)).astype(np.float32) * 1e-10)
    windows = WindowAverages(x)
    for width in (1, 9, 60):
        starts = np.arange(61 - width)
        out = windows.at(starts, starts + width)
        assert out.dtype == torch.float32
        assert torch.equal(out, windows.valid(width))  # bit for bit


def test_window_averages_at_arbitrary_windows():
    rng = np.random.default_rng(2)
    x = rng.random((2, 3, 50))
    starts = np.array([0, 0, 7, 40, 49, 3])
    stops = np.array([3, 50, 8, 50, 50, 30])  # edges, whole trial, overlaps
    out = WindowAverages(torch.from_numpy(x)).at(starts, stops)
    expected = np.stack(
        [x[..., a:b].mean(axis=-1) for a, b in zip(starts, stops, strict=True)], -1
    )
    assert out.shape == (2, 3, 6)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("stride", [1, 3])
def test_window_averages_at_padded_strided_windows(stride):
    # A 'same'-padded layer of width 9 (cut at both edges) then a stride: runs
    # of regular windows are sliced, the cut ones gathered; both must agree
    # with the plain mean, and the runs must be found.
    from envcorr.signal.windows import _plan

    rng = np.random.default_rng(3)
    x = rng.random((2, 3, 40))
    centres = np.arange(0, 40, stride)
    starts, stops = np.maximum(centres - 4, 0), np.minimum(centres + 5, 40)
    out = WindowAverages(torch.from_numpy(x)).at(starts, stops)
    expected = np.stack(
        [x[..., a:b].mean(axis=-1) for a, b in zip(starts, stops, strict=True)], -1
    )
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    runs, rest = _plan(tuple(starts.tolist()), tuple(stops.tolist()))
    assert [r[3:] for r in runs] == [(9, stride)]
    assert len(rest) + sum(j1 - j0 for j0, j1, *_ in runs) == len(starts)


@pytest.mark.parametrize(
    ("starts", "stops", "match"),
    [
        ([0, 5], [3, 5], r"'stops'.*window 1 is empty \(5 \.\. 4\)"),
        ([-1], [3], r"'stops'.*within the 20 samples"),
        ([0], [21], r"'stops'.*within the 20 samples"),
        ([0, 1], [3], r"'starts'.*same length"),
        ([0.0], [3.0], r"'starts'.*integer"),
    ],
)
def test_window_averages_at_refuses_bad_windows(starts, stops, match):
    windows = WindowAverages(torch.ones(1, 1, 20))
    with pytest.raises(InvalidInputError, match=match):
        windows.at(np.array(starts), np.array(stops))
