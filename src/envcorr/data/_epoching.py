"""Cut trials around events from continuous MNE recordings (shared by the loaders)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import mne
import numpy as np

from .._utils.check import check_positive_float, invalid
from .._utils.logs import logger
from ._channels import log_renames, standardize_channels
from ._montage import ensure_positions
from ._trials import Recordings, Trials

# Annotations that mark segments, never trials.
_IGNORED_PREFIXES = ("bad", "edge")


def check_window(tmin: Any, tmax: Any) -> tuple[float, float]:
    """Check the trial window ``[tmin, tmax)`` in seconds around the cue."""
    try:
        tmin, tmax = float(tmin), float(tmax)
    except (TypeError, ValueError):
        raise invalid(
            "tmin", f"expected numbers, got tmin={tmin!r}, tmax={tmax!r}."
        ) from None
    if not (np.isfinite(tmin) and np.isfinite(tmax)) or tmax <= tmin:
        raise invalid(
            "tmax",
            f"tmax={tmax:g} s must be greater than tmin={tmin:g} s.",
            "The paper's window is tmin=-0.5, tmax=4.0.",
        )
    return tmin, tmax


def check_event_id(event_id: Any) -> dict[str, str] | None:
    """Check ``{class_name: event name or code}`` and return values as str."""
    if event_id is None:
        return None
    if not isinstance(event_id, Mapping) or not event_id:
        raise invalid(
            "event_id",
            f"expected a dict {{class_name: event_name_or_code}}, got {event_id!r}.",
            "E.g. event_id={'left_hand': 'left_hand', 'right_hand': 'right_hand'} "
            "or, for BCI IV 2a GDF files, {'left_hand': '769', 'right_hand': '770'}.",
        )
    out = {}
    for cls, code in event_id.items():
        if isinstance(code, bool) or not isinstance(code, str | int | np.integer):
            raise invalid(
                "event_id",
                f"the event of class {cls!r} must be a name (str) or a code (int), "
                f"got {code!r}.",
            )
        out[str(cls)] = str(code)
    if len(set(out.values())) != len(out):
        raise invalid("event_id", f"two classes map to the same event: {event_id!r}.")
    if len(out) < 2:
        raise invalid(
            "event_id",
            f"only one class ({next(iter(out))!r}); at least two are needed to "
            "correlate envelopes with classes.",
            "Map two or more classes to their events.",
        )
    return out


def _stim_to_annotations(raw: mne.io.BaseRaw) -> None:
    """Add the events of the stim channels as annotations named by their code."""
    if not len(mne.pick_types(raw.info, stim=True, exclude=[])):
        return
    events = mne.find_events(raw, shortest_event=1, consecutive=True, verbose=False)
    if len(events):
        raw.set_annotations(
            raw.annotations
            + mne.annotations_from_events(
                events,
                raw.info["sfreq"],
                {int(c): str(int(c)) for c in np.unique(events[:, 2])},
                first_samp=raw.first_samp,
                orig_time=raw.annotations.orig_time,
                verbose=False,
            )
        )


def _descriptions(raw: mne.io.BaseRaw) -> Counter:
    return Counter(
        d
        for d in raw.annotations.description
        if not str(d).lower().startswith(_IGNORED_PREFIXES)
    )


def _match(description: str, event: str) -> bool:
    """Whether an annotation ``description`` is the ``event`` of a class.

    Exact or case-insensitive match; BrainVision's ``"Type/name"`` also
    matches ``name``, and its stimulus markers ``"Stimulus/S  1"`` the code 1.
    """
    event = event.lower()
    description = description.lower()
    if description == event:
        return True
    if "/" in description:
        name = description.rsplit("/", 1)[1].strip()
        if name == event:
            return True
        code = name.lstrip("sr").strip()
        return event.isdigit() and code.isdigit() and int(code) == int(event)
    return False


def trials_from_raws(
    raws: Sequence[mne.io.BaseRaw],
    *,
    event_id: dict[str, str] | None,
    tmin: float,
    tmax: float,
    resample: float | None,
    car: bool,
    montage: str | mne.channels.DigMontage | None,
    sessions: Sequence[str] | None,
    subject: str | None,
    names: Sequence[str],
    description: dict[str, Any],
) -> Trials:
    """Cut ``[tmin, tmax)`` around the class events of each continuous recording.

    Each raw is modified in place: EEG channels picked, their names spelled as
    in the standard 10-05 montage (logged once), positions set, resampled,
    re-referenced. Events come from annotations, or from stim
    channels (described by their code) when no annotation matches.

    Parameters
    ----------
    raws : sequence of mne.io.BaseRaw
        The recordings (runs), preloaded or not.
    event_id : dict | None
        ``{class_name: annotation description or code}``; None uses every
        description found (except BAD/EDGE segments), sorted, as classes.
    names : sequence of str
        One label per raw (file name, MOABB session/run) for messages.
    sessions : sequence of str | None
        Session label of each raw.
    """
    tmin, tmax = check_window(tmin, tmax)
    if resample is not None:
        resample = check_positive_float("resample", resample)
    prepared, found, renames = [], [], {}
    for raw, name in zip(raws, names, strict=True):
        raw.load_data(verbose=False)
        if not _descriptions(raw):
            _stim_to_annotations(raw)
        found.append(_descriptions(raw))
        picks = mne.pick_types(raw.info, eeg=True, exclude=[])
        if not len(picks):
            raise invalid(
                "path",
                f"{name} has no EEG channels (types: "
                f"{sorted(set(raw.get_channel_types()))}).",
                "Set the channel types, e.g. raw.set_channel_types({...}).",
            )
        raw.pick(picks)
        renames.update(standardize_channels(raw, where=name, log=False))
        ensure_positions(raw, montage)
        if resample is not None and raw.info["sfreq"] != resample:
            raw.resample(resample, verbose=False)
        if car:
            raw.set_eeg_reference("average", projection=False, verbose=False)
        prepared.append(raw)
    log_renames(renames)

    rates = {raw.info["sfreq"] for raw in prepared}
    if len(rates) > 1:
        listing = ", ".join(
            f"{raw.info['sfreq']:g} Hz in {n}"
            for raw, n in zip(prepared, names, strict=False)
        )
        raise invalid(
            "resample",
            f"mixed sampling rates ({listing}).",
            f"Pass resample={min(rates):g} (or another rate) to bring them to one.",
        )
    ch_names = prepared[0].ch_names
    for raw, n in zip(prepared[1:], names[1:], strict=True):
        if raw.ch_names != ch_names:
            raise invalid(
                "path",
                f"{n} has EEG channels {raw.ch_names}, but {names[0]} has {ch_names}.",
                "Load recordings with the same channels, or pick them first.",
            )

    total = sum(found, Counter())
    if event_id is None:
        classes = sorted(total)
        event_id = {c: c for c in classes}
        logger.info("Classes from the annotations found: %s", classes)
        if len(classes) < 2:
            raise invalid(
                "event_id",
                f"fewer than two kinds of events in the data: {dict(total)}.",
                "Two or more classes are needed; give event_id to pick them.",
            )

    sfreq = prepared[0].info["sfreq"]
    start = round(tmin * sfreq)
    n_times = round((tmax - tmin) * sfreq)
    recordings, segment, onset, y, session = [], [], [], [], []
    n_outside = 0
    for k, raw in enumerate(prepared):
        mapping = {}  # description -> class index + 1
        for desc in found[k]:
            for c, (_cls, event) in enumerate(event_id.items()):
                if _match(str(desc), event):
                    mapping[str(desc)] = c + 1
        if not mapping:
            continue
        events, _ = mne.events_from_annotations(raw, event_id=mapping, verbose=False)
        first = events[:, 0] - raw.first_samp + start
        inside = (first >= 0) & (first + n_times <= raw.n_times)
        n_outside += int((~inside).sum())
        if not inside.any():
            continue
        recordings.append(raw.get_data().astype(np.float32))
        segment += [len(recordings) - 1] * int(inside.sum())
        onset += first[inside].tolist()
        y += (events[inside, 2] - 1).tolist()
        if sessions is not None:
            session += [sessions[k]] * int(inside.sum())
    if n_outside:
        logger.warning(
            "Dropped %d trial(s) whose window [%g, %g) s extends beyond the recording.",
            n_outside,
            tmin,
            tmax,
        )
    if not y:
        raise invalid(
            "event_id",
            f"no events match {event_id} in {', '.join(names)}. Events found: "
            f"{dict(total) or 'none'}.",
            "Map each class to one of the event names found, e.g. "
            f"event_id={{'class_a': {next(iter(total), 'name')!r}, ...}}.",
        )
    y_arr = np.asarray(y, dtype=np.int64)
    present = np.unique(y_arr)
    if len(present) < 2:
        raise invalid(
            "event_id",
            f"only trials of class {list(event_id)[present[0]]!r} were found "
            f"(events found: {dict(total)}).",
            "At least two classes are needed; map more classes to events.",
        )
    segment_arr = np.asarray(segment)
    onset_arr = np.asarray(onset)
    X = np.stack(
        [
            recordings[g][:, o : o + n_times]
            for g, o in zip(segment_arr, onset_arr, strict=True)
        ]
    )
    info = prepared[0].info.copy()
    logger.info(
        "Loaded %d trials of %d channels at %g Hz: %s",
        len(y_arr),
        len(ch_names),
        sfreq,
        dict(
            zip(
                event_id,
                np.bincount(y_arr, minlength=len(event_id)).tolist(),
                strict=False,
            )
        ),
    )
    return Trials(
        X=X,
        y=y_arr,
        class_names=list(event_id),
        sfreq=sfreq,
        ch_names=list(ch_names),
        info=info,
        tmin=start / sfreq,
        session=np.asarray(session) if sessions is not None else None,
        subject=None if subject is None else np.full(len(y_arr), subject),
        continuous=Recordings(recordings, segment_arr, onset_arr),
        description={
            **description,
            "event_id": dict(event_id),
            "tmin": tmin,
            "tmax": tmax,
            "resample": resample,
            "car": car,
        },
    )
