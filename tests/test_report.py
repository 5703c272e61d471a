"""Tests of envcorr.report: content, embedded figures, optional parts, rendering."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import matplotlib
import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

import envcorr.report as report_module
import envcorr.viz.figures as viz_figures
import envcorr.viz.profiles as viz_profiles
import envcorr.viz.topomaps as viz_topomaps
import envcorr.viz.units as viz_units
from _results_fixture import make_results
from envcorr._utils.check import InvalidInputError
from envcorr.report import make_report
from envcorr.viz import RenderedFigure

matplotlib.use("Agg")  # never open windows

BANDS = {"alpha": (7.0, 13.0), "high_gamma": (71.0, 91.0)}
IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
PLOTS = (
    "plot_class_maps",
    "plot_depth_profile",
    "plot_layer_band_grid",
    "plot_top_units",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The report of a full results file, made from its path."""
    folder = tmp_path_factory.mktemp("report")
    ds = make_results(bands=BANDS)
    path = folder / "results.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    out = make_report(path, folder / "sub" / "report.html", verbose=False)
    return out, out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """The report of results without labels, training, positions or config."""
    ds = make_results(classes=False, training=False, positions=False)
    for name in ("config", "versions", "dataset", "subject"):
        ds.attrs.pop(name, None)
    out = tmp_path_factory.mktemp("bare") / "bare.html"
    return make_report(ds, out, verbose=False).read_text(encoding="utf-8")


def test_report_sections(report):
    out, html = report
    assert out.name == "report.html" and out.is_file()
    for section in ("data", "model", "layers", "figures", "config", "versions"):
        assert f'<section id="{section}">' in html
    # title and data summary
    assert "<h1>Envelope–activation correlation maps</h1>" in html
    assert "Deep4Net · BNCI2014_001 · subject 1" in html
    assert "left hand: 72, right hand: 72, feet: 72, tongue: 72" in html
    assert "22: Fz FC3 FC1" in html
    assert "250 Hz" in html and "1125 (4.5 s)" in html
    assert "71–91 Hz" in html
    # model and accuracy
    assert "73.6 %" in html and "93.4 %" in html
    assert "Confusion matrix (test trials)" in html
    assert re.search(r"52<span class=\"pct\">72 %</span>", html)
    # configuration pretty-printed, versions listed
    config = html.split('<pre class="config">')[1].split("</pre>")[0]
    config = unescape(config)
    assert json.loads(config) == json.loads(make_results(bands=BANDS).attrs["config"])
    assert '\n  "dataset": "BNCI2014_001",\n' in config
    assert '\n    "alpha": [7.0, 13.0],\n' in config  # short lists on one line
    assert "<td>xarray</td>" in html
    assert plt.get_fignums() == []


def test_report_receptive_field_table(report):
    html = report[1]
    table = html.split('<section id="layers">')[1].split("</section>")[0]
    rows = re.findall(r"<tr><td><code>(.*?)</code></td>(.*?)</tr>", table)
    assert [r[0] for r in rows] == ["pool_nonlin", "pool_nonlin_2", "pool_nonlin_3"]
    cells = re.findall(r'<td class="num">(.*?)</td>', rows[1][1])
    assert cells == ["45", "180 ms", "1081", "6"]


def test_report_embeds_every_figure(report):
    html = report[1]
    figures = html.split('<section id="figures">')[1].split("</section>")[0]
    images = IMG.findall(figures)
    # class maps, two grids, depth profile, top units of each of the 2 bands
    assert len(images) == 6
    assert figures.count("<figcaption>") == 6
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    # drawn at 144 dpi, shown at the figure's size in CSS pixels (96 per inch)
    widths = [int(w) for w in re.findall(r'<img src="[^"]*" width="(\d+)"', figures)]
    for data, width in zip(images, widths, strict=True):
        png = mpimg.imread(io.BytesIO(base64.b64decode(data)))
        assert png.shape[1] == pytest.approx(width * 144 / 96, abs=1)
    for fig_id in (
        "class_maps",
        "layer_band_grid",
        "layer_band_grid_trained",
        "depth_profile",
        "top_units_alpha",
        "top_units_high_gamma",
    ):
        assert f'id="fig-{fig_id}"' in figures
    # self-contained: nothing is fetched from elsewhere
    assert not re.search(r'(src|href)="(https?:|//|file:)', html)
    assert "<link" not in html and "<script" not in html


def test_report_without_optional_parts(bare):
    assert "No accuracy recorded" in bare
    assert "Confusion matrix (test trials)" not in bare
    assert "Trials per class" not in bare
    assert "no electrode positions" in bare
    assert "computed without class" in bare
    assert "No configuration recorded" in bare
    assert '<section id="versions">' not in bare
    assert len(IMG.findall(bare)) == 1  # the depth profile needs no positions
    assert 'id="fig-depth_profile"' in bare


def test_report_title_is_escaped(tmp_path):
    ds = make_results(positions=False)
    ds.attrs["config"] = json.dumps({"note": "<b>bold</b>"})
    html = make_report(ds, tmp_path / "r.html", title="A <i>test</i>", verbose=False)
    text = html.read_text(encoding="utf-8")
    assert "<h1>A &lt;i&gt;test&lt;/i&gt;</h1>" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary file


def test_report_bad_input(tmp_path):
    with pytest.raises(InvalidInputError, match=r"'ds_or_path'.*not found"):
        make_report(tmp_path / "missing.nc", tmp_path / "r.html")
    with pytest.raises(InvalidInputError, match=r"'ds_or_path'.*got int"):
        make_report(42, tmp_path / "r.html")
    junk = tmp_path / "junk.nc"
    junk.write_text("not netcdf")
    with pytest.raises(InvalidInputError, match=r"'ds_or_path'.*could not read"):
        make_report(junk, tmp_path / "r.html")
    with pytest.raises(InvalidInputError, match=r"'ds_or_path'.*'layer'"):
        make_report(make_results().drop_dims("layer"), tmp_path / "r.html")
    with pytest.raises(InvalidInputError, match=r"'out_path'.*folder"):
        make_report(make_results(positions=False), tmp_path)
    with pytest.raises(InvalidInputError, match=r"'title'"):
        make_report(make_results(positions=False), tmp_path / "r.html", title=3)


# --------------------------------------------------------------------------
# figures drawn beforehand
# --------------------------------------------------------------------------
def _png(color: str, width: float) -> bytes:
    fig = Figure(figsize=(width, 1.0), facecolor=color)  # not through pyplot
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=10)
    return buf.getvalue()


@pytest.fixture
def given():
    return [
        RenderedFigure(
            "first",
            "First <title>",
            "A & caption.",
            (Path("first.png"),),
            _png("red", 2.0),
            192,
        ),
        RenderedFigure(
            "second", "Second", "Another caption.", (), _png("blue", 3), 288
        ),
    ]


@pytest.fixture
def no_drawing(monkeypatch):
    """Make every plotting function, and the drawing of figures, fail."""

    def fail(*args, **kwargs):
        raise AssertionError("a figure was drawn")

    for module in (viz_topomaps, viz_units, viz_profiles, viz_figures):
        for name in PLOTS:
            if hasattr(module, name):
                monkeypatch.setattr(module, name, fail)
    monkeypatch.setattr(report_module, "draw_figures", fail)
    monkeypatch.setattr(viz_figures, "draw_figures", fail)
    monkeypatch.setattr(plt, "figure", fail)
    monkeypatch.setattr(plt, "subplots", fail)


def test_report_embeds_given_figures_without_drawing(given, no_drawing, tmp_path):
    ds = make_results(bands=BANDS)  # scalp maps could be drawn: none are
    out = make_report(ds, tmp_path / "r.html", figures=given, verbose=False)
    html = out.read_text(encoding="utf-8")
    figures = html.split('<section id="figures">')[1].split("</section>")[0]
    images = IMG.findall(figures)
    assert [base64.b64decode(d) for d in images] == [f.png for f in given]
    assert re.findall(r'<figure id="(.*?)">', figures) == ["fig-first", "fig-second"]
    assert "<h3>First &lt;title&gt;</h3>" in figures
    assert "<figcaption>A &amp; caption.</figcaption>" in figures
    assert re.findall(r'<img src="[^"]*" width="(\d+)"', figures) == ["192", "288"]
    # an empty list is no figure at all, still without drawing
    html = make_report(ds, tmp_path / "r.html", figures=[]).read_text("utf-8")
    assert not IMG.findall(html)


def test_report_bad_figures(given, no_drawing, tmp_path):
    ds = make_results(positions=False)
    with pytest.raises(InvalidInputError, match=r"'figures'.*RenderedFigure, got"):
        make_report(ds, tmp_path / "r.html", figures=given[0])
    with pytest.raises(InvalidInputError, match=r"'figures'.*element 1 is a str"):
        make_report(ds, tmp_path / "r.html", figures=[given[0], "fig.png"])
    no_png = [given[0], RenderedFigure("x", "X", "", (), None, 10)]
    with pytest.raises(InvalidInputError, match=r"'figures'.*'x' has no PNG"):
        make_report(ds, tmp_path / "r.html", figures=no_png)
    assert list(tmp_path.iterdir()) == []


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed")
def test_report_renders_in_chromium(report, tmp_path):
    out = report[0]
    png = tmp_path / "report.png"
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={png}",
        "--window-size=1400,3000",
        out.resolve().as_uri(),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    assert png.is_file() and png.stat().st_size > 50_000
    pixels = mpimg.imread(png)[..., :3]
    assert pixels.shape[:2] == (3000, 1400)
    assert pixels.std() > 0.1  # not a blank page
    # the figures are drawn: a fair share of the page is coloured (maps, header)
    saturation = pixels.max(axis=-1) - pixels.min(axis=-1)
    assert (saturation > 0.2).mean() > 0.01
