"""A self-contained HTML report of a study: the group figures and the subjects.

:func:`make_group_report` renders the Jinja2 template
``templates/group_report.html`` (with the style and the environment of
:mod:`envcorr.report`) from a study's ``group.nc`` and its folder: the group
figures of :mod:`envcorr.viz.group` (embedded as base64 PNG), a table of the
subjects with links to their own reports, the subjects that failed, the
statistics used, the study's configuration and the versions.
:func:`group_report_only` is ``envcorr report`` for a group file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ._utils.docs import fill_doc
from ._utils.logs import verbose
from ._version import __version__
from .config import FIGURES_NAME, REPORT_NAME
from .group import as_group, is_group, is_simulated, read_group, truth_recovery
from .report import (
    _attr,
    _bands,
    _check_target,
    _json_block,
    _percent,
    _versions,
    _write_report,
)
from .study import FAILURES_NAME, GROUP_NAME, STUDY_NAME, SUBJECTS_NAME
from .viz.figures import REPORT_DPI, RenderedFigure

__all__ = ["find_group", "group_report_only", "make_group_report"]


@verbose
@fill_doc
def make_group_report(
    group: xr.Dataset | str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    study_dir: str | os.PathLike | None = None,
    title: str | None = None,
    figures: Sequence[RenderedFigure] | None = None,
    verbose: bool | str | int | None = None,
) -> Path:
    """Write a self-contained HTML report of a study's group file.

    The report holds the group figures of
    :func:`envcorr.viz.group.draw_group_figures`, a table of the subjects
    (test accuracy, trials analysed, minutes the subject's run took when the
    study recorded them, and a link to the subject's own report, relative to
    the report), the subjects that failed (from ``failures.json``), a
    paragraph on the statistics, the study's configuration and the versions.
    The file is written under a temporary name and then renamed.

    Parameters
    ----------
    group : xarray.Dataset | path-like
        The group dataset, or the path of a study's ``group.nc``.
    out_path : path-like
        The HTML file to write (its folder is created when missing).
    study_dir : path-like | None
        The study's folder (``subjects/<subject>/report.html``, ``study.json``,
        ``failures.json``); default the folder of ``group`` when it is a path,
        else that of ``out_path``.
    title : str | None
        Title of the report; default names the study.
    figures : sequence of RenderedFigure | None
        Figures already drawn with a PNG, embedded as given; None (default)
        draws the group figures at 144 dpi.
    %(verbose)s

    Returns
    -------
    path : pathlib.Path
        The file written.
    """
    from .viz.group import draw_group_figures

    if study_dir is None and isinstance(group, str | os.PathLike):
        study_dir = Path(group).expanduser().parent
    group = as_group(group)
    out, figures = _check_target(out_path, title, figures)
    study = Path(study_dir).expanduser() if study_dir is not None else out.parent
    out.parent.mkdir(parents=True, exist_ok=True)
    context = _context(group, study, out, title)
    if figures is None:
        figures = draw_group_figures(group, None, report_dpi=REPORT_DPI)
    return _write_report("group_report.html", context, figures, out, "group report")


def find_group(path: str | os.PathLike) -> Path | None:
    """The group file that ``path`` names: a study folder's group.nc, or itself.

    Returns None when ``path`` is neither a folder holding ``group.nc`` nor a
    NetCDF file with a ``subject`` dimension (such as one subject's results).
    """
    p = Path(path).expanduser()
    if p.is_dir():
        return p / GROUP_NAME if (p / GROUP_NAME).is_file() else None
    if not p.is_file():
        return None
    from .results import ENGINE

    try:
        with xr.open_dataset(p, engine=ENGINE) as ds:
            return p if is_group(ds) else None
    except (OSError, ValueError):
        return None


@verbose
def group_report_only(
    group: str | os.PathLike,
    output: str | os.PathLike,
    formats: Sequence[str] = ("png",),
    *,
    overwrite: bool = False,
    verbose: bool | str | int | None = None,
) -> dict:
    """Group figures and report from a study's group.nc (``envcorr report``).

    ``group`` is the group file or the study's folder. The output paths are
    checked before anything is written; the report and the ``figures`` folder
    beside it are replaced only with ``overwrite``. The subjects' reports are
    linked from the folder of the group file.
    """
    from .config import check_report_output, remove_created
    from .viz.group import draw_group_figures

    path = find_group(group) or Path(group).expanduser()
    ds = read_group(path, name="results")
    output = Path(output).expanduser()
    created = check_report_output(output, overwrite)
    try:
        figures = draw_group_figures(
            ds, output.parent / FIGURES_NAME, formats=tuple(formats)
        )
        report = make_group_report(ds, output, study_dir=path.parent, figures=figures)
    except BaseException:
        remove_created(created)
        raise
    return {
        "report": report,
        "figures": [p for fig in figures for p in fig.paths],
    }


# --------------------------------------------------------------------------
# the content
# --------------------------------------------------------------------------
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _json_list(text: Any) -> list[Any]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return []
    return value if isinstance(value, list) else []


def _minutes(study: Path) -> dict[str, float]:
    """Seconds each subject's run took, as recorded in study.json, in minutes."""
    record = _read_json(study / STUDY_NAME)
    seconds = record.get("seconds") if isinstance(record, dict) else None
    if not isinstance(seconds, dict):
        return {}
    out = {}
    for subject, value in seconds.items():
        try:
            value = float(value)
        except (TypeError, ValueError):
            continue
        if np.isfinite(value):
            out[str(subject)] = value / 60
    return out


def _subjects(group: xr.Dataset, study: Path, out: Path) -> list[dict[str, Any]]:
    minutes = _minutes(study)
    accuracy = group["accuracy"].values if "accuracy" in group else None
    n_trials = group["n_trials"].values if "n_trials" in group else None
    rows = []
    for i, subject in enumerate(str(s) for s in group["subject"].values):
        report = study / SUBJECTS_NAME / subject / REPORT_NAME
        link = None
        if report.is_file():
            link = Path(os.path.relpath(report, out.parent)).as_posix()
        trials = int(n_trials[i]) if n_trials is not None else -1
        mins = minutes.get(subject)
        rows.append(
            {
                "subject": subject,
                "accuracy": _percent(accuracy[i]) if accuracy is not None else None,
                "n_trials": str(trials) if trials >= 0 else None,
                "minutes": f"{mins:.1f}" if mins is not None else None,
                "link": link,
            }
        )
    return rows


def _failures(group: xr.Dataset, study: Path) -> list[dict[str, str]]:
    recorded = _read_json(study / FAILURES_NAME)
    recorded = recorded if isinstance(recorded, dict) else {}
    names = [str(s) for s in _json_list(group.attrs.get("failed_subjects"))]
    names += [s for s in recorded if s not in names]
    rows = []
    for subject in sorted(names, key=lambda s: (len(s), s)):
        info = recorded.get(subject)
        info = info if isinstance(info, dict) else {}
        rows.append(
            {
                "subject": subject,
                "error_type": str(info.get("error_type", "")) or "—",
                "message": str(info.get("message", "")) or "no details recorded",
                "traceback": str(info.get("traceback", "")),
            }
        )
    return rows


def _test_sentence(group: xr.Dataset, prefix: str, n: int) -> str:
    flips = group.attrs.get(f"{prefix}_n_flips")
    if flips is None:
        return ""
    flips = int(flips)
    if bool(group.attrs.get(f"{prefix}_exact", False)):
        patterns = f"exact: all 2^{n - 1} = {flips} sign patterns"
    else:
        patterns = f"{flips} random sign patterns"
    n_cells = int(np.isfinite(group[f"{prefix}_p"].values).sum())
    return f"{patterns}; {n_cells} of {group[f'{prefix}_p'].size} cells tested"


def _statistics(group: xr.Dataset) -> list[str]:
    """The paragraphs on the tests, from the settings stored in the group file."""
    n = int(group.sizes["subject"])
    diff = _test_sentence(group, "diff", n)
    paragraph = (
        f"Each subject's map of trained − untrained mean |r| (layer × band × "
        f"channel) is tested against 0 across the {n} subjects with a one-sample "
        "sign-flip permutation t-test (mne.stats.permutation_t_test, two-sided): "
        "per cell t = mean / (sd / √n), its null distribution from flipping the "
        "signs of whole subjects' maps, the same flips for every cell"
        + (f" ({diff})" if diff else "")
        + ". p_FWER is corrected for the family-wise error over all tested cells "
        "by the maximum |t| over cells (max-t); p is the cell's own uncorrected "
        "p-value from the same sign flips, and q_FDR its Benjamini–Hochberg "
        "adjustment over all tested cells. A cell that is NaN in any subject, "
        "or whose |value| is equal in all, is not tested."
    )
    if "excess_p" in group.variables:
        excess = _test_sentence(group, "excess", n)
        paragraph += (
            " The trained − untrained mean |r| above chance (each network's mean "
            "|r| less the mean |r| of its units against the envelopes of another "
            "trial) is tested the same way" + (f" ({excess})" if excess else "") + "."
        )
    if "class_p" in group.variables:
        classes = _test_sentence(group, "class", n)
        paragraph += (
            " The envelope–class correlations (band × channel × class) are tested "
            "the same way" + (f" ({classes})" if classes else "") + "."
        )
    flips = group.attrs.get("diff_n_flips")
    if flips:
        paragraph += (
            f" With {int(flips)} sign patterns no p-value can be below "
            f"1/{int(flips)} = {1 / int(flips):.3g}."
        )
    paragraphs = [
        paragraph,
        "In the scalp maps, white dots mark electrodes with p_FWER < 0.05; the "
        "maps show the mean over subjects.",
    ]
    if "subject_diff_z" in group.variables:
        paragraphs.append(
            "subject_diff_z (group.nc): each subject's trained mean |r| as a z-score "
            "against the mean |r| of its untrained initialisations."
        )
    return paragraphs


def _truth(group: xr.Dataset) -> dict[str, Any] | None:
    """The known answer of a study on the simulated data, as the report shows it."""
    if not is_simulated(group):
        return None
    recovery = truth_recovery(group)
    effects = [
        {
            "cls": row["class"].replace("_", " "),
            "band": row["band"],
            "channel": row["channel"],
            "change": f"{row['strength']:+.0%}",
            "corr": f"{row['corr']:+.3f}",
            "t": f"{row['t']:+.1f}",
            "p_fwer": f"{row['p_fwer']:.3g}",
            "q_fdr": f"{row['q_fdr']:.3g}",
            "found": bool(row["found"]),
        }
        for _, row in recovery.effects.iterrows()
    ]
    bands = recovery.class_bands
    empty = bands[bands["effects"] == 0]
    n_found, n_effects = int(bands["found"].sum()), int(bands["effects"].sum())
    summary = None
    if len(bands):
        summary = (
            f"The class test finds {n_found} of {n_effects} effects "
            f"(p_FWER < {recovery.alpha:g}, with the simulated sign)"
        )
        if len(empty):
            summary += (
                f" and {int(empty['elsewhere'].sum())} of "
                f"{int(empty['cells'].sum())} cells in the bands that hold no "
                f"effect ({', '.join(empty['band'])})"
            )
        summary += "."
    maps = [
        {
            "band": row["band"],
            "layer": row["layer"],
            "simulated": " ".join(row["simulated"]) or "—",
            "found": " ".join(row["found"]) or "—",
            "found_fdr": " ".join(row["found_fdr"]) or "—",
            "elsewhere": row["elsewhere"],
            "lower": row["lower"],
        }
        for _, row in recovery.maps.iterrows()
    ]
    return {
        "alpha": f"{recovery.alpha:g}",
        "effects": effects,
        "summary": summary,
        "maps": maps,
        "excess": recovery.test == "excess",
        "found": f"{n_found}/{n_effects}" if len(bands) else None,
    }


def _context(
    group: xr.Dataset, study: Path, out: Path, title: str | None
) -> dict[str, Any]:
    n = int(group.sizes["subject"])
    model, dataset = _attr(group, "model_name"), _attr(group, "dataset")
    subjects = _subjects(group, study, out)
    failures = _failures(group, study)
    accuracy = group["accuracy"].values if "accuracy" in group else np.array([])
    finite = accuracy[np.isfinite(accuracy)]
    mean_acc = _percent(finite.mean()) if finite.size else None
    subtitle = " · ".join(p for p in (model, dataset, f"{n} subjects") if p)
    truth = _truth(group)
    highlights = [
        ("Subjects", n),
        ("Failed", len(failures)),
        ("Mean test accuracy", mean_acc),
        ("Simulated effects found", truth["found"] if truth else None),
        ("Model", model),
        ("Layers", group.sizes.get("layer")),
        ("Bands", group.sizes.get("band")),
        ("Channels", group.sizes.get("channel")),
    ]
    return {
        "title": title or "Envelope–activation correlation maps: group study",
        "subtitle": subtitle if title is None else None,
        "created": _attr(group, "created"),
        "envcorr_version": __version__,
        "highlights": [(k, str(v)) for k, v in highlights if v is not None],
        "subjects": subjects,
        "has_minutes": any(s["minutes"] for s in subjects),
        "failures": failures,
        "statistics": _statistics(group),
        "truth": truth,
        "bands": _bands(group),
        "config": _json_block(_attr(group, "config")),
        "versions": _versions(_attr(group, "versions")),
    }
