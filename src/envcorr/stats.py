"""Statistics across subjects: group tests of maps and z against untrained nets.

docs/method.md, "Statistics across subjects", defines what is computed.

- :func:`group_test`: one-sample sign-flip permutation t-test of per-subject
  maps against 0 (:func:`mne.stats.permutation_t_test`), with max-t
  family-wise error correction over all cells, uncorrected per-cell p-values
  from the same sign flips, and Benjamini–Hochberg FDR
  (:func:`mne.stats.fdr_correction`).
- :func:`subject_z`: for one subject, the trained network's value as a z-score
  against the values of its untrained initialisations.

Neither function touches NumPy's global random state.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from math import sqrt
from typing import Any

import numpy as np

from ._utils.check import check_int, invalid
from ._utils.docs import fill_doc
from ._utils.logs import logger, verbose

TAILS = (-1, 0, 1)

# Sign patterns are enumerated (exact test) for at most this many subjects:
# 2**16 patterns times the cells is what MNE holds in memory at once.
_MAX_EXACT = 16

# Cells whose absolute values agree across subjects to this relative
# precision are not tested: some sign pattern makes them (nearly) constant,
# where t is 0/0 or its variance is lost to rounding.
_EQUAL_ABS_RTOL = 1e-6

# Relative tolerance when comparing a permuted t with the observed one, so
# that ties in exact arithmetic count as ties despite rounding.
_TIE_RTOL = 1e-12

# Sign patterns per block when counting per-cell exceedances.
_BLOCK = 1024


@dataclass(frozen=True)
class GroupTest:
    """Result of :func:`group_test`; every map has the shape of one subject's.

    Attributes
    ----------
    mean : ndarray, shape (...)
        Mean over subjects; NaN where any subject is NaN.
    t : ndarray, shape (...)
        One-sample t statistic, ``mean / (std(ddof=1) / sqrt(n_subjects))``;
        NaN where the cell is not tested.
    p : ndarray, shape (...)
        Uncorrected p-value of each cell from its own sign-flip distribution;
        NaN where not tested.
    p_fwer : ndarray, shape (...)
        p-value corrected for the family-wise error over all tested cells by
        the max-t method (from :func:`mne.stats.permutation_t_test`); NaN
        where not tested.
    q_fdr : ndarray, shape (...)
        Benjamini–Hochberg FDR-adjusted ``p`` over all tested cells; NaN where
        not tested.
    tested : ndarray of bool, shape (...)
        Cells that were tested: finite in every subject, and with absolute
        values that are not all equal across subjects.
    max_t_null : ndarray, shape (n_flips,)
        The max-|t| over tested cells of every sign pattern, the observed one
        included, sorted (MNE's ``H0``); empty when no cell is tested.
    n_subjects : int
        Number of subjects.
    n_flips : int
        Sign patterns the p-values are computed from, the observed one
        included: ``2 ** (n_subjects - 1)`` (two-sided) or ``2 ** n_subjects``
        (one-sided) for the exact test, else ``n_permutations``.
    exact : bool
        True if every sign pattern was used.
    tail : int
        0 two-sided, 1 upper (mean > 0), -1 lower (mean < 0).
    """

    mean: np.ndarray
    t: np.ndarray
    p: np.ndarray
    p_fwer: np.ndarray
    q_fdr: np.ndarray
    tested: np.ndarray
    max_t_null: np.ndarray
    n_subjects: int
    n_flips: int
    exact: bool
    tail: int


@verbose
@fill_doc
def group_test(
    values: Any,
    *,
    n_permutations: int = 10000,
    tail: int = 0,
    seed: int = 0,
    exact_max: int = 12,
    verbose: bool | str | int | None = None,
) -> GroupTest:
    """Sign-flip permutation t-test of per-subject maps against 0.

    Each cell (e.g. layer × band × channel) is tested with a one-sample t
    statistic; its null distribution comes from flipping the signs of whole
    subjects' maps (the same flips for all cells, which keeps the cells'
    dependence). ``p_fwer`` uses the maximum of |t| over cells (family-wise
    error, :func:`mne.stats.permutation_t_test`), ``p`` the cell's own t, and
    ``q_fdr`` is the Benjamini–Hochberg adjustment of ``p``
    (:func:`mne.stats.fdr_correction`).

    Parameters
    ----------
    values : array-like, shape (n_subjects, ...)
        One map per subject, e.g. trained − untrained mean |r| of shape
        (n_subjects, n_layers, n_bands, n_channels). NaN marks a missing cell
        (e.g. a constant channel); such a cell is not tested.
    n_permutations : int
        Sign patterns drawn at random, the observed one included, when there
        are more than ``exact_max`` subjects. At least 2.
    tail : -1 | 0 | 1
        0 for two-sided, 1 for mean > 0, -1 for mean < 0.
    seed : int
        Seed of the random sign patterns (a private generator: NumPy's global
        random state is not used or changed).
    exact_max : int
        Up to this many subjects every sign pattern is used (exact test).
        At most 16.
    %(verbose)s

    Returns
    -------
    GroupTest
        The maps of shape ``values.shape[1:]`` and the test's settings.

    Notes
    -----
    MNE's null distribution for ``p_fwer`` is the maximum of |t| for every
    ``tail``: for one-sided tests this is conservative (e.g. the exact
    one-sided ``p_fwer`` is never below ``2 / 2**n_subjects``), while the
    uncorrected ``p`` is the exact one-sided value.
    """
    X = _check_values(values)
    n_permutations = check_int("n_permutations", n_permutations, minimum=2)
    if isinstance(tail, bool) or tail not in TAILS:
        raise invalid("tail", f"{tail!r}.", "Use 0 (two-sided), 1 or -1.")
    tail = int(tail)
    seed = check_int("seed", seed, minimum=0)
    exact_max = check_int("exact_max", exact_max, minimum=0)
    if exact_max > _MAX_EXACT:
        raise invalid(
            "exact_max",
            f"{exact_max} is above {_MAX_EXACT} (2**{_MAX_EXACT} sign patterns).",
            "Use random sign patterns (n_permutations) for more subjects.",
        )

    n_subjects = X.shape[0]
    cell_shape = X.shape[1:]
    flat = X.reshape(n_subjects, -1)
    with np.errstate(invalid="ignore"):
        mean = flat.mean(axis=0)
    tested = _testable(flat)

    n_all = 2 ** (n_subjects - (tail == 0))
    exact = n_subjects <= exact_max or n_permutations >= n_all
    # MNE enumerates every pattern when n_permutations exceeds the number of
    # non-observed patterns; its 'all' leaves one pattern out (MNE 1.13).
    mne_n_perm = n_all if exact else n_permutations
    n_flips = n_all if exact else n_permutations

    t = np.full(flat.shape[1], np.nan)
    p = np.full(flat.shape[1], np.nan)
    p_fwer = np.full(flat.shape[1], np.nan)
    q_fdr = np.full(flat.shape[1], np.nan)
    h0 = np.empty(0)
    n_tested = int(tested.sum())
    logger.info(
        "Sign-flip t-test (%s) of %d of %d cells over %d subjects: %s.",
        {0: "two-sided", 1: "upper tail", -1: "lower tail"}[tail],
        n_tested,
        tested.size,
        n_subjects,
        f"all {n_flips} sign patterns" if exact else f"{n_flips} random patterns",
    )
    if n_tested == 0:
        logger.warning("No cell can be tested: all are NaN or constant in |value|.")
    else:
        Xt = flat[:, tested]
        t_obs, p_max, h0, p_cell = _sign_flip_test(Xt, mne_n_perm, tail, seed)
        t[tested] = t_obs
        p_fwer[tested] = p_max
        p[tested] = p_cell
        q_fdr[tested] = _fdr(p_cell)

    return GroupTest(
        mean=mean.reshape(cell_shape),
        t=t.reshape(cell_shape),
        p=p.reshape(cell_shape),
        p_fwer=p_fwer.reshape(cell_shape),
        q_fdr=q_fdr.reshape(cell_shape),
        tested=tested.reshape(cell_shape),
        max_t_null=h0,
        n_subjects=n_subjects,
        n_flips=n_flips,
        exact=exact,
        tail=tail,
    )


def subject_z(trained: Any, untrained: Any) -> np.ndarray:
    """z of a trained network's values against its untrained initialisations.

    ``(trained - mean(untrained)) / std(untrained, ddof=1)`` per cell, the
    mean and standard deviation taken over the untrained networks.

    Parameters
    ----------
    trained : array-like, shape (...)
        The trained network's values (e.g. mean |r| per layer, band and
        channel) of one subject.
    untrained : array-like, shape (n_untrained, ...)
        The same values of ``n_untrained = K + 1 >= 2`` untrained networks:
        the trained network's own initialisation and K others.

    Returns
    -------
    z : ndarray, shape (...)
        NaN where any input is NaN or the untrained values are all equal.
    """
    try:
        a = np.asarray(trained, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise invalid("trained", f"not a numeric array ({err}).") from None
    try:
        u = np.asarray(untrained, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise invalid("untrained", f"not a numeric array ({err}).") from None
    if u.ndim != a.ndim + 1 or u.shape[1:] != a.shape:
        raise invalid(
            "untrained",
            f"expected shape (n_untrained, *{a.shape}) to match 'trained', "
            f"got {u.shape}.",
            "Stack the untrained networks' values along a new first axis.",
        )
    if u.shape[0] < 2:
        raise invalid(
            "untrained",
            f"{u.shape[0]} untrained network; a standard deviation needs at least 2.",
            "Analyse more untrained initialisations (--n-untrained K >= 1).",
        )
    mu = u.mean(axis=0)
    sd = u.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (a - mu) / sd
    # Equal values can have a rounding-error sd instead of 0.
    varies = u.max(axis=0) > u.min(axis=0)
    return np.where(varies, z, np.nan)


def _check_values(values: Any) -> np.ndarray:
    try:
        X = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise invalid("values", f"not a numeric array ({err}).") from None
    if X.ndim < 2:
        raise invalid(
            "values",
            f"expected shape (n_subjects, ...) with at least 2 dimensions, got "
            f"shape {X.shape}.",
            "Stack one map per subject along a first axis (one cell: shape "
            "(n_subjects, 1)).",
        )
    if X.shape[0] < 2:
        raise invalid(
            "values",
            f"{X.shape[0]} subject; a group test needs at least 2.",
            "Give one map per subject along the first axis.",
        )
    if X.size == 0:
        raise invalid("values", f"the array is empty (shape {X.shape}).")
    if np.isinf(X).any():
        raise invalid(
            "values",
            f"{int(np.isinf(X).sum())} infinite value(s).",
            "Use NaN for missing cells.",
        )
    return X


def _testable(flat: np.ndarray) -> np.ndarray:
    """Cells finite in every subject whose |values| are not all equal."""
    finite = np.isfinite(flat).all(axis=0)
    absval = np.abs(np.where(finite, flat, 0.0))
    spread = absval.max(axis=0) - absval.min(axis=0)
    return finite & (spread > _EQUAL_ABS_RTOL * absval.max(axis=0))


def _sign_flip_test(
    X: np.ndarray, n_permutations: int, tail: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNE's max-t test plus per-cell p-values from the same sign patterns.

    Parameters
    ----------
    X : ndarray, shape (n_subjects, n_cells)
        Testable cells only.

    Returns
    -------
    t_obs, p_fwer : ndarray, shape (n_cells,)
        From :func:`mne.stats.permutation_t_test`.
    h0 : ndarray, shape (n_flips,)
        MNE's sorted max-|t| distribution.
    p : ndarray, shape (n_cells,)
        Uncorrected p-values.
    """
    from mne.stats import permutation_t_test
    from mne.stats.cluster_level import _get_1samp_orders

    n_subjects = X.shape[0]
    # A private RandomState(seed): what MNE makes of seed=seed, passed as
    # rng= where MNE has it (from 1.12 it logs a note for seed=).
    if "rng" in inspect.signature(permutation_t_test).parameters:
        rng_arg = {"rng": np.random.RandomState(seed)}
    else:  # pragma: no cover - MNE < 1.12
        rng_arg = {"seed": seed}
    t_obs, p_fwer, h0 = permutation_t_test(
        X, n_permutations=n_permutations, tail=tail, verbose=False, **rng_arg
    )
    # The same sign patterns as MNE drew: the same helper and a generator
    # seeded alike (checked below against MNE's max-t distribution). The
    # helper returns bit patterns other than 0...0; MNE reads a 1 as "keep",
    # so it uses the observed signs twice (1...1, and the observed value it
    # appends) and never all signs flipped. Reading a 1 as "flip" gives every
    # non-observed pattern once (one-sided tests need that) and the same
    # |t|, hence the same max-|t| distribution. Two-sided, the first subject
    # is never flipped (|t| is symmetric).
    orders, _, _ = _get_1samp_orders(
        n_subjects, n_permutations, tail, np.random.RandomState(seed)
    )
    signs = 1.0 - 2.0 * np.asarray(orders, dtype=np.float64).reshape(-1, n_subjects)

    # MNE's t of a sign pattern: the variance via E[x²] (unchanged by flips).
    x2 = np.mean(X**2, axis=0)
    scale = sqrt(n_subjects / (n_subjects - 1.0)) / sqrt(n_subjects)
    tol = _TIE_RTOL * np.abs(t_obs)
    count = np.ones(X.shape[1])  # the observed pattern
    max_abs = np.empty(len(signs))
    for start in range(0, len(signs), _BLOCK):
        block = signs[start : start + _BLOCK]
        mus = block @ X / n_subjects
        with np.errstate(invalid="ignore", divide="ignore"):
            tt = mus / (np.sqrt(x2 - mus * mus) * scale)
        max_abs[start : start + _BLOCK] = np.abs(tt).max(axis=1)
        if tail == 0:
            count += (np.abs(tt) >= np.abs(t_obs) - tol).sum(axis=0)
        elif tail == 1:
            count += (tt >= t_obs - tol).sum(axis=0)
        else:
            count += (tt <= t_obs + tol).sum(axis=0)
    p = count / (len(signs) + 1)

    mine = np.sort(np.concatenate([max_abs, [np.abs(t_obs).max()]]))
    if mine.shape != h0.shape or not np.allclose(mine, h0, rtol=1e-9, atol=0):
        raise RuntimeError(
            "envcorr.stats could not reproduce the sign patterns of "
            "mne.stats.permutation_t_test (has MNE changed how it draws them?); "
            "the uncorrected p-values would not match p_fwer."
        )
    return t_obs, p_fwer, h0, p


def _fdr(p: np.ndarray) -> np.ndarray:
    from mne.stats import fdr_correction

    _, q = fdr_correction(p, alpha=0.05, method="indep")
    return np.minimum(q, 1.0)
