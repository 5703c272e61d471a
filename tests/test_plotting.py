"""Tests of envcorr.plotting: figure layout, colour scales, savers, bad input."""

from __future__ import annotations

import matplotlib
import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pytest

from _results_fixture import make_results
from envcorr._check import InvalidInputError
from envcorr.plotting import (
    plot_class_maps,
    plot_depth_profile,
    plot_layer_band_grid,
    plot_top_units,
    save_figures,
)

matplotlib.use("Agg")  # never open windows

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


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def map_axes(fig):
    """Scalp-map axes (those holding an image) as {(row, col): axes}."""
    out = {}
    for ax in fig.axes:
        if ax.images:
            spec = ax.get_subplotspec()
            out[(spec.rowspan.start, spec.colspan.start)] = ax
    return out


def colorbar_axes(fig):
    return [ax for ax in fig.axes if not ax.images]


def clim(ax):
    return tuple(float(v) for v in ax.images[0].get_clim())


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


# --------------------------------------------------------------------------
# Figure 14, depth profile, top units
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


def test_depth_profile_lines(ds):
    fig = plot_depth_profile(ds)
    assert len(fig.axes) == ds.sizes["band"]
    mean = ds.layer_mean_abs_corr.mean("channel")
    for ax, band in zip(fig.axes, ds.band.values, strict=True):
        trained, untrained = ax.get_lines()
        np.testing.assert_allclose(
            trained.get_ydata(), mean.sel(network="trained", band=band)
        )
        np.testing.assert_allclose(
            untrained.get_ydata(), mean.sel(network="untrained", band=band)
        )
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert labels == [
            "pool_nonlin\n48 ms",
            "pool_nonlin_2\n180 ms",
            "pool_nonlin_3\n576 ms",
        ]
    assert fig.axes[0].get_title() == "alpha, 7–13 Hz"
    assert fig.axes[0].get_legend() is not None
    # wrapped into rows of ncols axes
    fig = plot_depth_profile(ds, ncols=2)
    assert len(fig.axes) == 3


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
        (plot_depth_profile, {"ncols": 0}, r"'ncols'"),
        (plot_top_units, {"layer": "conv", "band": "alpha"}, r"'layer'.*'pool_nonlin'"),
        (plot_top_units, {"layer": "pool_nonlin", "band": "gamma"}, r"'band'.*'beta'"),
        (plot_top_units, {"layer": "pool_nonlin", "band": "beta", "k": 0}, r"'k'.*1"),
        (plot_top_units, {"layer": "pool_nonlin", "band": "beta", "k": 2.5}, r"'k'"),
        (
            plot_top_units,
            {"layer": "pool_nonlin", "band": "beta", "network": "init"},
            r"'network'.*'untrained'",
        ),
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


# --------------------------------------------------------------------------
# save_figures
# --------------------------------------------------------------------------
def test_save_figures_png_and_svg(tiny, tmp_path):
    out = tmp_path / "figs"
    paths = save_figures(tiny, out, formats=("png", "svg"), dpi=40, verbose=False)
    names = sorted(p.name for p in paths)
    stems = [
        "class_maps",
        "depth_profile",
        "layer_band_grid",
        "layer_band_grid_trained",
        "top_units_alpha",
    ]
    assert names == sorted(f"{s}.{f}" for s in stems for f in ("png", "svg"))
    assert sorted(p.name for p in out.iterdir()) == names  # no temporary files left
    assert plt.get_fignums() == []  # every figure closed
    grid = mpimg.imread(out / "layer_band_grid.png")
    assert grid.std() > 0.05  # not blank
    fig = plot_layer_band_grid(tiny)
    w, h = fig.get_size_inches() * 40
    assert grid.shape[:2] == (round(h), round(w))  # written at the requested dpi
    assert (out / "depth_profile.svg").read_text().lstrip().startswith("<?xml")


def test_save_figures_without_positions(tmp_path):
    ds = make_results(positions=False)
    paths = save_figures(ds, tmp_path, dpi=30, verbose=False)
    assert [p.name for p in paths] == ["depth_profile.png"]


def test_save_figures_bad_input(small, tmp_path):
    with pytest.raises(InvalidInputError, match=r"'formats'.*'svg'"):
        save_figures(small, tmp_path, formats=("png", "jpeg"))
    with pytest.raises(InvalidInputError, match=r"'dpi'"):
        save_figures(small, tmp_path, dpi=0)
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(InvalidInputError, match=r"'out_dir'.*not a folder"):
        save_figures(small, afile)
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_save_figures_is_atomic(tmp_path, monkeypatch):
    import envcorr.plotting as plotting

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(plotting.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_figures(make_results(positions=False), tmp_path, dpi=20, verbose=False)
    assert list(tmp_path.iterdir()) == []  # the temporary file was removed
    assert plt.get_fignums() == []
