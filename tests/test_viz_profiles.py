"""Tests of envcorr.viz.profiles: the depth profile, on its own or given axes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from _figures import close_figures  # noqa: F401
from _results_fixture import make_results
from envcorr._utils.check import InvalidInputError
from envcorr.viz import plot_depth_profile

YLABEL = "mean |r| over units and channels"


@pytest.fixture(scope="module")
def ds():
    return make_results()  # 3 layers, 3 bands, 4 classes, 22 channels


def check_lines(ax, ds, band):
    mean = ds.layer_mean_abs_corr.mean("channel")
    trained, untrained = ax.get_lines()
    np.testing.assert_allclose(
        trained.get_ydata(), mean.sel(network="trained", band=band)
    )
    np.testing.assert_allclose(
        untrained.get_ydata(), mean.sel(network="untrained", band=band)
    )


def test_depth_profile_lines(ds):
    fig = plot_depth_profile(ds)
    assert len(fig.axes) == ds.sizes["band"]
    for ax, band in zip(fig.axes, ds.band.values, strict=True):
        check_lines(ax, ds, band)
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert labels == [
            "pool_nonlin\n48 ms",
            "pool_nonlin_2\n180 ms",
            "pool_nonlin_3\n576 ms",
        ]
    assert fig.axes[0].get_title() == "alpha, 7–13 Hz"
    assert fig.axes[0].get_legend() is not None
    assert fig.get_suptitle().startswith("Growth of envelope tracking")
    # wrapped into rows of ncols axes
    fig = plot_depth_profile(ds, ncols=2)
    assert len(fig.axes) == 3
    assert [ax.get_ylabel() == YLABEL for ax in fig.axes] == [True, False, True]


def test_depth_profile_draws_onto_given_axes(ds):
    fig, axes = plt.subplots(2, 2)
    out = plot_depth_profile(ds, bands=["high_gamma", "alpha"], axes=axes[0])
    assert out is fig
    assert len(fig.axes) == 4  # nothing added, nothing removed
    for ax, band in zip(axes[0], ["high_gamma", "alpha"], strict=True):
        check_lines(ax, ds, band)
    assert axes[0, 0].get_title() == "high gamma, 71–91 Hz"
    assert [ax.get_ylabel() for ax in axes[0]] == [YLABEL, ""]  # first column
    assert axes[0, 0].get_legend() is not None
    assert not axes[1, 0].get_lines()
    assert fig.get_suptitle() == ""
    # one band, one Axes
    fig, ax = plt.subplots()
    assert plot_depth_profile(ds, bands="beta", axes=ax) is fig
    check_lines(ax, ds, "beta")
    assert ax.get_ylabel() == YLABEL


def test_depth_profile_wrong_axes(ds):
    _, axes = plt.subplots(1, 2)
    with pytest.raises(
        InvalidInputError, match=r"'axes'.*expected 3 Axes \(one per band: 3\).*2 Axes"
    ):
        plot_depth_profile(ds, axes=axes)
    _, ax = plt.subplots()
    with pytest.raises(InvalidInputError, match=r"'axes'.*single Axes"):
        plot_depth_profile(ds, bands=["alpha", "beta"], axes=ax)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ncols": 0}, r"'ncols'"),
        ({"bands": ["delta"]}, r"'bands'.*'alpha'"),
    ],
)
def test_bad_arguments(ds, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        plot_depth_profile(ds, **kwargs)


def test_not_results(ds):
    with pytest.raises(InvalidInputError, match=r"'ds'.*'layer_mean_abs_corr'"):
        plot_depth_profile(ds.drop_vars("layer_mean_abs_corr"))
