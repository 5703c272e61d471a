"""Scalp maps of single units: those of a layer that track a band most strongly.

Drawn like the maps of :mod:`envcorr.viz.topomaps` (same interpolation, a
symmetric diverging colour scale), into a new figure or onto given ``axes``.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from .._utils.check import check_int, check_option, invalid
from .._utils.logs import logger
from ._common import (
    CELL,
    CMAP_DIVERGING,
    RC,
    colorbar,
    flat_axes,
    make_info,
    new_figure,
    root_figure,
    sym_vlim,
    topomap,
)
from .labels import band_label, check_results, dim_values, fmt_ms, receptive_field_ms

__all__ = ["plot_top_units"]

NETWORKS = ("trained", "untrained")


def plot_top_units(
    ds: xr.Dataset,
    *,
    layer: str,
    band: str,
    k: int = 6,
    network: str = "trained",
    ncols: int = 6,
    axes: Any = None,
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
        Maps per row of the figure (when it is created).
    axes : array of matplotlib.axes.Axes | None
        Where to draw: as many Axes as units are shown, ``min(k, n_units)``
        (a single Axes for one unit), of any shape; the maps fill them row by
        row, strongest first. The colour bar is added to their figure, taking
        room from these Axes. None (default) creates the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (that of ``axes`` when given).
    """
    check_results(ds, "unit_corr", "unit_layer", "unit_in_layer")
    check_option("layer", layer, dim_values(ds, "layer"))
    check_option("band", band, dim_values(ds, "band"))
    check_option("network", network, NETWORKS)
    k = check_int("k", k, minimum=1)
    ncols = check_int("ncols", ncols, minimum=1)

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
    if axes is not None:
        axes = flat_axes(
            axes, n, f"the {n} unit(s) shown: k={k}, {corr.shape[1]} in {layer}"
        )
    info = make_info(ds)
    ch_names = dim_values(ds, "channel")
    vlim = sym_vlim(corr[:, order])
    with plt.rc_context(RC):
        cax = None
        if axes is None:
            ncols = min(ncols, n)
            nrows = math.ceil(n / ncols)
            widths = [1.0] * ncols + [0.07]
            fig = new_figure((CELL * sum(widths) + 0.6, (CELL + 0.25) * nrows + 0.9))
            gs = fig.add_gridspec(nrows, len(widths), width_ratios=widths)
            axes = [fig.add_subplot(gs[i // ncols, i % ncols]) for i in range(n)]
            cax = fig.add_subplot(gs[:, ncols])
        for ax, u in zip(axes, order, strict=True):
            im = topomap(ax, corr[:, u], info, vlim, CMAP_DIVERGING)
            ax.set_title(
                f"unit {int(unit_idx[u])}\n"
                + f"peak r = {peak[u]:+.2f} ({ch_names[peak_ch[u]]})".replace("-", "−")
            )
        colorbar(im, "r", cax=cax, ax=axes)
        if cax is not None:
            ms = receptive_field_ms(ds, layer)
            field = f", {fmt_ms(ms)}" if ms is not None else ""
            fig.suptitle(
                f"{layer}{field} · {band_label(ds, band, sep=' ')}\n"
                f"{network} network: {n} unit{'s' if n > 1 else ''} with the largest "
                "peak |r|",
                fontweight="bold",
            )
    return root_figure(axes[0])
