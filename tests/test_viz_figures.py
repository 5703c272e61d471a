"""Tests of envcorr.viz.figures: the standard set, drawn once, saved atomically."""

from __future__ import annotations

import dataclasses
import io
import os
from collections import Counter

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import envcorr.viz.figures as figures
from _figures import close_figures  # noqa: F401
from _results_fixture import make_results
from envcorr._utils.check import InvalidInputError
from envcorr.viz import RenderedFigure, draw_figures, plot_layer_band_grid, save_figures

PNG = b"\x89PNG\r\n\x1a\n"
STEMS = [
    "class_maps",
    "layer_band_grid",
    "layer_band_grid_trained",
    "depth_profile",
    "top_units_alpha",
]
PLOTS = ("plot_class_maps", "plot_layer_band_grid", "plot_depth_profile")


@pytest.fixture(scope="module")
def tiny():
    return make_results(n_layers=1, bands={"alpha": (7.0, 13.0)})


@pytest.fixture(scope="module")
def micro(tiny):
    """One band, one layer, two classes, two units: every figure, few maps."""
    classes = {"class": ["left_hand", "right_hand"]}
    return tiny.sel(classes).isel(unit=[0, 1])


@pytest.fixture(scope="module")
def drawn(micro, tmp_path_factory):
    """draw_figures in three formats, counting builds and recording every save."""
    out = tmp_path_factory.mktemp("drawn") / "figures"
    builds: Counter = Counter()
    saves: list[tuple[int, object, str, float]] = []
    savefig = Figure.savefig

    def record(fig, fname, *args, **kwargs):
        exists = isinstance(fname, os.PathLike) and os.path.exists(fname)
        saves.append((id(fig), fname, kwargs["format"], kwargs["dpi"], exists))
        return savefig(fig, fname, *args, **kwargs)

    def counting(name):
        func = getattr(figures, name)

        def wrapper(*args, **kwargs):
            builds[name, kwargs.get("kind", kwargs.get("band"))] += 1
            return func(*args, **kwargs)

        return wrapper

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Figure, "savefig", record)
        for name in (*PLOTS, "plot_top_units"):
            mp.setattr(figures, name, counting(name))
        result = draw_figures(
            micro, out, formats=("png", "svg", "pdf"), dpi=30, report_dpi=20
        )
    return out, result, builds, saves


# --------------------------------------------------------------------------
# draw_figures
# --------------------------------------------------------------------------
def test_draw_figures_result(drawn):
    out, result, _, _ = drawn
    assert [f.name for f in result] == STEMS
    assert all(isinstance(f, RenderedFigure) for f in result)
    grid = result[1]
    assert grid.title == "Learned envelope tracking per layer (Figure 15)"
    assert grid.caption.startswith("Trained − untrained mean |r|")
    assert result[-1].title == "Strongest units: alpha 7–13 Hz"
    assert "pool_nonlin" in result[-1].caption
    for fig in result:
        assert fig.paths == tuple(
            out / f"{fig.name}.{f}" for f in ("png", "svg", "pdf")
        )
        assert all(p.is_file() for p in fig.paths)
        assert fig.png[:8] == PNG
        # the report PNG at report_dpi; its width in CSS pixels at 96 per inch
        width = mpimg.imread(io.BytesIO(fig.png)).shape[1]
        assert width == pytest.approx(fig.width_px * 20 / 96, abs=1)
    assert (out / "depth_profile.pdf").read_bytes()[:5] == b"%PDF-"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{s}.{f}" for s in STEMS for f in ("png", "svg", "pdf")
    )  # no temporary files left
    assert plt.get_fignums() == []  # every figure closed
    with pytest.raises(dataclasses.FrozenInstanceError):
        result[0].name = "other"


def test_draw_figures_builds_each_figure_once(drawn):
    _, result, builds, saves = drawn
    assert builds == {
        ("plot_class_maps", None): 1,
        ("plot_layer_band_grid", "diff_abs"): 1,
        ("plot_layer_band_grid", "trained_abs"): 1,
        ("plot_depth_profile", None): 1,
        ("plot_top_units", "alpha"): 1,
    }
    # each figure saved to the three files and to the report PNG: four saves
    per_figure = Counter(fig_id for fig_id, *_ in saves)
    assert len(per_figure) == len(result)
    assert set(per_figure.values()) == {4}
    formats = [(fmt, dpi) for _, _, fmt, dpi, _ in saves]
    assert formats == [("png", 30), ("svg", 30), ("pdf", 30), ("png", 20)] * 5


def test_draw_figures_writes_each_file_atomically(drawn):
    out, result, _, saves = drawn
    finals = {p for fig in result for p in fig.paths}
    targets = [fname for _, fname, *_ in saves if not isinstance(fname, io.BytesIO)]
    assert len(targets) == len(finals) == 15
    for target in targets:
        # written under a new hidden name beside the final file, then renamed
        assert target not in finals and target.parent == out
        assert target.name.startswith(".") and not target.exists()
    assert not any(exists for *_, exists in saves)  # the writer creates it


def test_draw_figures_as_drawn_fresh(drawn, micro):
    """Saved four times, each output is what a freshly built figure gives."""
    out, result, _, _ = drawn
    grid = result[STEMS.index("layer_band_grid")]
    for path_or_png, dpi in ((out / "layer_band_grid.png", 30), (grid.png, 20)):
        buf = io.BytesIO()
        plot_layer_band_grid(micro, kind="diff_abs").savefig(buf, format="png", dpi=dpi)
        fresh = mpimg.imread(io.BytesIO(buf.getvalue()))
        if isinstance(path_or_png, bytes):
            path_or_png = io.BytesIO(path_or_png)
        np.testing.assert_array_equal(mpimg.imread(path_or_png), fresh)


def test_draw_figures_without_folder_or_png(tiny, tmp_path):
    no_pos = make_results(positions=False)
    (fig,) = draw_figures(no_pos, report_dpi=10, verbose=False)
    assert fig.name == "depth_profile" and fig.paths == () and fig.png[:8] == PNG
    (fig,) = draw_figures(no_pos, tmp_path / "a" / "b", dpi=10, report_dpi=None)
    assert fig.png is None and fig.paths == (
        tmp_path / "a" / "b" / "depth_profile.png",
    )
    with pytest.raises(InvalidInputError, match=r"'report_dpi'.*nothing to draw"):
        draw_figures(tiny, None, report_dpi=None)
    with pytest.raises(InvalidInputError, match=r"'report_dpi'"):
        draw_figures(tiny, report_dpi=-1)
    assert plt.get_fignums() == []


def test_draw_figures_from_a_path(tmp_path):
    ds = make_results(positions=False)
    path = tmp_path / "results.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    (fig,) = draw_figures(path, report_dpi=10)
    assert fig.name == "depth_profile"
    with pytest.raises(InvalidInputError, match=r"'ds'.*not found"):
        draw_figures(tmp_path / "missing.nc")


# --------------------------------------------------------------------------
# save_figures
# --------------------------------------------------------------------------
def test_save_figures_png_and_svg(micro, tmp_path):
    out = tmp_path / "figs"
    paths = save_figures(micro, out, formats=("png", "svg"), dpi=40, verbose=False)
    names = sorted(p.name for p in paths)
    assert names == sorted(f"{s}.{f}" for s in STEMS for f in ("png", "svg"))
    assert sorted(p.name for p in out.iterdir()) == names  # no temporary files left
    assert plt.get_fignums() == []  # every figure closed
    grid = mpimg.imread(out / "layer_band_grid.png")
    assert grid.std() > 0.05  # not blank
    fig = plot_layer_band_grid(micro)
    w, h = fig.get_size_inches() * 40
    assert grid.shape[:2] == (round(h), round(w))  # written at the requested dpi
    assert (out / "depth_profile.svg").read_text().lstrip().startswith("<?xml")


def test_save_figures_without_positions(tmp_path):
    ds = make_results(positions=False)
    paths = save_figures(ds, tmp_path, dpi=30, verbose=False)
    assert [p.name for p in paths] == ["depth_profile.png"]


def test_save_figures_bad_input(tiny, tmp_path):
    with pytest.raises(InvalidInputError, match=r"'formats'.*'svg'"):
        save_figures(tiny, tmp_path, formats=("png", "jpeg"))
    with pytest.raises(InvalidInputError, match=r"'formats'.*no format"):
        save_figures(tiny, tmp_path, formats=())
    with pytest.raises(InvalidInputError, match=r"'dpi'"):
        save_figures(tiny, tmp_path, dpi=0)
    with pytest.raises(InvalidInputError, match=r"'out_dir'"):
        save_figures(tiny, None)
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(InvalidInputError, match=r"'out_dir'.*not a folder"):
        save_figures(tiny, afile)
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_save_figures_is_atomic(tmp_path, monkeypatch):
    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)  # the rename of the finished file
    with pytest.raises(OSError, match="disk full"):
        save_figures(make_results(positions=False), tmp_path, dpi=20, verbose=False)
    assert list(tmp_path.iterdir()) == []  # the temporary file was removed
    assert plt.get_fignums() == []
