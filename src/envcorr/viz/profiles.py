"""Line plots of the correlations against layer depth."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ._common import RC, depth_axes, root_figure, style_depth_axes
from .labels import band_label, check_results, dim_values, layer_label, select

__all__ = ["plot_depth_profile"]

TRAINED_COLOR = "#c0392b"
UNTRAINED_COLOR = "#7f8c8d"


def plot_depth_profile(
    ds: xr.Dataset,
    *,
    bands: Sequence[str] | None = None,
    ncols: int | None = None,
    axes: Any = None,
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
        Axes per row of the figure (when it is created); default as many as
        fit in about 12 inches (at most 3).
    axes : array of matplotlib.axes.Axes | None
        Where to draw: one Axes per band shown (a single Axes for one band), of
        any shape, filled in order. None (default) creates the figure; its
        title (suptitle) is set only then.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (that of ``axes`` when given).
    """
    check_results(ds, "layer_mean_abs_corr")
    band_list = select("bands", bands, dim_values(ds, "band"))
    layer_list = dim_values(ds, "layer")
    data = ds["layer_mean_abs_corr"].sel(band=band_list).mean("channel")
    x = np.arange(len(layer_list))
    ticks = [layer_label(ds, layer, wrap=False) for layer in layer_list]
    with plt.rc_context(RC):
        axes, created = depth_axes(axes, len(band_list), len(layer_list), ncols)
        for ax, band in zip(axes, band_list, strict=True):
            trained = data.sel(network="trained", band=band).values
            untrained = data.sel(network="untrained", band=band).values
            ax.fill_between(
                x, untrained, trained, color=TRAINED_COLOR, alpha=0.12, lw=0
            )
            ax.plot(x, trained, "o-", color=TRAINED_COLOR, lw=2, ms=5, label="trained")
            ax.plot(
                x,
                untrained,
                "s--",
                color=UNTRAINED_COLOR,
                lw=1.5,
                ms=4,
                label="untrained",
            )
            ax.set_title(band_label(ds, band, sep=", "), fontweight="bold")
            ax.set_ylim(bottom=0)
            style_depth_axes(ax, ticks, "mean |r| over units and channels")
        axes[0].legend(frameon=False, loc="upper left")
        if created:
            root_figure(axes[0]).suptitle(
                "Growth of envelope tracking with depth (receptive field)",
                fontweight="bold",
            )
    return root_figure(axes[0])
