"""A simulated motor-imagery dataset shaped like BCI Competition IV 2a.

The simulation gives a known answer for the envelope–class correlation
(docs/method.md, step 9) and a dataset that trains in minutes without downloads.

Model
-----
Sources sit at the standard 10-05 positions of some electrodes and reach every
electrode through volume conduction: a Gaussian weight of the distance between
source and electrode (``exp(-d² / 2σ²)``, σ = 3.5 cm), so the
signal of a source is strongest at its own electrode and smeared onto its
neighbours. Each continuous run is the sum of

* spatially smooth pink (1/f power) background noise: one source at each
  electrode position, mixed as above;
* sensorimotor rhythms from sources at C3, C4 (hand areas), Cz (feet area) and
  C5, C6 (lateral, tongue/face area): alpha/mu (peak near 10 Hz, 7 µV RMS at
  the source) and beta (near 20 Hz, 6 µV), with the natural waxing and waning
  of band-limited noise;
* broadband high-gamma activity (71–91 Hz, nothing outside it, 3 µV) from the
  same sources;
* an occipital alpha rhythm (source at Oz, not recorded) unrelated to the task;
* white sensor noise.

After each cue, between about 0.5 and 4 s, the class changes the band power of
some sources (see :func:`simulation_truth`), with per-trial jitter of onset,
offset and strength:

* left/right hand: event-related desynchronisation (ERD, lower alpha and beta
  power) and a high-gamma increase at the contralateral hand area (C4 for the
  left hand, C3 for the right hand), a weak alpha ERD at the ipsilateral one;
* feet: ERD and high-gamma increase at the vertex (Cz);
* tongue: ERD and high-gamma increase at the lateral sources under C5 and C6,
  with an alpha power *increase* at both hand areas (the "focal ERD / surround
  ERS" pattern reported for tongue and foot imagery by Pfurtscheller et al.
  2006, NeuroImage 31:153–159).

Each rhythm is stronger at its source electrode than the background in the
band that analyses it (about 4.3, 4.8 and 1.4 µV RMS of background in the
default 7–13, 13–31 and 71–91 Hz bands), so that a trained network can use
all three rhythms and a group study recovers each of their effects (see
:func:`envcorr.group.truth_recovery`); sources under Cz, C5 and C6 are 0.8,
0.7 and 0.7 times as strong.

Power changes are applied to the amplitude of the band-limited source signal
as ``sqrt(1 + change × window(t))``; the ``strength`` of the truth table is the
relative power change at the source for a trial of average strength.

Subjects
--------
``simulate_motor_imagery(subject=None)`` (the default) gives one simulated
subject, the same for every release. ``subject=k`` (k = 1, 2, ...) gives
subject k of a study: its data come from its own seed,
``numpy.random.SeedSequence([seed, k])``, and its physiology
(:func:`subject_physiology`, :class:`SubjectPhysiology`) differs as that of
real subjects does:

* effect strength: a multiplier of all class effects; in each block of nine
  subjects (1–9, 10–18, ...) exactly two, chosen at random, are weak
  responders (strength 0.45–0.6), the others respond normally (0.8–1.3);
* individual alpha peak frequency, 8.5–11.5 Hz: the mu rhythm of every motor
  source, and so its desynchronisation, is centred on it (each source within
  ±0.5 Hz of it, always inside 8–12 Hz);
* spatial jitter: every motor source moves a few millimetres along the scalp
  (tangential standard deviation 4–8 mm, at most 12 mm), so the topography
  differs between subjects while the sources stay over the same areas;
* noise level: the background and sensor noise are scaled by 0.8–1.25.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import mne
import numpy as np
import pandas as pd
from scipy import fft as sp_fft

from .._utils.check import check_int, check_positive_float, invalid
from .._utils.logs import logger, verbose
from ._montage import STANDARD_MONTAGE, standard_montage
from ._trials import Recordings, Trials

#: The 22 EEG channels of BCI Competition IV 2a, in the dataset's order.
BCI_IV_2A_CH_NAMES = (
    "Fz FC3 FC1 FCz FC2 FC4 C5 C3 C1 Cz C2 C4 C6 CP3 CP1 CPz CP2 CP4 P1 Pz P2 POz"
).split()

#: The four classes of the simulation, in label order.
CLASS_NAMES = ("left_hand", "right_hand", "feet", "tongue")

#: Frequency ranges (Hz) of the simulated rhythms: alpha and beta are centred
#: on a subject-specific peak inside these ranges; high gamma is this band.
SIMULATED_BANDS = {
    "alpha": (8.0, 12.0),
    "beta": (16.0, 26.0),
    "high_gamma": (71.0, 91.0),
}

# (class, band, source, relative power change at average strength)
_EFFECTS = (
    ("left_hand", "alpha", "C4", -0.60),
    ("left_hand", "beta", "C4", -0.50),
    ("left_hand", "high_gamma", "C4", 0.50),
    ("left_hand", "alpha", "C3", -0.15),
    ("right_hand", "alpha", "C3", -0.60),
    ("right_hand", "beta", "C3", -0.50),
    ("right_hand", "high_gamma", "C3", 0.50),
    ("right_hand", "alpha", "C4", -0.15),
    ("feet", "alpha", "Cz", -0.60),
    ("feet", "beta", "Cz", -0.50),
    ("feet", "high_gamma", "Cz", 0.50),
    ("tongue", "alpha", "C5", -0.50),
    ("tongue", "alpha", "C6", -0.50),
    ("tongue", "beta", "C5", -0.40),
    ("tongue", "beta", "C6", -0.40),
    ("tongue", "high_gamma", "C5", 0.40),
    ("tongue", "high_gamma", "C6", 0.40),
    ("tongue", "alpha", "C3", 0.30),
    ("tongue", "alpha", "C4", 0.30),
)

_MOTOR_SOURCES = ("C3", "C4", "Cz", "C5", "C6")
# Root-mean-square amplitude (V) at the source of each rhythm, at rest.
_RHYTHM_RMS = {"alpha": 7e-6, "beta": 6e-6, "high_gamma": 3e-6}
_MOTOR_RMS_SCALE = {"C3": 1.0, "C4": 1.0, "Cz": 0.8, "C5": 0.7, "C6": 0.7}
_OCCIPITAL_ALPHA_RMS = 12e-6
_BACKGROUND_RMS = 12e-6  # pink background at each electrode after mixing
_SENSOR_NOISE_RMS = 0.7e-6
_KNEE_HZ = 20.0
_SPREAD_M = 0.035  # σ of the volume-conduction kernel, in metres


DEFAULT_EFFECT_SCALE = 1.5
"""Default strength of the class effects (see simulate_motor_imagery)."""


def simulation_truth(
    *,
    effect_scale: float = DEFAULT_EFFECT_SCALE,
    subject: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """The class effects built into :func:`simulate_motor_imagery`.

    Parameters
    ----------
    effect_scale : float
        The same factor as in :func:`simulate_motor_imagery`.
    subject : int | None
        The same as in :func:`simulate_motor_imagery`: ``None`` for the default
        simulated subject, k >= 1 for subject k of a study, whose effects are
        scaled by its :attr:`SubjectPhysiology.effect_strength`.
    seed : int
        The seed given to :func:`simulate_motor_imagery`; used only with
        ``subject``.

    Returns
    -------
    truth : pandas.DataFrame, shape (n_effects, 7)
        One row per effect with columns ``class``, ``band`` (``"alpha"``,
        ``"beta"``, ``"high_gamma"``), ``channel`` (the electrode above the
        source), ``sign`` (+1 power increase, −1 decrease), ``strength``
        (relative power change at the source, after the cue, for a trial of
        average strength; −0.6 means 60 % less power), and ``fmin``/``fmax``
        (the simulated frequency range in Hz; for alpha and beta the range
        that holds the peak, see :attr:`SubjectPhysiology.alpha_peak_hz`).
    """
    effect_scale = check_positive_float("effect_scale", effect_scale)
    if subject is not None:
        effect_scale *= subject_physiology(subject, seed=seed).effect_strength
    return _truth(effect_scale)


def _truth(effect_scale: float) -> pd.DataFrame:
    rows = []
    for cls, band, channel, change in _EFFECTS:
        change = _scaled_change(change, effect_scale)
        rows.append(
            {
                "class": cls,
                "band": band,
                "channel": channel,
                "sign": int(np.sign(change)),
                "strength": round(float(change), 6),
                "fmin": SIMULATED_BANDS[band][0],
                "fmax": SIMULATED_BANDS[band][1],
            }
        )
    return pd.DataFrame(rows)


# Weak responders: exactly _N_WEAK in each block of _WEAK_BLOCK subjects.
_WEAK_BLOCK = 9
_N_WEAK = 2
_WEAK_STRENGTH = (0.45, 0.6)
_NORMAL_STRENGTH = (0.8, 1.3)
_ALPHA_PEAK_HZ = (8.5, 11.5)
_JITTER_M = (0.004, 0.008)
_MAX_SHIFT_M = 0.012
_NOISE_SCALE = (0.8, 1.25)


@dataclass(frozen=True)
class SubjectPhysiology:
    """The physiology of one simulated subject (see :func:`subject_physiology`).

    Attributes
    ----------
    subject : int
        The subject number, 1, 2, ...
    seed : int
        The study seed it was drawn from.
    effect_strength : float
        Multiplier of all class effects (applied like ``effect_scale``, power
        decreases in log power): 0.45–0.6 for weak responders, 0.8–1.3 for the
        others.
    weak_responder : bool
        Whether the subject is one of the two weak responders of its block of
        nine subjects.
    alpha_peak_hz : float
        Individual alpha (mu) peak frequency in Hz, 8.5–11.5.
    noise_scale : float
        Factor of the background and sensor noise, 0.8–1.25.
    jitter : float
        Standard deviation, in metres, of the tangential displacement of the
        motor sources from their electrodes, 0.004–0.008.
    source_shift : tuple of (str, tuple of 3 float)
        The displacement (x, y, z in metres, head coordinates) of each motor
        source, keyed by the electrode above it; at most 12 mm long.
    """

    subject: int
    seed: int
    effect_strength: float
    weak_responder: bool
    alpha_peak_hz: float
    noise_scale: float
    jitter: float
    source_shift: tuple[tuple[str, tuple[float, float, float]], ...]


def subject_physiology(subject: int, *, seed: int = 0) -> SubjectPhysiology:
    """Draw the physiology of simulated subject ``subject`` of study ``seed``.

    Deterministic for a given ``(seed, subject)`` and independent of the other
    simulation options. The weak responders are drawn per block of nine
    subjects (1–9, 10–18, ...), exactly two in each block; everything else
    comes from the subject's own ``numpy.random.SeedSequence([seed, subject])``.

    Parameters
    ----------
    subject : int
        Subject number, >= 1.
    seed : int
        Seed of the study, as given to :func:`simulate_motor_imagery`.

    Returns
    -------
    physiology : SubjectPhysiology
        Effect strength, alpha peak, noise scale and source displacements.
    """
    subject = check_int("subject", subject, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    block, position = divmod(subject - 1, _WEAK_BLOCK)
    # A separate stream per block (three words: never equal to a subject's).
    block_rng = np.random.default_rng([seed, block, 0x57EA])
    weak = position in block_rng.permutation(_WEAK_BLOCK)[:_N_WEAK]
    rng = np.random.default_rng(_subject_seed(seed, subject).spawn(2)[0])
    effect_strength = rng.uniform(*(_WEAK_STRENGTH if weak else _NORMAL_STRENGTH))
    alpha_peak = rng.uniform(*_ALPHA_PEAK_HZ)
    noise_scale = np.exp(rng.uniform(*np.log(_NOISE_SCALE)))
    jitter = rng.uniform(*_JITTER_M)
    pos = standard_montage().get_positions()["ch_pos"]
    shifts = []
    for name in _MOTOR_SOURCES:
        radial = pos[name] / np.linalg.norm(pos[name])
        shift = rng.normal(0.0, jitter, 3)
        shift -= (shift @ radial) * radial  # along the scalp
        norm = np.linalg.norm(shift)
        if norm > _MAX_SHIFT_M:
            shift *= _MAX_SHIFT_M / norm
        shifts.append((name, tuple(round(float(v), 6) for v in shift)))
    return SubjectPhysiology(
        subject=subject,
        seed=seed,
        effect_strength=round(float(effect_strength), 4),
        weak_responder=bool(weak),
        alpha_peak_hz=round(float(alpha_peak), 3),
        noise_scale=round(float(noise_scale), 4),
        jitter=round(float(jitter), 5),
        source_shift=tuple(shifts),
    )


def _subject_seed(seed: int, subject: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, subject])


def _scaled_change(change: float, effect_scale: float) -> float:
    # Decreases are scaled in log power so that they never reach -100 %.
    if change < 0:
        return float((1.0 + change) ** effect_scale - 1.0)
    return float(change * effect_scale)


@dataclass(frozen=True)
class _Layout:
    ch_names: list[str]
    info: mne.Info
    mix_background: np.ndarray  # (n_channels, n_channels)
    mix_motor: np.ndarray  # (n_channels, n_motor_sources)
    mix_occipital: np.ndarray  # (n_channels,)


def _layout(sfreq: float, motor_shift: np.ndarray | None = None) -> _Layout:
    montage = standard_montage()
    pos = montage.get_positions()["ch_pos"]
    ch_names = list(BCI_IV_2A_CH_NAMES)
    info = mne.create_info(ch_names, sfreq, ch_types="eeg")
    info.set_montage(montage)
    elec = np.array([pos[c] for c in ch_names])

    def weights(src_names: list[str], shift: np.ndarray | None = None) -> np.ndarray:
        src = np.array([pos[c] for c in src_names])
        if shift is not None:
            src = src + shift
        d2 = ((elec[:, None, :] - src[None, :, :]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * _SPREAD_M**2))

    background = weights(ch_names)
    # Equal background power at every electrode.
    background /= np.linalg.norm(background, axis=1, keepdims=True)
    return _Layout(
        ch_names=ch_names,
        info=info,
        mix_background=background,
        mix_motor=weights(list(_MOTOR_SOURCES), motor_shift),
        mix_occipital=weights(["Oz"])[:, 0],
    )


def _spectral_noise(
    rng: np.random.Generator, n_signals: int, n_samples: int, gain: np.ndarray
) -> np.ndarray:
    """Gaussian noise of amplitude spectrum ``gain``, unit RMS, (n_signals, n_samples).

    The noise is drawn directly in the frequency domain (independent complex
    Gaussian coefficients, the spectrum of white noise) on ``len(gain)`` rfft
    bins of a fast FFT length, then cropped to ``n_samples``.
    """
    n_fft = 2 * (len(gain) - 1)
    support = np.flatnonzero(gain)  # narrow bands: draw only where needed
    spec = np.zeros((n_signals, len(gain)), dtype=np.complex128)
    draws = rng.standard_normal((n_signals, 2, len(support)))
    spec[:, support] = (draws[:, 0] + 1j * draws[:, 1]) * gain[support]
    out = sp_fft.irfft(spec, n=n_fft, axis=-1, workers=-1)[:, :n_samples]
    out /= out.std(axis=-1, keepdims=True)
    return out


def _band_gain(freqs: np.ndarray, low: float, high: float, edge: float) -> np.ndarray:
    """Flat pass band with raised-cosine edges of width ``edge`` Hz."""
    gain = np.zeros_like(freqs)
    inside = (freqs >= low) & (freqs <= high)
    gain[inside] = 1.0
    for lo, hi, rising in ((low - edge, low, True), (high, high + edge, False)):
        sel = (freqs > lo) & (freqs < hi)
        phase = (freqs[sel] - lo) / edge
        ramp = 0.5 - 0.5 * np.cos(np.pi * phase)
        gain[sel] = ramp if rising else 1 - ramp
    return gain


def _add_trial_windows(
    target: np.ndarray,
    cue: int,
    start_s: float,
    stop_s: float,
    weight: float,
    sfreq: float,
    ramp_s: float = 0.25,
) -> None:
    """Add ``weight`` × a raised-cosine-edged window to ``target`` in place."""
    a = cue + round((start_s - ramp_s / 2) * sfreq)
    b = cue + round((stop_s + ramp_s / 2) * sfreq)
    n_ramp = max(round(ramp_s * sfreq), 1)
    window = np.ones(b - a)
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n_ramp) + 0.5) / n_ramp)
    window[:n_ramp] = ramp
    window[-n_ramp:] = ramp[::-1]
    target[a:b] += weight * window


@verbose
def simulate_motor_imagery(
    *,
    seed: int = 0,
    n_trials_per_class: int = 72,
    n_sessions: int = 2,
    n_runs: int = 6,
    sfreq: float = 250.0,
    tmin: float = -0.5,
    tmax: float = 4.0,
    effect_scale: float = DEFAULT_EFFECT_SCALE,
    subject: int | None = None,
    verbose: bool | str | int | None = None,
) -> Trials:
    """Simulate a four-class motor-imagery dataset like BCI Competition IV 2a.

    See the module docstring for the model. The result is deterministic for a
    given ``seed``, ``subject`` and set of options.

    Parameters
    ----------
    seed : int
        Seed of the random number generator; with ``subject``, the seed of the
        study, from which every subject's own seed is derived.
    n_trials_per_class : int
        Trials of each class in each session (72 in BCI IV 2a).
    n_sessions : int
        Number of sessions (recording days), named ``"session_1"``, ...
        Rhythm amplitudes differ slightly between sessions.
    n_runs : int
        Continuous runs per session; the trials of a session are spread evenly
        over them in random order (6 in BCI IV 2a).
    sfreq : float
        Sampling frequency in Hz; must exceed 2 × 91 Hz so that the
        high-gamma band exists.
    tmin, tmax : float
        Trial window around the cue, in seconds; ``tmax`` is exclusive, so the
        default gives ``(4.0 + 0.5) × 250 = 1125`` samples.
    effect_scale : float
        Multiplies the strength of all class effects (power decreases are
        scaled in log power); the default, 1.5, is calibrated so that a
        Deep4Net trained on session 1 with cropped decoding classifies session
        2 well above chance but not perfectly.
    subject : int | None
        ``None`` (default) simulates the default subject (effect strength
        and noise level 1, no source displacement). An integer k >= 1
        simulates subject k of a study: its data come from
        ``numpy.random.SeedSequence([seed, k])`` and its physiology
        (effect strength, alpha peak frequency, source positions, noise
        level) from :func:`subject_physiology`; among subjects 1–9 exactly
        two are weak responders.
    verbose : bool | str | int | None
        Logging level (see :mod:`envcorr._logging`).

    Returns
    -------
    trials : Trials
        ``X`` of shape (n_sessions × 4 × n_trials_per_class, 22, n_times) in
        volts, classes :data:`CLASS_NAMES`, ``session`` and ``subject`` set
        (``"sim{seed}"``, or ``"sim{seed}-{k}"`` for subject k),
        ``continuous`` holding the runs, ``info`` with standard 10-05
        positions, and ``description["truth"]`` the rows of
        :func:`simulation_truth` as a list of dicts; for subject k also
        ``description["subject"]`` (k) and ``description["physiology"]``
        (:class:`SubjectPhysiology` as a dict).
    """
    seed = check_int("seed", seed, minimum=0)
    n_trials_per_class = check_int("n_trials_per_class", n_trials_per_class, minimum=1)
    n_sessions = check_int("n_sessions", n_sessions, minimum=1)
    n_runs = check_int("n_runs", n_runs, minimum=1)
    sfreq = check_positive_float("sfreq", sfreq)
    effect_scale = check_positive_float("effect_scale", effect_scale)
    physiology = None if subject is None else subject_physiology(subject, seed=seed)
    if sfreq / 2 <= SIMULATED_BANDS["high_gamma"][1] + 5:
        raise invalid(
            "sfreq",
            f"{sfreq:g} Hz is too low: the simulated high-gamma band reaches "
            f"{SIMULATED_BANDS['high_gamma'][1]:g} Hz.",
            "Use sfreq >= 200 Hz (250 Hz as in BCI IV 2a).",
        )
    if not (-2.0 <= tmin < 0.5 and 0.5 < tmax <= 6.0):
        raise invalid(
            "tmin",
            f"the window [{tmin:g}, {tmax:g}] s is outside what the simulation "
            "supports.",
            "Use -2 <= tmin < 0.5 and 0.5 < tmax <= 6 (seconds around the cue).",
        )
    if n_trials_per_class * len(CLASS_NAMES) < n_runs:
        raise invalid(
            "n_runs",
            f"{n_runs} runs for {n_trials_per_class * len(CLASS_NAMES)} trials.",
            "Use at most one run per trial.",
        )
    return _simulate(
        seed=seed,
        n_trials_per_class=n_trials_per_class,
        n_sessions=n_sessions,
        n_runs=n_runs,
        sfreq=sfreq,
        tmin=tmin,
        tmax=tmax,
        effect_scale=effect_scale,
        physiology=physiology,
    )


def _simulate(
    *,
    seed: int,
    n_trials_per_class: int,
    n_sessions: int,
    n_runs: int,
    sfreq: float,
    tmin: float,
    tmax: float,
    effect_scale: float,
    physiology: SubjectPhysiology | None,
) -> Trials:
    if physiology is None:
        rng = np.random.default_rng(seed)
        layout = _layout(sfreq)
        noise_scale = 1.0
        subject_label = f"sim{seed}"
    else:
        subject = physiology.subject
        rng = np.random.default_rng(_subject_seed(seed, subject).spawn(2)[1])
        shift = np.array([v for _, v in physiology.source_shift])
        layout = _layout(sfreq, shift)
        noise_scale = physiology.noise_scale
        subject_label = f"sim{seed}-{subject}"
    n_times = round((tmax - tmin) * sfreq)
    offset = round(tmin * sfreq)
    strength = 1.0 if physiology is None else physiology.effect_strength
    truth = _truth(effect_scale * strength)
    # Subject-specific peak frequencies of each motor source's rhythms.
    alpha_peak = rng.uniform(9.0, 11.0)
    alpha_spread = rng.normal(0.0, 0.3, len(_MOTOR_SOURCES))
    if physiology is not None:
        alpha_peak = physiology.alpha_peak_hz
        alpha_spread = np.clip(alpha_spread, -0.5, 0.5)
    peaks = {
        "alpha": alpha_peak + alpha_spread,
        "beta": rng.uniform(19.0, 23.0) + rng.normal(0.0, 1.0, len(_MOTOR_SOURCES)),
    }
    if physiology is not None:
        peaks["alpha"] = np.clip(peaks["alpha"], 8.0, 12.0)
    occipital_peak = rng.uniform(9.5, 11.0)

    recordings, segment, onsets, labels, sessions = [], [], [], [], []
    for s in range(n_sessions):
        session = f"session_{s + 1}"
        # Electrode impedances and the subject's state differ between days.
        session_gain = {
            band: rng.uniform(0.85, 1.15, len(_MOTOR_SOURCES)) for band in _RHYTHM_RMS
        }
        y_session = rng.permutation(
            np.repeat(np.arange(len(CLASS_NAMES)), n_trials_per_class)
        )
        for y_run in np.array_split(y_session, n_runs):
            data, cues = _simulate_run(
                rng,
                layout,
                y_run,
                sfreq=sfreq,
                tmin=tmin,
                tmax=tmax,
                peaks=peaks,
                occipital_peak=occipital_peak,
                session_gain=session_gain,
                truth=truth,
                noise_scale=noise_scale,
            )
            recordings.append(data)
            segment += [len(recordings) - 1] * len(cues)
            onsets += (cues + offset).tolist()
            labels += y_run.tolist()
            sessions += [session] * len(cues)
        logger.info("Simulated %s: %d trials.", session, len(y_session))

    description = {
        "dataset": "simulated",
        "seed": seed,
        "effect_scale": effect_scale,
        "montage": STANDARD_MONTAGE,
        "truth": truth.to_dict(orient="records"),
    }
    if physiology is not None:
        description["subject"] = physiology.subject
        description["physiology"] = asdict(physiology)
    segment_arr = np.asarray(segment)
    onset_arr = np.asarray(onsets)
    X = np.stack(
        [
            recordings[g][:, o : o + n_times]
            for g, o in zip(segment_arr, onset_arr, strict=True)
        ]
    )
    return Trials(
        X=X,
        y=np.asarray(labels),
        class_names=list(CLASS_NAMES),
        sfreq=sfreq,
        ch_names=layout.ch_names,
        info=layout.info,
        tmin=offset / sfreq,
        session=np.asarray(sessions),
        subject=np.full(len(labels), subject_label),
        continuous=Recordings(recordings, segment_arr, onset_arr),
        description=description,
    )


def _simulate_run(
    rng: np.random.Generator,
    layout: _Layout,
    y: np.ndarray,
    *,
    sfreq: float,
    tmin: float,
    tmax: float,
    peaks: dict[str, np.ndarray],
    occipital_peak: float,
    session_gain: dict[str, np.ndarray],
    truth: pd.DataFrame,
    noise_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """One continuous run, shape (n_channels, n_samples), and its cue samples."""
    # Cue every 7.5-8.5 s as in BCI IV 2a, margins so every window fits.
    lead = max(3.0, 1.0 - tmin)
    spacing = rng.uniform(7.5, 8.5, len(y))
    cue_s = lead + np.concatenate([[0.0], np.cumsum(spacing[:-1])])
    cues = np.round(cue_s * sfreq).astype(np.int64)
    n_samples = int(cues[-1] + np.ceil((max(tmax, 4.5) + 3.0) * sfreq))
    # Even fast FFT length: noise is drawn on it and cropped to n_samples.
    n_fft = 2 * sp_fft.next_fast_len((n_samples + 1) // 2, real=True)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sfreq)

    # Background power ∝ 1/f from 1 to 20 Hz, ∝ 1/f² above (the steeper
    # fall of scalp EEG spectra), flat below 1 Hz (no drift blow-up).
    f = np.maximum(freqs, 1.0)
    pink = 1.0 / np.sqrt(f * np.maximum(f / _KNEE_HZ, 1.0))
    pink[0] = 0.0
    background = layout.mix_background @ _spectral_noise(
        rng, layout.mix_background.shape[1], n_samples, pink
    )
    data = (_BACKGROUND_RMS * noise_scale) * background

    # Per-trial variability: effect strength, onset latency and offset.
    strength = np.clip(rng.normal(1.0, 0.4, len(y)), 0.0, 2.0)
    start_s = rng.uniform(0.4, 0.9, len(y))
    stop_s = rng.uniform(3.6, 4.2, len(y))

    motor = np.zeros((len(_MOTOR_SOURCES), n_samples))
    for band, rms in _RHYTHM_RMS.items():
        if band == "high_gamma":
            # Raised-cosine edges inside the band: no power outside 71-91 Hz.
            low, high = SIMULATED_BANDS[band]
            edge = 3.0
            gains = [_band_gain(freqs, low + edge, high - edge, edge)]
        else:
            width = 1.5 if band == "alpha" else 3.0
            gains = [_band_gain(freqs, p - width, p + width, 2.0) for p in peaks[band]]
        src = np.stack(
            [_spectral_noise(rng, 1, n_samples, g)[0] for g in gains]
            if len(gains) > 1
            else _spectral_noise(rng, len(_MOTOR_SOURCES), n_samples, gains[0])
        )
        change = np.zeros((len(_MOTOR_SOURCES), n_samples))
        rows = truth[truth["band"] == band]
        for cls_idx, cls in enumerate(CLASS_NAMES):
            for _, row in rows[rows["class"] == cls].iterrows():
                k = _MOTOR_SOURCES.index(row["channel"])
                for t in np.flatnonzero(y == cls_idx):
                    _add_trial_windows(
                        change[k],
                        cues[t],
                        start_s[t],
                        stop_s[t],
                        _trial_change(row["strength"], strength[t]),
                        sfreq,
                    )
        amplitude = np.sqrt(np.maximum(1.0 + change, 0.02))
        scale = np.array([_MOTOR_RMS_SCALE[c] for c in _MOTOR_SOURCES])
        motor += (rms * scale * session_gain[band])[:, None] * amplitude * src
    data += layout.mix_motor @ motor

    occipital_gain = _band_gain(freqs, occipital_peak - 1.5, occipital_peak + 1.5, 2.0)
    occipital = _spectral_noise(rng, 1, n_samples, occipital_gain)[0]
    data += _OCCIPITAL_ALPHA_RMS * layout.mix_occipital[:, None] * occipital
    sensor_rms = _SENSOR_NOISE_RMS * noise_scale
    data += sensor_rms * rng.standard_normal(data.shape, dtype=np.float32)
    return data.astype(np.float32), cues


def _trial_change(change: float, strength: float) -> float:
    """Power change of one trial of relative ``strength`` (1 = average)."""
    if change < 0:
        return float((1.0 + change) ** strength - 1.0)
    return float(change * strength)
