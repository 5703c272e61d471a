"""The EEG Motor Movement/Imagery dataset of PhysioNet (``eegmmidb``), offline.

109 subjects, 64 EEG channels at 160 Hz, 14 EDF+ runs each (Schalk et al.
2004), in the folder layout of :func:`mne.datasets.eegbci.load_data`::

    <data_path>/MNE-eegbci-data/files/eegmmidb/1.0.0/S001/S001R04.edf

Each run's annotations are ``T0`` (rest), ``T1`` and ``T2``, whose meaning
depends on the run:

=========  ===================================  ===========  ===========
run        task                                 T1           T2
=========  ===================================  ===========  ===========
3, 7, 11   motor execution, left vs right hand  left_hand    right_hand
4, 8, 12   motor imagery, left vs right hand    left_hand    right_hand
5, 9, 13   motor execution, hands vs feet       hands        feet
6, 10, 14  motor imagery, hands vs feet         hands        feet
=========  ===================================  ===========  ===========

Nothing is downloaded here: the files must already be on this machine.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mne

from .._utils.check import check_int, check_path_exists, invalid
from .._utils.logs import logger, verbose
from ._epoching import trials_from_raws
from ._montage import STANDARD_MONTAGE
from ._trials import Trials

#: Number of subjects (numbered 1 to 109).
N_SUBJECTS = 109
#: The motor-imagery runs, loaded by default.
IMAGERY_RUNS = (4, 6, 8, 10, 12, 14)
#: Sampling rate of the files, Hz.
SFREQ = 160.0

_LEFT_RIGHT = ("left_hand", "right_hand")
_HANDS_FEET = ("hands", "feet")
#: Classes of T1 and T2 in each run.
RUN_CLASSES = {
    run: _LEFT_RIGHT if run % 4 in (3, 0) else _HANDS_FEET for run in range(3, 15)
}
_RUN_TASK = {3: "execution left/right", 0: "imagery left/right"}
_RUN_TASK.update({1: "execution hands/feet", 2: "imagery hands/feet"})
_SUBFOLDER = Path("MNE-eegbci-data", "files", "eegmmidb", "1.0.0")
TRAIN, TEST = "0train", "1test"


def physionet_mi_root(data_path: str | os.PathLike | None = None) -> Path:
    """The folder holding the ``S001``, ``S002``, ... folders.

    ``data_path`` is the folder that holds ``MNE-eegbci-data`` (as the
    ``path`` of :func:`mne.datasets.eegbci.load_data`); None uses MNE's
    configuration ``MNE_DATASETS_EEGBCI_PATH``, else ``MNE_DATA``, else
    ``~/mne_data``.
    """
    if data_path is None:
        data_path = (
            mne.get_config("MNE_DATASETS_EEGBCI_PATH")
            or mne.get_config("MNE_DATA")
            or Path("~", "mne_data")
        )
    return Path(data_path).expanduser() / _SUBFOLDER


def physionet_mi_files(
    subject: int, runs: Sequence[int], data_path: str | os.PathLike | None = None
) -> list[Path]:
    """Expected local path of each run's EDF file."""
    root = physionet_mi_root(data_path)
    return [root / f"S{subject:03d}" / f"S{subject:03d}R{run:02d}.edf" for run in runs]


def _check_runs(runs: Any) -> list[int]:
    if runs is None:
        return list(IMAGERY_RUNS)
    if isinstance(runs, int):
        runs = [runs]
    if isinstance(runs, str) or not isinstance(runs, Sequence) or not runs:
        raise invalid(
            "runs",
            f"expected a list of run numbers, got {runs!r}.",
            f"E.g. runs={list(IMAGERY_RUNS)} (the imagery runs, the default).",
        )
    out = [check_int("runs", r) for r in runs]
    bad = [r for r in out if r not in RUN_CLASSES]
    if bad:
        raise invalid(
            "runs",
            f"{bad} are not task runs (runs 1 and 2 are resting baselines without "
            "cues; the dataset has runs 1-14).",
            "Use runs 3-14: imagery 4, 8, 12 (left/right hand) and 6, 10, 14 "
            "(hands/feet); execution 3, 7, 11 and 5, 9, 13.",
        )
    if len(set(out)) != len(out):
        raise invalid("runs", f"run numbers repeat in {out}.")
    return sorted(out)


def session_of_runs(runs: Sequence[int]) -> list[str]:
    """``"0train"`` or ``"1test"`` for each run (see :func:`load_physionet_mi`)."""
    labels = []
    for run in runs:
        same_task = [r for r in runs if r % 4 == run % 4]
        last = len(same_task) > 1 and run == max(same_task)
        labels.append(TEST if last else TRAIN)
    return labels


def _check_files(subject: int, runs: list[int], data_path: Any) -> list[Path]:
    paths = physionet_mi_files(subject, runs, data_path)
    missing = [p for p in paths if not p.is_file()]
    if missing:
        root = physionet_mi_root(data_path).parents[3]
        listing = "\n".join(f"  {p}" for p in missing)
        raise invalid(
            "data_path",
            f"{len(missing)} file(s) of PhysioNet MI subject {subject} are not on "
            f"this machine (nothing is downloaded here):\n{listing}\n",
            f"On a machine with internet run mne.datasets.eegbci.load_data("
            f"{subject}, runs={runs}, path='<folder>') and copy "
            f"'<folder>/MNE-eegbci-data' into '{root}', or pass data_path= the "
            "folder that holds 'MNE-eegbci-data' (the default comes from MNE's "
            "config 'MNE_DATASETS_EEGBCI_PATH', else 'MNE_DATA', else ~/mne_data).",
        )
    return paths


def _read_run(path: Path, run: int, include_rest: bool) -> mne.io.BaseRaw:
    from .files import _read_raw

    raw = _read_raw(path)
    first, second = RUN_CLASSES[run]
    names = {"T1": first, "T2": second, "T0": "rest" if include_rest else "T0"}
    ann = raw.annotations
    raw.set_annotations(
        mne.Annotations(
            ann.onset,
            ann.duration,
            [names.get(str(d).strip(), str(d)) for d in ann.description],
            orig_time=ann.orig_time,
        )
    )
    return raw


@verbose
def load_physionet_mi(
    subject: int,
    *,
    runs: Sequence[int] | None = None,
    include_rest: bool = False,
    data_path: str | os.PathLike | None = None,
    tmin: float = 0.0,
    tmax: float = 4.0,
    resample: float | None = None,
    car: bool = True,
    verbose: bool | str | int | None = None,
) -> Trials:
    """Load one subject of the PhysioNet EEG Motor Movement/Imagery dataset.

    The files must be on this machine (see ``data_path``); a missing file is
    reported at once, with its expected path, and never downloaded.

    Parameters
    ----------
    subject : int
        Subject number, 1–109.
    runs : sequence of int | None
        Runs to load; None loads the imagery runs 4, 8, 12 (left vs right
        hand) and 6, 10, 14 (hands vs feet). Execution runs (3, 7, 11 and 5, 9,
        13) give the same class names.
    include_rest : bool
        Also cut trials at the rest annotations (``T0``), class ``"rest"``.
    data_path : path-like | None
        Folder holding ``MNE-eegbci-data`` (the ``path`` given to
        :func:`mne.datasets.eegbci.load_data`); the files are then at
        ``MNE-eegbci-data/files/eegmmidb/1.0.0/S001/S001R04.edf``. None uses
        MNE's config ``MNE_DATASETS_EEGBCI_PATH``, else ``MNE_DATA``, else
        ``~/mne_data``.
    tmin, tmax : float
        Trial window around the cue in seconds, ``tmax`` exclusive. The
        default [0, 4) covers the imagery, which lasts about 4 s after the cue
        (the annotations are 4.1–4.2 s apart).
    resample : float | None
        Resample to this rate (Hz) before cutting; None keeps 160 Hz.
    car : bool
        Re-reference to the common average of the EEG channels.
    verbose : bool | str | int | None
        Logging level.

    Returns
    -------
    trials : Trials
        64 EEG channels named as in the standard 10-05 montage (``"Fc5."`` →
        ``"FC5"``, ``"Cz.."`` → ``"Cz"``), with its positions; classes
        ``left_hand``, ``right_hand`` (runs 3, 4, 7, 8, 11, 12), ``hands``,
        ``feet`` (the other task runs), those of the runs loaded in this order,
        then ``rest`` with ``include_rest``; ``continuous`` holds the runs.

    Notes
    -----
    The dataset has a single session, so ``session`` labels define the split
    into training and test data that envcorr uses (first session trains, last
    tests): for each kind of run (imagery left/right, imagery hands/feet,
    execution left/right, execution hands/feet), its last run loaded is
    ``"1test"`` and the earlier ones are ``"0train"``. With the default runs,
    runs 4, 6, 8, 10 train and runs 12 and 14 test (two thirds, one third). A
    kind with a single run loaded goes to training.
    """
    subject = check_int("subject", subject)
    if not 1 <= subject <= N_SUBJECTS:
        raise invalid(
            "subject",
            f"PhysioNet MI has no subject {subject}.",
            f"Use a subject from 1 to {N_SUBJECTS}.",
        )
    runs = _check_runs(runs)
    if not isinstance(include_rest, bool):
        raise invalid("include_rest", f"expected True or False, got {include_rest!r}.")
    if data_path is not None:
        data_path = check_path_exists("data_path", data_path)
    paths = _check_files(subject, runs, data_path)
    classes = list(dict.fromkeys(c for run in runs for c in RUN_CLASSES[run]))
    if include_rest:
        classes.append("rest")
    raws = [_read_run(p, r, include_rest) for p, r in zip(paths, runs, strict=True)]
    logger.info("PhysioNet MI subject %d: runs %s.", subject, runs)
    return trials_from_raws(
        raws,
        event_id={c: c for c in classes},
        tmin=tmin,
        tmax=tmax,
        resample=resample,
        car=car,
        montage=STANDARD_MONTAGE,
        sessions=session_of_runs(runs),
        subject=str(subject),
        names=[p.name for p in paths],
        description={
            "source": "physionet",
            "dataset": "PhysionetMI",
            "subject": subject,
            "runs": runs,
            "files": [str(p) for p in paths],
        },
    )
