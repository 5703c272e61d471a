"""Tests of envcorr.viz.units: ranking, titles, given axes, bad input."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from _figures import clim, close_figures, colorbar_axes, map_axes  # noqa: F401
from _results_fixture import make_results
from envcorr._utils.check import InvalidInputError
from envcorr.viz import plot_top_units


@pytest.fixture(scope="module")
def ds():
    return make_results()  # 3 layers, 3 bands, 4 classes, 22 channels


def test_top_units_ranking_and_titles(ds):
    layer, band = "pool_nonlin_3", "alpha"
    fig = plot_top_units(ds, layer=layer, band=band, k=3)
    maps = map_axes(fig)
    assert len(maps) == 3
    # known answer: rank the layer's units by peak |r| over channels
    units = ds.unit_corr.sel(network="trained", band=band).where(
        ds.unit_layer == layer, drop=True
    )
    peak_abs = abs(units).max("channel")
    best = units.unit_in_layer.values[np.argsort(-peak_abs.values)][:3]
    titles = [maps[(0, c)].get_title() for c in range(3)]
    assert [int(t.split("\n")[0].split()[1]) for t in titles] == list(best)
    top = units.isel(unit=int(np.argmax(peak_abs.values)))
    peak = float(top.values[np.argmax(abs(top).values)])
    assert f"peak r = {peak:+.2f}".replace("-", "−") in titles[0]
    clims = {clim(ax) for ax in maps.values()}
    assert len(clims) == 1 and next(iter(clims))[0] == -next(iter(clims))[1]
    assert layer in fig.get_suptitle() and "576 ms" in fig.get_suptitle()


def test_top_units_k_larger_than_layer(ds):
    fig = plot_top_units(ds, layer="pool_nonlin", band="beta", k=50, ncols=3)
    assert len(map_axes(fig)) == int(ds.layer_n_units.sel(layer="pool_nonlin"))


def test_top_units_draw_onto_given_axes(ds):
    own = plot_top_units(ds, layer="pool_nonlin_2", band="beta", k=4)
    titles = [ax.get_title() for ax in own.axes if ax.images]
    fig, axes = plt.subplots(2, 2)
    out = plot_top_units(ds, layer="pool_nonlin_2", band="beta", k=4, axes=axes)
    assert out is fig
    assert [ax.get_title() for ax in axes.ravel()] == titles  # row by row
    assert len(colorbar_axes(fig)) == 1 and len({clim(a) for a in axes.flat}) == 1
    assert fig.get_suptitle() == ""
    # one unit, one Axes: the strongest
    fig, ax = plt.subplots()
    assert plot_top_units(ds, layer="pool_nonlin_2", band="beta", k=1, axes=ax) is fig
    assert ax.get_title() == titles[0] and len(fig.axes) == 2


def test_top_units_wrong_number_of_axes(ds):
    _, axes = plt.subplots(1, 6)
    with pytest.raises(
        InvalidInputError, match=r"'axes'.*expected 5 Axes.*k=6, 5 in pool_nonlin"
    ):
        plot_top_units(ds, layer="pool_nonlin", band="beta", axes=axes)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layer": "conv", "band": "alpha"}, r"'layer'.*'pool_nonlin'"),
        ({"layer": "pool_nonlin", "band": "gamma"}, r"'band'.*'beta'"),
        ({"layer": "pool_nonlin", "band": "beta", "k": 0}, r"'k'.*1"),
        ({"layer": "pool_nonlin", "band": "beta", "k": 2.5}, r"'k'"),
        (
            {"layer": "pool_nonlin", "band": "beta", "network": "init"},
            r"'network'.*'untrained'",
        ),
        ({"layer": "pool_nonlin", "band": "beta", "ncols": 0}, r"'ncols'"),
    ],
)
def test_bad_arguments(ds, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        plot_top_units(ds, **kwargs)


def test_not_results(ds):
    with pytest.raises(InvalidInputError, match=r"'ds'.*'unit_layer'"):
        plot_top_units(ds.drop_vars("unit_layer"), layer="pool_nonlin", band="beta")
    no_pos = make_results(positions=False)
    with pytest.raises(InvalidInputError, match=r"'ds'.*ch_x.*standard_1005"):
        plot_top_units(no_pos, layer="pool_nonlin", band="beta")
