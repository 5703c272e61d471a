"""Figures of a study's group file (``group.nc``): maps, accuracy, depth.

Every ``plot_group_*`` function takes the group :class:`xarray.Dataset` of
:func:`envcorr.group.group_maps` (``docs/results-format.md``) and returns a
:class:`~matplotlib.figure.Figure`, drawing onto given ``axes`` or into a new
figure (whose title and legend are set only then). In the group Figures 15
(:func:`plot_group_layer_band_grid`) and 14 (:func:`plot_group_class_maps`)
electrodes where the group test is significant are marked with a ``mask`` of
:func:`mne.viz.plot_topomap`. :func:`draw_group_figures` draws the set of
:func:`group_figure_specs` with the machinery of :func:`envcorr.viz.draw_figures`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import mne
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from mne.viz import plot_topomap

from .._utils.check import check_option
from .._utils.docs import fill_doc
from .._utils.logs import logger, verbose
from ..group import as_group, group_depth_profile, significant
from ._common import (
    CELL,
    CMAP_DIVERGING,
    RC,
    colorbar,
    depth_axes,
    flat_axes,
    grid_axes,
    make_info,
    new_figure,
    root_figure,
    row_label,
    style_depth_axes,
    sym_vlim,
    topomap,
)
from .figures import REPORT_DPI, FigureSpec, RenderedFigure, draw_specs
from .labels import (
    POSITIONS_FIX,
    band_label,
    dim_values,
    has_positions,
    layer_label,
    select,
)
from .profiles import TRAINED_COLOR, UNTRAINED_COLOR

__all__ = [
    "draw_group_figures",
    "group_figure_specs",
    "plot_group_accuracy",
    "plot_group_class_maps",
    "plot_group_depth_profile",
    "plot_group_layer_band_grid",
]

_MARK_LABELS = {"p_fwer": "p_FWER", "q_fdr": "q_FDR", "p": "p (uncorrected)"}
_MARK_METHODS = {
    "p_fwer": "sign-flip t-test, max-t corrected",
    "q_fdr": "sign-flip t-test, Benjamini–Hochberg",
    "p": "sign-flip t-test, uncorrected",
}
#: gid of the Line2D holding the marked electrodes of a scalp map.
MASK_GID = "envcorr-significant"
MASK_PARAMS = {
    "marker": "o",
    "markerfacecolor": "white",
    "markeredgecolor": "black",
    "markeredgewidth": 1.0,
    "markersize": 5,
    "linewidth": 0,
}
# kind: (variable, colour-bar label, what it is, the test that marks it)
_GRID_KINDS = {
    "diff_abs": (
        "layer_mean_abs_corr_diff",
        "Δ mean |r|",
        "trained − untrained mean |r|",
        "diff",
    ),
    "diff": ("layer_mean_corr_diff", "Δ mean r", "trained − untrained mean r", "diff"),
    "excess_abs": (
        "layer_mean_abs_corr_excess_diff",
        "Δ mean |r| above chance",
        "trained − untrained mean |r| above chance",
        "excess",
    ),
}
# test: what its marks say is not 0 (both tests are of mean |r|)
_TESTED = {"diff": _GRID_KINDS["diff_abs"][1], "excess": _GRID_KINDS["excess_abs"][1]}
SUBJECT_COLOR = "#9aa5b1"


# --------------------------------------------------------------------------
# shared pieces
# --------------------------------------------------------------------------
def n_subjects(group: xr.Dataset) -> int:
    """The subjects of the group."""
    return int(group.sizes["subject"])


def mark_label(group: xr.Dataset, mark: str | None, alpha: float) -> str:
    """Legend text of the marks, e.g. ``"p_FWER < 0.05 (sign-flip …, 9 subjects)"``."""
    if mark is None:
        return ""
    return (
        f"{_MARK_LABELS[mark]} < {alpha:g} ({_MARK_METHODS[mark]}, "
        f"{n_subjects(group)} subjects)"
    )


def masked_topomap(
    ax: Axes,
    values: np.ndarray,
    info: mne.Info,
    vlim: tuple[float, float],
    cmap: str,
    mask: np.ndarray | None,
) -> Any:
    """One scalp map as :func:`envcorr.viz._common.topomap`, ``mask`` marked.

    The marked electrodes are drawn by :func:`mne.viz.plot_topomap` (``mask``,
    ``mask_params``) as one Line2D with gid :data:`MASK_GID` (empty when none
    is marked).
    """
    values = np.asarray(values, dtype=float)
    if mask is None or not np.isfinite(values).any():
        return topomap(ax, values, info, vlim, cmap)
    im, _ = plot_topomap(
        values,
        info,
        axes=ax,
        show=False,
        cmap=cmap,
        vlim=vlim,
        contours=0,
        sensors=True,
        extrapolate="local",
        mask=np.asarray(mask, dtype=bool),
        mask_params={**MASK_PARAMS, "gid": MASK_GID},
        res=64,
    )
    return im


def _title(group: xr.Dataset, what: str) -> str:
    model = group.attrs.get("model_name")
    where = f"{model}, " if model else ""
    return f"{what}\n{where}mean of {n_subjects(group)} subjects"


def _draw_maps(
    group: xr.Dataset,
    values: np.ndarray,
    mask: np.ndarray | None,
    *,
    bands: list[str],
    col_titles: list[str],
    per_row: bool,
    cbar_label: str,
    title: str,
    legend: str,
    axes: Any,
    dims: str,
) -> Figure:
    """Scalp maps ``values`` (band, column, channel) with ``mask`` marked.

    One colour scale symmetric around zero per row (``per_row``) or for all;
    the title and the legend of the marks only when the figure is created.
    """
    n_rows, n_cols = values.shape[:2]
    if axes is not None:
        axes = grid_axes(axes, (n_rows, n_cols), dims)
    info = make_info(group)
    with plt.rc_context(RC):
        caxes = None
        if axes is None:
            widths = [1.0] * n_cols + [0.07]
            height = CELL * n_rows + 1.0 + (0.3 if mask is not None else 0.0)
            fig = new_figure((CELL * sum(widths) + 1.4, height))
            gs = fig.add_gridspec(n_rows, len(widths), width_ratios=widths)
            axes = np.array(
                [
                    [fig.add_subplot(gs[r, c]) for c in range(n_cols)]
                    for r in range(n_rows)
                ],
                dtype=object,
            )
            bars = (
                [gs[r, n_cols] for r in range(n_rows)] if per_row else [gs[:, n_cols]]
            )
            caxes = [fig.add_subplot(b) for b in bars]
        vlim = sym_vlim(values)
        for row, band in enumerate(bands):
            vlim = sym_vlim(values[row]) if per_row else vlim
            for col, col_title in enumerate(col_titles):
                ax = axes[row, col]
                cell_mask = None if mask is None else mask[row, col]
                im = masked_topomap(
                    ax, values[row, col], info, vlim, CMAP_DIVERGING, cell_mask
                )
                if row == 0:
                    ax.set_title(col_title)
                if col == 0:
                    row_label(ax, band_label(group, band))
            if per_row:
                colorbar(
                    im,
                    cbar_label,
                    cax=caxes[row] if caxes else None,
                    ax=list(axes[row]),
                )
        if not per_row:
            colorbar(
                im, cbar_label, cax=caxes[0] if caxes else None, ax=list(axes.ravel())
            )
        if caxes:
            fig.suptitle(_title(group, title), fontweight="bold")
            if mask is not None:
                handle = Line2D([], [], linestyle="none", **MASK_PARAMS)
                fig.legend(
                    [handle],
                    [legend],
                    loc="outside lower center",
                    frameon=False,
                    fontsize=8,
                )
    return root_figure(axes[0, 0])


# --------------------------------------------------------------------------
# scalp maps
# --------------------------------------------------------------------------
def plot_group_layer_band_grid(
    group: xr.Dataset,
    *,
    kind: str = "diff_abs",
    mark: str | None = "p_fwer",
    alpha: float = 0.05,
    layers: Sequence[str] | None = None,
    bands: Sequence[str] | None = None,
    axes: Any = None,
) -> Figure:
    """Group scalp maps of trained − untrained, bands × layers (Figure 15).

    Each map is the mean over subjects of one layer's trained − untrained
    mean over units, per electrode; rows are bands, columns layers (titled
    with their receptive field), one colour scale symmetric around zero per
    row. Electrodes where the group test of the trained − untrained mean |r|
    (``diff_*``) is below ``alpha`` are marked with white dots.

    Parameters
    ----------
    group : xarray.Dataset
        The group dataset (``group.nc``), with electrode positions.
    kind : str
        ``"diff_abs"`` (default): ``layer_mean_abs_corr_diff``, the mean over
        subjects of trained − untrained mean |r|; ``"diff"``:
        ``layer_mean_corr_diff`` (mean r), marked by the test of mean |r|;
        ``"excess_abs"``: ``layer_mean_abs_corr_excess_diff``, the same
        difference above each network's chance level (studies analysed with
        ``chance``), marked by its own test (``excess_*``).
    mark : str | None
        Which p-value marks electrodes: ``"p_fwer"`` (default, max-t
        family-wise error over all layers, bands and electrodes), ``"q_fdr"``
        (Benjamini–Hochberg), ``"p"`` (uncorrected), or None for no marks.
    alpha : float
        Electrodes whose p-value is below it are marked (default 0.05).
    layers, bands : list of str | None
        Subsets to show (default: all, in the order of the group file).
    axes : array of matplotlib.axes.Axes | None
        ``n_bands × n_layers`` Axes to draw onto (a single Axes for a single
        map, a flat sequence for one row or column); the colour bars take room
        from them. None (default) creates the figure, with a title and a
        legend of the marks.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (that of ``axes`` when given).
    """
    check_option("kind", kind, tuple(_GRID_KINDS))
    var, cbar_label, description, test = _GRID_KINDS[kind]
    group = as_group(group, var)
    layer_list = select("layers", layers, dim_values(group, "layer"))
    band_list = select("bands", bands, dim_values(group, "band"))
    sel = {"layer": layer_list, "band": band_list}
    order = ("band", "layer", "channel")
    return _draw_maps(
        group,
        np.asarray(group[var].sel(sel).transpose(*order).values, dtype=float),
        significant(group.sel(sel), test, mark, alpha, order),
        bands=band_list,
        col_titles=[layer_label(group, layer) for layer in layer_list],
        per_row=True,
        cbar_label=cbar_label,
        title=description.capitalize() + " over units",
        legend=f"{_TESTED[test]} ≠ 0 at {mark_label(group, mark, alpha)}",
        axes=axes,
        dims=f"n_bands × n_layers: {len(band_list)} band(s), "
        f"{len(layer_list)} layer(s)",
    )


def plot_group_class_maps(
    group: xr.Dataset,
    *,
    mark: str | None = "p_fwer",
    alpha: float = 0.05,
    bands: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    axes: Any = None,
) -> Figure:
    """Group scalp maps of the envelope–class correlation (Figure 14).

    Each map is the mean over subjects of ``class_corr`` of one band and class;
    electrodes where the group test of the class correlation (``class_*``) is
    below ``alpha`` are marked. One colour scale, symmetric around zero, for
    the whole figure.

    Parameters
    ----------
    group : xarray.Dataset
        The group dataset, with ``class_corr`` and electrode positions.
    mark : str | None
        ``"p_fwer"`` (default), ``"q_fdr"``, ``"p"`` or None (no marks); see
        :func:`plot_group_layer_band_grid`.
    alpha : float
        Electrodes whose p-value is below it are marked (default 0.05).
    bands, classes : list of str | None
        Subsets to show (default: all).
    axes : array of matplotlib.axes.Axes | None
        ``n_bands × n_classes`` Axes to draw onto; None (default) creates the
        figure, with a title and a legend of the marks.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (that of ``axes`` when given).
    """
    group = as_group(group, "class_corr")
    band_list = select("bands", bands, dim_values(group, "band"))
    class_list = select("classes", classes, dim_values(group, "class"))
    sel = {"band": band_list, "class": class_list}
    order = ("band", "class", "channel")
    return _draw_maps(
        group,
        np.asarray(group["class_corr"].sel(sel).transpose(*order).values, float),
        significant(group.sel(sel), "class", mark, alpha, order),
        bands=band_list,
        col_titles=[c.replace("_", " ") for c in class_list],
        per_row=False,
        cbar_label="r",
        title="Envelope–class correlation",
        legend="r ≠ 0 at " + mark_label(group, mark, alpha),
        axes=axes,
        dims=f"n_bands × n_classes: {len(band_list)} band(s), "
        f"{len(class_list)} class(es)",
    )


# --------------------------------------------------------------------------
# accuracy and depth
# --------------------------------------------------------------------------
def plot_group_accuracy(group: xr.Dataset, *, axes: Any = None) -> Figure:
    """Test accuracy of each subject, with chance level and the mean.

    One bar per subject (in %); a dashed line at chance, ``100 / n_classes``
    (when the group file has classes), and a solid line at the mean over the
    subjects with an accuracy. Subjects without a test accuracy get no bar.

    Parameters
    ----------
    group : xarray.Dataset
        The group dataset, with ``accuracy`` (subject).
    axes : matplotlib.axes.Axes | None
        One Axes to draw onto; None (default) creates the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (that of ``axes`` when given).
    """
    group = as_group(group, "accuracy")
    if axes is not None:
        axes = flat_axes(axes, 1, "one")[0]
    subjects = dim_values(group, "subject")
    accuracy = 100 * np.asarray(group["accuracy"].values, dtype=float)
    finite = np.isfinite(accuracy)
    x = np.arange(len(subjects))
    with plt.rc_context(RC):
        created = axes is None
        if created:
            fig = new_figure((max(4.0, 0.45 * len(subjects) + 2.2), 3.4))
            axes = fig.add_subplot()
        ax = axes
        bars = ax.bar(x[finite], accuracy[finite], color=SUBJECT_COLOR, width=0.7)
        ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=2)
        if "class" in group.dims and group.sizes["class"] > 0:
            chance = 100 / group.sizes["class"]
            ax.axhline(
                chance, color=UNTRAINED_COLOR, ls="--", lw=1.2,
                label=f"chance ({chance:.0f} %)",
            )  # fmt: skip
        if finite.any():
            mean = float(accuracy[finite].mean())
            ax.axhline(
                mean, color=TRAINED_COLOR, lw=1.8,
                label=f"mean {mean:.1f} % ({int(finite.sum())} subjects)",
            )  # fmt: skip
        ax.set_xticks(x, subjects)
        ax.set_xlim(-0.6, len(subjects) - 0.4)
        ax.set_ylim(0, 108)
        ax.set_xlabel("subject")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(axis="y", color="0.9", lw=0.8)
        ax.set_axisbelow(True)
        ax.spines[["top", "right"]].set_visible(False)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(
                frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2
            )
        if created:
            fig.suptitle("Test accuracy per subject", fontweight="bold")
    return root_figure(ax)


def plot_group_depth_profile(
    group: xr.Dataset,
    *,
    kind: str = "diff_abs",
    confidence: float = 0.95,
    bands: Sequence[str] | None = None,
    ncols: int | None = None,
    axes: Any = None,
) -> Figure:
    """Trained − untrained mean |r| against layer depth, across subjects.

    Per band, the channel average of each subject's trained − untrained mean
    |r| per layer (thin grey lines), their mean (red) and a t-based interval
    across subjects (shaded; none with one subject), as computed by
    :func:`envcorr.group.group_depth_profile`.

    Parameters
    ----------
    group : xarray.Dataset
        The group dataset.
    kind : str
        ``"diff_abs"`` (default, mean |r|), ``"diff"`` (mean r) or
        ``"excess_abs"`` (mean |r| above chance).
    confidence : float
        Coverage of the interval (default 0.95).
    bands : list of str | None
        Subset of bands to show (default: all).
    ncols : int | None
        Axes per row of the figure (when it is created); default as many as
        fit in about 12 inches (at most 3).
    axes : array of matplotlib.axes.Axes | None
        One Axes per band shown, of any shape, filled in order; None (default)
        creates the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (that of ``axes`` when given).
    """
    check_option("kind", kind, tuple(_GRID_KINDS))
    var = "subject_" + _GRID_KINDS[kind][0]
    group = as_group(group, var)
    profile = group_depth_profile(group, var=var, confidence=confidence)
    band_list = select("bands", bands, dim_values(group, "band"))
    layer_list = dim_values(group, "layer")
    x = np.arange(len(layer_list))
    ticks = [layer_label(group, layer, wrap=False) for layer in layer_list]
    r = _GRID_KINDS[kind][1].removeprefix("Δ mean ")
    ci = f"{100 * profile.attrs['confidence']:g} % interval (t, n − 1 df)"
    with plt.rc_context(RC):
        axes, created = depth_axes(axes, len(band_list), len(layer_list), ncols)
        for ax, band in zip(axes, band_list, strict=True):
            p = profile.sel(band=band)
            for i, line in enumerate(p["subject_profile"].values):
                ax.plot(
                    x, line, "-", color=SUBJECT_COLOR, lw=0.8, alpha=0.8,
                    label="subjects" if i == 0 else None,
                )  # fmt: skip
            low, high = p["low"].values, p["high"].values
            if np.isfinite(low).any():
                ax.fill_between(
                    x, low, high, color=TRAINED_COLOR, alpha=0.18, lw=0, label=ci
                )
            ax.plot(
                x, p["mean"].values, "o-", color=TRAINED_COLOR, lw=2, ms=5,
                label=f"mean of {n_subjects(group)} subjects",
            )  # fmt: skip
            ax.axhline(0, color="0.4", lw=0.8)
            ax.set_title(band_label(group, band, sep=", "), fontweight="bold")
            style_depth_axes(
                ax, ticks, f"Δ mean {r} (trained − untrained)\nmean over channels"
            )
        axes[0].legend(frameon=False, loc="upper left")
        if created:
            root_figure(axes[0]).suptitle(
                "Learned envelope tracking against depth, across subjects",
                fontweight="bold",
            )
    return root_figure(axes[0])


# --------------------------------------------------------------------------
# the standard set
# --------------------------------------------------------------------------
def _stats_note(group: xr.Dataset, test: str) -> str:
    """``"; 9 subjects, all 256 sign patterns"``: how the test was made."""
    flips = group.attrs.get(f"{test}_n_flips")
    if flips is None:
        return ""
    how = "all" if bool(group.attrs.get(f"{test}_exact", False)) else "random"
    return f"; {n_subjects(group)} subjects, {how} {int(flips)} sign patterns"


def group_figure_specs(group: xr.Dataset) -> list[FigureSpec]:
    """The figures of the group report and of :func:`draw_group_figures`, in order.

    ``group_layer_band_grid`` (the group Figure 15), ``group_class_maps`` (the
    group Figure 14, with class labels), ``group_depth_profile`` and
    ``group_accuracy`` (when any subject has an accuracy); scalp maps only
    with electrode positions.
    """
    group = as_group(group)
    n = n_subjects(group)
    specs: list[FigureSpec] = []
    maps = has_positions(group)
    if not maps:
        logger.warning(
            "The group file has no electrode positions (ch_x, ch_y, ch_z): "
            "skipping the scalp maps. %s",
            POSITIONS_FIX,
        )
    if maps and "diff_p_fwer" in group.variables:
        specs.append(
            FigureSpec(
                "group_layer_band_grid",
                "Learned envelope tracking per layer, group (Figure 15)",
                f"Trained − untrained mean |r| over each layer's units, averaged over "
                f"the {n} subjects: red = units track the band power at that "
                "electrode more after training; one colour scale per row. White "
                "dots: electrodes where the subjects' trained − untrained mean |r| "
                "differs from 0 with p_FWER < 0.05 (two-sided sign-flip permutation "
                "t-test across subjects, max-t correction over all layers, bands and "
                f"electrodes{_stats_note(group, 'diff')}).",
                lambda: plot_group_layer_band_grid(group),
            )
        )
    if maps and "excess_p_fwer" in group.variables:
        specs.append(
            FigureSpec(
                "group_layer_band_grid_excess",
                "Learned envelope tracking above chance, group",
                "The same as the group Figure 15, with each network's chance level "
                "taken off first: trained − untrained (mean |r| − its chance "
                "level), where the chance level is the mean |r| of the same units "
                "against the envelopes of another trial. The chance level is "
                "higher for the slowly varying units of a trained network's deep "
                "layers, so that the plain difference is above 0 in every band "
                "there. White dots: p_FWER < 0.05 for this difference (the same "
                f"test{_stats_note(group, 'excess')}).",
                lambda: plot_group_layer_band_grid(group, kind="excess_abs"),
            )
        )
    if maps and "class_p_fwer" in group.variables:
        specs.append(
            FigureSpec(
                "group_class_maps",
                "Envelope–class correlation, group (Figure 14)",
                f"Correlation of each band's power with each class, averaged over the "
                f"{n} subjects, no network involved: blue = less power in trials of "
                "that class. White dots: p_FWER < 0.05 (two-sided sign-flip "
                "permutation t-test of the subjects' r against 0, max-t correction "
                "over all bands, electrodes and classes"
                f"{_stats_note(group, 'class')}).",
                lambda: plot_group_class_maps(group),
            )
        )
    specs.append(
        FigureSpec(
            "group_depth_profile",
            "Learned envelope tracking against depth, group",
            "Trained − untrained mean |r| averaged over channels for each layer, "
            "left to right by receptive field: each subject (grey), their mean "
            + (
                "(red) and its 95 % interval across subjects (shaded: mean ± "
                "t(0.975, n − 1) · sd / √n)."
                if n >= 2
                else "(red; one subject: no interval)."
            ),
            lambda: plot_group_depth_profile(group),
        )
    )
    if "accuracy" in group.variables and np.isfinite(group["accuracy"].values).any():
        chance = (
            f" Dashed: chance level ({100 / group.sizes['class']:.0f} %)."
            if "class" in group.dims
            else ""
        )
        specs.append(
            FigureSpec(
                "group_accuracy",
                "Test accuracy per subject",
                "Trial-wise accuracy of each subject's trained network on its test "
                f"data; red line: the mean over subjects.{chance}",
                lambda: plot_group_accuracy(group),
            )
        )
    return specs


@verbose
@fill_doc
def draw_group_figures(
    group: xr.Dataset | str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    *,
    formats: Sequence[str] = ("png",),
    dpi: float = 300,
    report_dpi: float | None = REPORT_DPI,
    verbose: bool | str | int | None = None,
) -> list[RenderedFigure]:
    """Draw the group figures once each, to files and for the group report.

    The figures of :func:`group_figure_specs`, drawn by
    :func:`envcorr.viz.figures.draw_specs`: each built once, written to
    ``out_dir`` in every format (under a temporary name, then renamed),
    rendered as PNG at ``report_dpi``, and closed.

    Parameters
    ----------
    group : xarray.Dataset | path-like
        The group dataset, or the path of a study's group.nc.
    out_dir : path-like | None
        Folder for the figure files (created when missing); None writes none.
    formats : sequence of str
        File formats among ``"png"``, ``"svg"``, ``"pdf"``.
    dpi : float
        Resolution of raster files.
    report_dpi : float | None
        Resolution of the PNG kept for the report; None renders none.
    %(verbose)s

    Returns
    -------
    figures : list of RenderedFigure
        The figures, in order, with their files and PNG.
    """
    group = as_group(group)
    return draw_specs(
        group_figure_specs(group),
        out_dir,
        formats=formats,
        dpi=dpi,
        report_dpi=report_dpi,
    )
