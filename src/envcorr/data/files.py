"""Trials from files: any raw format MNE reads, MNE epochs, and ``.npz``.

The ``.npz`` layout (written by :func:`save_npz`, read by :func:`load_npz`):

==================== ============================== ==========================
key                  shape / type                   required
==================== ============================== ==========================
``X``                (n_trials, n_channels, n_times) float, volts    yes
``y``                (n_trials,) int                                  yes
``sfreq``            () float, Hz                                     yes
``ch_names``         (n_channels,) str                                yes
``class_names``      (n_classes,) str; ``y`` indexes it               no
``session``          (n_trials,) str                                  no
``subject``          (n_trials,) str                                  no
``tmin``             () float, s; time of the first sample            no (0)
``ch_pos``           (n_channels, 3) float, m, head frame             no
``continuous_<k>``   (n_channels, n_samples_k) float, recording k     no
``continuous_segment`` (n_trials,) int, recording of each trial       with the above
``continuous_onset`` (n_trials,) int, first sample of each trial      with the above
``description``      () str, JSON                                     no
==================== ============================== ==========================

Without ``class_names``, the distinct values of ``y`` (sorted) become the
classes, named by their value.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import mne
import numpy as np

from .._utils.check import InvalidInputError, check_path_exists, invalid
from .._utils.io import atomic_path
from .._utils.logs import logger, verbose
from ._channels import (
    check_unique_ch_names,
    log_renames,
    read_checking_duplicates,
    standard_ch_names,
    standardize_channels,
)
from ._epoching import check_event_id, trials_from_raws
from ._montage import STANDARD_MONTAGE, channels_without_position, ensure_positions
from ._trials import Recordings, Trials

PathLike = str | os.PathLike
Montage = str | mne.channels.DigMontage | None

_REQUIRED_NPZ = ("X", "y", "sfreq", "ch_names")


@verbose
def load_raw(
    path: PathLike | Sequence[PathLike],
    *,
    event_id: Mapping[str, int | str] | None = None,
    tmin: float = -0.5,
    tmax: float = 4.0,
    resample: float | None = None,
    car: bool = False,
    montage: Montage = STANDARD_MONTAGE,
    session: str | Sequence[str] | None = None,
    subject: str | None = None,
    verbose: bool | str | int | None = None,
) -> Trials:
    """Load trials from continuous recordings in any format MNE reads.

    GDF, EDF, BDF, FIF, BrainVision, EEGLAB and the other formats of
    :func:`mne.io.read_raw`. Trials are cut around events: annotations (what
    most formats store) or, when no annotation matches, the events of stim
    channels, described by their integer code.

    Parameters
    ----------
    path : path-like | sequence of path-like
        One file, or several (runs) with the same channels.
    event_id : dict | None
        ``{class_name: event}``, where ``event`` is an annotation description
        (case-insensitive; BrainVision's ``"Comment/left"`` also matches
        ``"left"``) or an integer code (matched as its string, e.g. ``769``
        for the GDF files of BCI IV 2a, and BrainVision's ``"Stimulus/S  1"``
        for 1). None uses every description found, sorted, except BAD/EDGE
        segments.
    tmin, tmax : float
        Trial window around each event in seconds; ``tmax`` is exclusive
        (``(tmax - tmin) × sfreq`` samples).
    resample : float | None
        Resample to this rate (Hz) before cutting; None keeps the file's rate
        (all files must then have the same).
    car : bool
        Re-reference to the common average of the EEG channels.
    montage : str | mne.channels.DigMontage | None
        Positions for channels the file has none for (names matched
        case-insensitively). None does not require positions. The default is
        the standard 10-05 montage (``"standard_1005"`` is accepted and given
        to MNE under its current name, ``"colin27_1005"`` since MNE 1.13).
    session : str | sequence of str | None
        Session label for all files, or one per file. Default: none for one
        file, the file names (without extension) for several.
    subject : str | None
        Subject label stored with the trials.
    verbose : bool | str | int | None
        Logging level.

    Returns
    -------
    trials : Trials
        EEG channels only, with ``continuous`` holding the recordings. Channel
        names are spelled as in the standard 10-05 montage (``"Fc5."`` →
        ``"FC5"``, ``"EEG-Fz"`` → ``"Fz"``, ``"FP1"`` → ``"Fp1"``; others kept).
    """
    paths = _paths(path)
    event_id = check_event_id(event_id)
    sessions = _session_labels(session, paths)
    raws = [_read_raw(p) for p in paths]
    return trials_from_raws(
        raws,
        event_id=event_id,
        tmin=tmin,
        tmax=tmax,
        resample=resample,
        car=car,
        montage=montage,
        sessions=sessions,
        subject=subject,
        names=[p.name for p in paths],
        description={"source": "file", "files": [str(p) for p in paths]},
    )


def _paths(path: Any) -> list[Path]:
    many = isinstance(path, Sequence) and not isinstance(path, str | bytes)
    paths = list(path) if many else [path]
    if not paths:
        raise invalid("path", "no files given (empty list).")
    return [check_not_empty("path", check_path_exists("path", p)) for p in paths]


def check_not_empty(name: str, path: Path) -> Path:
    """Raise if the file ``path`` holds zero bytes (an interrupted copy)."""
    if path.is_file() and path.stat().st_size == 0:
        raise invalid(
            name,
            f"'{path}' is empty (0 bytes); the copy or download that made it was "
            "probably interrupted.",
            "Copy or write the file again.",
        )
    return path


def _session_labels(session: Any, paths: list[Path]) -> list[str] | None:
    if session is None:
        return [_stem(p) for p in paths] if len(paths) > 1 else None
    if isinstance(session, str):
        return [session] * len(paths)
    labels = [str(s) for s in session]
    if len(labels) != len(paths):
        raise invalid(
            "session",
            f"{len(labels)} labels for {len(paths)} files.",
            "Give one label per file, or one string for all.",
        )
    return labels


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".fif.gz"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _short(err: BaseException) -> str:
    """``Type: first line of the message`` (parsers may quote binary garbage)."""
    lines = str(err).strip().splitlines()
    text = lines[0] if lines else ""
    if len(text) > 160:
        text = text[:160] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _read_with_mne(read: Callable[[], Any], path: Path, what: str, fix: str) -> Any:
    """``read()`` a file with MNE; any parser failure becomes an error on 'path'."""
    try:
        return read_checking_duplicates(read, where=f"'{path}'")
    except InvalidInputError:
        raise
    except Exception as err:  # any parser failure means: not a readable file
        raise invalid(
            "path", f"MNE could not read '{path}' as {what} ({_short(err)}).", fix
        ) from err


def _read_raw(path: Path) -> mne.io.BaseRaw:
    return _read_with_mne(
        lambda: mne.io.read_raw(path, preload=True, verbose=False),
        path,
        "a raw recording",
        "Use a format that mne.io.read_raw supports (GDF, EDF, BDF, FIF, "
        "BrainVision .vhdr, EEGLAB .set, ...), load_epochs for -epo.fif, or "
        "load_npz for .npz.",
    )


@verbose
def load_epochs(
    path: PathLike,
    *,
    event_id: Mapping[str, int | str] | None = None,
    montage: Montage = STANDARD_MONTAGE,
    verbose: bool | str | int | None = None,
) -> Trials:
    """Load trials from an MNE epochs file (``-epo.fif``).

    Parameters
    ----------
    path : path-like
        The epochs file.
    event_id : dict | None
        ``{class_name: event}`` with ``event`` a key or code of the file's
        ``event_id``; selects and renames classes. None keeps all, in the
        order of their codes.
    montage : str | mne.channels.DigMontage | None
        Positions for channels the file has none for; None does not require
        positions.
    verbose : bool | str | int | None
        Logging level.

    Returns
    -------
    trials : Trials
        EEG channels only, names in 10-05 spelling (as :func:`load_raw`);
        ``tmin`` from the file; no ``continuous``.
    """
    path = check_not_empty("path", check_path_exists("path", path))
    event_id = check_event_id(event_id)
    epochs = _read_with_mne(
        lambda: mne.read_epochs(path, preload=True, verbose=False),
        path,
        "epochs",
        "Give an MNE epochs file (saved with epochs.save('...-epo.fif')).",
    )
    epochs.pick("eeg", exclude=[])
    standardize_channels(epochs, where=f"'{path}'")
    ensure_positions(epochs, montage)
    code_to_name = {code: name for name, code in epochs.event_id.items()}
    if event_id is None:
        classes = sorted(epochs.event_id, key=epochs.event_id.get)
        event_id = {c: c for c in classes}
    wanted = {}  # file code -> class index
    for c, event in enumerate(event_id.values()):
        for code, name in code_to_name.items():
            if event in (name, str(code)):
                wanted[code] = c
    codes = epochs.events[:, 2]
    keep = np.isin(codes, list(wanted))
    if not keep.any():
        raise invalid(
            "event_id",
            f"no epochs match {event_id}. Events found: {epochs.event_id}.",
            "Map each class to one of these event names or codes.",
        )
    y = np.array([wanted[c] for c in codes[keep]], dtype=np.int64)
    _check_two_classes("event_id", y, list(event_id))
    return Trials(
        X=epochs.get_data(copy=True)[keep],
        y=y,
        class_names=list(event_id),
        sfreq=epochs.info["sfreq"],
        ch_names=epochs.ch_names,
        info=epochs.info.copy(),
        tmin=float(epochs.tmin),
        description={"source": "epochs", "files": [str(path)]},
    )


def _check_two_classes(name: str, y: np.ndarray, class_names: list[str]) -> None:
    present = np.unique(y)
    if len(present) < 2:
        only = class_names[present[0]] if len(present) else "none"
        raise invalid(
            name,
            f"the trials hold fewer than two classes (only {only!r}).",
            "Correlating envelopes with classes needs trials of at least two classes.",
        )


@verbose
def load_npz(
    path: PathLike,
    *,
    montage: Montage = STANDARD_MONTAGE,
    verbose: bool | str | int | None = None,
) -> Trials:
    """Load trials from a ``.npz`` file (layout in the module docstring).

    Parameters
    ----------
    path : path-like
        The file, e.g. written by :func:`save_npz`.
    montage : str | mne.channels.DigMontage | None
        Positions for channels without ``ch_pos`` in the file; None does not
        require positions.
    verbose : bool | str | int | None
        Logging level.

    Returns
    -------
    trials : Trials
    """
    path = check_not_empty("path", check_path_exists("path", path))
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise invalid(
            "path",
            f"'{path}' is not a readable .npz file ({_short(err)}).",
            "Write it with numpy.savez (or envcorr's save_npz).",
        ) from err
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise invalid(
            "path",
            f"'{path}' holds a single array ({archive.shape}), not a .npz archive.",
            "Write the trials with numpy.savez(path, X=..., y=..., sfreq=..., "
            "ch_names=...) (or envcorr's save_npz).",
        )
    with archive:
        try:
            arrays = {key: archive[key] for key in archive.files}
        except ValueError as err:
            raise invalid(
                "path",
                f"'{path}' stores object arrays ({err}); trials of unequal "
                "length cannot be stored in X.",
                "Store X as one float array (n_trials, n_channels, n_times): "
                "cut all trials with the same window.",
            ) from err
    return _trials_from_arrays(arrays, path, montage)


def _trials_from_arrays(
    arrays: dict[str, np.ndarray], path: Path, montage: Montage
) -> Trials:
    missing = [k for k in _REQUIRED_NPZ if k not in arrays]
    if missing:
        raise invalid(
            "path",
            f"'{path}' lacks the array(s) {missing} (it has {sorted(arrays)}).",
            f"A trials .npz needs {list(_REQUIRED_NPZ)}.",
        )
    y = np.asarray(arrays["y"])
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise invalid("y", f"expected 1-D integer labels, got {y.dtype} {y.shape}.")
    if "class_names" in arrays:
        class_names = [str(c) for c in arrays["class_names"]]
    else:
        values, y = np.unique(y, return_inverse=True)
        class_names = [str(v) for v in values]
    if len(y) and (y.min() < 0 or y.max() >= len(class_names)):
        raise invalid(
            "y",
            f"labels must index class_names ({len(class_names)} names), got values "
            f"from {y.min()} to {y.max()}.",
            "Store y as indices 0..n_classes-1, or leave class_names out.",
        )
    _check_two_classes("y", y, class_names)
    sfreq = _npz_sfreq(arrays["sfreq"])
    ch_names = _npz_ch_names(arrays["ch_names"], path)
    description = {"source": "npz", "files": [str(path)]}
    if "description" in arrays:
        description = {**_npz_description(arrays["description"]), **description}
    info = mne.create_info(ch_names, sfreq, ch_types="eeg")
    if "ch_pos" in arrays:
        pos = np.asarray(arrays["ch_pos"], dtype=float)
        if pos.shape == (len(ch_names), 3) and np.isfinite(pos).all():
            info.set_montage(
                mne.channels.make_dig_montage(
                    ch_pos=dict(zip(ch_names, pos, strict=True)), coord_frame="head"
                ),
                verbose=False,
            )
    ensure_positions(info, montage)
    continuous = None
    if "continuous_segment" in arrays:
        n_rec = sum(k.startswith("continuous_") for k in arrays) - 2
        continuous = Recordings(
            [arrays[f"continuous_{k}"] for k in range(n_rec)],
            arrays["continuous_segment"],
            arrays["continuous_onset"],
        )
    return Trials(
        X=arrays["X"],
        y=y,
        class_names=class_names,
        sfreq=sfreq,
        ch_names=ch_names,
        info=info,
        tmin=float(arrays.get("tmin", 0.0)),
        session=arrays.get("session"),
        subject=arrays.get("subject"),
        continuous=continuous,
        description=description,
    )


def _npz_sfreq(value: np.ndarray) -> float:
    arr = np.asarray(value)
    fix = "Store sfreq as one positive number in Hz, e.g. sfreq=np.float64(250.0)."
    if arr.size != 1 or not np.issubdtype(arr.dtype, np.number):
        raise invalid(
            "sfreq", f"expected one number, got {arr.dtype} of shape {arr.shape}.", fix
        )
    out = float(arr.reshape(()))
    if not np.isfinite(out) or out <= 0:
        raise invalid("sfreq", f"{out:g} Hz is not a positive sampling rate.", fix)
    return out


def _npz_ch_names(value: np.ndarray, path: Path) -> list[str]:
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise invalid(
            "ch_names",
            f"expected a 1-D array of names, got shape {arr.shape}.",
            "Store one name per channel, e.g. ch_names=np.array(['C3', 'Cz']).",
        )
    ch_names = [str(c) for c in arr]
    check_unique_ch_names(ch_names, where=f"'{path}'")
    renames = standard_ch_names(ch_names, where=f"'{path}'")
    log_renames(renames)
    return [renames.get(c, c) for c in ch_names]


def _npz_description(value: np.ndarray) -> dict[str, Any]:
    fix = (
        "Store a JSON object as a string, e.g. "
        "description=json.dumps({'dataset': 'mine'}), or leave it out."
    )
    try:
        out = json.loads(str(np.asarray(value)))
    except ValueError as err:
        raise invalid("description", f"not valid JSON ({err}).", fix) from None
    if not isinstance(out, dict):
        raise invalid(
            "description",
            f"expected a JSON object, got a {type(out).__name__}.",
            fix,
        )
    return out


@verbose
def save_npz(
    trials: Trials,
    path: PathLike,
    *,
    continuous: bool = True,
    verbose: bool | str | int | None = None,
) -> Path:
    """Write trials to a ``.npz`` file (layout in the module docstring).

    The file is written under a temporary name in the same folder and then
    renamed, so an interrupted write never leaves a truncated file at ``path``.

    Parameters
    ----------
    trials : Trials
        The trials.
    path : path-like
        Destination; its folder must exist. Written exactly as given (no
        ``.npz`` appended).
    continuous : bool
        Also store the continuous recordings (needed to filter before cutting
        trials; roughly doubles the size).
    verbose : bool | str | int | None
        Logging level.

    Returns
    -------
    path : pathlib.Path
        The file written.
    """
    if not isinstance(trials, Trials):
        raise invalid("trials", f"expected a Trials object, got {type(trials)}.")
    path = Path(path).expanduser()
    if not path.parent.is_dir():
        raise invalid(
            "path",
            f"the folder '{path.parent}' does not exist.",
            "Create it first or write elsewhere.",
        )
    arrays: dict[str, Any] = {
        "X": trials.X,
        "y": trials.y,
        "sfreq": np.float64(trials.sfreq),
        "ch_names": np.asarray(trials.ch_names),
        "class_names": np.asarray(trials.class_names),
        "tmin": np.float64(trials.tmin),
        "description": json.dumps(trials.description, default=str),
    }
    for name in ("session", "subject"):
        if getattr(trials, name) is not None:
            arrays[name] = getattr(trials, name)
    if trials.info is not None and not channels_without_position(trials.info):
        pos = trials.info.get_montage().get_positions()["ch_pos"]
        arrays["ch_pos"] = np.array([pos[c] for c in trials.ch_names])
    if continuous and trials.continuous is not None:
        for k, rec in enumerate(trials.continuous.data):
            arrays[f"continuous_{k}"] = rec
        arrays["continuous_segment"] = trials.continuous.segment
        arrays["continuous_onset"] = trials.continuous.onset
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    logger.info("Wrote %d trials to %s", trials.n_trials, path)
    return path


def is_epochs_file(path: Path) -> bool:
    """Whether ``path`` is named like an MNE epochs file."""
    name = path.name.lower()
    return name.endswith(("-epo.fif", "_epo.fif", "-epo.fif.gz", "_epo.fif.gz"))
