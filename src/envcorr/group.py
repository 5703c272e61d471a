"""The group file of a study: the subjects' maps side by side, and their tests.

:func:`group_maps` stacks the results of several subjects (each the Dataset
of :func:`envcorr.compute_maps` written by ``envcorr run``) along a
``subject`` dimension, averages them and tests them across subjects with
:mod:`envcorr.stats`; :func:`write_group` writes the file. The layout is in
``docs/results-format.md``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._utils.check import invalid
from ._utils.io import atomic_path
from ._utils.versions import versions

_EXACT_MAX = 12  # all sign flips up to this many subjects (stats.group_test)

_SHARED_DIMS = ("layer", "band", "channel", "class")


def _shared_coords(datasets: dict[int, Any]) -> dict[str, Any]:
    """Coordinates on layer, band, channel and class; refused unless all agree."""
    import numpy as np

    subjects = list(datasets)
    first = datasets[subjects[0]]
    names = [
        name
        for name, coord in first.coords.items()
        if coord.dims and set(coord.dims) <= set(_SHARED_DIMS)
    ]
    for s in subjects[1:]:
        ds = datasets[s]
        for name in names:
            a = first[name].values
            b = ds[name].values if name in ds.coords else None
            same = b is not None and a.shape == b.shape
            if same and a.dtype.kind in "fc":
                same = bool(np.allclose(a, b, equal_nan=True))
            elif same:
                same = bool(np.array_equal(a, b))
            if not same:
                raise invalid(
                    "subjects",
                    f"the {name!r} of subject {s} differ from those of subject "
                    f"{subjects[0]}; group maps need the same {name!r} for all.",
                    "Analyse every subject with the same channels, bands, "
                    "model and trial length.",
                )
    return {name: first[name] for name in names}


def group_maps(
    datasets: dict[int, Any],
    *,
    n_permutations: int = 10000,
    options: dict[str, Any] | None = None,
    failed: Sequence[int] = (),
) -> Any:
    """The group dataset (``group.nc``) from the subjects' results.

    Parameters
    ----------
    datasets : dict
        ``{subject: results}``, each as written by ``envcorr run``.
    n_permutations : int
        Random sign patterns of the tests with more than 12 subjects.
    options : dict | None
        The study's options, stored (JSON) in the ``config`` attribute.
    failed : list of int
        Subjects left out because they failed, stored in ``failed_subjects``.

    Returns
    -------
    xarray.Dataset
        ``subject_layer_mean_abs_corr_diff`` and ``subject_layer_mean_corr_diff``
        (subject, layer, band, channel), their means over subjects
        ``layer_mean_abs_corr_diff`` and ``layer_mean_corr_diff`` (NaN where a
        subject has NaN), the sign-flip tests of the trained − untrained mean
        |r| ``diff_t``, ``diff_p``, ``diff_p_fwer``, ``diff_q_fdr``
        (:func:`envcorr.stats.group_test`, two-sided); with class labels
        ``subject_class_corr`` (subject, band, channel, class), ``class_corr``
        and its ``class_t``, ``class_p``, ``class_p_fwer``, ``class_q_fdr``;
        with further untrained networks ``subject_diff_z``
        (:func:`envcorr.stats.subject_z`); ``accuracy`` and ``n_trials``
        (subject).
    """
    import numpy as np
    import xarray as xr

    from .stats import group_test, subject_z

    subjects = sorted(datasets)
    coords = _shared_coords({s: datasets[s] for s in subjects})
    coords["subject"] = ("subject", np.asarray(subjects, dtype=np.int64))
    cell = ("layer", "band", "channel")
    data_vars: dict[str, Any] = {}

    def stack(var: str, dims: tuple[str, ...]) -> np.ndarray:
        return np.stack(
            [
                datasets[s][var].transpose(*dims).values.astype(np.float64)
                for s in subjects
            ]
        )

    tests: dict[str, Any] = {}

    def add_test(prefix: str, values: np.ndarray, dims: tuple[str, ...]) -> None:
        """Sign-flip test of ``values`` (subject, *dims) against 0, two-sided."""
        tests[prefix] = gt = group_test(
            values,
            n_permutations=n_permutations,
            tail=0,
            exact_max=_EXACT_MAX,
            verbose=False,
        )
        for stat in ("t", "p", "p_fwer", "q_fdr"):
            data_vars[f"{prefix}_{stat}"] = (dims, getattr(gt, stat))

    abs_diff = stack("layer_mean_abs_corr_diff", cell)
    diff = stack("layer_mean_corr_diff", cell)
    data_vars["subject_layer_mean_abs_corr_diff"] = (("subject", *cell), abs_diff)
    data_vars["subject_layer_mean_corr_diff"] = (("subject", *cell), diff)
    data_vars["layer_mean_abs_corr_diff"] = (cell, abs_diff.mean(axis=0))
    data_vars["layer_mean_corr_diff"] = (cell, diff.mean(axis=0))
    add_test("diff", abs_diff, cell)

    if all("class_corr" in datasets[s] for s in subjects):
        cdims = ("band", "channel", "class")
        cc = stack("class_corr", cdims)
        data_vars["subject_class_corr"] = (("subject", *cdims), cc)
        data_vars["class_corr"] = (cdims, cc.mean(axis=0))
        add_test("class", cc, cdims)

    untrained = [
        [
            str(n)
            for n in datasets[s]["network"].values
            if str(n).startswith("untrained")
        ]
        for s in subjects
    ]
    if all(len(u) >= 2 for u in untrained):
        z = []
        for s, names in zip(subjects, untrained, strict=True):
            mac = datasets[s]["layer_mean_abs_corr"].transpose("network", *cell)
            z.append(
                subject_z(
                    mac.sel(network="trained").values, mac.sel(network=names).values
                )
            )
        data_vars["subject_diff_z"] = (("subject", *cell), np.stack(z))

    data_vars["accuracy"] = (
        ("subject",),
        np.array(
            [float(datasets[s].attrs.get("test_accuracy", np.nan)) for s in subjects]
        ),
    )
    data_vars["n_trials"] = (
        ("subject",),
        np.array([int(datasets[s].attrs.get("n_trials", -1)) for s in subjects]),
    )
    group = xr.Dataset(data_vars, coords=coords)
    first = datasets[subjects[0]]
    group.attrs.update(
        {
            "config": json.dumps(options or {}),
            "versions": json.dumps(versions()),
            "subjects": json.dumps(subjects),
            "failed_subjects": json.dumps(list(failed)),
            "n_subjects": len(subjects),
            "n_permutations": n_permutations,
            "tail": 0,
            "diff_n_flips": int(tests["diff"].n_flips),
            "diff_exact": int(tests["diff"].exact),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    if "class" in tests:
        group.attrs["class_n_flips"] = int(tests["class"].n_flips)
        group.attrs["class_exact"] = int(tests["class"].exact)
    for name in ("sfreq", "n_times", "square", "model_name", "dataset"):
        if name in first.attrs:
            group.attrs[name] = first.attrs[name]
    return group


def write_group(
    path: Path,
    result_files: dict[int, Path],
    *,
    options: dict[str, Any],
    n_permutations: int,
    failed: Sequence[int] = (),
) -> Path:
    """Read the subjects' results files and write the group file atomically.

    Parameters
    ----------
    path : Path
        The group file (``OUT/group.nc`` of a study).
    result_files : dict of int to Path
        Each finished subject's ``results.nc``.
    options : dict
        The study's options, stored as the ``config`` attribute.
    n_permutations : int
        Sign flips drawn beyond 12 subjects (all flips up to 12).
    failed : list of int
        Subjects left out because they failed.

    Returns
    -------
    path : Path
    """
    from .results import ENGINE, read_results

    datasets = {s: read_results(f, name="results") for s, f in result_files.items()}
    group = group_maps(
        datasets, n_permutations=n_permutations, options=options, failed=failed
    )
    with atomic_path(path) as tmp:
        group.to_netcdf(tmp, engine=ENGINE)
    return path
