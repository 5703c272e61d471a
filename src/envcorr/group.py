"""The group file of a study: the subjects' maps side by side, and their tests.

:func:`group_maps` stacks the results of several subjects (each the Dataset
of :func:`envcorr.compute_maps` written by ``envcorr run``) along a
``subject`` dimension, averages them and tests them across subjects with
:mod:`envcorr.stats`; :func:`write_group` writes the file and
:func:`read_group` reads it. The layout is in ``docs/results-format.md``.
:func:`significant` (the cells a test finds significant) and
:func:`group_depth_profile` (the depth profile across subjects, with a
t-interval) compute what the group figures of :mod:`envcorr.viz.group` show.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._utils.check import check_option, invalid
from ._utils.io import atomic_path
from ._utils.versions import versions

_EXACT_MAX = 12  # all sign flips up to this many subjects (stats.group_test)

_SHARED_DIMS = ("layer", "band", "channel", "class")

#: The p-values of each group test that may mark cells (:func:`significant`).
MARKS = ("p_fwer", "q_fdr", "p")

#: The group tests: trained − untrained mean |r|, the same above chance, class.
TESTS = ("diff", "excess", "class")

#: The variable each test of the trained − untrained maps tests (its group mean).
MAP_TESTS = {
    "diff": "layer_mean_abs_corr_diff",
    "excess": "layer_mean_abs_corr_excess_diff",
}

#: The per-subject trained − untrained maps of the group file.
_SUBJECT_DIFFS = (
    "subject_layer_mean_abs_corr_diff",
    "subject_layer_mean_corr_diff",
    "subject_layer_mean_abs_corr_excess_diff",
)


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
        (:func:`envcorr.stats.group_test`, two-sided); where every subject has
        its chance level (``compute_maps(chance=True)``),
        ``subject_layer_mean_abs_corr_excess_diff``, its mean
        ``layer_mean_abs_corr_excess_diff`` and their test ``excess_t``,
        ``excess_p``, ``excess_p_fwer``, ``excess_q_fdr``; with class labels
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
    excess = "layer_mean_abs_corr_excess_diff"
    if all(excess in datasets[s] for s in subjects):
        values = stack(excess, cell)
        data_vars[f"subject_{excess}"] = (("subject", *cell), values)
        data_vars[excess] = (cell, values.mean(axis=0))
        add_test("excess", values, cell)

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
    for name in ("excess", "class"):
        if name in tests:
            group.attrs[f"{name}_n_flips"] = int(tests[name].n_flips)
            group.attrs[f"{name}_exact"] = int(tests[name].exact)
    for name in ("sfreq", "n_times", "square", "model_name", "dataset"):
        if name in first.attrs:
            group.attrs[name] = first.attrs[name]
    return group


def group_depth_profile(
    group: Any,
    *,
    var: str = "subject_layer_mean_abs_corr_diff",
    confidence: float = 0.95,
) -> Any:
    """Each subject's trained − untrained mean |r| per band and layer, and their mean.

    For every subject, band and layer the values of ``var`` are averaged over
    channels (channels that are NaN for that subject, e.g. constant ones, are
    left out of its average). Across the subjects with a finite average, the
    mean and a t-based interval: ``mean ± t_{(1 + confidence) / 2, n - 1} ·
    sd / sqrt(n)`` (``sd`` with ``ddof=1``); with fewer than 2 subjects there
    is no interval (NaN).

    Parameters
    ----------
    group : xarray.Dataset
        The group dataset of :func:`group_maps` (``group.nc``).
    var : str
        A per-subject variable with dims (subject, layer, band, channel):
        ``"subject_layer_mean_abs_corr_diff"`` (default),
        ``"subject_layer_mean_corr_diff"`` or
        ``"subject_layer_mean_abs_corr_excess_diff"``.
    confidence : float
        Coverage of the interval, between 0 and 1 (default 0.95).

    Returns
    -------
    xarray.Dataset
        ``subject_profile`` (subject, band, layer): the channel averages;
        ``mean``, ``low``, ``high`` (band, layer): their mean over subjects and
        the interval; ``n_subjects`` (band, layer): the subjects averaged.
        Attribute ``confidence``.
    """
    import numpy as np
    import xarray as xr
    from scipy import stats

    check_option("var", var, _SUBJECT_DIFFS)
    group = as_group(group, var)
    try:
        confidence = float(confidence)
    except (TypeError, ValueError):
        confidence = np.nan
    if not 0 < confidence < 1:
        raise invalid(
            "confidence", f"{confidence!r}.", "Give a number between 0 and 1."
        )

    values = group[var].transpose("subject", "band", "layer", "channel").values
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    n_channels = finite.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = np.where(finite, values, 0.0).sum(axis=-1) / n_channels
    profile[n_channels == 0] = np.nan
    ok = np.isfinite(profile)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, profile, 0.0).sum(axis=0) / n
        dev = np.where(ok, profile - mean, 0.0)
        sd = np.sqrt((dev**2).sum(axis=0) / (n - 1))
        half = stats.t.ppf((1 + confidence) / 2, n - 1) * sd / np.sqrt(n)
    mean[n == 0] = np.nan
    half[n < 2] = np.nan
    dims = ("band", "layer")
    coords = {d: group[d] for d in ("subject", "band", "layer")}
    for name, coord in group.coords.items():
        if coord.dims and set(coord.dims) <= {"band", "layer"}:
            coords[name] = coord
    return xr.Dataset(
        {
            "subject_profile": (("subject", *dims), profile),
            "mean": (dims, mean),
            "low": (dims, mean - half),
            "high": (dims, mean + half),
            "n_subjects": (dims, n.astype(np.int64)),
        },
        coords=coords,
        attrs={"confidence": confidence, "variable": var},
    )


def read_group(path: str | os.PathLike, *, name: str = "group") -> Any:
    """Read a study's ``group.nc``; errors name the caller's parameter ``name``."""
    import xarray as xr

    from ._utils.check import check_path_exists
    from .results import ENGINE

    path = check_path_exists(name, path)
    try:
        with xr.open_dataset(path, engine=ENGINE) as ds:
            ds = ds.load()
    except (OSError, ValueError) as err:
        raise invalid(
            name,
            f"could not read '{path}' as a group file ({err}).",
            "Give the group.nc written by `envcorr study`.",
        ) from None
    if not is_group(ds):
        raise invalid(
            name,
            f"'{path}' is not the group file of a study (it has no 'subject' "
            "dimension and no group tests).",
            "Give the group.nc written by `envcorr study`.",
        )
    return ds


def is_group(ds: Any) -> bool:
    """Whether ``ds`` is a group dataset (:func:`group_maps`), not one subject's."""
    return (
        hasattr(ds, "dims")
        and "subject" in ds.dims
        and "subject_layer_mean_abs_corr_diff" in ds.variables
    )


def as_group(group: Any, *variables: str, name: str = "group") -> Any:
    """The group Dataset (read when a path) holding ``variables``, else an error."""
    if isinstance(group, str | os.PathLike):
        group = read_group(group, name=name)
    if not is_group(group):
        raise invalid(
            name,
            f"expected the group xarray.Dataset of a study, got {type(group).__name__}"
            " (a group dataset has a 'subject' dimension).",
            "Pass the Dataset of envcorr.group.group_maps, or the path of a "
            "group.nc written by `envcorr study`.",
        )
    missing = [v for v in variables if v not in group.variables]
    if missing:
        raise invalid(
            name,
            f"the group dataset has no {', '.join(repr(m) for m in missing)}.",
            "Compute it with envcorr.group.group_maps (see docs/results-format.md).",
        )
    return group


def significant(
    group: Any,
    test: str,
    mark: str | None = "p_fwer",
    alpha: float = 0.05,
    dims: Sequence[str] | None = None,
) -> Any:
    """Cells of a group test whose p-value is below ``alpha``.

    Parameters
    ----------
    group : xarray.Dataset
        The group dataset.
    test : str
        ``"diff"`` (trained − untrained mean |r|), ``"excess"`` (the same
        above each network's chance level) or ``"class"``.
    mark : str | None
        The p-value: ``"p_fwer"`` (default), ``"q_fdr"`` or ``"p"``; None
        returns None.
    alpha : float
        The threshold, between 0 and 1 (default 0.05).
    dims : sequence of str | None
        Order of the dimensions of the result (default that of the file).

    Returns
    -------
    mask : ndarray of bool | None
        True where ``{test}_{mark} < alpha``; untested (NaN) cells are False.
    """
    import numpy as np

    from ._utils.check import check_positive_float

    alpha = check_positive_float("alpha", alpha)
    if alpha >= 1:
        raise invalid("alpha", f"{alpha!r} is not below 1.", "Use e.g. 0.05.")
    check_option("test", test, TESTS)
    if mark is None:
        return None
    check_option("mark", mark, MARKS)
    var = f"{test}_{mark}"
    p = as_group(group, var)[var]
    p = np.asarray((p.transpose(*dims) if dims else p).values, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(p) & (p < alpha)


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


@dataclass(frozen=True)
class TruthRecovery:
    """What a study's group tests find of a known answer (:func:`truth_recovery`).

    Attributes
    ----------
    effects : pandas.DataFrame
        The envelope–class correlation test at each effect: one row per effect
        and analysis band that holds it, with the effect's ``class``, ``band``
        (the analysis band), ``channel``, ``sign`` and ``strength``, the
        group's ``corr`` (mean over subjects), ``t``, ``p_fwer`` and ``q_fdr``,
        ``found`` (``p_fwer < alpha`` with the effect's sign) and ``found_fdr``
        (the same with ``q_fdr``). Empty when the group has no class test.
    class_bands : pandas.DataFrame
        The class test band by band: ``band``, ``effects`` (the effects it
        holds), ``cells`` (band × channel × class cells tested), ``found``
        (effects found), and ``elsewhere`` (cells without an effect with
        ``p_fwer < alpha``, either sign).
    maps : pandas.DataFrame
        The trained − untrained test of mean |r| (``test``: above chance or
        not), one row per band and layer:
        ``band``, ``layer``, ``simulated`` (the electrodes with an effect in
        this band, in the group's channel order), ``found`` (those with a
        positive mean difference and ``p_fwer < alpha``), ``found_fdr`` (the
        same with ``q_fdr``), ``elsewhere`` (the number of other electrodes of
        this band and layer with a positive difference and ``p_fwer < alpha``)
        and ``lower`` (electrodes with a negative difference and
        ``p_fwer < alpha``: tracked less after training).
    alpha : float
        The threshold used.
    test : str
        The test of ``maps``: ``"excess"`` or ``"diff"`` (:func:`truth_recovery`).
    """

    effects: Any
    class_bands: Any
    maps: Any
    alpha: float
    test: str = "diff"


def truth_recovery(
    group: Any,
    truth: Any = None,
    *,
    alpha: float = 0.05,
    test: str | None = None,
) -> TruthRecovery:
    """How a study's group tests recover a known answer: simulated effects.

    The simulated data (``envcorr study --data simulated``) put each class
    effect of :func:`envcorr.data.simulation_truth` into one frequency range
    at one source. An analysis band *holds* an effect when its range overlaps
    the effect's ``[fmin, fmax]`` by more than 0 Hz (with the default bands:
    alpha, beta and high gamma; delta, theta and low gamma hold none).

    Parameters
    ----------
    group : xarray.Dataset | path-like
        The group dataset, or the path of a study's ``group.nc``.
    truth : pandas.DataFrame | None
        The effects, with the columns of
        :func:`envcorr.data.simulation_truth` (``class``, ``band``,
        ``channel``, ``sign``, ``strength``, ``fmin``, ``fmax``); None (the
        default) for those of a study on the simulated data, each effect's
        ``strength`` averaged over the group's subjects.
    alpha : float
        The threshold of ``p_fwer`` and ``q_fdr`` (default 0.05).
    test : "excess" | "diff" | None
        The test of the maps: ``"excess"`` (trained − untrained mean |r| above
        each network's chance level), ``"diff"`` (trained − untrained mean
        |r|); None (default) for ``"excess"`` where the group has it, else
        ``"diff"``.

    Returns
    -------
    recovery : TruthRecovery
        The class test at each effect and band by band, and the trained −
        untrained test band by band and layer by layer (effects at electrodes
        or of classes the group lacks are left out).
    """
    import numpy as np
    import pandas as pd

    group = as_group(group, name="group")
    if test is None:
        test = "excess" if "excess_p_fwer" in group.variables else "diff"
    test = check_option("test", test, tuple(MAP_TESTS))
    var = MAP_TESTS[test]
    group = as_group(group, var, f"{test}_p_fwer", f"{test}_q_fdr", name="group")
    cell = ("layer", "band", "channel")
    fwer = significant(group, test, "p_fwer", alpha, cell)  # checks alpha
    fdr = significant(group, test, "q_fdr", alpha, cell)
    truth = _study_truth(group) if truth is None else _check_truth(truth)
    channels = np.array([str(c) for c in group["channel"].values], dtype=object)
    bands = [str(b) for b in group["band"].values]
    present = truth[truth["channel"].isin(channels)].reset_index(drop=True)
    # held[k, b]: analysis band b overlaps the range of effect k
    low, high = group["band_low"].values, group["band_high"].values
    held = (
        np.minimum(high, present["fmax"].values[:, None])
        - np.maximum(low, present["fmin"].values[:, None])
    ) > 0

    effects, class_bands = _class_effects(group, present, held, alpha)

    up = group[var].transpose(*cell).values > 0
    rows = []
    for b, band in enumerate(bands):
        sim = np.isin(channels, present["channel"].values[held[:, b]])
        for i, layer in enumerate(group["layer"].values):
            pos_fwer, pos_fdr = up[i, b] & fwer[i, b], up[i, b] & fdr[i, b]
            rows.append(
                {
                    "band": band,
                    "layer": str(layer),
                    "simulated": channels[sim].tolist(),
                    "found": channels[sim & pos_fwer].tolist(),
                    "found_fdr": channels[sim & pos_fdr].tolist(),
                    "elsewhere": int((~sim & pos_fwer).sum()),
                    "lower": int((~up[i, b] & fwer[i, b]).sum()),
                }
            )
    return TruthRecovery(effects, class_bands, pd.DataFrame(rows), alpha, test)


def _class_effects(
    group: Any, present: Any, held: Any, alpha: float
) -> tuple[Any, Any]:
    """The class test at each effect, and band by band (:class:`TruthRecovery`)."""
    import numpy as np
    import pandas as pd

    columns = [
        "class", "band", "channel", "sign", "strength",
        "corr", "t", "p_fwer", "q_fdr", "found", "found_fdr",
    ]  # fmt: skip
    band_columns = ["band", "effects", "cells", "found", "elsewhere"]
    if "class_p_fwer" not in group.variables:
        return pd.DataFrame([], columns=columns), pd.DataFrame([], columns=band_columns)
    dims = ("band", "channel", "class")
    stats = {
        name: group[f"class_{name}"].transpose(*dims).values
        for name in ("corr", "t", "p_fwer", "q_fdr")
    }
    fwer = significant(group, "class", "p_fwer", alpha, dims)
    fdr = significant(group, "class", "q_fdr", alpha, dims)
    bands = [str(b) for b in group["band"].values]
    channels = [str(c) for c in group["channel"].values]
    classes = [str(c) for c in group["class"].values]
    is_effect = np.zeros_like(fwer)
    rows = []
    for k, row in present.iterrows():
        if row["class"] not in classes:
            continue
        c, j = channels.index(row["channel"]), classes.index(row["class"])
        for b in np.flatnonzero(held[k]):
            is_effect[b, c, j] = True
            right_sign = np.sign(stats["corr"][b, c, j]) == row["sign"]
            rows.append(
                {
                    "class": row["class"],
                    "band": bands[b],
                    "channel": row["channel"],
                    "sign": int(row["sign"]),
                    "strength": float(row["strength"]),
                    **{name: float(v[b, c, j]) for name, v in stats.items()},
                    "found": bool(right_sign and fwer[b, c, j]),
                    "found_fdr": bool(right_sign and fdr[b, c, j]),
                }
            )
    effects = pd.DataFrame(rows, columns=columns)
    per_band = [
        {
            "band": band,
            "effects": int((effects["band"] == band).sum()),
            "cells": int(np.isfinite(stats["p_fwer"][b]).sum()),
            "found": int(effects.loc[effects["band"] == band, "found"].sum()),
            "elsewhere": int((fwer[b] & ~is_effect[b]).sum()),
        }
        for b, band in enumerate(bands)
    ]
    return effects, pd.DataFrame(per_band, columns=band_columns)


_TRUTH_COLUMNS = ("class", "band", "channel", "sign", "strength", "fmin", "fmax")


def _check_truth(truth: Any) -> Any:
    import pandas as pd

    from ._utils.check import check_instance

    check_instance(
        "truth",
        truth,
        pd.DataFrame,
        "Pass the table of envcorr.data.simulation_truth(), or leave truth out.",
    )
    missing = [c for c in _TRUTH_COLUMNS if c not in truth.columns]
    if missing:
        raise invalid(
            "truth",
            f"the table has no column {', '.join(repr(m) for m in missing)}.",
            "Give the columns of envcorr.data.simulation_truth().",
        )
    return truth


def is_simulated(group: Any) -> bool:
    """Whether ``group`` is a study of the simulated data (it has a known answer)."""
    return str(group.attrs.get("dataset", "")) == "simulated"


def _study_truth(group: Any) -> Any:
    """The simulation's effects for the group's subjects, strength averaged."""
    import numpy as np

    from .data.simulate import simulation_truth

    if not is_simulated(group):
        raise invalid(
            "truth",
            "the group is not a study of the simulated data "
            f"(dataset: {group.attrs.get('dataset', 'not recorded')!r}), so it has "
            "no known answer.",
            "Pass the effects you expect as a table like "
            "envcorr.data.simulation_truth().",
        )
    tables = [simulation_truth(subject=int(s)) for s in group["subject"].values]
    truth = tables[0].copy()
    truth["strength"] = np.mean([t["strength"].values for t in tables], axis=0)
    return truth
