"""Figures of the envelope–activation correlation maps.

Every ``plot_*`` function takes the results :class:`xarray.Dataset` (see
``docs/results-format.md``) and returns a matplotlib :class:`~matplotlib.figure.Figure`;
:func:`save_figures` writes the standard set of figures to files. Scalp maps are
drawn with :func:`mne.viz.plot_topomap` at the electrode positions stored in the
coordinates ``ch_x``, ``ch_y``, ``ch_z`` of the results, interpolated only
within the area the electrodes cover (``extrapolate="local"``), so sparse
montages such as the 22 channels of BCI IV 2a show no invented periphery.

Colour conventions: signed correlations and trained − untrained differences use
a symmetric diverging map (``RdBu_r``, zero is white); mean absolute
correlations use a sequential map (``Reds``) from the smallest to the largest
value shown on the same scale.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib.pyplot as plt
import mne
import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from mne.viz import plot_topomap

from ._check import (
    check_int,
    check_option,
    check_positive_float,
    invalid,
)
from ._io import atomic_path
from ._logging import logger, use_log_level
from .results import read_results

__all__ = [
    "plot_class_maps",
    "plot_depth_profile",
    "plot_layer_band_grid",
    "plot_top_units",
    "save_figures",
]

# kind -> (variable, network or None, colour-bar label, diverging, description)
_KINDS: dict[str, tuple[str, str | None, str, bool, str]] = {
    "diff_abs": (
        "layer_mean_abs_corr_diff",
        None,
        "Δ mean |r|",
        True,
        "trained − untrained mean |r| over units",
    ),
    "diff": (
        "layer_mean_corr_diff",
        None,
        "Δ mean r",
        True,
        "trained − untrained mean r over units",
    ),
    "trained_abs": (
        "layer_mean_abs_corr",
        "trained",
        "mean |r|",
        False,
        "trained network, mean |r| over units",
    ),
    "untrained_abs": (
        "layer_mean_abs_corr",
        "untrained",
        "mean |r|",
        False,
        "untrained network, mean |r| over units",
    ),
    "trained": (
        "layer_mean_corr",
        "trained",
        "mean r",
        True,
        "trained network, mean r over units",
    ),
    "untrained": (
        "layer_mean_corr",
        "untrained",
        "mean r",
        True,
        "untrained network, mean r over units",
    ),
}
_FORMATS = ("png", "svg", "pdf")
_NETWORKS = ("trained", "untrained")
_CMAP_DIVERGING = "RdBu_r"
_CMAP_SEQUENTIAL = "Reds"
_CELL = 1.75  # inches per scalp map
_RC = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 11,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}
_POSITIONS_FIX = (
    "Add them in metres (head coordinates), e.g. "
    "ds = ds.assign_coords(ch_x=('channel', x), ch_y=('channel', y), "
    "ch_z=('channel', z)) with the positions taken from "
    "mne.channels.make_standard_montage('standard_1005') set on an mne.Info of "
    "these channels, or compute the maps from data whose channels have a montage."
)


# --------------------------------------------------------------------------
# access to the results
# --------------------------------------------------------------------------
def _as_dataset(ds_or_path: Any, name: str = "ds") -> xr.Dataset:
    """Return the results Dataset given either itself or a NetCDF path."""
    if isinstance(ds_or_path, xr.Dataset):
        return ds_or_path
    if isinstance(ds_or_path, str | os.PathLike):
        return read_results(ds_or_path, name=name)
    raise invalid(
        name,
        f"expected an xarray.Dataset or a path to a results file, got "
        f"{type(ds_or_path).__name__}.",
    )


def _check_results(ds: Any, *variables: str, name: str = "ds") -> xr.Dataset:
    if not isinstance(ds, xr.Dataset):
        raise invalid(
            name,
            f"expected the results xarray.Dataset, got {type(ds).__name__}.",
            "Pass the Dataset returned by envcorr.compute_maps or read from a "
            "results file with envcorr.load_maps.",
        )
    missing = [v for v in variables if v not in ds.variables]
    if missing:
        raise invalid(
            name,
            f"the results have no {', '.join(repr(m) for m in missing)}.",
            "Pass the Dataset returned by envcorr.compute_maps (see "
            "docs/results-format.md for its layout).",
        )
    return ds


def _has_positions(ds: xr.Dataset) -> bool:
    return all(c in ds.coords for c in ("ch_x", "ch_y", "ch_z"))


def _make_info(ds: xr.Dataset) -> mne.Info:
    """An EEG :class:`mne.Info` of the results' channels with their positions."""
    missing = [c for c in ("ch_x", "ch_y", "ch_z") if c not in ds.coords]
    if missing:
        raise invalid(
            "ds",
            "the results have no electrode positions (coordinate(s) "
            f"{', '.join(missing)} on the 'channel' dimension), which scalp maps need.",
            _POSITIONS_FIX,
        )
    ch_names = [str(c) for c in ds["channel"].values]
    pos = np.column_stack([ds[c].values for c in ("ch_x", "ch_y", "ch_z")]).astype(
        float
    )
    bad = ~np.isfinite(pos).all(axis=1)
    if bad.any():
        names = [ch for ch, b in zip(ch_names, bad, strict=True) if b]
        raise invalid(
            "ds",
            f"electrode positions are missing (NaN) for channel(s) {names}.",
            _POSITIONS_FIX,
        )
    montage = mne.channels.make_dig_montage(
        dict(zip(ch_names, pos, strict=True)), coord_frame="head"
    )
    sfreq = float(ds.attrs.get("sfreq", 1000.0) or 1000.0)
    info = mne.create_info(ch_names, sfreq, "eeg")
    info.set_montage(montage, verbose="error")
    return info


def _values(ds: xr.Dataset, dim: str) -> list[str]:
    return [str(v) for v in ds[dim].values]


def _select(name: str, value: Any, allowed: list[str]) -> list[str]:
    """Check a subset (None = all) of ``allowed``, keeping the given order."""
    if value is None:
        return list(allowed)
    if isinstance(value, str):
        value = [value]
    out = [check_option(name, str(v), allowed) for v in value]
    if not out:
        raise invalid(name, "the selection is empty.", f"Choose from {allowed}.")
    return out


def _sfreq(ds: xr.Dataset) -> float | None:
    sfreq = ds.attrs.get("sfreq")
    try:
        sfreq = float(sfreq)
    except (TypeError, ValueError):
        return None
    return sfreq if np.isfinite(sfreq) and sfreq > 0 else None


def _fmt_ms(ms: float) -> str:
    return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def _receptive_field_ms(ds: xr.Dataset, layer: str) -> float | None:
    """Receptive field of ``layer`` in milliseconds (None when unknown)."""
    sfreq = _sfreq(ds)
    if sfreq is None or "receptive_field" not in ds.coords:
        return None
    return float(ds["receptive_field"].sel(layer=layer)) / sfreq * 1000.0


def _wrap_name(name: str, width: int = 16) -> str:
    # long module paths such as final_layer.conv_classifier break at the dot
    if len(name) > width and "." in name:
        head, _, tail = name.rpartition(".")
        return f"{head}.\n{tail}"
    return name


def _layer_label(ds: xr.Dataset, layer: str, *, wrap: bool = True) -> str:
    name = _wrap_name(layer) if wrap else layer
    ms = _receptive_field_ms(ds, layer)
    if ms is not None:
        return f"{name}\n{_fmt_ms(ms)}"
    if "receptive_field" in ds.coords:
        return f"{name}\n{int(ds['receptive_field'].sel(layer=layer))} samples"
    return name


def _band_label(ds: xr.Dataset, band: str, *, sep: str = "\n") -> str:
    label = band.replace("_", " ")
    if "band_low" in ds.coords and "band_high" in ds.coords:
        low = float(ds["band_low"].sel(band=band))
        high = float(ds["band_high"].sel(band=band))
        label += f"{sep}{low:g}–{high:g} Hz"
    return label


def _minus(text: str) -> str:
    return text.replace("-", "−")


# --------------------------------------------------------------------------
# drawing helpers
# --------------------------------------------------------------------------
def _sym_vlim(*arrays: np.ndarray) -> tuple[float, float]:
    values = np.abs(np.concatenate([np.ravel(a) for a in arrays]))
    vmax = float(np.nanmax(values)) if np.isfinite(values).any() else 0.0
    vmax = vmax if vmax > 0 else 1e-3
    return -vmax, vmax


def _seq_vlim(*arrays: np.ndarray) -> tuple[float, float]:
    values = np.concatenate([np.ravel(a) for a in arrays])
    if not np.isfinite(values).any():
        return 0.0, 1e-3
    vmin, vmax = float(np.nanmin(values)), float(np.nanmax(values))
    if vmax - vmin <= 0:
        vmax = vmin + 1e-3
    return vmin, vmax


def _topomap(
    ax: Any, values: np.ndarray, info: mne.Info, vlim: tuple[float, float], cmap: str
) -> Any:
    """Draw one scalp map on ``ax`` and return its image."""
    values = np.asarray(values, dtype=float)
    if not np.isfinite(values).any():
        # nothing to interpolate: keep the cell (and the colour scale) but say so
        im = ax.imshow(np.full((2, 2), np.nan), cmap=cmap, vmin=vlim[0], vmax=vlim[1])
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.set(xticks=[], yticks=[], aspect="equal")
        ax.set_frame_on(False)
        return im
    im, _ = plot_topomap(
        values,
        info,
        axes=ax,
        show=False,
        cmap=cmap,
        vlim=vlim,
        contours=0,
        sensors=True,
        # no values invented far from the electrodes (sparse montages like BCI IV 2a)
        extrapolate="local",
        mask_params=None,
        res=64,
    )
    return im


def _colorbar(fig: Figure, im: Any, cax: Any, label: str) -> None:
    cb = fig.colorbar(im, cax=cax)
    cb.set_label(label)
    cb.ax.tick_params(labelsize=7)
    cb.formatter.set_useMathText(True)
    cb.outline.set_linewidth(0.5)


def _row_label(ax: Any, text: str) -> None:
    ax.set_ylabel(text, rotation=90, labelpad=6, fontsize=9, fontweight="bold")


# --------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------
def plot_layer_band_grid(
    ds: xr.Dataset,
    *,
    kind: str = "diff_abs",
    class_column: str | None = "mean_abs",
    layers: Sequence[str] | None = None,
    bands: Sequence[str] | None = None,
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

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure.
    """
    check_option("kind", kind, list(_KINDS))
    var, network, cbar_label, diverging, description = _KINDS[kind]
    _check_results(ds, var)
    layer_list = _select("layers", layers, _values(ds, "layer"))
    band_list = _select("bands", bands, _values(ds, "band"))
    has_classes = "class_corr" in ds.variables
    if class_column is not None:
        if "class" in ds.dims:
            check_option(
                "class_column", class_column, ["mean_abs", *_values(ds, "class")]
            )
        elif class_column != "mean_abs":
            raise invalid(
                "class_column",
                f"{class_column!r}, but the results have no envelope–class "
                "correlation ('class_corr').",
                "Use class_column=None, or compute the maps with labels.",
            )
    show_class = class_column is not None and has_classes
    info = _make_info(ds)

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

    n_rows, n_cols = len(band_list), len(layer_list)
    widths = [1.0] * n_cols + [0.07]
    if show_class:
        widths += [0.12, 1.0, 0.07]
    with plt.rc_context(_RC):
        fig = plt.figure(
            figsize=(_CELL * sum(widths) + 1.4, _CELL * n_rows + 1.0),
            layout="constrained",
        )
        gs = fig.add_gridspec(n_rows, len(widths), width_ratios=widths)
        for row, band in enumerate(band_list):
            row_values = values[row]
            if diverging:
                vlim, cmap = _sym_vlim(row_values), _CMAP_DIVERGING
            else:
                vlim, cmap = _seq_vlim(row_values), _CMAP_SEQUENTIAL
            for col, layer in enumerate(layer_list):
                ax = fig.add_subplot(gs[row, col])
                im = _topomap(ax, row_values[col], info, vlim, cmap)
                if row == 0:
                    ax.set_title(_layer_label(ds, layer))
                if col == 0:
                    _row_label(ax, _band_label(ds, band))
            _colorbar(fig, im, fig.add_subplot(gs[row, n_cols]), cbar_label)
            if show_class:
                ax = fig.add_subplot(gs[row, n_cols + 2])
                if class_div:
                    cvlim, ccmap = _sym_vlim(class_values[row]), _CMAP_DIVERGING
                else:
                    cvlim, ccmap = _seq_vlim(class_values[row]), _CMAP_SEQUENTIAL
                im = _topomap(ax, class_values[row], info, cvlim, ccmap)
                if row == 0:
                    ax.set_title(class_title)
                _colorbar(fig, im, fig.add_subplot(gs[row, n_cols + 3]), class_label)
        title = f"Envelope–activation correlation: {description}"
        if ds.attrs.get("model_name"):
            title += f" ({ds.attrs['model_name']})"
        fig.suptitle(title, fontweight="bold")
    return fig


def plot_class_maps(
    ds: xr.Dataset,
    *,
    bands: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    share: str = "all",
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

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure.
    """
    check_option("share", share, ("all", "row"))
    _check_results(ds, "class_corr")
    band_list = _select("bands", bands, _values(ds, "band"))
    class_list = _select("classes", classes, _values(ds, "class"))
    info = _make_info(ds)
    values = np.asarray(
        ds["class_corr"]
        .sel({"band": band_list, "class": class_list})
        .transpose("band", "class", "channel")
        .values,
        dtype=float,
    )
    n_rows, n_cols = values.shape[:2]
    widths = [1.0] * n_cols + [0.07]
    with plt.rc_context(_RC):
        fig = plt.figure(
            figsize=(_CELL * sum(widths) + 1.2, _CELL * n_rows + 1.0),
            layout="constrained",
        )
        gs = fig.add_gridspec(n_rows, len(widths), width_ratios=widths)
        vlim_all = _sym_vlim(values)
        for row, band in enumerate(band_list):
            vlim = vlim_all if share == "all" else _sym_vlim(values[row])
            for col, cls in enumerate(class_list):
                ax = fig.add_subplot(gs[row, col])
                im = _topomap(ax, values[row, col], info, vlim, _CMAP_DIVERGING)
                if row == 0:
                    ax.set_title(cls.replace("_", " "))
                if col == 0:
                    _row_label(ax, _band_label(ds, band))
            if share == "row":
                _colorbar(fig, im, fig.add_subplot(gs[row, n_cols]), "r")
        if share == "all":
            _colorbar(fig, im, fig.add_subplot(gs[:, n_cols]), "r")
        title = "Envelope–class correlation"
        if "class_field" in ds.attrs and _sfreq(ds):
            ms = float(ds.attrs["class_field"]) / _sfreq(ds) * 1000
            title += f" (envelope averaged over {_fmt_ms(ms)})"
        fig.suptitle(title, fontweight="bold")
    return fig


def plot_depth_profile(
    ds: xr.Dataset,
    *,
    bands: Sequence[str] | None = None,
    ncols: int | None = None,
) -> Figure:
    """Mean |r| against layer depth, trained and untrained, one axes per band.

    For every layer the mean over units of |r| (``layer_mean_abs_corr``) is
    averaged over channels; the shaded band between the two lines is the
    learned part (trained − untrained).

    Parameters
    ----------
    ds : xarray.Dataset
        The results.
    bands : list of str | None
        Subset of bands to show (default: all).
    ncols : int | None
        Axes per row of the figure; default as many as fit in about 12 inches
        (at most 3).

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure.
    """
    _check_results(ds, "layer_mean_abs_corr")
    band_list = _select("bands", bands, _values(ds, "band"))
    layer_list = _values(ds, "layer")
    width = max(3.0, 0.75 * len(layer_list) + 1.3)  # inches per axes
    if ncols is None:
        ncols = int(max(1, min(3, 12 // width)))
    ncols = check_int("ncols", ncols, minimum=1)
    data = ds["layer_mean_abs_corr"].sel(band=band_list).mean("channel")
    x = np.arange(len(layer_list))
    ticks = [_layer_label(ds, layer, wrap=False) for layer in layer_list]
    ncols = min(ncols, len(band_list))
    nrows = math.ceil(len(band_list) / ncols)
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(
            nrows,
            ncols,
            figsize=(width * ncols, 3.3 * nrows + 0.5),
            layout="constrained",
            squeeze=False,
        )
        for ax in axes.ravel()[len(band_list) :]:
            fig.delaxes(ax)
        for ax, band in zip(axes.ravel(), band_list, strict=False):
            trained = data.sel(network="trained", band=band).values
            untrained = data.sel(network="untrained", band=band).values
            ax.fill_between(x, untrained, trained, color="#c0392b", alpha=0.12, lw=0)
            ax.plot(x, trained, "o-", color="#c0392b", lw=2, ms=5, label="trained")
            ax.plot(
                x, untrained, "s--", color="#7f8c8d", lw=1.5, ms=4, label="untrained"
            )
            ax.set_title(_band_label(ds, band, sep=", "), fontweight="bold")
            ax.set_xticks(x, ticks, rotation=35 if len(x) > 3 else 0, ha="right")
            if len(x) <= 3:
                for lbl in ax.get_xticklabels():
                    lbl.set_horizontalalignment("center")
            ax.set_xlim(-0.4, len(x) - 0.6)
            ax.set_ylim(bottom=0)
            ax.grid(axis="y", color="0.9", lw=0.8)
            ax.spines[["top", "right"]].set_visible(False)
        for ax in axes[:, 0]:
            ax.set_ylabel("mean |r| over units and channels")
        axes.ravel()[0].legend(frameon=False, loc="upper left")
        fig.suptitle(
            "Growth of envelope tracking with depth (receptive field)",
            fontweight="bold",
        )
    return fig


def plot_top_units(
    ds: xr.Dataset,
    *,
    layer: str,
    band: str,
    k: int = 6,
    network: str = "trained",
    ncols: int = 6,
) -> Figure:
    """Scalp maps of the ``k`` units of a layer that track a band most strongly.

    Units are ranked by their peak |r| over channels (``unit_corr``); each map
    is titled with the unit's index within its layer and its peak r (signed,
    with the channel where it peaks). All maps share one symmetric colour scale.

    Parameters
    ----------
    ds : xarray.Dataset
        The results, with ``unit_corr`` and electrode positions.
    layer : str
        Layer name (a value of the ``layer`` dimension).
    band : str
        Band name (a value of the ``band`` dimension).
    k : int
        Number of units to show (all of the layer's units when it has fewer).
    network : str
        ``"trained"`` (default) or ``"untrained"``.
    ncols : int
        Maps per row of the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure.
    """
    _check_results(ds, "unit_corr", "unit_layer", "unit_in_layer")
    check_option("layer", layer, _values(ds, "layer"))
    check_option("band", band, _values(ds, "band"))
    check_option("network", network, _NETWORKS)
    k = check_int("k", k, minimum=1)
    ncols = check_int("ncols", ncols, minimum=1)
    info = _make_info(ds)

    in_layer = np.asarray(ds["unit_layer"].values).astype(str) == layer
    corr = ds["unit_corr"].sel(network=network, band=band).transpose("channel", "unit")
    corr = np.asarray(corr.values, dtype=float)[:, in_layer]  # (n_channels, n_units)
    unit_idx = np.asarray(ds["unit_in_layer"].values)[in_layer]
    if corr.shape[1] == 0:
        raise invalid("layer", f"{layer!r} has no units in 'unit_corr'.")
    abs_corr = np.where(np.isfinite(corr), np.abs(corr), -1.0)
    peak_ch = abs_corr.argmax(axis=0)
    peak = corr[peak_ch, np.arange(corr.shape[1])]
    order = np.argsort(-np.nan_to_num(np.abs(peak), nan=-1.0), kind="stable")
    if k > len(order):
        logger.debug(
            "Layer %s has %d units; showing all of them (k=%d).", layer, len(order), k
        )
    order = order[:k]
    n = len(order)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    ch_names = _values(ds, "channel")
    vlim = _sym_vlim(corr[:, order])
    widths = [1.0] * ncols + [0.07]
    with plt.rc_context(_RC):
        fig = plt.figure(
            figsize=(_CELL * sum(widths) + 0.6, (_CELL + 0.25) * nrows + 0.9),
            layout="constrained",
        )
        gs = fig.add_gridspec(nrows, len(widths), width_ratios=widths)
        for i, u in enumerate(order):
            ax = fig.add_subplot(gs[i // ncols, i % ncols])
            im = _topomap(ax, corr[:, u], info, vlim, _CMAP_DIVERGING)
            ax.set_title(
                f"unit {int(unit_idx[u])}\n"
                + _minus(f"peak r = {peak[u]:+.2f} ({ch_names[peak_ch[u]]})")
            )
        _colorbar(fig, im, fig.add_subplot(gs[:, ncols]), "r")
        ms = _receptive_field_ms(ds, layer)
        field = f", {_fmt_ms(ms)}" if ms is not None else ""
        fig.suptitle(
            f"{layer}{field} · {_band_label(ds, band, sep=' ')}\n"
            f"{network} network: {n} unit{'s' if n > 1 else ''} with the largest "
            "peak |r|",
            fontweight="bold",
        )
    return fig


# --------------------------------------------------------------------------
# the standard set of figures
# --------------------------------------------------------------------------
class _FigureSpec(NamedTuple):
    name: str  # file stem
    title: str
    caption: str
    build: Callable[[], Figure]


def _best_layer(ds: xr.Dataset, band: str) -> str:
    """Layer whose mean |r| grew most with training, for ``band``."""
    if "layer_mean_abs_corr_diff" in ds.variables:
        gain = ds["layer_mean_abs_corr_diff"].sel(band=band).mean("channel").values
        if np.isfinite(gain).any():
            return _values(ds, "layer")[int(np.nanargmax(gain))]
    return _values(ds, "layer")[-1]


def _file_stem(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_") or "band"


def _figure_specs(ds: xr.Dataset) -> list[_FigureSpec]:
    """The figures of the report and of :func:`save_figures`, in order."""
    specs: list[_FigureSpec] = []
    maps = _has_positions(ds)
    if not maps:
        logger.warning(
            "The results have no electrode positions (ch_x, ch_y, ch_z): "
            "skipping the scalp maps. %s",
            _POSITIONS_FIX,
        )
    if maps and "class_corr" in ds.variables:
        specs.append(
            _FigureSpec(
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
            _FigureSpec(
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
            _FigureSpec(
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
            _FigureSpec(
                "depth_profile",
                "Envelope tracking against depth",
                "Mean |r| averaged over channels for each layer, left to right by "
                "receptive field; the gap between the trained (red) and untrained "
                "(grey) lines is what training added.",
                lambda: plot_depth_profile(ds),
            )
        )
    if maps and "unit_corr" in ds.variables and "unit_layer" in ds.coords:
        for band in _values(ds, "band"):
            layer = _best_layer(ds, band)
            specs.append(
                _FigureSpec(
                    f"top_units_{_file_stem(band)}",
                    f"Strongest units: {_band_label(ds, band, sep=' ')}",
                    f"Trained units of {layer} (the layer whose mean |r| grew most "
                    f"with training for this band) with the largest peak |r|: each "
                    f"map is one unit's r per electrode, its sign is arbitrary.",
                    lambda band=band, layer=layer: plot_top_units(
                        ds, layer=layer, band=band
                    ),
                )
            )
    return specs


def _save_atomic(fig: Figure, path: Path, fmt: str, dpi: float) -> None:
    """Write ``fig`` to ``path`` via a temporary file in the same folder."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)


def save_figures(
    ds: xr.Dataset | str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    formats: Sequence[str] = ("png",),
    dpi: float = 300,
    verbose: bool | str | int | None = None,
) -> list[Path]:
    """Write the standard figures of a results Dataset to files.

    The figures, in order (each only when the results hold what it needs):
    ``class_maps`` (:func:`plot_class_maps`), ``layer_band_grid``
    (:func:`plot_layer_band_grid`, ``kind="diff_abs"``),
    ``layer_band_grid_trained`` (``kind="trained_abs"``), ``depth_profile``
    (:func:`plot_depth_profile`) and ``top_units_<band>`` per band
    (:func:`plot_top_units` for the layer whose mean |r| grew most with training
    for that band). Scalp maps are skipped, with a warning, when the results have
    no electrode positions. Each file is written under a temporary name and then
    renamed, so no partial file is left behind.

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
    verbose : bool | str | int | None
        Logging level (see :func:`envcorr.set_log_level`).

    Returns
    -------
    paths : list of pathlib.Path
        The files written.
    """
    with use_log_level(verbose):
        ds = _as_dataset(ds)
        if isinstance(formats, str):
            formats = (formats,)
        formats = [check_option("formats", str(f).lower(), _FORMATS) for f in formats]
        if not formats:
            raise invalid("formats", "no format given.", f"Choose from {_FORMATS}.")
        formats = list(dict.fromkeys(formats))
        dpi = check_positive_float("dpi", dpi)
        out = Path(out_dir).expanduser()
        if out.exists() and not out.is_dir():
            raise invalid("out_dir", f"'{out}' exists and is not a folder.")
        out.mkdir(parents=True, exist_ok=True)

        paths: list[Path] = []
        for spec in _figure_specs(ds):
            fig = spec.build()
            try:
                for fmt in formats:
                    path = out / f"{spec.name}.{fmt}"
                    _save_atomic(fig, path, fmt, dpi)
                    logger.debug("Wrote %s", path)
                    paths.append(path)
            finally:
                plt.close(fig)
        logger.info("Wrote %d figure file(s) to %s", len(paths), out)
    return paths
