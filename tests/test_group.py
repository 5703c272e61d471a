"""Tests of envcorr.group: the subjects' maps side by side, and their tests."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from _results_fixture import make_results
from envcorr import InvalidInputError
from envcorr.data import simulation_truth
from envcorr.group import group_maps, truth_recovery, write_group
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


def test_group_tests_the_difference_above_chance_where_every_subject_has_it():
    subjects = {k: make_results(seed=k, chance=True) for k in (1, 2, 3)}
    group = group_maps(subjects)
    var = "layer_mean_abs_corr_excess_diff"
    stacked = np.stack([ds[var].values for ds in subjects.values()])
    np.testing.assert_allclose(group[f"subject_{var}"], stacked)
    np.testing.assert_allclose(group[var], stacked.mean(0))
    expected = group_test(stacked, tail=0)
    for stat in ("t", "p", "p_fwer", "q_fdr"):
        np.testing.assert_allclose(
            group[f"excess_{stat}"], getattr(expected, stat), equal_nan=True
        )
    assert group.attrs["excess_n_flips"] == 4 and group.attrs["excess_exact"] == 1
    # the plain test is unchanged, and differs: the chance level is taken off
    plain = group_test(np.stack([ds.layer_mean_abs_corr_diff.values for ds in
                                 subjects.values()]), tail=0)  # fmt: skip
    np.testing.assert_allclose(group.diff_t, plain.t)
    assert not np.allclose(group.diff_t, group.excess_t)
    # one subject without its chance level: no test above chance
    subjects[4] = make_results(seed=4)
    mixed = group_maps(subjects)
    assert f"subject_{var}" not in mixed and "excess_p_fwer" not in mixed
    assert "excess_n_flips" not in mixed.attrs


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


def _known_group(dataset="BNCI2014_001", subjects=(1,)):
    """A hand-made group dataset whose statistics are set cell by cell."""
    layers, channels = ["block_1", "block_2"], ["Fz", "C3", "Cz", "C4"]
    bands = {"theta": (4.0, 8.0), "alpha": (7.0, 13.0), "high_gamma": (71.0, 91.0)}
    classes = ["left_hand", "right_hand"]
    cell = ("layer", "band", "channel")
    shape = (len(layers), len(bands), len(channels))
    diff, p_fwer, q_fdr = np.full(shape, 0.01), np.ones(shape), np.ones(shape)

    def at(layer, band, ch):
        return layers.index(layer), list(bands).index(band), channels.index(ch)

    p_fwer[at("block_2", "alpha", "C4")] = q_fdr[at("block_2", "alpha", "C4")] = 0.01
    p_fwer[at("block_2", "alpha", "Fz")] = 0.02  # higher away from the effect
    q_fdr[at("block_2", "high_gamma", "C4")] = 0.03  # only under FDR
    diff[at("block_1", "theta", "Cz")] = -0.02  # lower after training
    p_fwer[at("block_1", "theta", "Cz")] = 0.004
    p_fwer[at("block_1", "alpha", "C3")] = np.nan  # not tested

    cshape = (len(bands), len(channels), len(classes))
    corr, c_p, c_q = np.zeros(cshape), np.ones(cshape), np.ones(cshape)

    def cat(band, ch, cls):
        return list(bands).index(band), channels.index(ch), classes.index(cls)

    corr[cat("alpha", "C4", "left_hand")] = -0.4  # found
    c_p[cat("alpha", "C4", "left_hand")] = c_q[cat("alpha", "C4", "left_hand")] = 0.01
    corr[cat("alpha", "C3", "right_hand")] = +0.3  # significant, wrong sign
    c_p[cat("alpha", "C3", "right_hand")] = c_q[cat("alpha", "C3", "right_hand")] = 0.01
    corr[cat("high_gamma", "C4", "left_hand")] = 0.2  # found only under FDR
    c_p[cat("high_gamma", "C4", "left_hand")] = 0.2
    c_q[cat("high_gamma", "C4", "left_hand")] = 0.02
    c_p[cat("theta", "Fz", "right_hand")] = 0.03  # a band without effects
    group = xr.Dataset(
        {
            "subject_layer_mean_abs_corr_diff": (
                ("subject", *cell),
                np.repeat(diff[None], len(subjects), axis=0),
            ),
            "layer_mean_abs_corr_diff": (cell, diff),
            "diff_p_fwer": (cell, p_fwer),
            "diff_q_fdr": (cell, q_fdr),
            "class_corr": (("band", "channel", "class"), corr),
            "class_t": (("band", "channel", "class"), corr * 10),
            "class_p_fwer": (("band", "channel", "class"), c_p),
            "class_q_fdr": (("band", "channel", "class"), c_q),
        },
        coords={
            "subject": list(subjects),
            "layer": layers,
            "band": list(bands),
            "band_low": ("band", [lo for lo, _ in bands.values()]),
            "band_high": ("band", [hi for _, hi in bands.values()]),
            "channel": channels,
            "class": classes,
        },
        attrs={"dataset": dataset},
    )
    truth = pd.DataFrame(
        [
            ("left_hand", "alpha", "C4", -1, -0.6, 8.0, 12.0),
            ("right_hand", "alpha", "C3", -1, -0.6, 8.0, 12.0),
            ("left_hand", "high_gamma", "C4", 1, 0.5, 71.0, 91.0),
            ("right_hand", "alpha", "C5", -1, -0.6, 8.0, 12.0),  # not recorded
        ],
        columns=["class", "band", "channel", "sign", "strength", "fmin", "fmax"],
    )
    return group, truth


def test_truth_recovery_known_answer():
    group, truth = _known_group()
    rec = truth_recovery(group, truth)
    e = rec.effects.set_index(["class", "band", "channel"])
    assert len(e) == 3  # C5 is not in the group; alpha 8-12 Hz is not theta 4-8 Hz
    assert e.loc[("left_hand", "alpha", "C4"), ["found", "found_fdr"]].tolist() == [
        True,
        True,
    ]
    assert not e.loc[("right_hand", "alpha", "C3"), ["found", "found_fdr"]].any()
    assert e.loc[
        ("left_hand", "high_gamma", "C4"), ["found", "found_fdr"]
    ].tolist() == [
        False,
        True,
    ]
    assert e.loc[("left_hand", "alpha", "C4"), "corr"] == -0.4
    assert e.loc[("left_hand", "alpha", "C4"), "t"] == -4.0
    bands = rec.class_bands.set_index("band")
    assert bands["effects"].tolist() == [0, 2, 1]
    assert bands["found"].tolist() == [0, 1, 0]
    assert bands["cells"].tolist() == [8, 8, 8]
    # theta: its one significant cell; alpha: the wrong-signed effect is an effect
    assert bands["elsewhere"].tolist() == [1, 0, 0]

    maps = rec.maps.set_index(["band", "layer"])
    assert maps.loc[("theta", "block_1"), "simulated"] == []
    assert maps.loc[("theta", "block_1"), "lower"] == 1
    assert maps.loc[("alpha", "block_2"), "simulated"] == ["C3", "C4"]
    assert maps.loc[("alpha", "block_2"), "found"] == ["C4"]
    assert maps.loc[("alpha", "block_2"), "elsewhere"] == 1
    assert maps.loc[("alpha", "block_1"), "found"] == []  # C3 untested (NaN)
    assert maps.loc[("high_gamma", "block_2"), "found"] == []
    assert maps.loc[("high_gamma", "block_2"), "found_fdr"] == ["C4"]
    assert maps["lower"].sum() == 1 and maps["elsewhere"].sum() == 1

    strict = truth_recovery(group, truth, alpha=0.005)
    assert not strict.effects["found"].any()
    assert strict.maps["lower"].sum() == 1  # p_fwer 0.004


def test_truth_recovery_uses_the_test_above_chance_where_the_group_has_it():
    group, truth = _known_group()
    cell = ("layer", "band", "channel")
    # above chance: alpha at C4 in block 2 stays, Fz goes; C3 appears in block 1
    excess = group["layer_mean_abs_corr_diff"].values.copy()
    p_fwer = np.ones(excess.shape)
    p_fwer[1, 1, 3] = 0.01  # block_2, alpha, C4
    p_fwer[0, 1, 1] = 0.02  # block_1, alpha, C3
    excess[0, 0, 0] = -0.03  # block_1, theta, Fz: lower
    p_fwer[0, 0, 0] = 0.01
    with_excess = group.assign(
        layer_mean_abs_corr_excess_diff=(cell, excess),
        excess_p_fwer=(cell, p_fwer),
        excess_q_fdr=(cell, p_fwer),
    )
    rec = truth_recovery(with_excess, truth)
    assert rec.test == "excess"
    maps = rec.maps.set_index(["band", "layer"])
    assert maps.loc[("alpha", "block_2"), "found"] == ["C4"]
    assert maps.loc[("alpha", "block_2"), "elsewhere"] == 0
    assert maps.loc[("alpha", "block_1"), "found"] == ["C3"]
    assert maps.loc[("theta", "block_1"), "lower"] == 1
    assert maps["elsewhere"].sum() == 0
    plain = truth_recovery(with_excess, truth, test="diff")
    assert plain.test == "diff"
    pd.testing.assert_frame_equal(plain.maps, truth_recovery(group, truth).maps)
    assert truth_recovery(group, truth).test == "diff"
    with pytest.raises(InvalidInputError, match=r"'group'.*'excess_p_fwer'"):
        truth_recovery(group, truth, test="excess")
    with pytest.raises(InvalidInputError, match=r"'test'.*'diff', 'excess'"):
        truth_recovery(group, truth, test="class")


def test_truth_recovery_of_a_simulated_study_and_bad_input():
    group, _ = _known_group(dataset="simulated", subjects=(2, 5))
    rec = truth_recovery(group)
    expected = [simulation_truth(subject=k) for k in (2, 5)]
    row = rec.effects.query("`class` == 'left_hand' and band == 'alpha'")
    row = row[row["channel"] == "C4"].iloc[0]
    truth_row = [
        t.query("`class` == 'left_hand' and band == 'alpha'") for t in expected
    ]
    strengths = [t[t["channel"] == "C4"]["strength"].item() for t in truth_row]
    assert row["strength"] == pytest.approx(np.mean(strengths))
    assert row["found"]
    # the group has two of the simulation's four classes: the others are left out
    assert set(rec.effects["class"]) == {"left_hand", "right_hand"}

    other, truth = _known_group()
    with pytest.raises(InvalidInputError, match=r"'truth'.*not a study of the simul"):
        truth_recovery(other)
    with pytest.raises(InvalidInputError, match=r"'truth'.*no column 'fmin'"):
        truth_recovery(other, truth.drop(columns="fmin"))
    with pytest.raises(InvalidInputError, match=r"'truth'.*DataFrame"):
        truth_recovery(other, truth.to_dict())
    with pytest.raises(InvalidInputError, match=r"'alpha'.*not below 1"):
        truth_recovery(other, truth, alpha=1.0)
