"""Drawing helpers shared by the figures of :mod:`envcorr.viz`.

The electrode positions of the results as an :class:`mne.Info`, colour limits
and maps, one scalp map, colour bars, the rc settings of every figure, and the
checks of the ``axes`` that a ``plot_*`` function is asked to draw onto.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import mne
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from mne.viz import plot_topomap

from .._utils.check import check_int, invalid
from .labels import POSITIONS_FIX

__all__ = [
    "CELL",
    "CMAP_DIVERGING",
    "CMAP_SEQUENTIAL",
    "RC",
    "colorbar",
    "depth_axes",
    "flat_axes",
    "grid_axes",
    "make_info",
    "new_figure",
    "root_figure",
    "row_label",
    "seq_vlim",
    "style_depth_axes",
    "sym_vlim",
    "topomap",
]

CMAP_DIVERGING = "RdBu_r"  # signed r and trained − untrained differences
CMAP_SEQUENTIAL = "Reds"  # mean |r|
CELL = 1.75  # inches per scalp map
RC = {
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


# --------------------------------------------------------------------------
# electrode positions
# --------------------------------------------------------------------------
def make_info(ds: xr.Dataset) -> mne.Info:
    """An EEG :class:`mne.Info` of the results' channels with their positions."""
    missing = [c for c in ("ch_x", "ch_y", "ch_z") if c not in ds.coords]
    if missing:
        raise invalid(
            "ds",
            "the results have no electrode positions (coordinate(s) "
            f"{', '.join(missing)} on the 'channel' dimension), which scalp maps need.",
            POSITIONS_FIX,
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
            POSITIONS_FIX,
        )
    montage = mne.channels.make_dig_montage(
        dict(zip(ch_names, pos, strict=True)), coord_frame="head"
    )
    sfreq = float(ds.attrs.get("sfreq", 1000.0) or 1000.0)
    info = mne.create_info(ch_names, sfreq, "eeg")
    info.set_montage(montage, verbose="error")
    return info


# --------------------------------------------------------------------------
# colour limits, maps and bars
# --------------------------------------------------------------------------
def sym_vlim(*arrays: np.ndarray) -> tuple[float, float]:
    """Limits symmetric around zero: ± the largest |value| (NaN ignored)."""
    values = np.abs(np.concatenate([np.ravel(a) for a in arrays]))
    vmax = float(np.nanmax(values)) if np.isfinite(values).any() else 0.0
    vmax = vmax if vmax > 0 else 1e-3
    return -vmax, vmax


def seq_vlim(*arrays: np.ndarray) -> tuple[float, float]:
    """Limits from the smallest to the largest value (NaN ignored)."""
    values = np.concatenate([np.ravel(a) for a in arrays])
    if not np.isfinite(values).any():
        return 0.0, 1e-3
    vmin, vmax = float(np.nanmin(values)), float(np.nanmax(values))
    if vmax - vmin <= 0:
        vmax = vmin + 1e-3
    return vmin, vmax


def topomap(
    ax: Axes, values: np.ndarray, info: mne.Info, vlim: tuple[float, float], cmap: str
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


def colorbar(
    im: Any,
    label: str,
    *,
    cax: Axes | None = None,
    ax: Axes | Sequence[Axes] | None = None,
) -> None:
    """Add a colour bar of ``im``: into ``cax``, or taking room from ``ax``."""
    if cax is not None:
        cb = cax.figure.colorbar(im, cax=cax)
    else:
        parent = ax if isinstance(ax, Axes) else next(iter(ax))
        cb = parent.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cb.set_label(label)
    cb.ax.tick_params(labelsize=7)
    cb.formatter.set_useMathText(True)
    cb.outline.set_linewidth(0.5)


def row_label(ax: Axes, text: str) -> None:
    """Label a row of scalp maps on the left of its first map."""
    ax.set_ylabel(text, rotation=90, labelpad=6, fontsize=9, fontweight="bold")


# --------------------------------------------------------------------------
# axes given by the caller
# --------------------------------------------------------------------------
def _describe(arr: np.ndarray) -> str:
    return "a single Axes" if arr.ndim == 0 else f"shape {arr.shape}"


def _check_elements(arr: np.ndarray, expected: str) -> list[Axes]:
    flat = list(arr.ravel())
    bad = [type(a).__name__ for a in flat if not isinstance(a, Axes)]
    if bad:
        raise invalid(
            "axes",
            f"expected {expected} matplotlib Axes, got an element of type {bad[0]}.",
            "Pass Axes such as those of plt.subplots, or axes=None.",
        )
    roots = {id(a.get_figure(root=True)) for a in flat}
    if len(roots) > 1:
        raise invalid("axes", "the Axes belong to different figures.", "Use one.")
    return flat


def grid_axes(axes: Any, shape: tuple[int, int], dims: str) -> np.ndarray:
    """Check ``axes`` for a grid of ``shape`` (rows × columns) and return it.

    A single Axes is accepted for a 1 × 1 grid and a flat sequence for a grid
    of one row or one column (as :func:`matplotlib.pyplot.subplots` returns
    them). ``dims`` names the dimensions, e.g. ``"n_bands × n_classes"``.
    """
    n_rows, n_cols = shape
    expected = f"{n_rows} × {n_cols}"
    arr = np.asarray(axes, dtype=object)
    if arr.ndim == 0 and shape == (1, 1):
        arr = arr.reshape(1, 1)
    elif arr.ndim == 1 and 1 in shape and arr.size == n_rows * n_cols:
        arr = arr.reshape(shape)
    if arr.shape != shape:
        raise invalid(
            "axes",
            f"expected an array of {expected} Axes ({dims}), got {_describe(arr)}.",
            "Pass axes of that shape, or axes=None to create the figure.",
        )
    _check_elements(arr, expected)
    return arr


def flat_axes(axes: Any, n: int, what: str) -> list[Axes]:
    """Check that ``axes`` holds ``n`` Axes (any shape; a single one for n = 1)."""
    arr = np.asarray(axes, dtype=object)
    if arr.size != n:
        raise invalid(
            "axes",
            f"expected {n} Axes ({what}), got {_describe(arr)} ({arr.size} Axes).",
            "Pass that many Axes, or axes=None to create the figure.",
        )
    return _check_elements(arr, str(n))


def root_figure(ax: Axes) -> Figure:
    """The top-level figure holding ``ax`` (not a subfigure)."""
    return ax.get_figure(root=True)


def depth_axes(
    axes: Any, n_bands: int, n_layers: int, ncols: int | None
) -> tuple[list[Axes], bool]:
    """One Axes per band for a plot against layer depth.

    ``axes`` is checked (any shape holding ``n_bands`` Axes) or, when None, a
    grid of ``ncols`` columns is created (call within ``plt.rc_context(RC)``);
    ``ncols=None`` fits as many axes as about 12 inches hold (at most 3).

    Returns
    -------
    axes : list of Axes, length n_bands
    created : bool
        Whether the figure was created here.
    """
    width = max(3.0, 0.75 * n_layers + 1.3)  # inches per axes
    if ncols is None:
        ncols = int(max(1, min(3, 12 // width)))
    ncols = check_int("ncols", ncols, minimum=1)
    if axes is not None:
        return flat_axes(axes, n_bands, f"one per band: {n_bands}"), False
    ncols = min(ncols, n_bands)
    nrows = math.ceil(n_bands / ncols)
    fig, grid = plt.subplots(
        nrows,
        ncols,
        figsize=(width * ncols, 3.3 * nrows + 0.5),
        layout="constrained",
        squeeze=False,
    )
    for ax in grid.ravel()[n_bands:]:
        fig.delaxes(ax)
    return list(grid.ravel()[:n_bands]), True


def style_depth_axes(ax: Axes, ticks: Sequence[str], ylabel: str) -> None:
    """Layer ticks at x = 0, 1, ..., light y grid, and the y label.

    The y label goes on the first column of a grid (on each axes that is not
    part of one).
    """
    x = np.arange(len(ticks))
    ax.set_xticks(x, ticks, rotation=35 if len(x) > 3 else 0, ha="right")
    if len(x) <= 3:
        for lbl in ax.get_xticklabels():
            lbl.set_horizontalalignment("center")
    ax.set_xlim(-0.4, len(x) - 0.6)
    ax.grid(axis="y", color="0.9", lw=0.8)
    ax.spines[["top", "right"]].set_visible(False)
    spec = ax.get_subplotspec()
    if spec is None or spec.is_first_col():
        ax.set_ylabel(ylabel)


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A figure with constrained layout (call within ``plt.rc_context(RC)``)."""
    return plt.figure(figsize=figsize, layout="constrained")
