"""Tests of envcorr.viz.topomaps: layout, colour scales, given axes, bad input."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from _figures import clim, close_figures, colorbar_axes, map_axes  # noqa: F401
from _results_fixture import make_results
from envcorr._utils.check import InvalidInputError
from envcorr.viz import plot_class_maps, plot_layer_band_grid

KINDS = ["diff_abs", "diff", "trained_abs", "untrained_abs", "trained", "untrained"]


@pytest.fixture(scope="module")
def ds():
    return make_results()  # 3 layers, 3 bands, 4 classes, 22 channels


@pytest.fixture(scope="module")
def small():
    return make_results(n_layers=2, bands={"alpha": (7.0, 13.0), "beta": (13.0, 31.0)})


@pytest.fixture(scope="module")
def tiny():
    return make_results(n_layers=1, bands={"alpha": (7.0, 13.0)})


# --------------------------------------------------------------------------
# Figure 15 grid
# --------------------------------------------------------------------------
def test_grid_layout_titles_and_row_scales(ds):
    fig = plot_layer_band_grid(ds)
    maps = map_axes(fig)
    n_bands, n_layers = ds.sizes["band"], ds.sizes["layer"]
    assert len(maps) == n_bands * (n_layers + 1)  # + the class column
    assert len(colorbar_axes(fig)) == 2 * n_bands  # layers' and class column's
    # columns ordered by depth, titled with the receptive field in ms
    titles = [maps[(0, c)].get_title() for c in range(n_layers)]
    assert titles == [
        "pool_nonlin\n48 ms",
        "pool_nonlin_2\n180 ms",
        "pool_nonlin_3\n576 ms",
    ]
    assert "class" in maps[(0, n_layers + 2)].get_title()
    assert maps[(1, 0)].get_ylabel() == "beta\n13–31 Hz"
    assert "trained − untrained mean |r|" in fig.get_suptitle()

    row_max = []
    for row, band in enumerate(ds.band.values):
        clims = {clim(maps[(row, c)]) for c in range(n_layers)}
        assert len(clims) == 1, f"row {band} does not share one colour scale"
        lo, hi = clims.pop()
        expected = float(abs(ds.layer_mean_abs_corr_diff.sel(band=band)).max())
        assert lo == pytest.approx(-expected) and hi == pytest.approx(expected)
        row_max.append(hi)
        cmap = maps[(row, 0)].images[0].get_cmap().name
        assert cmap == "RdBu_r"
    assert len(set(row_max)) == n_bands  # each row has a scale of its own


@pytest.mark.parametrize("kind", KINDS)
def test_grid_kinds_pick_the_right_values(small, kind):
    fig = plot_layer_band_grid(small, kind=kind, class_column=None)
    maps = map_axes(fig)
    assert len(maps) == small.sizes["band"] * small.sizes["layer"]
    var = {
        "diff_abs": small.layer_mean_abs_corr_diff,
        "diff": small.layer_mean_corr_diff,
        "trained_abs": small.layer_mean_abs_corr.sel(network="trained"),
        "untrained_abs": small.layer_mean_abs_corr.sel(network="untrained"),
        "trained": small.layer_mean_corr.sel(network="trained"),
        "untrained": small.layer_mean_corr.sel(network="untrained"),
    }[kind]
    for row, band in enumerate(small.band.values):
        values = var.sel(band=band).values
        lo, hi = clim(maps[(row, 1)])
        assert clim(maps[(row, 0)]) == (lo, hi)
        if kind.endswith("_abs") and not kind.startswith("diff"):
            assert (lo, hi) == pytest.approx((values.min(), values.max()))
            assert maps[(row, 0)].images[0].get_cmap().name == "Reds"
        else:
            assert (lo, hi) == pytest.approx((-abs(values).max(), abs(values).max()))
            assert maps[(row, 0)].images[0].get_cmap().name == "RdBu_r"


def test_grid_class_column_choices(small):
    n_layers = small.sizes["layer"]
    fig = plot_layer_band_grid(small, kind="trained_abs", class_column="right_hand")
    maps = map_axes(fig)
    assert maps[(0, n_layers + 2)].get_title() == "class r\nright hand"
    for row, band in enumerate(small.band.values):
        r = small.class_corr.sel(band=band, **{"class": "right_hand"}).values
        assert clim(maps[(row, n_layers + 2)]) == pytest.approx(
            (-abs(r).max(), abs(r).max())
        )
    fig = plot_layer_band_grid(small, class_column="mean_abs")
    maps = map_axes(fig)
    r = abs(small.class_corr.sel(band="alpha")).mean("class").values
    assert clim(maps[(0, n_layers + 2)]) == pytest.approx((r.min(), r.max()))


def test_grid_subsets_and_no_class_corr():
    ds = make_results(n_layers=3, classes=False)
    fig = plot_layer_band_grid(
        ds, layers=["pool_nonlin_3", "pool_nonlin"], bands="beta"
    )
    maps = map_axes(fig)
    assert len(maps) == 2  # class column silently absent: no class_corr
    assert [maps[(0, c)].get_title().split("\n")[0] for c in range(2)] == [
        "pool_nonlin_3",
        "pool_nonlin",
    ]
    with pytest.raises(InvalidInputError, match=r"'class_column'.*class_corr"):
        plot_layer_band_grid(ds, class_column="feet")


def test_grid_draws_onto_given_axes(small):
    n_bands, n_layers = small.sizes["band"], small.sizes["layer"]
    fig, axes = plt.subplots(n_bands, n_layers + 1)
    out = plot_layer_band_grid(small, axes=axes)
    assert out is fig
    assert all(ax.images for ax in axes.ravel())  # every given axes holds a map
    assert len(fig.axes) == axes.size + 2 * n_bands  # + the colour bars
    assert axes[0, 0].get_title() == "pool_nonlin\n48 ms"
    assert axes[0, n_layers].get_title() == "classes\nmean |r|"
    assert axes[1, 0].get_ylabel() == "beta\n13–31 Hz"
    assert fig.get_suptitle() == ""  # the caller's figure keeps its title
    # the same colour scales as in a figure of its own: one per row
    for row, band in enumerate(small.band.values):
        vmax = float(abs(small.layer_mean_abs_corr_diff.sel(band=band)).max())
        assert clim(axes[row, 0]) == clim(axes[row, 1])
        assert clim(axes[row, 0]) == pytest.approx((-vmax, vmax))
        r = abs(small.class_corr.sel(band=band)).mean("class").values
        assert clim(axes[row, n_layers]) == pytest.approx((r.min(), r.max()))


def test_grid_one_row_and_single_axes(small, tiny):
    # plt.subplots squeezes one row into a flat array: accepted as such
    fig, axes = plt.subplots(1, 2)
    out = plot_layer_band_grid(small, bands="alpha", class_column=None, axes=axes)
    assert out is fig and all(ax.images for ax in axes)
    assert len(fig.axes) == 3
    # one map, one Axes
    fig, ax = plt.subplots()
    assert plot_layer_band_grid(tiny, class_column=None, axes=ax) is fig
    assert ax.images and len(fig.axes) == 2


def test_grid_axes_in_a_subfigure(tiny):
    fig = plt.figure(layout="constrained")
    left, _ = fig.subfigures(1, 2)
    axes = left.subplots(1, 2)
    assert plot_layer_band_grid(tiny, axes=axes) is fig  # the root figure
    assert len(left.axes) == 4


@pytest.mark.parametrize(
    ("shape", "kwargs", "match"),
    [
        (
            (2, 2),
            {},
            r"'axes'.*2 × 3 Axes \(n_bands × n_columns.*class column.*\(2, 2\)",
        ),
        ((2, 3), {"class_column": None}, r"'axes'.*2 × 2 Axes.*got shape \(2, 3\)"),
        ((3, 2), {"bands": "alpha"}, r"'axes'.*1 × 3 Axes.*got shape \(3, 2\)"),
    ],
)
def test_grid_wrong_axes_shape(small, shape, kwargs, match):
    _, axes = plt.subplots(*shape)
    with pytest.raises(InvalidInputError, match=match):
        plot_layer_band_grid(small, axes=axes, **kwargs)


def test_grid_axes_not_axes(small):
    _, ax = plt.subplots()
    with pytest.raises(InvalidInputError, match=r"'axes'.*single Axes"):
        plot_layer_band_grid(small, axes=ax)
    with pytest.raises(InvalidInputError, match=r"'axes'.*type str"):
        plot_layer_band_grid(small, axes=[["a", "b"], ["c", "d"]], class_column=None)
    _, a = plt.subplots(2, 1)
    _, b = plt.subplots(2, 1)
    with pytest.raises(InvalidInputError, match=r"'axes'.*different figures"):
        plot_layer_band_grid(small, axes=np.column_stack([a, b]), class_column=None)


# --------------------------------------------------------------------------
# Figure 14
# --------------------------------------------------------------------------
def test_class_maps_share_one_symmetric_scale(ds):
    fig = plot_class_maps(ds)
    maps = map_axes(fig)
    assert len(maps) == ds.sizes["band"] * ds.sizes["class"]
    assert len(colorbar_axes(fig)) == 1
    assert colorbar_axes(fig)[0].get_ylabel() == "r"
    assert [maps[(0, c)].get_title() for c in range(4)] == [
        "left hand",
        "right hand",
        "feet",
        "tongue",
    ]
    clims = {clim(ax) for ax in maps.values()}
    assert len(clims) == 1
    lo, hi = clims.pop()
    assert lo == -hi and hi == pytest.approx(float(abs(ds.class_corr).max()))
    assert fig.get_suptitle() == (
        "Envelope–class correlation (envelope averaged over 576 ms)"
    )


def test_class_maps_row_scales(ds):
    fig = plot_class_maps(ds, share="row", classes=["feet", "left_hand"])
    maps = map_axes(fig)
    assert len(maps) == 2 * ds.sizes["band"]
    assert len(colorbar_axes(fig)) == ds.sizes["band"]
    for row, band in enumerate(ds.band.values):
        lo, hi = clim(maps[(row, 0)])
        assert clim(maps[(row, 1)]) == (lo, hi) and lo == -hi
        r = ds.class_corr.sel(band=band, **{"class": ["feet", "left_hand"]})
        assert hi == pytest.approx(float(abs(r).max()))


@pytest.mark.parametrize("share", ["all", "row"])
def test_class_maps_draw_onto_given_axes(small, share):
    fig, axes = plt.subplots(2, 2)
    out = plot_class_maps(small, classes=["feet", "tongue"], share=share, axes=axes)
    assert out is fig
    assert all(ax.images for ax in axes.ravel())
    n_bars = 1 if share == "all" else 2
    assert len(colorbar_axes(fig)) == n_bars
    assert colorbar_axes(fig)[0].get_ylabel() == "r"
    assert [ax.get_title() for ax in axes[0]] == ["feet", "tongue"]
    assert axes[1, 0].get_ylabel() == "beta\n13–31 Hz"
    assert len({clim(ax) for ax in axes.ravel()}) == n_bars
    assert fig.get_suptitle() == ""


def test_class_maps_wrong_axes_shape(small):
    _, axes = plt.subplots(4, 2)
    with pytest.raises(
        InvalidInputError,
        match=r"'axes'.*2 × 4 Axes \(n_bands × n_classes: 2 band\(s\), 4 class",
    ):
        plot_class_maps(small, axes=axes)


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("func", "kwargs", "match"),
    [
        (plot_layer_band_grid, {"kind": "abs"}, r"'kind'.*'diff_abs'"),
        (plot_layer_band_grid, {"layers": ["conv_9"]}, r"'layers'.*'pool_nonlin_2'"),
        (plot_layer_band_grid, {"bands": ["delta"]}, r"'bands'.*'alpha'"),
        (plot_layer_band_grid, {"class_column": "hands"}, r"'class_column'.*'feet'"),
        (plot_class_maps, {"share": "col"}, r"'share'.*'row'"),
        (plot_class_maps, {"classes": ["rest"]}, r"'classes'.*'tongue'"),
    ],
)
def test_bad_arguments(ds, func, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        func(ds, **kwargs)


def test_missing_or_bad_positions(ds):
    no_pos = make_results(positions=False)
    with pytest.raises(InvalidInputError, match=r"'ds'.*ch_x.*standard_1005"):
        plot_class_maps(no_pos)
    x = ds.ch_x.values.copy()
    x[ds.channel.values.tolist().index("Cz")] = np.nan
    with pytest.raises(InvalidInputError, match=r"'ds'.*\['Cz'\]"):
        plot_layer_band_grid(ds.assign_coords(ch_x=("channel", x)))


def test_not_results(ds):
    with pytest.raises(InvalidInputError, match=r"'ds'.*xarray.Dataset"):
        plot_class_maps(ds.class_corr)
    with pytest.raises(InvalidInputError, match=r"'ds'.*'class_corr'"):
        plot_class_maps(make_results(classes=False))
