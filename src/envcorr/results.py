"""Results: correlations assembled into a labelled Dataset, saved as NetCDF.

:func:`assemble_maps` turns the correlations of :func:`envcorr.compute_maps`
into an :class:`xarray.Dataset` whose layout ``docs/results-format.md``
documents; :func:`save_maps` and :func:`load_maps` write and read it with the
h5netcdf engine, atomically.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ._utils.check import check_path_exists, invalid
from ._utils.io import atomic_path
from ._utils.logs import logger

if TYPE_CHECKING:
    import mne

    from .nn.geometry import LayerGeometry

ENGINE = "h5netcdf"

DESCRIPTIONS = {
    "unit_corr": "Pearson r of unit activation with receptive-field-averaged "
    "squared band envelope, pooled over trials and time",
    "layer_mean_corr": "mean of unit_corr over the units of each layer",
    "layer_mean_abs_corr": "mean of |unit_corr| over the units of each layer",
    "layer_mean_corr_diff": "trained minus untrained layer_mean_corr",
    "layer_mean_abs_corr_diff": "trained minus untrained layer_mean_abs_corr",
    "chance_layer_mean_abs_corr": "layer_mean_abs_corr of each unit against the "
    "envelopes of another trial (trial i - 1): its chance level",
    "layer_mean_abs_corr_excess_diff": "trained minus untrained "
    "(layer_mean_abs_corr - chance_layer_mean_abs_corr)",
    "class_corr": "Pearson r of averaged squared band envelope with the one-hot "
    "class indicator (point-biserial)",
}
"""The ``description`` attribute of each variable."""


def channel_positions(
    ch_names: Sequence[str], ch_pos: Mapping[str, Any] | mne.Info | None
) -> np.ndarray | None:
    """Channel positions in metres, or None when any is unknown.

    Parameters
    ----------
    ch_names : list of str
        The channels, in order.
    ch_pos : dict of str to (x, y, z) | mne.Info | None
        Positions by name (matched case-insensitively), the montage of an
        ``mne.Info``, or None for MNE's standard 10-05 montage.

    Returns
    -------
    pos : ndarray, shape (n_channels, 3) | None
    """
    import mne

    from .data._montage import standard_montage

    if isinstance(ch_pos, mne.Info):
        montage = ch_pos.get_montage()
        ch_pos = None if montage is None else montage.get_positions()["ch_pos"]
    if ch_pos is None:
        ch_pos = standard_montage().get_positions()["ch_pos"]
    lookup = {k.lower(): np.asarray(v, float) for k, v in ch_pos.items()}
    pos = [lookup.get(c.lower()) for c in ch_names]
    if any(p is None or p.shape != (3,) or not np.all(np.isfinite(p)) for p in pos):
        return None
    return np.stack(pos)


def assemble_maps(
    *,
    unit_corr: Mapping[str, Sequence[np.ndarray]],
    class_corr: np.ndarray | None,
    geometry: Sequence[LayerGeometry],
    bands: Mapping[str, tuple[float, float]],
    ch_names: Sequence[str],
    constant: Sequence[str],
    class_names: Sequence[str] | None,
    y: np.ndarray | None,
    ch_pos: Mapping[str, Any] | mne.Info | None,
    attrs: dict[str, Any],
    positions: Mapping[str, np.ndarray] | None = None,
    chance_corr: Mapping[str, Sequence[np.ndarray]] | None = None,
) -> xr.Dataset:
    """The results Dataset of :func:`envcorr.compute_maps`.

    Parameters
    ----------
    unit_corr : dict of str to list of ndarray
        Per network (``"trained"``, then ``"untrained"``, then further
        untrained networks), the correlations of each layer of ``geometry``,
        each of shape (n_units, n_bands * n_channels), features band-major.
    class_corr : ndarray, shape (n_classes, n_bands * n_channels) | None
        The envelope-class correlations, or None without labels.
    geometry : list of LayerGeometry
        The analysed layers, by depth.
    bands : dict of str to (float, float)
        The bands.
    ch_names : list of str
        The channels.
    constant : list of str
        Channels constant over all trials: their correlations are set to NaN.
    class_names : list of str | None
        The classes (with ``class_corr``).
    y : ndarray of int, shape (n_trials,) | None
        The class of each trial (to count trials per class).
    ch_pos : dict | mne.Info | None
        Channel positions (see :func:`channel_positions`).
    attrs : dict
        Attributes of the Dataset.
    positions : dict of str to ndarray of int | None
        Per layer, the output positions the correlations pooled over (see
        :func:`envcorr.maps.select_positions`); None for all of them.
    chance_corr : dict of str to list of ndarray | None
        Like ``unit_corr``, the correlations of each unit with the envelopes
        of another trial (the chance level), or None.

    Returns
    -------
    maps : xarray.Dataset
    """
    n_bands, n_chans = len(bands), len(ch_names)
    networks = list(unit_corr)
    if networks[:2] != ["trained", "untrained"]:
        raise ValueError("unit_corr must start with 'trained' and 'untrained'")
    bad = np.isin(ch_names, constant)
    layer_of_unit = np.concatenate([[g.name] * g.n_units for g in geometry])

    def stacked(per_layer: Mapping[str, Sequence[np.ndarray]]) -> np.ndarray:
        """(network, band, channel, unit), NaN at constant channels."""
        per_network = []
        for net in networks:
            blocks = []
            for g, r in zip(geometry, per_layer[net], strict=True):
                r = r.reshape(g.n_units, n_bands, n_chans)
                r[:, :, bad] = np.nan
                blocks.append(r)
            per_network.append(np.concatenate(blocks).transpose(1, 2, 0))
        return np.stack(per_network)

    def layer_means(r: np.ndarray) -> np.ndarray:
        """(network, layer, band, channel): the mean over each layer's units."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN stays NaN
            return np.stack(
                [np.nanmean(r[..., layer_of_unit == g.name], -1) for g in geometry],
                axis=1,
            )

    corr = stacked(unit_corr)
    n_dead = int(np.isnan(corr[..., ~bad, :]).all(axis=(1, 2)).sum())
    if n_dead:
        logger.info("%d constant unit(s) (e.g. never active): their r is NaN", n_dead)
    unit_in_layer = np.concatenate([np.arange(g.n_units) for g in geometry])
    unit_axes = _unit_axes(geometry)
    mean_r = layer_means(corr)
    mean_abs = layer_means(np.abs(corr))
    net_dims = ("network", "layer", "band", "channel")
    data_vars = {
        "unit_corr": (("network", "band", "channel", "unit"), corr),
        "layer_mean_corr": (net_dims, mean_r),
        "layer_mean_abs_corr": (net_dims, mean_abs),
        "layer_mean_corr_diff": (net_dims[1:], mean_r[0] - mean_r[1]),
        "layer_mean_abs_corr_diff": (net_dims[1:], mean_abs[0] - mean_abs[1]),
    }
    if chance_corr is not None:
        floor = layer_means(np.abs(stacked(chance_corr)))
        excess = mean_abs - floor
        data_vars["chance_layer_mean_abs_corr"] = (net_dims, floor)
        data_vars["layer_mean_abs_corr_excess_diff"] = (
            net_dims[1:],
            excess[0] - excess[1],
        )
    coords = {
        "network": networks,
        "layer": [g.name for g in geometry],
        "receptive_field": ("layer", [g.receptive_field for g in geometry]),
        "layer_n_times": (
            "layer",
            [
                g.n_out if positions is None else len(positions[g.name])
                for g in geometry
            ],
        ),
        "layer_n_units": ("layer", [g.n_units for g in geometry]),
        "layer_unit_shape": (
            "layer",
            ["x".join(map(str, _unit_shape(g))) for g in geometry],
        ),
        "layer_whole_trial": ("layer", [g.time_axis is None for g in geometry]),
        "unit": np.arange(len(layer_of_unit)),
        "unit_layer": ("unit", layer_of_unit.astype(str)),
        "unit_in_layer": ("unit", unit_in_layer),
        **{f"unit_axis_{k}": ("unit", idx) for k, idx in enumerate(unit_axes)},
        "band": list(bands),
        "band_low": ("band", [lo for lo, _ in bands.values()]),
        "band_high": ("band", [hi for _, hi in bands.values()]),
        "channel": list(ch_names),
    }
    pos = channel_positions(ch_names, ch_pos)
    if pos is not None:
        for k, axis in enumerate("xyz"):
            coords[f"ch_{axis}"] = ("channel", pos[:, k])
    else:
        logger.info("Channel positions unknown for some names: no ch_x/ch_y/ch_z")
    if class_corr is not None:
        r = class_corr.T.reshape(n_bands, n_chans, len(class_names))
        r[:, bad] = np.nan
        data_vars["class_corr"] = (("band", "channel", "class"), r)
        counts = np.bincount(y, minlength=len(class_names))
        data_vars["n_trials_per_class"] = (("class",), counts)
        coords["class"] = list(class_names)
    ds = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    for name, desc in DESCRIPTIONS.items():
        if name in ds:
            ds[name].attrs["description"] = desc
    return ds


def _unit_shape(g: LayerGeometry) -> tuple[int, ...]:
    return tuple(getattr(g, "unit_shape", None) or (g.n_units,))


def _unit_axes(geometry: Sequence[LayerGeometry]) -> list[np.ndarray]:
    """Per unit, its index along each non-time axis of its layer's output.

    Units are the layer's output axes other than batch and time, flattened in
    C order: EEGNet's temporal convolution, output (trials, 8, 22, time), has
    176 units whose ``unit_axis_0`` is the filter and ``unit_axis_1`` the
    electrode. Axes a layer does not have are -1.
    """
    shapes = [_unit_shape(g) for g in geometry]
    n_axes = max(len(shape) for shape in shapes)
    per_layer = []
    for shape in shapes:
        idx = np.unravel_index(np.arange(int(np.prod(shape))), shape)
        pad = [np.full(idx[0].shape, -1)] * (n_axes - len(shape))
        per_layer.append(np.stack([*idx, *pad]))
    return list(np.concatenate(per_layer, axis=1))


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
