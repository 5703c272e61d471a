"""Tests of envcorr.group: the subjects' maps side by side, and their tests."""

import numpy as np
import pytest
import xarray as xr

from _results_fixture import make_results
from envcorr import InvalidInputError
from envcorr.group import group_maps, write_group
from envcorr.stats import group_test


@pytest.fixture(scope="module")
def subjects():
    return {k: make_results(seed=k) for k in (1, 2, 3, 5)}


def test_group_stacks_the_subjects_and_tests_them(subjects):
    group = group_maps(subjects, n_permutations=100)
    assert group.subject.values.tolist() == [1, 2, 3, 5]
    stacked = np.stack([ds.layer_mean_abs_corr_diff.values for ds in subjects.values()])
    np.testing.assert_allclose(group.subject_layer_mean_abs_corr_diff, stacked)
    np.testing.assert_allclose(group.layer_mean_abs_corr_diff, stacked.mean(0))
    expected = group_test(stacked, tail=0)
    np.testing.assert_allclose(group.diff_p_fwer, expected.p_fwer, equal_nan=True)
    np.testing.assert_allclose(group.diff_q_fdr, expected.q_fdr, equal_nan=True)
    classes = np.stack([ds.class_corr.values for ds in subjects.values()])
    np.testing.assert_allclose(group.class_corr, classes.mean(0))
    accuracy = [ds.attrs["test_accuracy"] for ds in subjects.values()]
    np.testing.assert_allclose(group.accuracy, accuracy)
    assert "ch_x" in group.coords


def test_subjects_must_share_their_layout(subjects):
    other = dict(subjects)
    other[9] = make_results(seed=9, bands={"alpha": (7.0, 13.0)})
    with pytest.raises(InvalidInputError, match=r"'subjects'.*subject 9 differ"):
        group_maps(other)


def test_write_group_is_atomic_and_readable(subjects, tmp_path):
    files = {}
    for k, ds in subjects.items():
        files[k] = tmp_path / f"{k}.nc"
        ds.to_netcdf(files[k], engine="h5netcdf")
    path = write_group(
        tmp_path / "group.nc", files, options={"epochs": 1}, n_permutations=100
    )
    group = xr.load_dataset(path, engine="h5netcdf")
    assert group.sizes["subject"] == 4
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
