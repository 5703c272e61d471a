"""Trials from public datasets through MOABB, without MOABB's paradigm filters.

MOABB's ``MotorImagery`` paradigm band-passes 8–32 Hz by default, which would
remove the high-gamma band this analysis looks at. Here the raw runs come from
``dataset.get_data`` and are cut into trials with MNE (:mod:`._epoching`).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._utils.check import check_int, check_path_exists, invalid
from .._utils.logs import logger, verbose
from ._epoching import trials_from_raws
from ._montage import STANDARD_MONTAGE
from ._trials import Trials


@dataclass(frozen=True)
class _DatasetSpec:
    name: str  # MOABB class name
    sign: str  # MOABB's data-path signifier: MNE_DATASETS_<sign>_PATH
    session_from: str  # "session" or "run": which MOABB key becomes Trials.session
    urls: Callable[[int], list[str]]  # files MOABB downloads for a subject


def _bnci2014_001_urls(subject: int) -> list[str]:
    from moabb.datasets.bnci.base import BNCI_URL

    return [f"{BNCI_URL}001-2014/A{subject:02d}{r}.mat" for r in ("T", "E")]


def _schirrmeister2017_urls(subject: int) -> list[str]:
    from moabb.datasets.schirrmeister2017 import GIN_URL

    return [f"{GIN_URL}/{part}/{subject:d}.edf" for part in ("train", "test")]


#: Datasets :func:`load_moabb` knows, by MOABB class name.
DATASETS = {
    # Sessions "0train" and "1test" (the competition's two days).
    "BNCI2014_001": _DatasetSpec("BNCI2014_001", "BNCI", "session", _bnci2014_001_urls),
    # One session whose runs "0train" and "1test" are the paper's split.
    "Schirrmeister2017": _DatasetSpec(
        "Schirrmeister2017", "SCHIRRMEISTER2017", "run", _schirrmeister2017_urls
    ),
}


#: Datasets read from local files without MOABB (:mod:`.physionet`).
LOCAL_DATASETS = ("PhysionetMI",)


def resolve_dataset_name(name: Any) -> str | None:
    """The dataset's name for ``name`` (case and ``-``/``_`` insensitive).

    A key of :data:`DATASETS` (MOABB) or of :data:`LOCAL_DATASETS`
    (``"physionet_mi"``, ``"PhysionetMI"`` → ``"PhysionetMI"``); None if
    ``name`` is neither.
    """
    if not isinstance(name, str):
        return None
    key = name.replace("-", "").replace("_", "").replace(" ", "").lower()
    for known in (*DATASETS, *LOCAL_DATASETS):
        if known.replace("_", "").lower() == key:
            return known
    return None


@contextlib.contextmanager
def _data_path_env(sign: str, data_path: str | os.PathLike | None) -> Iterator[None]:
    """Point MOABB's folder for this dataset at ``data_path`` while loading."""
    if data_path is None:
        yield
        return
    key = f"MNE_DATASETS_{sign}_PATH"
    old = os.environ.get(key)
    os.environ[key] = str(Path(data_path).expanduser())
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def _local_files(spec: _DatasetSpec, subject: int) -> list[tuple[str, Path]]:
    """(url, local path) of each file MOABB needs for ``subject``."""
    from moabb.datasets import download

    root = Path(download.get_dataset_path(spec.sign, None)) / (
        f"MNE-{spec.sign.lower()}-data"
    )
    out = []
    for url in spec.urls(subject):
        try:
            local = Path(download._normalize_destination(url, root))
        except AttributeError:  # private helper of MOABB; fall back to its scheme
            local = root / url.split("://", 1)[-1].split("/", 1)[-1]
        out.append((url, local))
    return out


@verbose
def load_moabb(
    dataset_name: str,
    subject: int,
    *,
    resample: float | None = 250.0,
    car: bool = True,
    tmin: float = -0.5,
    tmax: float = 4.0,
    data_path: str | os.PathLike | None = None,
    verbose: bool | str | int | None = None,
) -> Trials:
    """Load one subject of a MOABB dataset as trials, without band-pass.

    Parameters
    ----------
    dataset_name : str
        ``"BNCI2014_001"`` (BCI Competition IV 2a) or ``"Schirrmeister2017"``
        (High-Gamma Dataset); case, ``-`` and ``_`` do not matter.
    subject : int
        Subject number (1–9 for BNCI2014_001, 1–14 for Schirrmeister2017).
    resample : float | None
        Resample to this rate (Hz) before cutting trials; None keeps the
        dataset's rate (250 Hz for BNCI2014_001, 500 Hz for Schirrmeister2017).
    car : bool
        Re-reference to the common average of the EEG channels.
    tmin, tmax : float
        Trial window around the cue in seconds, ``tmax`` exclusive; the paper
        used [-0.5, 4.0).
    data_path : path-like | None
        Folder holding MOABB's ``MNE-<name>-data`` folder; None uses MNE's
        configuration (``MNE_DATASETS_<NAME>_PATH``, else ``MNE_DATA``, else
        ``~/mne_data``). Missing files are downloaded there.
    verbose : bool | str | int | None
        Logging level.

    Returns
    -------
    trials : Trials
        EEG channels only (EOG, EMG and stim dropped), standard 10-05
        positions, ``continuous`` holding the runs. ``session`` holds MOABB's
        session names (``"0train"``, ``"1test"`` for BNCI2014_001) or, for
        Schirrmeister2017, which MOABB stores as one session, its run names
        (``"0train"``, ``"1test"``: the paper's training and test runs).
        Classes are the dataset's events in the order of their codes.
    """
    name = resolve_dataset_name(dataset_name)
    if name in LOCAL_DATASETS:
        raise invalid(
            "dataset_name",
            f"{name} is not loaded through MOABB.",
            "Use envcorr.data.load_physionet_mi(subject) or "
            "load_data('physionet_mi', subject=...).",
        )
    if name is None:
        raise invalid(
            "dataset_name",
            f"unknown dataset {dataset_name!r}.",
            f"Known datasets: {', '.join(DATASETS)}.",
        )
    spec = DATASETS[name]
    import moabb.datasets

    dataset = getattr(moabb.datasets, spec.name)()
    subject = check_int("subject", subject)
    if data_path is not None:
        data_path = check_path_exists("data_path", data_path)
    if subject not in dataset.subject_list:
        raise invalid(
            "subject",
            f"{name} has no subject {subject}.",
            f"Use one of {dataset.subject_list}.",
        )
    with _data_path_env(spec.sign, data_path):
        sessions = _get_data(dataset, spec, subject)
    raws, labels, names = [], [], []
    for session, runs in sessions.items():
        for run, raw in runs.items():
            raws.append(raw)
            labels.append(session if spec.session_from == "session" else run)
            names.append(f"{name} subject {subject} session {session} run {run}")
    classes = sorted(dataset.event_id, key=dataset.event_id.get)
    logger.info("%s subject %d: %d runs.", name, subject, len(raws))
    return trials_from_raws(
        raws,
        event_id={c: c for c in classes},
        tmin=tmin,
        tmax=tmax,
        resample=resample,
        car=car,
        montage=STANDARD_MONTAGE,
        sessions=labels,
        subject=str(subject),
        names=names,
        description={
            "source": "moabb",
            "dataset": name,
            "subject": subject,
        },
    )


def _get_data(dataset: Any, spec: _DatasetSpec, subject: int) -> dict[str, Any]:
    """``dataset.get_data`` for one subject, with a usable error when offline."""
    try:
        with warnings.catch_warnings():
            # MOABB's own readers still use MNE's deprecated montage names.
            warnings.filterwarnings(
                "ignore", "Montage name 'standard_", category=FutureWarning
            )
            return dataset.get_data(subjects=[subject])[subject]
    except Exception as err:
        missing = [(u, p) for u, p in _local_files(spec, subject) if not p.is_file()]
        if not missing:
            raise
        listing = "; ".join(f"{p} (from {u})" for u, p in missing)
        raise invalid(
            "data_path",
            f"the files of {spec.name} subject {subject} are not on this machine "
            f"and downloading them failed ({type(err).__name__}: {err}). "
            f"Needed: {listing}.",
            f"Download them elsewhere (moabb.datasets.{spec.name}().download("
            f"subject_list=[{subject}])) and copy them to exactly these paths, or "
            f"pass data_path= the folder that holds 'MNE-{spec.sign.lower()}-data' "
            f"(the default comes from MNE's config 'MNE_DATASETS_{spec.sign}_PATH', "
            "set with mne.set_config).",
        ) from err
