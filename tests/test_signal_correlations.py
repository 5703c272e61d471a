import numpy as np
import pytest

from envcorr.correlations import pooled_corr


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
