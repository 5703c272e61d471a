"""Saving and loading results as NetCDF (h5netcdf engine)."""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from ._check import check_path_exists, invalid
from ._io import atomic_path

ENGINE = "h5netcdf"


def save_maps(
    ds: xr.Dataset, path: str | os.PathLike, *, overwrite: bool = True
) -> Path:
    """Write results to a NetCDF file, atomically.

    The file is written under a temporary name in the same directory and then
    renamed, so an interrupted write never leaves a half-written file at
    ``path``.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of :func:`envcorr.compute_maps`.
    path : path-like
        Output file, conventionally ``*.nc``.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    path : pathlib.Path
    """
    if not isinstance(ds, xr.Dataset):
        raise invalid("ds", f"expected an xarray.Dataset, got {type(ds).__name__}.")
    path = Path(path).expanduser()
    if path.exists() and not overwrite:
        raise invalid(
            "path", f"'{path}' already exists.", "Pass overwrite=True to replace it."
        )
    if not path.parent.is_dir():
        raise invalid("path", f"directory '{path.parent}' does not exist.")
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine=ENGINE)
    return path


def load_maps(path: str | os.PathLike) -> xr.Dataset:
    """Read results written by :func:`save_maps` into memory.

    Parameters
    ----------
    path : path-like
        A ``.nc`` file.

    Returns
    -------
    ds : xarray.Dataset
        The results, fully loaded (the file is closed).
    """
    return read_results(path, name="path")


def read_results(path: str | os.PathLike, *, name: str) -> xr.Dataset:
    """:func:`load_maps`, with errors naming the caller's parameter ``name``."""
    path = check_path_exists(name, path)
    try:
        with xr.open_dataset(path, engine=ENGINE) as ds:
            ds = ds.load()
    except (OSError, ValueError) as err:
        raise invalid(
            name,
            f"could not read '{path}' as a results file ({err}).",
            "Give a NetCDF file written by envcorr.save_maps or `envcorr run`.",
        ) from None
    if "unit_corr" not in ds:
        raise invalid(
            name, f"'{path}' holds no 'unit_corr': it is not an envcorr results file."
        )
    return ds
