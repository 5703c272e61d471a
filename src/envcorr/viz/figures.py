"""The standard set of figures: names, titles, captions; drawing and saving.

:func:`draw_figures` builds each figure of the set once, writes it to files in
every requested format and renders it as PNG for the HTML report
(:func:`envcorr.report.make_report`), then closes it. :func:`save_figures` is
the same without the report PNG.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from .._utils.check import check_option, check_positive_float, invalid
from .._utils.docs import fill_doc
from .._utils.io import atomic_path
from .._utils.logs import logger, verbose
from .labels import POSITIONS_FIX, as_dataset, band_label, dim_values, has_positions
from .profiles import plot_depth_profile
from .topomaps import plot_class_maps, plot_layer_band_grid
from .units import plot_top_units

__all__ = [
    "FORMATS",
    "REPORT_DPI",
    "FigureSpec",
    "RenderedFigure",
    "draw_figures",
    "draw_specs",
    "figure_specs",
    "save_figures",
]

FORMATS = ("png", "svg", "pdf")
PX_PER_INCH = 96  # CSS pixels: the report shows each figure at its physical size
REPORT_DPI = 144  # sharp on high-density screens, still a small file


class FigureSpec(NamedTuple):
    """One figure of the standard set, not drawn yet."""

    name: str  # file stem, and the figure's id in the report
    title: str
    caption: str
    build: Callable[[], Figure]


@dataclass(frozen=True)
class RenderedFigure:
    """One figure of the standard set, drawn.

    Attributes
    ----------
    name : str
        Its name: the stem of its files, e.g. ``"layer_band_grid"``.
    title : str
        Its title in the report.
    caption : str
        How to read it.
    paths : tuple of pathlib.Path
        The files written, one per format (empty when no folder was given).
    png : bytes | None
        The figure as PNG at the report's resolution (None when not rendered).
    width_px : int
        Its width in CSS pixels (inches × 96), at which the report shows it.
    """

    name: str
    title: str
    caption: str
    paths: tuple[Path, ...]
    png: bytes | None
    width_px: int


def best_layer(ds: xr.Dataset, band: str) -> str:
    """Layer whose mean |r| grew most with training, for ``band``."""
    if "layer_mean_abs_corr_diff" in ds.variables:
        gain = ds["layer_mean_abs_corr_diff"].sel(band=band).mean("channel").values
        if np.isfinite(gain).any():
            return dim_values(ds, "layer")[int(np.nanargmax(gain))]
    return dim_values(ds, "layer")[-1]


def _file_stem(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_") or "band"


def figure_specs(ds: xr.Dataset) -> list[FigureSpec]:
    """The figures of the report and of :func:`save_figures`, in order."""
    specs: list[FigureSpec] = []
    maps = has_positions(ds)
    if not maps:
        logger.warning(
            "The results have no electrode positions (ch_x, ch_y, ch_z): "
            "skipping the scalp maps. %s",
            POSITIONS_FIX,
        )
    if maps and "class_corr" in ds.variables:
        specs.append(
            FigureSpec(
                "class_maps",
                "Envelope–class correlation (Figure 14)",
                "Correlation of each band's power with each class, no network "
                "involved: blue = less power in trials of that class (e.g. "
                "alpha/beta desynchronisation contralateral to the imagined hand).",
                lambda: plot_class_maps(ds),
            )
        )
    if maps and "layer_mean_abs_corr_diff" in ds.variables:
        specs.append(
            FigureSpec(
                "layer_band_grid",
                "Learned envelope tracking per layer (Figure 15)",
                "Trained − untrained mean |r| over each layer's units: red = units "
                "track the band power at that electrode more after training; one "
                "colour scale per row, rightmost column = class-average |r| with "
                "the class.",
                lambda: plot_layer_band_grid(ds, kind="diff_abs"),
            )
        )
    if maps and "layer_mean_abs_corr" in ds.variables:
        specs.append(
            FigureSpec(
                "layer_band_grid_trained",
                "Envelope tracking of the trained network",
                "Mean |r| over each layer's units in the trained network (not "
                "baseline-corrected): where band power is tracked at all; one "
                "colour scale per row.",
                lambda: plot_layer_band_grid(ds, kind="trained_abs"),
            )
        )
    if "layer_mean_abs_corr" in ds.variables:
        specs.append(
            FigureSpec(
                "depth_profile",
                "Envelope tracking against depth",
                "Mean |r| averaged over channels for each layer, left to right by "
                "receptive field; the gap between the trained (red) and untrained "
                "(grey) lines is what training added.",
                lambda: plot_depth_profile(ds),
            )
        )
    if maps and "unit_corr" in ds.variables and "unit_layer" in ds.coords:
        for band in dim_values(ds, "band"):
            layer = best_layer(ds, band)
            specs.append(
                FigureSpec(
                    f"top_units_{_file_stem(band)}",
                    f"Strongest units: {band_label(ds, band, sep=' ')}",
                    f"Trained units of {layer} (the layer whose mean |r| grew most "
                    f"with training for this band) with the largest peak |r|: each "
                    f"map is one unit's r per electrode, its sign is arbitrary.",
                    lambda band=band, layer=layer: plot_top_units(
                        ds, layer=layer, band=band
                    ),
                )
            )
    return specs


def _check_formats(formats: str | Sequence[str]) -> list[str]:
    if isinstance(formats, str):
        formats = (formats,)
    out = [check_option("formats", str(f).lower(), FORMATS) for f in formats]
    if not out:
        raise invalid("formats", "no format given.", f"Choose from {FORMATS}.")
    return list(dict.fromkeys(out))


def _check_out_dir(out_dir: str | os.PathLike) -> Path:
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise invalid("out_dir", f"'{out}' exists and is not a folder.")
    return out


def _positions(fig: Figure) -> list[tuple[Axes, Bbox, Bbox, bool]]:
    """Where every Axes of ``fig`` is, before the figure is first drawn."""
    return [
        (
            ax,
            ax.get_position(original=True).frozen(),
            ax.get_position(original=False).frozen(),
            ax.get_in_layout(),
        )
        for ax in fig.axes
    ]


def _restore(positions: list[tuple[Axes, Bbox, Bbox, bool]]) -> None:
    """Put every Axes back where it was before the figure was first drawn.

    Constrained layout starts each draw from the positions the previous draw
    left (scalp maps have a fixed aspect), so a figure saved twice comes out
    slightly different. Starting every save from the same positions makes each
    file and the report PNG what a freshly built figure gives.
    """
    for ax, original, active, in_layout in positions:
        ax.set_position(original, which="original")
        ax.set_position(active, which="active")
        ax.set_in_layout(in_layout)


def _render(
    spec: FigureSpec,
    out: Path | None,
    formats: list[str],
    dpi: float,
    report_dpi: float | None,
) -> RenderedFigure:
    """Build the figure of ``spec`` once, write it everywhere, close it."""
    fig = spec.build()
    try:
        positions = _positions(fig)
        width_px = round(float(fig.get_size_inches()[0]) * PX_PER_INCH)
        paths: list[Path] = []
        if out is not None:
            for fmt in formats:
                path = out / f"{spec.name}.{fmt}"
                # written under a temporary name, then renamed: never half a file
                _restore(positions)
                with atomic_path(path) as tmp:
                    fig.savefig(tmp, format=fmt, dpi=dpi)
                logger.debug("Wrote %s", path)
                paths.append(path)
        png = None
        if report_dpi is not None:
            buf = io.BytesIO()
            _restore(positions)
            fig.savefig(buf, format="png", dpi=report_dpi)
            png = buf.getvalue()
            logger.debug("Rendered figure %s", spec.name)
    finally:
        plt.close(fig)
    return RenderedFigure(
        spec.name, spec.title, spec.caption, tuple(paths), png, width_px
    )


@verbose
@fill_doc
def draw_figures(
    ds: xr.Dataset | str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    *,
    formats: Sequence[str] = ("png",),
    dpi: float = 300,
    report_dpi: float | None = REPORT_DPI,
    verbose: bool | str | int | None = None,
) -> list[RenderedFigure]:
    """Draw the standard figures once each, to files and for the report.

    The figures, in order (each only when the results hold what it needs):
    ``class_maps`` (:func:`~envcorr.viz.plot_class_maps`), ``layer_band_grid``
    (:func:`~envcorr.viz.plot_layer_band_grid`, ``kind="diff_abs"``),
    ``layer_band_grid_trained`` (``kind="trained_abs"``), ``depth_profile``
    (:func:`~envcorr.viz.plot_depth_profile`) and ``top_units_<band>`` per band
    (:func:`~envcorr.viz.plot_top_units` for the layer whose mean |r| grew most
    with training for that band). Scalp maps are skipped, with a warning, when
    the results have no electrode positions. Each figure is built once, written
    to ``out_dir`` in every format (each file under a temporary name, then
    renamed, so no partial file is left behind), rendered as PNG at
    ``report_dpi``, and closed.

    Parameters
    ----------
    ds : xarray.Dataset | path-like
        The results, or the path of a results file (NetCDF).
    out_dir : path-like | None
        Folder for the figure files (created when missing); None writes none.
    formats : sequence of str
        File formats among ``"png"``, ``"svg"``, ``"pdf"``; every figure is
        written in each.
    dpi : float
        Resolution of raster files (300 is print-ready).
    report_dpi : float | None
        Resolution of the PNG kept in memory for the report (144: sharp on
        high-density screens, still a small file); None renders none.
    %(verbose)s

    Returns
    -------
    figures : list of RenderedFigure
        The figures, in order, with their files and PNG.
    """
    ds = as_dataset(ds)
    return draw_specs(
        figure_specs(ds), out_dir, formats=formats, dpi=dpi, report_dpi=report_dpi
    )


@verbose
@fill_doc
def draw_specs(
    specs: Sequence[FigureSpec],
    out_dir: str | os.PathLike | None = None,
    *,
    formats: Sequence[str] = ("png",),
    dpi: float = 300,
    report_dpi: float | None = REPORT_DPI,
    verbose: bool | str | int | None = None,
) -> list[RenderedFigure]:
    """Draw the figures of ``specs`` once each, to files and for the report.

    The machinery of :func:`draw_figures` for any set of figures (e.g. the
    group figures of :func:`envcorr.viz.group.group_figure_specs`).

    Parameters
    ----------
    specs : sequence of FigureSpec
        The figures: name (file stem), title, caption and a function that
        builds the figure.
    out_dir, formats, dpi, report_dpi
        As for :func:`draw_figures`.
    %(verbose)s

    Returns
    -------
    figures : list of RenderedFigure
        The figures, in order, with their files and PNG.
    """
    formats = _check_formats(formats)
    dpi = check_positive_float("dpi", dpi)
    if report_dpi is not None:
        report_dpi = check_positive_float("report_dpi", report_dpi)
    out = None if out_dir is None else _check_out_dir(out_dir)
    if out is None and report_dpi is None:
        raise invalid(
            "report_dpi",
            "None with out_dir=None: there is nothing to draw.",
            "Give a folder, a report resolution, or both.",
        )
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)

    logger.info("Drawing %d figure(s)", len(specs))
    figures = [_render(spec, out, formats, dpi, report_dpi) for spec in specs]
    if out is not None:
        n_files = sum(len(f.paths) for f in figures)
        logger.info("Wrote %d figure file(s) to %s", n_files, out)
    return figures


@verbose
@fill_doc
def save_figures(
    ds: xr.Dataset | str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    formats: Sequence[str] = ("png",),
    dpi: float = 300,
    verbose: bool | str | int | None = None,
) -> list[Path]:
    """Write the standard figures of a results Dataset to files.

    The figures are those of :func:`draw_figures`, each built once and written
    in every format, under a temporary name and then renamed, so no partial
    file is left behind.

    Parameters
    ----------
    ds : xarray.Dataset | path-like
        The results, or the path of a results file (NetCDF).
    out_dir : path-like
        Folder for the figures (created when missing).
    formats : sequence of str
        File formats among ``"png"``, ``"svg"``, ``"pdf"``; every figure is
        written in each.
    dpi : float
        Resolution of raster output (300 is print-ready).
    %(verbose)s

    Returns
    -------
    paths : list of pathlib.Path
        The files written.
    """
    if out_dir is None:
        raise invalid("out_dir", "None.", "Give the folder for the figures.")
    figures = draw_figures(ds, out_dir, formats=formats, dpi=dpi, report_dpi=None)
    return [path for fig in figures for path in fig.paths]
