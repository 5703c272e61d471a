"""Tests of envcorr.signal.correlations: Pearson r pooled over trials and time."""

import numpy as np
import pytest
import torch

from envcorr.signal.correlations import (
    PooledCorrelation,
    one_hot_over_time,
    pooled_corr,
)


@pytest.mark.parametrize("batch_size", [1, 3, None])
def test_pooled_corr_equals_corrcoef_of_concatenated_trials(batch_size):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((7, 3, 50)) + 5.0  # offsets test the shifted sums
    b = rng.standard_normal((7, 4, 50)) * 1e-10 + 1e-9  # volts-squared scale
    b[:, 0] += 0.5e-10 * a[:, 0]
    r = pooled_corr(a, b, batch_size=batch_size)
    flat_a = a.transpose(1, 0, 2).reshape(3, -1)
    flat_b = b.transpose(1, 0, 2).reshape(4, -1)
    ref = np.corrcoef(flat_a, flat_b)[:3, 3:]
    # float32 products per trial, float64 sums over trials: ~1e-8 of float64
    np.testing.assert_allclose(r, ref, atol=1e-7)
    assert r[0, 0] > 0.3


def test_constant_rows_give_nan():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 2, 20))
    b = rng.standard_normal((4, 3, 20))
    b[:, 1] = 2.0
    r = pooled_corr(a, b)
    assert np.isnan(r[:, 1]).all()
    assert np.isfinite(r[:, [0, 2]]).all()


def test_groups_share_the_features_of_each_batch():
    rng = np.random.default_rng(2)
    b = torch.from_numpy(rng.standard_normal((6, 3, 30)))
    a1 = torch.from_numpy(rng.standard_normal((6, 2, 30))) + 0.5 * b[:, :2]
    a2 = torch.from_numpy(rng.standard_normal((6, 4, 30)))
    acc = PooledCorrelation(3)
    for start in (0, 2, 4):
        prepared = acc.add_features(b[start : start + 2])
        acc.add_group("one", a1[start : start + 2], prepared)
        acc.add_group(("net", "layer"), a2[start : start + 2], prepared)
    # float32 products within trials: batching changes r by ~1e-8
    expected = pooled_corr(a1.numpy(), b.numpy())
    np.testing.assert_allclose(acc.corr("one"), expected, atol=1e-7)
    expected = pooled_corr(a2.numpy(), b.numpy())
    np.testing.assert_allclose(acc.corr(("net", "layer")), expected, atol=1e-7)


def test_a_group_missing_from_a_batch_is_an_error():
    rng = np.random.default_rng(3)
    b = torch.from_numpy(rng.standard_normal((4, 2, 10)))
    a = torch.from_numpy(rng.standard_normal((4, 1, 10)))
    acc = PooledCorrelation(2)
    acc.update(b[:2], {"a": a[:2]})
    acc.update(b[2:], {})
    with pytest.raises(ValueError, match="every batch must give every group"):
        acc.corr("a")


def test_one_hot_over_time():
    onehot = one_hot_over_time(np.array([2, 0]), 3, 4)
    assert onehot.shape == (2, 3, 4)
    assert onehot[0, :, 0].tolist() == [0.0, 0.0, 1.0]
    assert onehot[1, :, 3].tolist() == [1.0, 0.0, 0.0]
