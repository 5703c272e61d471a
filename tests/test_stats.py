"""Group statistics: known answers, agreement with MNE, error rates, inputs."""

from __future__ import annotations

import itertools
from math import sqrt

import mne
import numpy as np
import pytest

from envcorr._utils.check import InvalidInputError
from envcorr.stats import GroupTest, group_test, subject_z


def _all_signs(n: int) -> np.ndarray:
    """Every sign pattern of n subjects, shape (2**n, n)."""
    return np.array(list(itertools.product((1.0, -1.0), repeat=n)))


def _brute_force(X: np.ndarray, tail: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-cell and max-|t| p-values over all 2**n sign patterns.

    An independent implementation: t with np.std(ddof=1), every pattern
    enumerated (no symmetry used). MNE's max statistic is max |t| for every
    tail.
    """
    n = X.shape[0]
    flipped = _all_signs(n)[:, :, None] * X[None]  # (2**n, n, cells)
    t = flipped.mean(axis=1) / (flipped.std(axis=1, ddof=1) / sqrt(n))
    t_obs = t[0]
    tol = 1e-9 * np.abs(t_obs)
    if tail == 0:
        p = (np.abs(t) >= np.abs(t_obs) - tol).mean(axis=0)
    elif tail == 1:
        p = (t >= t_obs - tol).mean(axis=0)
    else:
        p = (t <= t_obs + tol).mean(axis=0)
    max_abs = np.abs(t).max(axis=1)[:, None]
    if tail == 0:
        p_fwer = (max_abs >= np.abs(t_obs) - tol).mean(axis=0)
    elif tail == 1:
        p_fwer = (max_abs >= t_obs - tol).mean(axis=0)
    else:
        p_fwer = (-max_abs <= t_obs + tol).mean(axis=0)
    return p, p_fwer


# --- known answers worked out by hand ----------------------------------------


def test_three_subjects_by_hand():
    # x = (1, 2, 3): t = 2 / (1 / sqrt 3) = 2 sqrt 3. The 8 sign patterns give
    # sums 6, 4, 2, 0, 0, -2, -4, -6 and |t| = 2√3 only for (+++) and (---):
    # two-sided p = 2/8; upper p = 1/8; lower p = 8/8.
    X = np.array([[1.0], [2.0], [3.0]])
    res = group_test(X)
    assert isinstance(res, GroupTest)
    assert res.exact and res.n_flips == 4 and res.n_subjects == 3
    np.testing.assert_allclose(res.t, [2 * sqrt(3)])
    np.testing.assert_allclose(res.mean, [2.0])
    np.testing.assert_allclose(res.p, [2 / 8])
    np.testing.assert_allclose(res.p_fwer, [2 / 8])
    np.testing.assert_allclose(res.q_fdr, [2 / 8])

    up = group_test(X, tail=1)
    assert up.n_flips == 8
    np.testing.assert_allclose(up.p, [1 / 8])
    # MNE's max statistic is |t| whatever the tail: (---) counts too.
    np.testing.assert_allclose(up.p_fwer, [2 / 8])
    down = group_test(X, tail=-1)
    np.testing.assert_allclose(down.p, [1.0])
    np.testing.assert_allclose(down.p_fwer, [1.0])


def test_four_subjects_two_cells_by_hand():
    # Both cells have |x| = (1, 2, 3, 4), so |t| grows with |sum| and every
    # sign pattern (first subject kept) gives a sum 1 ± 2 ± 3 ± 4 in
    # {10, 2, 4, -4, 6, -2, 0, -8}.
    # Cell A = (1, 2, 3, 4): |sum| 10 is the largest: p = 1/8.
    # Cell B = (1, 2, -3, 4): |sum| 4; 10, 4, -4, 6, -8 reach it: p = 5/8.
    # Max over cells of |sum| per pattern (s2, s3, s4): +++ 10, ++- 4,
    # +-+ 10, +-- 4, -++ 6, -+- 8, --+ 6, --- 8: p_fwer A = 2/8, B = 8/8.
    # BH: q = (1/8 · 2/1, 5/8 · 2/2) = (2/8, 5/8).
    X = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, -3.0], [4.0, 4.0]])
    res = group_test(X)
    assert res.n_flips == 8
    np.testing.assert_allclose(res.mean, [2.5, 1.0])
    np.testing.assert_allclose(res.t, [sqrt(15), sqrt(6 / 13)])
    np.testing.assert_allclose(res.p, [1 / 8, 5 / 8])
    np.testing.assert_allclose(res.p_fwer, [2 / 8, 1.0])
    np.testing.assert_allclose(res.q_fdr, [2 / 8, 5 / 8])


def test_four_subjects_max_t_null_by_hand():
    X = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, -3.0], [4.0, 4.0]])
    res = group_test(X)

    def t_of_sum(s):  # n = 4, sum of squares 30
        mean = s / 4
        return abs(mean) / sqrt((30 - 4 * mean**2) / 3 / 4)

    expected = sorted(t_of_sum(s) for s in (10, 4, 10, 4, 6, 8, 6, 8))
    np.testing.assert_allclose(res.max_t_null, expected)


# --- agreement with MNE and with brute force ----------------------------------


@pytest.mark.parametrize("tail", [0, 1, -1])
def test_exact_matches_brute_force_and_mne(tail):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(7, 2, 3, 4)) + np.linspace(-1, 1, 24).reshape(2, 3, 4)
    res = group_test(X, tail=tail)
    assert res.exact and res.n_flips == 2 ** (7 - (tail == 0))
    assert res.p.shape == res.p_fwer.shape == res.t.shape == (2, 3, 4)
    p, p_fwer = _brute_force(X.reshape(7, -1), tail)
    np.testing.assert_allclose(res.p.ravel(), p)
    np.testing.assert_allclose(res.p_fwer.ravel(), p_fwer)
    t_mne, p_mne, h0 = mne.stats.permutation_t_test(
        X.reshape(7, -1), n_permutations=2**7, tail=tail, verbose=False
    )
    np.testing.assert_allclose(res.t.ravel(), t_mne)
    np.testing.assert_allclose(res.p_fwer.ravel(), p_mne)
    np.testing.assert_allclose(res.max_t_null, h0)
    assert np.all(res.p <= res.p_fwer)


@pytest.mark.parametrize("tail", [0, 1])
def test_random_flips_match_mne_and_seed(tail):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(14, 30)) + 0.4
    res = group_test(X, tail=tail, n_permutations=500, seed=7)
    assert not res.exact and res.n_flips == 500
    _, p_mne, h0 = mne.stats.permutation_t_test(
        X, n_permutations=500, tail=tail, seed=7, verbose=False
    )
    np.testing.assert_allclose(res.p_fwer, p_mne)
    np.testing.assert_allclose(res.max_t_null, h0)
    assert np.all(res.p <= res.p_fwer)
    # Close to the exact per-cell p-values (8192 or 16384 patterns).
    exact = group_test(X, tail=tail, exact_max=14)
    assert exact.exact
    np.testing.assert_allclose(res.p, exact.p, atol=0.07)
    # Reproducible with a seed, and the seed matters.
    again = group_test(X, tail=tail, n_permutations=500, seed=7)
    np.testing.assert_array_equal(res.p, again.p)
    other = group_test(X, tail=tail, n_permutations=500, seed=8)
    assert not np.array_equal(res.p, other.p)


def test_many_subjects_random_flips():
    # More than 20 subjects: MNE draws sign patterns another way.
    rng = np.random.default_rng(5)
    X = rng.normal(size=(22, 6)) + np.array([0, 0, 0, 0, 1.5, 1.5])
    res = group_test(X, n_permutations=300)
    assert res.n_flips == 300 and not res.exact
    assert np.all(res.p[4:] <= 1 / 300 + 1e-12)
    assert np.all(res.p <= res.p_fwer)


def test_enough_permutations_means_exact():
    X = np.random.default_rng(6).normal(size=(13, 3))
    res = group_test(X, n_permutations=2**12)
    assert res.exact and res.n_flips == 2**12
    np.testing.assert_allclose(res.p, _brute_force(X, 0)[0])


def test_global_random_state_unchanged():
    X = np.random.default_rng(8).normal(size=(15, 5))
    np.random.seed(123)  # noqa: NPY002 (the global state on purpose)
    before = np.random.get_state()  # noqa: NPY002
    group_test(X, n_permutations=200)  # random patterns
    group_test(X[:6])  # exact
    group_test(np.random.default_rng(9).normal(size=(22, 2)), n_permutations=50)
    after = np.random.get_state()  # noqa: NPY002
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]


# --- error rates --------------------------------------------------------------


def test_null_family_wise_error_rate():
    # 400 group tests of 8 subjects × 60 standard normal cells, exact flips
    # (128 patterns: p_fwer < 0.05 is p_fwer <= 6/128).
    rng = np.random.default_rng(10)
    n_sims = 400
    any_fwer = np.empty(n_sims, bool)
    any_fdr = np.empty(n_sims, bool)
    cell_rate = np.empty(n_sims)
    for i in range(n_sims):
        res = group_test(rng.normal(size=(8, 60)))
        any_fwer[i] = (res.p_fwer < 0.05).any()
        any_fdr[i] = (res.q_fdr < 0.05).any()
        cell_rate[i] = (res.p < 0.05).mean()
    se = sqrt(0.05 * 0.95 / n_sims)
    assert 0.02 < any_fwer.mean() <= 0.05 + 2 * se
    # Under the global null FDR control is FWER control.
    assert any_fdr.mean() <= 0.05 + 2 * se
    assert abs(cell_rate.mean() - 6 / 128) < 0.005


def test_planted_effect_is_found():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(10, 4, 10))
    X[:, 1, [2, 5, 7]] += 1.5
    res = group_test(X)
    assert res.exact and res.n_flips == 512
    found = res.p_fwer < 0.05
    assert found[1, [2, 5, 7]].all()
    assert found.sum() == 3
    assert (res.q_fdr < 0.05)[1, [2, 5, 7]].all()
    assert np.all(res.t[1, [2, 5, 7]] > 3)


def test_fdr_is_bh_of_p():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(9, 40)) + np.linspace(0, 1.2, 40)
    res = group_test(X)
    assert np.all(res.q_fdr >= res.p)
    order = np.argsort(res.p, kind="stable")
    assert np.all(np.diff(res.q_fdr[order]) >= 0)
    np.testing.assert_allclose(res.q_fdr, mne.stats.fdr_correction(res.p)[1])


# --- missing and constant cells -----------------------------------------------


def test_nan_and_constant_cells_are_left_out():
    rng = np.random.default_rng(13)
    X = rng.normal(size=(9, 3, 5)) + 0.3
    X[:, 0, 1] = np.nan  # a constant channel in every subject
    X[4, 2, 3] = np.nan  # missing in one subject
    X[:, 1, 0] = 0.25  # the same value in every subject
    X[:, 1, 4] = [1, -1, 1, 1, -1, 1, -1, -1, 1]  # the same |value|
    res = group_test(X)
    untested = [(0, 1), (2, 3), (1, 0), (1, 4)]
    expected = np.ones((3, 5), bool)
    for cell in untested:
        expected[cell] = False
    np.testing.assert_array_equal(res.tested, expected)
    for name in ("t", "p", "p_fwer", "q_fdr"):
        values = getattr(res, name)
        assert np.isnan(values[~expected]).all(), name
        assert np.isfinite(values[expected]).all(), name
    assert np.isnan(res.mean[0, 1]) and np.isnan(res.mean[2, 3])
    assert res.mean[1, 0] == pytest.approx(0.25)
    # The tested cells get what they get when tested alone: the untested ones
    # are out of max-t and FDR.
    alone = group_test(X[:, expected])
    for name in ("t", "p", "p_fwer", "q_fdr"):
        np.testing.assert_allclose(getattr(res, name)[expected], getattr(alone, name))


def test_no_testable_cell():
    res = group_test(np.full((5, 2, 2), np.nan))
    assert not res.tested.any()
    assert np.isnan(res.p_fwer).all() and np.isnan(res.q_fdr).all()
    assert res.max_t_null.size == 0


# --- bad inputs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"values": np.ones(5)}, "values"),
        ({"values": np.ones((1, 4))}, "values"),
        ({"values": np.ones((0, 4))}, "values"),
        ({"values": np.ones((4, 0))}, "values"),
        ({"values": [[1.0, np.inf], [2.0, 3.0]]}, "values"),
        ({"values": [["a", "b"], ["c", "d"]]}, "values"),
        ({"tail": 2}, "tail"),
        ({"tail": "two-sided"}, "tail"),
        ({"tail": True}, "tail"),
        ({"n_permutations": 0}, "n_permutations"),
        ({"n_permutations": 1}, "n_permutations"),
        ({"n_permutations": 100.5}, "n_permutations"),
        ({"seed": None}, "seed"),
        ({"seed": -1}, "seed"),
        ({"exact_max": 17}, "exact_max"),
        ({"exact_max": -1}, "exact_max"),
    ],
)
def test_bad_inputs(kwargs, name):
    kwargs = {"values": np.random.default_rng(0).normal(size=(5, 3)), **kwargs}
    with pytest.raises(InvalidInputError, match=f"'{name}'"):
        group_test(**kwargs)


# --- z against untrained initialisations -------------------------------------


def test_subject_z_known_values():
    untrained = np.array([[1.0, 0.2], [2.0, 0.2], [3.0, 0.2]])  # K + 1 = 3
    trained = np.array([4.0, 0.5])
    z = subject_z(trained, untrained)
    # mean 2, sd (ddof=1) 1: z = 2; the second cell does not vary: NaN.
    np.testing.assert_allclose(z[0], 2.0)
    assert np.isnan(z[1])
    two = subject_z(np.zeros((2, 3)), np.stack([np.ones((2, 3)), -np.ones((2, 3))]))
    np.testing.assert_allclose(two, 0.0)
    assert subject_z(2.0, [0.0, 2.0]) == pytest.approx(1 / sqrt(2))


def test_subject_z_propagates_nan():
    untrained = np.array([[1.0, np.nan], [2.0, 1.0], [3.0, 2.0]])
    z = subject_z([2.0, 1.0], untrained)
    assert z[0] == 0.0 and np.isnan(z[1])


@pytest.mark.parametrize(
    ("trained", "untrained"),
    [
        (np.ones(3), np.ones((1, 3))),  # K + 1 = 1
        (np.ones(3), np.ones((4, 2))),  # shapes differ
        (np.ones(3), np.ones(3)),  # no untrained axis
        (np.ones((2, 3)), np.ones((4, 3))),
    ],
)
def test_subject_z_bad_inputs(trained, untrained):
    with pytest.raises(InvalidInputError, match="'untrained'"):
        subject_z(trained, untrained)


def test_subject_z_non_numeric():
    with pytest.raises(InvalidInputError, match="'trained'"):
        subject_z("a", np.ones((3,)))
