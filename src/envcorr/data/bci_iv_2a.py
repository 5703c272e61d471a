"""The BCI Competition IV 2a files as the competition distributed them (GDF).

Each subject has a training file ``A01T.gdf`` and an evaluation file
``A01E.gdf`` (250 Hz; 22 EEG channels, then 3 EOG channels). Cues in the T
file are coded 769 (left hand), 770 (right hand), 771 (feet), 772 (tongue);
in the E file every cue is coded 783 (unknown) and its class is in
``A01E.mat`` (variable ``classlabel``, values 1–4 in cue order), published
after the competition. Code 768 marks the trial start, 2 s before the cue.

The EEG channels are labelled ``EEG-Fz``, ``EEG-0``, ``EEG-1``, ...,
``EEG-16``; they are renamed by position to the 10-05 names of
:data:`~envcorr.data.simulate.BCI_IV_2A_CH_NAMES`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mne
import numpy as np

from .._utils.check import check_path_exists, invalid
from .._utils.logs import logger, verbose
from ._channels import standard_ch_name
from ._epoching import trials_from_raws
from ._montage import STANDARD_MONTAGE
from ._trials import Trials
from .simulate import BCI_IV_2A_CH_NAMES

#: Class of each cue code of the training files.
CUE_CODES = {"769": "left_hand", "770": "right_hand", "771": "feet", "772": "tongue"}
#: Cue code of the evaluation files (class unknown, from the .mat file).
UNKNOWN_CUE = "783"
CLASS_NAMES = list(CUE_CODES.values())
_FILE_NAME = re.compile(r"^A(\d\d)([TE])$", re.IGNORECASE)


def is_bci_iv_2a_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is named like a competition file (``A01T.gdf``)."""
    path = Path(path)
    return path.suffix.lower() == ".gdf" and bool(_FILE_NAME.match(path.stem))


def _rename_channels(raw: mne.io.BaseRaw, path: Path) -> None:
    """Drop the EOG channels and give the 22 EEG channels their 10-05 names."""
    eog = [c for c in raw.ch_names if c.upper().startswith("EOG")]
    raw.drop_channels(eog)
    if len(raw.ch_names) != len(BCI_IV_2A_CH_NAMES):
        raise invalid(
            "path",
            f"'{path}' has {len(raw.ch_names)} channels besides EOG "
            f"({raw.ch_names}); a BCI IV 2a file has 22 EEG channels.",
            "Load other GDF files with load_raw.",
        )
    for old, new in zip(raw.ch_names, BCI_IV_2A_CH_NAMES, strict=True):
        named = standard_ch_name(old)
        if named != old and named != new:  # a named channel in the wrong place
            raise invalid(
                "path",
                f"'{path}': channel {old!r} sits where {new!r} belongs in the "
                "competition's channel order.",
                "Load other GDF files with load_raw.",
            )
    renames = dict(zip(raw.ch_names, BCI_IV_2A_CH_NAMES, strict=True))
    raw.rename_channels(renames, verbose=False)
    raw.set_channel_types(dict.fromkeys(raw.ch_names, "eeg"), verbose=False)


def _read_labels(path: Path) -> np.ndarray:
    import scipy.io

    try:
        mat = scipy.io.loadmat(path)
    except Exception as err:  # any parser failure: not a readable .mat file
        raise invalid(
            "labels", f"could not read '{path}' as a .mat file ({err})."
        ) from err
    if "classlabel" not in mat:
        raise invalid(
            "labels",
            f"'{path}' has no variable 'classlabel' (it has "
            f"{sorted(k for k in mat if not k.startswith('__'))}).",
            "Use the true-label file of the competition (e.g. A01E.mat).",
        )
    labels = np.asarray(mat["classlabel"]).ravel()
    if not np.isin(labels, [1, 2, 3, 4]).all():
        raise invalid(
            "labels",
            f"'{path}': classlabel must hold the values 1-4, found "
            f"{sorted(set(labels.tolist()))}.",
        )
    return labels.astype(int)


def _set_cues(raw: mne.io.BaseRaw, path: Path, labels: Path | None) -> None:
    """Rename the cue annotations to class names; E files take their labels."""
    desc = [str(d).strip() for d in raw.annotations.description]
    unknown = [i for i, d in enumerate(desc) if d == UNKNOWN_CUE]
    if unknown:
        if labels is None:
            labels = path.with_suffix(".mat")
        if not labels.is_file():
            raise invalid(
                "labels",
                f"'{path}' holds {len(unknown)} cues of unknown class (code 783), "
                f"and their labels file '{labels}' does not exist.",
                f"Put the competition's true labels ({path.stem}.mat, variable "
                "'classlabel') next to the GDF file, or pass labels= its path.",
            )
        values = _read_labels(labels)
        if len(values) != len(unknown):
            raise invalid(
                "labels",
                f"'{labels}' has {len(values)} labels but '{path}' has "
                f"{len(unknown)} cues (code 783).",
                "Use the labels file of the same subject and session.",
            )
        for i, v in zip(unknown, values, strict=True):
            desc[i] = CLASS_NAMES[v - 1]
    desc = [CUE_CODES.get(d, d) for d in desc]
    ann = raw.annotations
    raw.set_annotations(
        mne.Annotations(ann.onset, ann.duration, desc, orig_time=ann.orig_time)
    )


@verbose
def load_bci_iv_2a(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    labels: str | os.PathLike | Sequence[str | os.PathLike | None] | None = None,
    tmin: float = -0.5,
    tmax: float = 4.0,
    resample: float | None = None,
    car: bool = True,
    verbose: bool | str | int | None = None,
) -> Trials:
    """Load BCI Competition IV 2a trials from the competition's GDF files.

    Parameters
    ----------
    path : path-like | sequence of path-like
        ``A01T.gdf``, ``A01E.gdf``, or both (in this order for the split).
    labels : path-like | sequence | None
        The true-label ``.mat`` file (``classlabel``) of each evaluation file;
        None takes ``A01E.mat`` next to ``A01E.gdf``. Training files need
        none (their cues carry the class).
    tmin, tmax : float
        Trial window around the cue in seconds, ``tmax`` exclusive; the
        default [-0.5, 4.0) is the paper's (the cue comes 2 s after the trial
        start, code 768, and the imagery lasts until 6 s).
    resample : float | None
        Resample to this rate (Hz) before cutting; None keeps 250 Hz.
    car : bool
        Re-reference to the common average of the EEG channels.
    verbose : bool | str | int | None
        Logging level.

    Returns
    -------
    trials : Trials
        22 EEG channels with 10-05 names and positions (EOG dropped);
        classes ``left_hand``, ``right_hand``, ``feet``, ``tongue``;
        ``session`` ``"0train"`` for a T file and ``"1test"`` for an E file
        (the competition's split, as MOABB's BNCI2014_001); ``continuous``
        holds the recordings. Trials marked as artefacts (code 1023) are kept.
    """
    from .files import _paths, _read_raw

    paths = _paths(path)
    bad = [str(p) for p in paths if not is_bci_iv_2a_file(p)]
    if bad:
        raise invalid(
            "path",
            f"{bad} not named like a BCI IV 2a file (A01T.gdf ... A09E.gdf).",
            "Give the competition's GDF files; load other files with load_raw.",
        )
    if labels is None or isinstance(labels, str | os.PathLike):
        label_paths: list[Any] = [labels] * len(paths)
    else:
        label_paths = list(labels)
        if len(label_paths) != len(paths):
            raise invalid("labels", f"{len(label_paths)} files for {len(paths)} paths.")
    label_paths = [
        None if p is None else check_path_exists("labels", p) for p in label_paths
    ]
    raws, sessions = [], []
    for p, lab in zip(paths, label_paths, strict=True):
        raw = _read_raw(p)
        _rename_channels(raw, p)
        _set_cues(raw, p, lab)
        raws.append(raw)
        sessions.append("0train" if p.stem.upper().endswith("T") else "1test")
    subjects = {_FILE_NAME.match(p.stem).group(1) for p in paths}
    subject = str(int(subjects.pop())) if len(subjects) == 1 else None
    logger.info("BCI IV 2a files: %s", ", ".join(p.name for p in paths))
    return trials_from_raws(
        raws,
        event_id={c: c for c in CLASS_NAMES},
        tmin=tmin,
        tmax=tmax,
        resample=resample,
        car=car,
        montage=STANDARD_MONTAGE,
        sessions=sessions,
        subject=subject,
        names=[p.name for p in paths],
        description={
            "source": "file",
            "dataset": "BCI IV 2a (GDF)",
            "files": [str(p) for p in paths],
        },
    )
