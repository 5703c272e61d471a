"""Scalp maps of the layer-mean and envelope–class correlations.

Scalp maps are drawn with :func:`mne.viz.plot_topomap` at the electrode
positions stored in the coordinates ``ch_x``, ``ch_y``, ``ch_z`` of the results,
interpolated only within the area the electrodes cover (``extrapolate="local"``),
so sparse montages such as the 22 channels of BCI IV 2a show no invented
periphery.

Colour conventions: signed correlations and trained − untrained differences use
a symmetric diverging map (``RdBu_r``, zero is white); mean absolute
correlations use a sequential map (``Reds``) from the smallest to the largest
value shown on the same scale.

The maps of single units are in :mod:`envcorr.viz.units`. Every function
creates its figure, or draws onto the ``axes`` it is given (as
:func:`mne.viz.plot_topomap` does) and adds the colour bars to their figure;
it returns the figure. The figure's title (suptitle) is set only when the
function creates the figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from .._utils.check import check_option, invalid
from ._common import (
    CELL,
    CMAP_DIVERGING,
    CMAP_SEQUENTIAL,
    RC,
    colorbar,
    grid_axes,
    make_info,
    new_figure,
    root_figure,
    row_label,
    seq_vlim,
    sym_vlim,
    topomap,
)
from .labels import (
    band_label,
    check_results,
    dim_values,
    fmt_ms,
    layer_label,
    select,
    sfreq_of,
)

__all__ = ["plot_class_maps", "plot_layer_band_grid"]

KINDS = ("diff_abs", "diff", "trained_abs", "untrained_abs", "trained", "untrained")


def _kind(kind: str) -> tuple[str, str | None, str, bool, str]:
    """What a kind of grid shows: (variable, network or None, colour-bar label,
    diverging colour map, description), e.g. ``"untrained_abs"`` is the mean |r|
    of the untrained network (``layer_mean_abs_corr``), on a sequential scale.
    """
    source, _, absolute = kind.partition("_")
    var = "layer_mean_abs_corr" if absolute else "layer_mean_corr"
    r = "|r|" if absolute else "r"
    if source == "diff":
        return f"{var}_diff", None, f"Δ mean {r}", True, f"trained − untrained mean {r}"
    return var, source, f"mean {r}", not absolute, f"{source} network, mean {r}"


def plot_layer_band_grid(
    ds: xr.Dataset,
    *,
    kind: str = "diff_abs",
    class_column: str | None = "mean_abs",
    layers: Sequence[str] | None = None,
    bands: Sequence[str] | None = None,
    axes: Any = None,
) -> Figure:
    """Scalp maps of the layer-mean correlations: bands × layers (Figure 15).

    Rows are frequency bands, columns are layers ordered by depth (as in the
    ``layer`` dimension), each titled with the layer name and its receptive
    field in ms (``receptive_field / sfreq * 1000``). All layer maps of a row
    share one colour scale with its own colour bar: symmetric around zero
    (diverging) for differences and mean r, from the row's minimum to maximum
    (sequential) for mean |r|. A last column can show the envelope–class
    correlation of the band, on a colour scale of its own.

    Parameters
    ----------
    ds : xarray.Dataset
        The results (``docs/results-format.md``), with electrode positions.
    kind : str
        What each cell shows, per band and channel:

        - ``"diff_abs"`` (default, the paper's figure): trained − untrained mean
          |r| over the layer's units (``layer_mean_abs_corr_diff``);
        - ``"diff"``: trained − untrained mean r (``layer_mean_corr_diff``);
        - ``"trained_abs"``, ``"untrained_abs"``: mean |r| of one network;
        - ``"trained"``, ``"untrained"``: mean r of one network.
    class_column : str | None
        The envelope–class column (drawn only when ``class_corr`` exists):
        ``"mean_abs"`` (default) shows the mean over classes of |r|, i.e. how
        strongly the band power at each electrode differs between classes at
        all; a class name shows that class's signed r (one-vs-rest); None omits
        the column.
    layers, bands : list of str | None
        Subsets of the layers and bands to show (default: all, in the order of
        the results).
    axes : array of matplotlib.axes.Axes | None
        Where to draw: ``n_bands × n_columns`` Axes, one column per layer plus
        one for the class column when it is drawn (a single Axes for a single
        map, a flat sequence for one row or column). The colour bars are added
        to their figure, taking room from these Axes. None (default) creates
        the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (that of ``axes`` when given).
    """
    check_option("kind", kind, KINDS)
    var, network, cbar_label, diverging, description = _kind(kind)
    check_results(ds, var)
    layer_list = select("layers", layers, dim_values(ds, "layer"))
    band_list = select("bands", bands, dim_values(ds, "band"))
    has_classes = "class_corr" in ds.variables
    if class_column is not None:
        if "class" in ds.dims:
            check_option(
                "class_column", class_column, ["mean_abs", *dim_values(ds, "class")]
            )
        elif class_column != "mean_abs":
            raise invalid(
                "class_column",
                f"{class_column!r}, but the results have no envelope–class "
                "correlation ('class_corr').",
                "Use class_column=None, or compute the maps with labels.",
            )
    show_class = class_column is not None and has_classes
    n_rows, n_cols = len(band_list), len(layer_list)
    shape = (n_rows, n_cols + int(show_class))
    if axes is not None:
        extra = " + the class column" if show_class else ""
        axes = grid_axes(
            axes,
            shape,
            f"n_bands × n_columns: {n_rows} band(s), {n_cols} layer(s){extra}",
        )
    info = make_info(ds)

    data = ds[var]
    if network is not None:
        data = data.sel(network=network)
    data = data.sel(layer=layer_list, band=band_list).transpose(
        "band", "layer", "channel"
    )
    values = np.asarray(data.values, dtype=float)
    if show_class:
        cc = ds["class_corr"].sel(band=band_list).transpose("band", "channel", "class")
        if class_column == "mean_abs":
            class_values = np.abs(np.asarray(cc.values, dtype=float)).mean(axis=-1)
            class_title, class_label, class_div = "classes\nmean |r|", "|r|", False
        else:
            class_values = np.asarray(cc.sel({"class": class_column}).values, float)
            class_title = f"class r\n{class_column.replace('_', ' ')}"
            class_label, class_div = "r", True

    with plt.rc_context(RC):
        caxes = None
        if axes is None:
            widths = [1.0] * n_cols + [0.07]
            if show_class:
                widths += [0.12, 1.0, 0.07]
            fig = new_figure((CELL * sum(widths) + 1.4, CELL * n_rows + 1.0))
            gs = fig.add_gridspec(n_rows, len(widths), width_ratios=widths)
            # map columns, then colour-bar columns (a spacer before the class's)
            map_cols = [*range(n_cols), n_cols + 2] if show_class else range(n_cols)
            bar_cols = [n_cols, n_cols + 3] if show_class else [n_cols]
            axes = np.array(
                [[fig.add_subplot(gs[r, c]) for c in map_cols] for r in range(n_rows)],
                dtype=object,
            )
            caxes = [
                [fig.add_subplot(gs[r, c]) for c in bar_cols] for r in range(n_rows)
            ]
        for row, band in enumerate(band_list):
            row_values = values[row]
            if diverging:
                vlim, cmap = sym_vlim(row_values), CMAP_DIVERGING
            else:
                vlim, cmap = seq_vlim(row_values), CMAP_SEQUENTIAL
            for col, layer in enumerate(layer_list):
                ax = axes[row, col]
                im = topomap(ax, row_values[col], info, vlim, cmap)
                if row == 0:
                    ax.set_title(layer_label(ds, layer))
                if col == 0:
                    row_label(ax, band_label(ds, band))
            cax = caxes[row][0] if caxes else None
            colorbar(im, cbar_label, cax=cax, ax=list(axes[row, :n_cols]))
            if show_class:
                ax = axes[row, n_cols]
                if class_div:
                    cvlim, ccmap = sym_vlim(class_values[row]), CMAP_DIVERGING
                else:
                    cvlim, ccmap = seq_vlim(class_values[row]), CMAP_SEQUENTIAL
                im = topomap(ax, class_values[row], info, cvlim, ccmap)
                if row == 0:
                    ax.set_title(class_title)
                cax = caxes[row][1] if caxes else None
                colorbar(im, class_label, cax=cax, ax=ax)
        if caxes:
            title = f"Envelope–activation correlation: {description} over units"
            if ds.attrs.get("model_name"):
                title += f" ({ds.attrs['model_name']})"
            fig.suptitle(title, fontweight="bold")
    return root_figure(axes[0, 0])


def plot_class_maps(
    ds: xr.Dataset,
    *,
    bands: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    share: str = "all",
    axes: Any = None,
) -> Figure:
    """Scalp maps of the envelope–class correlation: bands × classes (Figure 14).

    Each map shows, per electrode, the (point-biserial) correlation between the
    band's receptive-field-averaged squared envelope and the indicator of one
    class. Negative r: the band power is lower in trials of that class than in
    the others. The colour scale is symmetric around zero (diverging).

    Parameters
    ----------
    ds : xarray.Dataset
        The results, with ``class_corr`` and electrode positions.
    bands, classes : list of str | None
        Subsets to show (default: all, in the order of the results).
    share : str
        ``"all"`` (default): one colour scale and colour bar for the whole
        figure, so bands can be compared; ``"row"``: one per band, so weak
        bands (e.g. high gamma) show their topography.
    axes : array of matplotlib.axes.Axes | None
        Where to draw: ``n_bands × n_classes`` Axes (a single Axes for a single
        map, a flat sequence for one row or column). The colour bars are added
        to their figure, taking room from these Axes. None (default) creates
        the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (that of ``axes`` when given).
    """
    check_option("share", share, ("all", "row"))
    check_results(ds, "class_corr")
    band_list = select("bands", bands, dim_values(ds, "band"))
    class_list = select("classes", classes, dim_values(ds, "class"))
    n_rows, n_cols = len(band_list), len(class_list)
    if axes is not None:
        axes = grid_axes(
            axes,
            (n_rows, n_cols),
            f"n_bands × n_classes: {n_rows} band(s), {n_cols} class(es)",
        )
    info = make_info(ds)
    values = np.asarray(
        ds["class_corr"]
        .sel({"band": band_list, "class": class_list})
        .transpose("band", "class", "channel")
        .values,
        dtype=float,
    )
    with plt.rc_context(RC):
        caxes = None
        if axes is None:
            widths = [1.0] * n_cols + [0.07]
            fig = new_figure((CELL * sum(widths) + 1.2, CELL * n_rows + 1.0))
            gs = fig.add_gridspec(n_rows, len(widths), width_ratios=widths)
            axes = np.array(
                [
                    [fig.add_subplot(gs[r, c]) for c in range(n_cols)]
                    for r in range(n_rows)
                ],
                dtype=object,
            )
            if share == "row":
                caxes = [fig.add_subplot(gs[r, n_cols]) for r in range(n_rows)]
            else:
                caxes = [fig.add_subplot(gs[:, n_cols])]
        vlim_all = sym_vlim(values)
        for row, band in enumerate(band_list):
            vlim = vlim_all if share == "all" else sym_vlim(values[row])
            for col, cls in enumerate(class_list):
                ax = axes[row, col]
                im = topomap(ax, values[row, col], info, vlim, CMAP_DIVERGING)
                if row == 0:
                    ax.set_title(cls.replace("_", " "))
                if col == 0:
                    row_label(ax, band_label(ds, band))
            if share == "row":
                cax = caxes[row] if caxes else None
                colorbar(im, "r", cax=cax, ax=list(axes[row]))
        if share == "all":
            cax = caxes[0] if caxes else None
            colorbar(im, "r", cax=cax, ax=list(axes.ravel()))
        if caxes:
            title = "Envelope–class correlation"
            sfreq = sfreq_of(ds)
            if "class_field" in ds.attrs and sfreq:
                ms = float(ds.attrs["class_field"]) / sfreq * 1000
                title += f" (envelope averaged over {fmt_ms(ms)})"
            fig.suptitle(title, fontweight="bold")
    return root_figure(axes[0, 0])
