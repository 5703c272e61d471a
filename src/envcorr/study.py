"""A study: ``envcorr run`` for many subjects on a Dask cluster, and group maps.

Each subject (load → train → analyse → write) is one Dask task that calls
:func:`envcorr.workflow.run` with the subject's own output folder,
``OUT/subjects/<subject>/``. By default the study starts a
:class:`distributed.LocalCluster` of worker processes on this machine; with
``scheduler`` it uses a running cluster (``"tcp://host:port"`` or a scheduler
JSON file). When every subject has finished, ``OUT/group.nc`` holds the
subjects' maps side by side, their means and the group statistics, and
``OUT/report.html`` (with ``OUT/figures/group_*``) shows them with a table of
the subjects linking to their own reports.

Nothing is lost:

* a subject's folder counts as finished when its ``results.nc`` exists (it is
  written last and atomically); running the same study again reuses every
  finished subject without touching it, and runs the others;
* the study's options are stored in ``OUT/study.json`` (with the minutes each
  subject's run took); running it again with other options (anything except
  the subjects and the cluster options) is refused unless ``overwrite``;
* a subject that fails is recorded (error type and message) in
  ``OUT/failures.json`` while the others go on; a later run retries it;
* a worker process that dies (killed, out of memory) has its subject
  rescheduled by Dask on another worker; Ctrl-C loses only the subjects in
  flight.

This module imports neither torch nor dask until a study runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import re
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._utils.check import check_int, invalid
from ._utils.io import atomic_path
from ._utils.jsonutil import stringified
from ._utils.logs import logger, verbose
from ._utils.versions import versions
from .cluster import StudyCluster, check_scheduler, count_gpus
from .config import FIGURES_NAME, REPORT_NAME, RESULTS_NAME, SIMULATED, RunConfig

STUDY_NAME = "study.json"
FAILURES_NAME = "failures.json"
GROUP_NAME = "group.nc"
SUBJECTS_NAME = "subjects"
DEFAULT_OUT = "envcorr-study"

#: Subjects of each data source that ``subjects="all"`` means.
N_SUBJECTS = {
    SIMULATED: 9,
    "BNCI2014_001": 9,
    "Schirrmeister2017": 14,
    "PhysionetMI": 109,
}

#: Options that may change between runs of one study (they do not change results).
_FREE_OPTIONS = ("subject", "out", "overwrite")


# --------------------------------------------------------------------------
# subjects and their data
# --------------------------------------------------------------------------
def _sources(config: RunConfig) -> list[str]:
    items: list[str] = []
    for spec in (config.data, config.test_data):
        if spec is not None:
            items.extend([spec] if isinstance(spec, str) else spec)
    return items


def is_template(config: RunConfig) -> bool:
    """Whether the data are files per subject, e.g. ``'A{subject:02d}T.gdf'``."""
    return any("{subject" in item for item in _sources(config))


def _dataset(config: RunConfig) -> str | None:
    """``"simulated"``, the MOABB/local dataset name, or None for files."""
    data = config.data
    if isinstance(data, str) and data.lower() in ("simulated", "simulation"):
        return SIMULATED
    if not isinstance(data, str) or is_template(config):
        return None
    from .data.datasets import resolve_dataset_name

    return resolve_dataset_name(data)


def check_study_data(config: RunConfig) -> str | None:
    """Refuse data that cannot make a study; returns the dataset name or None.

    A study needs one recording per subject: ``"simulated"``, a dataset name,
    or files whose names hold ``{subject}`` (formatted with the subject number,
    e.g. ``'data/A{subject:02d}T.gdf'``).
    """
    if is_template(config):
        for item in _sources(config):
            try:
                item.format(subject=1)
            except (KeyError, IndexError, ValueError) as err:
                raise invalid(
                    "data",
                    f"cannot fill in the subject in {item!r} ({err!r}).",
                    "Write the subject number as {subject} or {subject:02d}, and "
                    "no other braces.",
                ) from None
        return None
    dataset = _dataset(config)
    if dataset is None:
        raise invalid(
            "data",
            f"{config.data!r} is one recording; a study needs one per subject.",
            "Give 'simulated', a dataset (bnci2014_001, schirrmeister2017, "
            "physionet_mi) or files named with {subject}, e.g. "
            "'data/A{subject:02d}T.gdf'.",
        )
    return dataset


def parse_subjects(spec: str | int | Sequence[int], dataset: str | None) -> list[int]:
    """Subject numbers from ``"1-9"``, ``"1,3,5"``, ``"1-3,7"``, ``"all"`` or a list.

    ``"all"`` is every subject of ``dataset`` (:data:`N_SUBJECTS`); numbers
    outside the dataset's subjects are refused. Returned sorted, once each.
    """
    fix = "Give subjects as 'all', a range '1-9', a list '1,3,5' or both '1-3,7'."
    if isinstance(spec, bool):
        raise invalid("subjects", f"{spec!r}.", fix)
    n_max = N_SUBJECTS.get(dataset) if dataset is not None else None
    if isinstance(spec, int):
        numbers = [spec]
    elif isinstance(spec, str):
        text = spec.strip().lower()
        if text == "all":
            if n_max is None:
                raise invalid(
                    "subjects",
                    "'all' needs a dataset whose subjects envcorr knows; files "
                    "named with {subject} can be any subjects.",
                    "Give the subjects as a range '1-9' or a list '1,3,5'.",
                )
            return list(range(1, n_max + 1))
        numbers = []
        for item in text.split(","):
            m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", item)
            if m is None:
                raise invalid("subjects", f"cannot read {item.strip()!r}.", fix)
            first = int(m[1])
            last = int(m[2]) if m[2] is not None else first
            if last < first:
                raise invalid("subjects", f"the range {item.strip()!r} is empty.", fix)
            numbers.extend(range(first, last + 1))
    else:
        try:
            numbers = [check_int("subjects", s) for s in spec]
        except TypeError:
            raise invalid("subjects", f"{spec!r}.", fix) from None
    if not numbers:
        raise invalid("subjects", "no subject given.", fix)
    for s in numbers:
        if s < 1 or (n_max is not None and s > n_max):
            where = f" of {dataset} (1-{n_max})" if n_max is not None else " (>= 1)"
            raise invalid("subjects", f"{s} is not a subject{where}.", fix)
    return sorted(set(numbers))


def subject_config(config: RunConfig, subject: int, out: Path) -> RunConfig:
    """The ``envcorr run`` options of one subject of the study.

    Its output goes to ``out/subjects/<subject>``, replacing an unfinished
    attempt (``overwrite=True``); files named with ``{subject}`` are filled in.
    """

    def fill(spec: str | list[str] | None) -> str | list[str] | None:
        if spec is None:
            return None
        if isinstance(spec, str):
            return spec.format(subject=subject)
        return [s.format(subject=subject) for s in spec]

    template = is_template(config)
    return dataclasses.replace(
        config,
        data=fill(config.data) if template else config.data,
        test_data=fill(config.test_data) if template else config.test_data,
        subject=None if template else subject,
        out=str(subject_dir(out, subject)),
        overwrite=True,
        formats=list(config.formats),
    )


def subject_dir(out: Path, subject: int) -> Path:
    """The output folder of one subject of the study in ``out``."""
    return out / SUBJECTS_NAME / str(subject)


def is_finished(out: Path, subject: int) -> bool:
    """Whether a subject's results are complete (its results.nc exists)."""
    return (subject_dir(out, subject) / RESULTS_NAME).is_file()


# --------------------------------------------------------------------------
# the study's record: study.json and failures.json
# --------------------------------------------------------------------------
def study_options(config: RunConfig, n_permutations: int) -> dict[str, Any]:
    """The options that make the study's results (all but subjects and cluster)."""
    options = {k: v for k, v in config.to_dict().items() if k not in _FREE_OPTIONS}
    options["n_permutations"] = n_permutations
    return stringified(options)


def _write_json(path: Path, value: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def _read_json(path: Path, name: str) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise invalid(
            name,
            f"cannot read '{path}' ({err}).",
            "Remove the file or pass --overwrite to start the study again.",
        ) from None


def _check_same_study(out: Path, options: dict[str, Any]) -> None:
    """Refuse to go on with a study made with other options."""
    path = out / STUDY_NAME
    if not path.is_file():
        return
    stored = _read_json(path, "out")
    old = stored.get("options", {}) if isinstance(stored, dict) else {}
    for name in sorted(set(options) | set(old)):
        if options.get(name) != old.get(name):
            raise invalid(
                name,
                f"'{out}' holds a study made with {name}={old.get(name)!r}, not "
                f"{options.get(name)!r}.",
                "Use the same options to resume it, another output folder, or "
                "--overwrite to start it again.",
            )


def _start_over(out: Path, subjects: list[int]) -> None:
    """``overwrite``: forget earlier results of these subjects and of the group."""
    for subject in subjects:
        (subject_dir(out, subject) / RESULTS_NAME).unlink(missing_ok=True)
    (out / FAILURES_NAME).unlink(missing_ok=True)
    _remove_group(out)


def _remove_group(out: Path) -> None:
    """Remove the group file, the group report and the group figures."""
    for name in (GROUP_NAME, REPORT_NAME):
        (out / name).unlink(missing_ok=True)
    figures = out / FIGURES_NAME
    if figures.is_dir():
        for path in figures.glob("group_*.*"):
            path.unlink(missing_ok=True)


def _seconds_before(out: Path, keep: list[int]) -> dict[str, float]:
    """Seconds the runs of the subjects in ``keep`` took, as an earlier run recorded."""
    path = out / STUDY_NAME
    if not path.is_file():
        return {}
    try:
        seconds = json.loads(path.read_text()).get("seconds", {})
        return {str(s): float(seconds[str(s)]) for s in keep if str(s) in seconds}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def _write_failures(out: Path, failures: dict[int, dict[str, str]]) -> None:
    path = out / FAILURES_NAME
    if failures:
        _write_json(path, {str(s): failures[s] for s in sorted(failures)})
    else:
        path.unlink(missing_ok=True)


def _read_failures(out: Path) -> dict[int, dict[str, str]]:
    path = out / FAILURES_NAME
    if not path.is_file():
        return {}
    try:
        return {int(k): v for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


# --------------------------------------------------------------------------
# the task: one subject on a worker
# --------------------------------------------------------------------------
def run_subject(
    config: RunConfig,
    subject: int,
    *,
    whole_worker: bool = True,
    n_gpus: int = 0,
    log_level: str = "WARNING",
) -> dict[str, Any]:
    """Run one subject on a Dask worker: the study's task.

    Torch uses as many threads as the worker has (``whole_worker``: the
    worker runs one subject at a time) or one (the worker runs one subject per
    thread); its setting is restored afterwards. With ``n_gpus``, the subject
    runs on GPU ``worker index % n_gpus``. Dask's eager memory trimming is
    turned off in the worker process (:func:`envcorr.cluster.relax_malloc_trim`).
    Errors are returned, not raised, as
    ``{"ok": False, "error_type", "message", "traceback"}``.
    """
    import torch

    from . import workflow
    from .cluster import relax_malloc_trim

    relax_malloc_trim()
    threads = 1
    worker_name: Any = None
    try:
        from distributed import get_worker

        worker = get_worker()
        worker_name = worker.name
        if whole_worker:
            threads = max(1, int(worker.state.nthreads))
    except (ImportError, ValueError, AttributeError):
        pass
    if n_gpus and config.device in (None, "cuda"):
        index = worker_name if isinstance(worker_name, int) else 0
        config = dataclasses.replace(config, device=f"cuda:{index % n_gpus}")
    old_threads = torch.get_num_threads()
    start = time.perf_counter()
    torch.set_num_threads(threads)
    try:
        summary = workflow.run(config, verbose=log_level)
    except Exception as err:
        return {
            "subject": subject,
            "ok": False,
            "error_type": type(err).__name__,
            "message": str(err),
            "traceback": traceback.format_exc(),
            "seconds": time.perf_counter() - start,
        }
    finally:
        torch.set_num_threads(old_threads)
    return {
        "subject": subject,
        "ok": True,
        "test_accuracy": float(summary["test_accuracy"]),
        "train_accuracy": float(summary["train_accuracy"]),
        "seconds": time.perf_counter() - start,
        "torch_threads": threads,
    }


# --------------------------------------------------------------------------
# the study
# --------------------------------------------------------------------------
def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


@verbose
def run_study(
    config: RunConfig,
    *,
    subjects: str | int | Sequence[int] = "all",
    out: str | os.PathLike = DEFAULT_OUT,
    workers: int | None = None,
    threads_per_worker: int | None = None,
    scheduler: Any = None,
    n_permutations: int = 10000,
    overwrite: bool = False,
    verbose: bool | str | int | None = None,
) -> dict:
    """Run ``envcorr run`` for each subject on Dask workers, then the group maps.

    Parameters
    ----------
    config : RunConfig
        The options of every subject's run; ``subject`` and ``out`` are set
        per subject. ``data`` is ``"simulated"`` (simulated subject k with its
        own physiology), a dataset name, or files named with ``{subject}``
        (``'data/A{subject:02d}T.gdf'``).
    subjects : str | int | list of int
        ``"all"`` (the dataset's subjects; 1-9 for the simulated data), a
        range ``"1-9"``, a list ``"1,3,5"`` or a list of numbers.
    out : path-like
        The study's folder: ``subjects/<subject>/`` (each subject's
        results.nc, figures, report.html, checkpoint/), ``study.json``,
        ``failures.json`` (only while a subject failed), ``group.nc``, and the
        group report ``report.html`` with its figures in ``figures/``
        (``group_*.png``, and ``.svg`` when ``config.formats`` has it).
    workers, threads_per_worker : int | None
        Shape of the local cluster (ignored with ``scheduler``). By default
        one single-thread worker per core, no more workers than subjects to
        run, the cores shared among them; each worker runs one subject at a
        time with as many torch threads as it has threads. When CUDA is
        available (and ``config.device`` is not ``"cpu"``), one worker per GPU
        by default, worker i on GPU ``i % n_gpus`` (untested here).
    scheduler : str | distributed.Client | None
        A running cluster: its address (``"tcp://host:8786"``), its scheduler
        file, or a Client (left open). Workers started with
        ``--resources subject=1`` run one subject at a time with all their
        threads; otherwise one subject per thread, one torch thread each.
    n_permutations : int
        Random sign patterns of the group tests with more than 12 subjects
        (up to 12, every pattern is used).
    overwrite : bool
        Start again: run every subject anew, also when the study in ``out``
        was made with other options (refused otherwise).
    verbose : bool | str | int | None
        Logging level of the study (the subjects' runs log warnings only,
        or everything at DEBUG).

    Returns
    -------
    summary : dict
        ``subjects`` (finished, in order), ``failed`` (``{subject: error}``),
        ``reused`` (subjects found finished), ``accuracy``
        (``{subject: test accuracy}`` of this run's subjects) and
        ``paths``: ``out``, ``group``, ``report`` and ``figures`` (None with
        fewer than 2 finished subjects), ``failures`` (None when none failed).
    """
    from .config import check_writable_dir

    if not isinstance(config, RunConfig):
        raise invalid(
            "config", f"expected an envcorr.config.RunConfig, got {config!r}."
        )
    n_permutations = check_int("n_permutations", n_permutations, minimum=2)
    for name, value in (
        ("workers", workers),
        ("threads_per_worker", threads_per_worker),
    ):
        if value is not None:
            check_int(name, value, minimum=1)
    if not isinstance(overwrite, bool):
        raise invalid("overwrite", f"expected True or False, got {overwrite!r}.")
    check_scheduler(scheduler)
    dataset = check_study_data(config)
    subjects = parse_subjects(subjects, dataset)
    out = Path(out).expanduser()
    options = study_options(config, n_permutations)
    from .workflow import check_sources

    configs = {s: subject_config(config, s, out) for s in subjects}
    for cfg in configs.values():
        cfg.check()
        check_sources(cfg)
    if (out / STUDY_NAME).exists() and not overwrite:
        _check_same_study(out, options)
    check_writable_dir(out)
    if overwrite:
        _start_over(out, subjects)
    reused = [s for s in subjects if is_finished(out, s)]
    todo = [s for s in subjects if s not in reused]
    record = {
        "options": options,
        "subjects": subjects,
        "versions": versions(),
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        # seconds each subject's run took (subjects run by this or earlier runs)
        "seconds": {} if overwrite else _seconds_before(out, reused),
    }
    _write_json(out / STUDY_NAME, record)

    failures = _read_failures(out)
    for s in reused:
        failures.pop(s, None)
    accuracy: dict[int, float] = {}
    logger.info(
        "Study of %d subjects in %s: %d finished before, %d to run",
        len(subjects),
        out,
        len(reused),
        len(todo),
    )
    if todo:
        _run_subjects(
            configs,
            todo,
            out,
            failures,
            accuracy,
            record,
            workers,
            threads_per_worker,
            scheduler,
            config,
        )
    _write_failures(out, failures)
    finished = [s for s in subjects if is_finished(out, s)]
    failed = {s: failures[s] for s in subjects if s in failures}
    group = report = None
    if len(finished) >= 2:
        from .group import write_group

        group = write_group(
            out / GROUP_NAME,
            {s: subject_dir(out, s) / RESULTS_NAME for s in finished},
            options=options,
            n_permutations=n_permutations,
            failed=sorted(failed),
        )
        logger.info("Group maps of %d subjects: %s", len(finished), group)
        report = _group_report(out, group, config.formats)
    else:
        _remove_group(out)
        logger.warning(
            "Only %d subject(s) finished: no group maps (group.nc needs 2).",
            len(finished),
        )
    if failed:
        logger.warning(
            "%d subject(s) failed: %s (see %s; running the study again retries them).",
            len(failed),
            ", ".join(map(str, failed)),
            out / FAILURES_NAME,
        )
    return {
        "subjects": finished,
        "failed": failed,
        "reused": reused,
        "accuracy": accuracy,
        "paths": {
            "out": out,
            "group": group,
            "report": report,
            "figures": out / FIGURES_NAME if report is not None else None,
            "failures": out / FAILURES_NAME if failed else None,
        },
    }


def _above_the_bar() -> contextlib.AbstractContextManager:
    """Log lines written above the progress bar instead of through it.

    Only when envcorr logs to the console (tqdm would otherwise add a second
    console handler).
    """
    console = any(
        isinstance(h, logging.StreamHandler) and h.stream in (sys.stdout, sys.stderr)
        for h in logger.handlers
    )
    if not console:
        return contextlib.nullcontext()
    from tqdm.contrib.logging import logging_redirect_tqdm

    return logging_redirect_tqdm(loggers=[logger])


def _group_report(out: Path, group: Path, formats: Sequence[str]) -> Path:
    """Draw the group figures into ``out/figures`` and write ``out/report.html``."""
    from .group import read_group
    from .group_report import make_group_report
    from .viz.group import draw_group_figures

    ds = read_group(group)
    figures = draw_group_figures(ds, out / FIGURES_NAME, formats=tuple(formats))
    report = make_group_report(ds, out / REPORT_NAME, study_dir=out, figures=figures)
    logger.info("Group report: %s", report)
    return report


def _run_subjects(
    configs: dict[int, RunConfig],
    todo: list[int],
    out: Path,
    failures: dict[int, dict[str, str]],
    accuracy: dict[int, float],
    record: dict[str, Any],
    workers: int | None,
    threads_per_worker: int | None,
    scheduler: Any,
    config: RunConfig,
) -> None:
    """Submit one task per subject and collect them as they finish.

    A progress bar (hidden unless the log level is INFO or lower) counts the
    subjects done; each finished subject logs one line with its accuracy and
    minutes, and its seconds are recorded in ``record`` (study.json).
    """

    from distributed import as_completed

    from ._utils.logs import progress

    n_gpus = count_gpus(config) if scheduler is None else 0
    cluster = StudyCluster(scheduler, len(todo), workers, threads_per_worker, n_gpus)
    log_level = "DEBUG" if logger.isEnabledFor(logging.DEBUG) else "WARNING"
    start = time.perf_counter()
    try:
        futures = {
            cluster.client.submit(
                run_subject,
                configs[s],
                s,
                whole_worker=cluster.whole_worker,
                n_gpus=n_gpus,
                log_level=log_level,
                key=f"envcorr-subject-{s}-{os.getpid()}-{time.time_ns()}",
                pure=False,
                resources=cluster.resources,
            ): s
            for s in todo
        }
        done = 0
        with _above_the_bar():
            # one refresh per finished subject (few, minutes apart), so that none
            # is skipped however close together subjects finish
            bar = progress(
                as_completed(futures),
                desc="Subjects",
                total=len(todo),
                unit="subject",
                mininterval=0,
                miniters=1,
            )
            for future in bar:
                subject = futures[future]
                try:
                    result = future.result()
                except Exception as err:
                    result = {
                        "subject": subject,
                        "ok": False,
                        "error_type": type(err).__name__,
                        "message": str(err),
                        "traceback": "".join(traceback.format_exception(err)),
                        "seconds": math.nan,
                    }
                done += 1
                elapsed = time.perf_counter() - start
                left = elapsed / done * (len(todo) - done)
                status = f"{done}/{len(todo)} done, about {_minutes(left)} left"
                if result["ok"]:
                    failures.pop(subject, None)
                    accuracy[subject] = result["test_accuracy"]
                    record["seconds"][str(subject)] = round(result["seconds"], 1)
                    logger.info(
                        "Subject %d: test accuracy %.1f %%, %s (%s)",
                        subject,
                        100 * result["test_accuracy"],
                        _minutes(result["seconds"]),
                        status,
                    )
                else:
                    failures[subject] = {
                        "error_type": result["error_type"],
                        "message": result["message"],
                        "traceback": result["traceback"],
                    }
                    logger.warning(
                        "Subject %d failed: %s: %s (%s)",
                        subject,
                        result["error_type"],
                        result["message"],
                        status,
                    )
                _write_failures(out, failures)
                _write_json(out / STUDY_NAME, record)
    finally:
        cluster.close()


__all__ = [
    "check_study_data",
    "parse_subjects",
    "run_study",
    "run_subject",
    "subject_config",
]
