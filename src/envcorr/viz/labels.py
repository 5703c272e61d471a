"""Access to the results Dataset and the labels its figures and report show.

These helpers are shared by the figures of :mod:`envcorr.viz` and by
:mod:`envcorr.report`: reading the results (a Dataset or a NetCDF path),
checking that they hold what a figure needs, and naming layers (with their
receptive field in ms), bands (with their edges in Hz) and durations the same
way everywhere. Nothing here draws.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from .._utils.check import check_option, invalid
from ..results import read_results

__all__ = [
    "POSITIONS_FIX",
    "as_dataset",
    "band_label",
    "band_range",
    "check_results",
    "dim_values",
    "fmt_ms",
    "has_positions",
    "layer_label",
    "receptive_field_ms",
    "select",
    "sfreq_of",
]

#: How to add electrode positions to results that have none (error messages).
POSITIONS_FIX = (
    "Add them in metres (head coordinates), e.g. "
    "ds = ds.assign_coords(ch_x=('channel', x), ch_y=('channel', y), "
    "ch_z=('channel', z)) with the positions taken from "
    "mne.channels.make_standard_montage('standard_1005') set on an mne.Info of "
    "these channels, or compute the maps from data whose channels have a montage."
)


# --------------------------------------------------------------------------
# access to the results
# --------------------------------------------------------------------------
def as_dataset(ds_or_path: Any, name: str = "ds") -> xr.Dataset:
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


def check_results(ds: Any, *variables: str, name: str = "ds") -> xr.Dataset:
    """Check that ``ds`` is a results Dataset holding ``variables``."""
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


def has_positions(ds: xr.Dataset) -> bool:
    """Whether the results store electrode positions (``ch_x``, ``ch_y``, ``ch_z``)."""
    return all(c in ds.coords for c in ("ch_x", "ch_y", "ch_z"))


def dim_values(ds: xr.Dataset, dim: str) -> list[str]:
    """The values of dimension ``dim`` as strings, in the results' order."""
    return [str(v) for v in ds[dim].values]


def select(name: str, value: Any, allowed: Sequence[str]) -> list[str]:
    """Check a subset (None = all) of ``allowed``, keeping the given order."""
    if value is None:
        return list(allowed)
    if isinstance(value, str):
        value = [value]
    out = [check_option(name, str(v), allowed) for v in value]
    if not out:
        raise invalid(name, "the selection is empty.", f"Choose from {list(allowed)}.")
    return out


def sfreq_of(ds: xr.Dataset) -> float | None:
    """The sampling frequency of the results (None when missing or invalid)."""
    sfreq = ds.attrs.get("sfreq")
    try:
        sfreq = float(sfreq)
    except (TypeError, ValueError):
        return None
    return sfreq if np.isfinite(sfreq) and sfreq > 0 else None


# --------------------------------------------------------------------------
# labels
# --------------------------------------------------------------------------
def fmt_ms(ms: float) -> str:
    """A duration in ms, e.g. ``"576 ms"`` or ``"4.8 ms"``."""
    return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def receptive_field_ms(ds: xr.Dataset, layer: str) -> float | None:
    """Receptive field of ``layer`` in milliseconds (None when unknown)."""
    sfreq = sfreq_of(ds)
    if sfreq is None or "receptive_field" not in ds.coords:
        return None
    return float(ds["receptive_field"].sel(layer=layer)) / sfreq * 1000.0


def _wrap_name(name: str, width: int = 16) -> str:
    # long module paths such as final_layer.conv_classifier break at the dot
    if len(name) > width and "." in name:
        head, _, tail = name.rpartition(".")
        return f"{head}.\n{tail}"
    return name


def layer_label(ds: xr.Dataset, layer: str, *, wrap: bool = True) -> str:
    """The layer's name over its receptive field (in ms, else in samples)."""
    name = _wrap_name(layer) if wrap else layer
    ms = receptive_field_ms(ds, layer)
    if ms is not None:
        return f"{name}\n{fmt_ms(ms)}"
    if "receptive_field" in ds.coords:
        return f"{name}\n{int(ds['receptive_field'].sel(layer=layer))} samples"
    return name


def band_label(ds: xr.Dataset, band: str, *, sep: str = "\n") -> str:
    """The band's name and, when stored, its edges: ``"beta<sep>13–31 Hz"``."""
    label = band.replace("_", " ")
    if "band_low" in ds.coords and "band_high" in ds.coords:
        low = float(ds["band_low"].sel(band=band))
        high = float(ds["band_high"].sel(band=band))
        label += f"{sep}{low:g}–{high:g} Hz"
    return label


def band_range(ds: xr.Dataset, band: str) -> str | None:
    """The band's edges, ``"13–31 Hz"`` (None when the results lack them)."""
    if "band_low" in ds.coords and "band_high" in ds.coords:
        return band_label(ds, band, sep="|").split("|", 1)[1]
    return None
