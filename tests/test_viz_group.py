"""Tests of envcorr.viz.group and envcorr.group's helpers of the group figures."""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pytest
import scipy.stats
from matplotlib.collections import PolyCollection

from _figures import clim, close_figures, map_axes  # noqa: F401
from _results_fixture import make_results
from envcorr._utils.check import InvalidInputError
from envcorr._utils.logs import logger
from envcorr.group import group_depth_profile, group_maps, significant
from envcorr.viz._common import make_info
from envcorr.viz.group import (
    MASK_GID,
    draw_group_figures,
    group_figure_specs,
    masked_topomap,
    plot_group_accuracy,
    plot_group_class_maps,
    plot_group_depth_profile,
    plot_group_layer_band_grid,
)

BANDS = {"alpha": (7.0, 13.0), "beta": (13.0, 31.0)}
SUBJECTS = range(1, 9)  # 8 subjects: 128 sign patterns, p down to 1/128


@pytest.fixture(scope="module")
def group():
    subjects = {}
    for k in SUBJECTS:
        ds = make_results(n_layers=2, bands=BANDS, seed=k)
        ds.attrs["test_accuracy"] = 0.4 + 0.05 * k
        subjects[k] = ds.sel({"class": ["left_hand", "right_hand", "feet"]})
    return group_maps(subjects)


def marks(ax):
    """The electrodes marked on a scalp map: the points of its mask line."""
    lines = [line for line in ax.get_lines() if line.get_gid() == MASK_GID]
    if not lines:
        return None
    (line,) = lines
    return np.column_stack([line.get_xdata(), line.get_ydata()])


def positions(group):
    """Where plot_topomap puts each electrode of the group (mask all electrodes)."""
    fig, ax = plt.subplots()
    n = group.sizes["channel"]
    masked_topomap(ax, np.zeros(n), make_info(group), (-1, 1), "RdBu_r", np.ones(n))
    pos = marks(ax)
    plt.close(fig)
    return pos


def check_marks(ax, pos, mask):
    got = marks(ax)
    assert got is not None and len(got) == mask.sum()
    np.testing.assert_allclose(got, pos[mask])


# --------------------------------------------------------------------------
# Figure 15 and 14 of the group
# --------------------------------------------------------------------------
def test_grid_marks_the_significant_electrodes(group):
    fig = plot_group_layer_band_grid(group)
    maps = map_axes(fig)
    pos = positions(group)
    p = group.diff_p_fwer.transpose("band", "layer", "channel").values
    assert (p < 0.05).any() and (p >= 0.05).any()  # the test marks some, not all
    for row, band in enumerate(group.band.values):
        lo, hi = clim(maps[(row, 0)])
        expected = float(abs(group.layer_mean_abs_corr_diff.sel(band=band)).max())
        assert hi == pytest.approx(expected) and lo == pytest.approx(-expected)
        for col in range(group.sizes["layer"]):
            check_marks(maps[(row, col)], pos, p[row, col] < 0.05)
    assert maps[(0, 1)].get_title() == "pool_nonlin_2\n180 ms"
    assert maps[(1, 0)].get_ylabel() == "beta\n13–31 Hz"
    assert "mean of 8 subjects" in fig.get_suptitle()
    (legend,) = fig.legends
    text = legend.get_texts()[0].get_text()
    assert "p_FWER < 0.05" in text and "8 subjects" in text and "max-t" in text


def test_grid_of_mean_r_with_fdr_marks(group):
    fig = plot_group_layer_band_grid(group, kind="diff", mark="q_fdr", alpha=0.01)
    maps = map_axes(fig)
    pos = positions(group)
    q = group.diff_q_fdr.transpose("band", "layer", "channel").values
    for row, band in enumerate(group.band.values):
        expected = float(abs(group.layer_mean_corr_diff.sel(band=band)).max())
        assert clim(maps[(row, 0)])[1] == pytest.approx(expected)
        for col in range(group.sizes["layer"]):
            check_marks(maps[(row, col)], pos, q[row, col] < 0.01)
    assert "q_FDR < 0.01" in fig.legends[0].get_texts()[0].get_text()


def test_grid_above_chance_is_marked_by_its_own_test():
    subjects = {
        k: make_results(n_layers=2, bands=BANDS, seed=k, chance=True) for k in SUBJECTS
    }
    group = group_maps(subjects)
    fig = plot_group_layer_band_grid(group, kind="excess_abs")
    maps = map_axes(fig)
    pos = positions(group)
    p = group.excess_p_fwer.transpose("band", "layer", "channel").values
    assert (p < 0.05).any() and (p >= 0.05).any()
    assert not np.array_equal(p < 0.05, group.diff_p_fwer.values < 0.05)
    for row, band in enumerate(group.band.values):
        excess = group.layer_mean_abs_corr_excess_diff.sel(band=band)
        expected = float(abs(excess).max())
        assert clim(maps[(row, 0)])[1] == pytest.approx(expected)
        for col in range(group.sizes["layer"]):
            check_marks(maps[(row, col)], pos, p[row, col] < 0.05)
    assert "above chance" in fig.get_suptitle()
    assert "above chance ≠ 0" in fig.legends[0].get_texts()[0].get_text()
    names = [spec.name for spec in group_figure_specs(group)]
    assert names.index("group_layer_band_grid_excess") == 1
    profile = plot_group_depth_profile(group, kind="excess_abs")
    assert "|r| above chance" in profile.axes[0].get_ylabel()


def test_no_marks(group):
    fig = plot_group_layer_band_grid(group, mark=None)
    assert all(marks(ax) is None for ax in map_axes(fig).values())
    assert fig.legends == []


def test_class_maps_mark_the_class_test(group):
    fig = plot_group_class_maps(group)
    maps = map_axes(fig)
    pos = positions(group)
    p = group.class_p_fwer.transpose("band", "class", "channel").values
    assert (p < 0.05).any()
    limits = {clim(ax) for ax in maps.values()}
    assert len(limits) == 1  # one colour scale for all
    assert limits.pop()[1] == pytest.approx(float(abs(group.class_corr).max()))
    for (row, col), ax in maps.items():
        check_marks(ax, pos, p[row, col] < 0.05)
    assert [maps[(0, c)].get_title() for c in range(3)] == [
        "left hand",
        "right hand",
        "feet",
    ]
    assert "Envelope–class correlation" in fig.get_suptitle()


def test_significant_matches_the_p_values(group):
    mask = significant(group, "class", "p", 0.05, ("class", "band", "channel"))
    expected = group.class_p.transpose("class", "band", "channel").values < 0.05
    np.testing.assert_array_equal(mask, expected)
    assert significant(group, "diff", None) is None


def test_maps_onto_given_axes(group):
    fig, axes = plt.subplots(2, 2)
    out = plot_group_layer_band_grid(group, axes=axes)
    assert out is fig and fig.get_suptitle() == "" and fig.legends == []
    assert all(ax.images for ax in axes.ravel())
    fig, axes = plt.subplots(1, 3)
    assert plot_group_class_maps(group, bands="beta", axes=axes) is fig
    with pytest.raises(InvalidInputError, match=r"'axes'.*2 × 2"):
        plot_group_layer_band_grid(group, axes=plt.subplots(1, 2)[1])


# --------------------------------------------------------------------------
# accuracy and depth
# --------------------------------------------------------------------------
def test_accuracy_bars_chance_and_mean(group):
    fig = plot_group_accuracy(group)
    (ax,) = fig.axes
    heights = [bar.get_height() for bar in ax.patches]
    np.testing.assert_allclose(heights, 100 * group.accuracy.values)
    levels = {line.get_label(): line.get_ydata()[0] for line in ax.get_lines()}
    assert levels["chance (33 %)"] == pytest.approx(100 / 3)
    mean = [v for k, v in levels.items() if k.startswith("mean")]
    assert mean == [pytest.approx(100 * group.accuracy.mean())]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(k) for k in SUBJECTS]

    fig, ax = plt.subplots()
    assert plot_group_accuracy(group, axes=ax) is fig


def hand_interval(group, band, layer):
    """Mean and 95 % t-interval of the channel means, from first principles."""
    x = group.subject_layer_mean_abs_corr_diff.sel(band=band, layer=layer)
    x = x.mean("channel").values
    n = len(x)
    half = scipy.stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / np.sqrt(n)
    return x.mean(), x.mean() - half, x.mean() + half


def test_depth_profile_interval_by_hand(group):
    profile = group_depth_profile(group)
    for band in group.band.values:
        for layer in group.layer.values:
            cell = profile.sel(band=band, layer=layer)
            expected = hand_interval(group, band, layer)
            got = (cell["mean"], cell["low"], cell["high"])
            np.testing.assert_allclose([float(v) for v in got], expected)
            assert int(cell["n_subjects"]) == 8

    fig = plot_group_depth_profile(group)
    assert len(fig.axes) == group.sizes["band"]
    for ax, band in zip(fig.axes, group.band.values, strict=True):
        lines = ax.get_lines()
        subjects = [line for line in lines if line.get_label() == "subjects"]
        assert len(subjects) == 1  # one labelled line for the legend
        mean = [line for line in lines if line.get_label().startswith("mean")]
        np.testing.assert_allclose(mean[0].get_ydata(), profile.sel(band=band)["mean"])
        (band_patch,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
        ys = band_patch.get_paths()[0].vertices[:, 1]
        low, high = profile.sel(band=band)["low"], profile.sel(band=band)["high"]
        assert ys.min() == pytest.approx(float(low.min()))
        assert ys.max() == pytest.approx(float(high.max()))
    assert "interval" in fig.axes[0].get_legend().get_texts()[1].get_text()


def test_depth_profile_of_one_subject_has_no_interval(group):
    one = group.isel(subject=[0])
    profile = group_depth_profile(one)
    assert np.isnan(profile["low"]).all() and np.isnan(profile["high"]).all()
    np.testing.assert_allclose(profile["mean"], profile["subject_profile"][0])
    fig = plot_group_depth_profile(one)
    assert not any(isinstance(c, PolyCollection) for c in fig.axes[0].collections)


def test_depth_profile_leaves_out_nan_channels(group):
    values = group.subject_layer_mean_abs_corr_diff.copy()
    values[0, :, :, 3] = np.nan  # subject 1 has a flat channel
    profile = group_depth_profile(group.assign(subject_layer_mean_abs_corr_diff=values))
    expected = np.delete(values[0].values, 3, axis=-1).mean(axis=-1)  # layer, band
    np.testing.assert_allclose(profile["subject_profile"][0], expected.T)
    assert (profile["n_subjects"] == 8).all()


# --------------------------------------------------------------------------
# the set, drawn
# --------------------------------------------------------------------------
def test_draw_group_figures(group, tmp_path):
    out = tmp_path / "figures"
    figures = draw_group_figures(
        group, out, formats=("png", "svg"), dpi=30, report_dpi=20, verbose=False
    )
    names = [fig.name for fig in figures]
    assert names == [
        "group_layer_band_grid",
        "group_class_maps",
        "group_depth_profile",
        "group_accuracy",
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{n}.{ext}" for n in names for ext in ("png", "svg")
    )
    assert all(fig.png[:4] == b"\x89PNG" for fig in figures)
    assert "p_FWER < 0.05" in figures[0].caption and "8 subjects" in figures[0].caption
    assert "all 128 sign patterns" in figures[0].caption
    assert plt.get_fignums() == []


def test_specs_without_positions_or_classes(group):
    bare = group.drop_vars(["ch_x", "ch_y", "ch_z"])
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        specs = group_figure_specs(bare)
    finally:
        logger.removeHandler(handler)
    assert [s.name for s in specs] == ["group_depth_profile", "group_accuracy"]
    assert any("no electrode positions" in r.getMessage() for r in records)
    no_classes = group.drop_dims("class")
    assert "group_class_maps" not in [s.name for s in group_figure_specs(no_classes)]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda g: plot_group_layer_band_grid(make_results()), r"'group'.*'subject'"),
        (lambda g: plot_group_layer_band_grid(g, mark="fwer"), r"'mark'.*'p_fwer'"),
        (lambda g: plot_group_layer_band_grid(g, alpha=1.5), r"'alpha'.*below 1"),
        (lambda g: plot_group_layer_band_grid(g, kind="trained"), r"'kind'"),
        (lambda g: plot_group_class_maps(g.drop_dims("class")), r"'class_corr'"),
        (lambda g: plot_group_depth_profile(g, confidence=1), r"'confidence'"),
        (lambda g: group_depth_profile(g, var="accuracy"), r"'var'"),
        (lambda g: draw_group_figures("no-such.nc"), r"'group'.*not found"),
    ],
)
def test_bad_input(group, call, match):
    with pytest.raises(InvalidInputError, match=match):
        call(group)
