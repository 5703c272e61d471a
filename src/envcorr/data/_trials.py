"""The one container for trials that every loader returns."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import mne
import numpy as np

from .._utils.check import check_array, check_ch_names, check_positive_float, invalid


@dataclass(frozen=True)
class Recordings:
    """Continuous recordings from which the trials were cut.

    Band-pass filtering the continuous signal before cutting trials avoids the
    edge distortion that short epochs cause in low bands (docs/method.md, step 1).

    Parameters
    ----------
    data : list of ndarray, each shape (n_channels, n_samples_k)
        One array per recording (run), float32, volts, same channels as the
        trials.
    segment : ndarray of int, shape (n_trials,)
        Index into ``data`` of the recording each trial was cut from.
    onset : ndarray of int, shape (n_trials,)
        Sample of that recording at which each trial's first sample lies.
    """

    data: list[np.ndarray]
    segment: np.ndarray
    onset: np.ndarray

    def __post_init__(self) -> None:
        segment = np.asarray(self.segment, dtype=np.int64)
        onset = np.asarray(self.onset, dtype=np.int64)
        if segment.shape != onset.shape or segment.ndim != 1:
            raise invalid(
                "continuous",
                f"segment {segment.shape} and onset {onset.shape} must be 1-D arrays "
                "of the same length (one entry per trial).",
            )
        if len(segment) and (segment.min() < 0 or segment.max() >= len(self.data)):
            raise invalid(
                "continuous",
                f"segment indices must lie in [0, {len(self.data) - 1}].",
            )
        object.__setattr__(self, "segment", segment)
        object.__setattr__(self, "onset", onset)

    def subset(self, idx: np.ndarray) -> Recordings:
        """Recordings of the trials ``idx`` (the recordings themselves are shared)."""
        return Recordings(self.data, self.segment[idx], self.onset[idx])

    def check_matches(self, n_trials: int, n_channels: int, n_times: int) -> None:
        """Raise if these recordings cannot hold trials of this shape."""
        if len(self.segment) != n_trials:
            raise invalid(
                "continuous",
                f"onsets for {len(self.segment)} trials, but X has {n_trials}.",
            )
        for k, rec in enumerate(self.data):
            if rec.ndim != 2 or rec.shape[0] != n_channels:
                raise invalid(
                    "continuous",
                    f"recording {k} has shape {rec.shape}; expected "
                    f"({n_channels}, n_samples) to match X's channels.",
                )
        lengths = np.array([self.data[s].shape[1] for s in self.segment])
        bad = (self.onset < 0) | (self.onset + n_times > lengths)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise invalid(
                "continuous",
                f"trial {i} (onset {self.onset[i]}, {n_times} samples) lies outside "
                f"its recording of {lengths[i]} samples.",
            )


@dataclass(frozen=True)
class Trials:
    """EEG trials with labels, channel information and optional recordings.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        The trials, float32, in volts.
    y : ndarray of int, shape (n_trials,)
        Class index of each trial, into ``class_names``.
    class_names : list of str
        Name of each class.
    sfreq : float
        Sampling frequency in Hz.
    ch_names : list of str
        Channel names, in the order of ``X``'s second axis.
    info : mne.Info | None
        Measurement info with channel positions (montage) when known.
    tmin : float
        Time of the first sample relative to the cue, in seconds.
    session : ndarray of str, shape (n_trials,) | None
        Session label of each trial.
    subject : ndarray of str, shape (n_trials,) | None
        Subject label of each trial.
    continuous : Recordings | None
        The recordings the trials were cut from, for filtering before epoching.
    description : dict
        Free-form provenance (dataset name, file, preprocessing).
    """

    X: np.ndarray
    y: np.ndarray
    class_names: list[str]
    sfreq: float
    ch_names: list[str]
    info: mne.Info | None = None
    tmin: float = 0.0
    session: np.ndarray | None = None
    subject: np.ndarray | None = None
    continuous: Recordings | None = None
    description: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.X, list | tuple):
            check_equal_lengths("X", [np.shape(x) for x in self.X])
        X = check_array(
            "X", self.X, ndim=3, dims="(n_trials, n_channels, n_times)", dtype=None
        )
        if X.dtype != np.float32:
            X = X.astype(np.float32)
        n_trials, n_channels, n_times = X.shape
        y = np.asarray(self.y)
        if y.shape != (n_trials,):
            raise invalid("y", f"shape {y.shape} does not match {n_trials} trials.")
        if not np.issubdtype(y.dtype, np.integer):
            raise invalid("y", "class labels must be integer indices into class_names.")
        class_names = [str(c) for c in self.class_names]
        if len(y) and (y.min() < 0 or y.max() >= len(class_names)):
            raise invalid(
                "y",
                f"labels must lie in [0, {len(class_names) - 1}] for "
                f"{len(class_names)} class names.",
            )
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y.astype(np.int64))
        object.__setattr__(self, "class_names", class_names)
        object.__setattr__(self, "sfreq", check_positive_float("sfreq", self.sfreq))
        object.__setattr__(
            self, "ch_names", check_ch_names("ch_names", self.ch_names, n_channels)
        )
        for name in ("session", "subject"):
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value).astype(str)
                if value.shape != (n_trials,):
                    raise invalid(
                        name, f"shape {value.shape} does not match {n_trials} trials."
                    )
                object.__setattr__(self, name, value)
        if self.continuous is not None:
            self.continuous.check_matches(n_trials, n_channels, n_times)

    def __repr__(self) -> str:
        sessions = (
            ""
            if self.session is None
            else f", sessions={sorted(set(self.session.tolist()))}"
        )
        return (
            f"<Trials | {self.n_trials} trials × {self.n_channels} channels × "
            f"{self.n_times} samples at {self.sfreq:g} Hz (tmin={self.tmin:g} s), "
            f"classes={self.class_counts()}{sessions}, "
            f"continuous={'yes' if self.continuous is not None else 'no'}>"
        )

    @property
    def n_trials(self) -> int:
        """Number of trials."""
        return self.X.shape[0]

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return self.X.shape[1]

    @property
    def n_times(self) -> int:
        """Samples per trial."""
        return self.X.shape[2]

    def subset(self, idx: Any) -> Trials:
        """Trials selected by an index array, boolean mask or slice."""
        idx = np.arange(self.n_trials)[idx]
        return replace(
            self,
            X=self.X[idx],
            y=self.y[idx],
            session=None if self.session is None else self.session[idx],
            subject=None if self.subject is None else self.subject[idx],
            continuous=None if self.continuous is None else self.continuous.subset(idx),
        )

    def band_passed(self, l_freq: float | None, h_freq: float | None) -> Trials:
        """The trials filtered (band-, high- or low-pass), as a network may see them.

        MNE's default zero-phase FIR filter (:func:`mne.filter.filter_data`)
        runs over the continuous recordings when the trials carry them (no
        edge effects; the trials are cut again at the same samples) and over
        each trial otherwise (a warning says that the first and last samples
        are distorted).

        Parameters
        ----------
        l_freq, h_freq : float | None
            Pass band edges in Hz; None for no lower (upper) edge.

        Returns
        -------
        trials : Trials
            Same trials, labels and layout, filtered ``X`` (and recordings).
        """
        nyquist = self.sfreq / 2
        for name, value in (("l_freq", l_freq), ("h_freq", h_freq)):
            if value is not None and not 0 < value < nyquist:
                raise invalid(
                    "bandpass",
                    f"{name}={value:g} Hz is outside (0, {nyquist:g}) Hz, the range "
                    f"of data sampled at {self.sfreq:g} Hz.",
                    "Give edges above 0 and below the Nyquist frequency.",
                )
        if l_freq is None and h_freq is None:
            return self

        def run(x: np.ndarray) -> np.ndarray:
            out = mne.filter.filter_data(
                x.astype(np.float64), self.sfreq, l_freq, h_freq, verbose="error"
            )
            return out.astype(x.dtype)

        if self.continuous is None:
            warnings.warn(
                "Filtering each trial on its own (no continuous recordings): the "
                "first and last samples of each trial are distorted by the filter's "
                "edges.",
                RuntimeWarning,
                stacklevel=2,
            )
            return replace(self, X=run(self.X))
        rec = self.continuous
        data = [run(d) for d in rec.data]
        n = self.n_times
        X = np.stack(
            [data[g][:, o : o + n] for g, o in zip(rec.segment, rec.onset, strict=True)]
        ).astype(self.X.dtype)
        return replace(self, X=X, continuous=Recordings(data, rec.segment, rec.onset))

    def split_sessions(self) -> dict[str, Trials]:
        """Trials of each session, in order of first appearance."""
        if self.session is None:
            raise invalid(
                "session",
                "these trials carry no session labels, so they cannot be split.",
                "Give a 'session' array when creating the Trials.",
            )
        names = list(dict.fromkeys(self.session.tolist()))
        return {s: self.subset(self.session == s) for s in names}

    def class_counts(self) -> dict[str, int]:
        """Number of trials of each class."""
        counts = np.bincount(self.y, minlength=len(self.class_names))
        return dict(zip(self.class_names, counts.tolist(), strict=True))


def check_equal_lengths(name: str, shapes: Sequence[tuple[int, ...]]) -> None:
    """Raise if trials of shape (n_channels, n_times) differ in shape."""
    if not shapes:
        return
    first = tuple(shapes[0])
    for i, shape in enumerate(shapes):
        if tuple(shape) != first:
            raise invalid(
                name,
                f"trials of unequal length or channel count: trial 0 has shape "
                f"{first}, trial {i} has shape {tuple(shape)} (n_channels, n_times).",
                "Cut all trials with the same window (tmin, tmax) and sampling "
                "rate, e.g. resample=250.",
            )


def concatenate_trials(trials: Sequence[Trials]) -> Trials:
    """Join trials of several recordings, sessions or subjects into one.

    Parameters
    ----------
    trials : sequence of Trials
        All with the same sampling rate, channels, trial length and classes.

    Returns
    -------
    trials : Trials
        The trials in the given order. ``continuous`` is kept when every input
        has it; ``info`` and ``description`` come from the first input.
    """
    trials = list(trials)
    if not trials:
        raise invalid("trials", "nothing to concatenate (empty sequence).")
    first = trials[0]
    for k, t in enumerate(trials[1:], start=1):
        if t.sfreq != first.sfreq:
            raise invalid(
                "trials",
                f"mixed sampling rates: {first.sfreq:g} Hz in part 0, {t.sfreq:g} Hz "
                f"in part {k}.",
                "Resample all parts to one rate first (e.g. resample=250).",
            )
        if t.ch_names != first.ch_names:
            raise invalid(
                "trials",
                f"part {k} has channels {t.ch_names}, part 0 has {first.ch_names}.",
                "Pick the same channels, in the same order, in every part.",
            )
        if t.n_times != first.n_times or t.tmin != first.tmin:
            raise invalid(
                "trials",
                f"trials of unequal length: part 0 has {first.n_times} samples from "
                f"tmin={first.tmin:g} s, part {k} has {t.n_times} from "
                f"tmin={t.tmin:g} s.",
                "Cut all parts with the same tmin and tmax.",
            )
        if t.class_names != first.class_names:
            raise invalid(
                "trials",
                f"part {k} has classes {t.class_names}, part 0 has "
                f"{first.class_names}.",
                "Use the same event_id (class names in the same order) for all.",
            )

    def _labels(name: str) -> np.ndarray | None:
        values = [getattr(t, name) for t in trials]
        if any(v is None for v in values):
            return None
        return np.concatenate(values)

    continuous = None
    if all(t.continuous is not None for t in trials):
        data, segment, onset = [], [], []
        for t in trials:
            segment.append(t.continuous.segment + len(data))
            onset.append(t.continuous.onset)
            data.extend(t.continuous.data)
        continuous = Recordings(data, np.concatenate(segment), np.concatenate(onset))
    return replace(
        first,
        X=np.concatenate([t.X for t in trials]),
        y=np.concatenate([t.y for t in trials]),
        session=_labels("session"),
        subject=_labels("subject"),
        continuous=continuous,
    )
