"""Tests of the simulated motor-imagery dataset, with a known-answer check."""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict

import numpy as np
import pytest
from scipy.signal import butter, hilbert, sosfiltfilt, welch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from envcorr._utils.check import InvalidInputError
from envcorr.data import (
    BCI_IV_2A_CH_NAMES,
    CLASS_NAMES,
    load_npz,
    save_npz,
    simulate_motor_imagery,
    simulation_truth,
)
from envcorr.data.files import channels_without_position
from envcorr.data.simulate import (
    _MOTOR_SOURCES,
    SubjectPhysiology,
    _layout,
    subject_physiology,
)

RF = 441  # receptive field of Deep4's last pooling block (docs/method.md)
BANDS = {"alpha": (7.0, 13.0), "beta": (13.0, 31.0), "high_gamma": (71.0, 91.0)}


@pytest.fixture(scope="module")
def sim():
    return simulate_motor_imagery(seed=0, verbose=False)


def envelope_class_r(trials, band, channels):
    """Independent reference of docs/method.md step 9: r, (n_channels, n_classes).

    Band-pass the continuous runs (Butterworth order 4, zero phase), Hilbert
    envelope, square, cut the trials, valid moving average over RF samples,
    Pearson r with each class's one-hot indicator over all samples of all
    trials.
    """
    picks = [trials.ch_names.index(c) for c in channels]
    sos = butter(4, band, btype="bandpass", fs=trials.sfreq, output="sos")
    power = [
        np.abs(hilbert(sosfiltfilt(sos, rec[picks].astype(np.float64), axis=-1))) ** 2
        for rec in trials.continuous.data
    ]
    n = trials.n_times
    cut = np.stack(
        [
            power[g][:, o : o + n]
            for g, o in zip(
                trials.continuous.segment, trials.continuous.onset, strict=True
            )
        ]
    )
    csum = np.concatenate([np.zeros((*cut.shape[:2], 1)), np.cumsum(cut, -1)], -1)
    smooth = (csum[..., RF:] - csum[..., :-RF]) / RF  # (n_trials, n_ch, n - RF + 1)
    n_out = smooth.shape[-1]
    r = np.empty((len(channels), len(trials.class_names)))
    for c in range(len(trials.class_names)):
        label = np.repeat((trials.y == c).astype(float), n_out)
        for i in range(len(channels)):
            r[i, c] = np.corrcoef(smooth[:, i].ravel(), label)[0, 1]
    return r


def test_shape_channels_sessions(sim):
    assert sim.X.shape == (576, 22, 1125)
    assert sim.X.dtype == np.float32
    assert sim.ch_names == BCI_IV_2A_CH_NAMES
    assert sim.class_names == list(CLASS_NAMES)
    assert sim.sfreq == 250.0 and sim.tmin == -0.5
    assert sim.class_counts() == dict.fromkeys(CLASS_NAMES, 144)
    parts = sim.split_sessions()
    assert list(parts) == ["session_1", "session_2"]
    assert all(
        p.class_counts() == dict.fromkeys(CLASS_NAMES, 72) for p in parts.values()
    )
    assert set(sim.subject) == {"sim0"}
    assert not channels_without_position(sim.info)
    # Tens of microvolts, in volts.
    assert 5e-6 < sim.X.std() < 40e-6


def test_trials_are_slices_of_the_runs(sim):
    rec = sim.continuous
    assert len(rec.data) == 12  # 6 runs per session
    for i in range(sim.n_trials):
        run = rec.data[rec.segment[i]]
        np.testing.assert_array_equal(
            sim.X[i], run[:, rec.onset[i] : rec.onset[i] + 1125]
        )
    # Cues 7.5-8.5 s apart within a run.
    same_run = np.diff(rec.segment) == 0
    gaps = np.diff(rec.onset)[same_run] / sim.sfreq
    assert gaps.min() >= 7.5 and gaps.max() <= 8.5


def test_deterministic_for_a_seed():
    a = simulate_motor_imagery(seed=3, n_trials_per_class=2, n_runs=1, verbose=False)
    b = simulate_motor_imagery(seed=3, n_trials_per_class=2, n_runs=1, verbose=False)
    c = simulate_motor_imagery(seed=4, n_trials_per_class=2, n_runs=1, verbose=False)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.allclose(a.X, c.X)


def test_truth_table(sim):
    truth = simulation_truth()
    assert list(truth.columns) == [
        "class", "band", "channel", "sign", "strength", "fmin", "fmax",
    ]  # fmt: skip
    assert set(truth["class"]) == set(CLASS_NAMES)
    assert (np.sign(truth["strength"]) == truth["sign"]).all()
    assert sim.description["truth"] == truth.to_dict(orient="records")
    rh = truth[(truth["class"] == "right_hand") & (truth["band"] == "alpha")]
    assert rh.set_index("channel").loc["C3", "sign"] == -1
    # effect_scale shrinks every change; decreases stay above -100 %.
    weak = simulation_truth(effect_scale=0.5)
    assert (weak["strength"].abs() < truth["strength"].abs()).all()
    assert (simulation_truth(effect_scale=10)["strength"] > -1).all()


def log_band_power(trials):
    X = trials.X[:, :, int((0.5 - trials.tmin) * trials.sfreq) :]  # 0.5-4 s
    feats = []
    for band in BANDS.values():
        sos = butter(4, band, btype="bandpass", fs=trials.sfreq, output="sos")
        feats.append(np.log(np.mean(sosfiltfilt(sos, X, axis=-1) ** 2, axis=-1)))
    return np.concatenate(feats, axis=1)


def test_learnable_but_not_trivial(sim):
    features = log_band_power(sim)
    train = sim.session == "session_1"
    lda = LinearDiscriminantAnalysis().fit(features[train], sim.y[train])
    accuracy = lda.score(features[~train], sim.y[~train])
    assert 0.75 <= accuracy <= 0.97


def test_known_answer_envelope_class_correlation(sim):
    """docs/method.md step 9 recovers the truth: ERD contralateral, high gamma up."""
    channels = ["C3", "C4", "Cz"]
    C3, C4, CZ = range(3)
    LEFT, RIGHT, FEET = (
        CLASS_NAMES.index(c) for c in ("left_hand", "right_hand", "feet")
    )
    alpha = envelope_class_r(sim, BANDS["alpha"], channels)
    gamma = envelope_class_r(sim, BANDS["high_gamma"], channels)
    # Right hand: alpha power down at C3, clearly below C4; left hand mirrored.
    assert alpha[C3, RIGHT] < -0.05 and alpha[C3, RIGHT] < alpha[C4, RIGHT] - 0.05
    assert alpha[C4, LEFT] < -0.05 and alpha[C4, LEFT] < alpha[C3, LEFT] - 0.05
    # Feet: lowest at the vertex.
    assert alpha[CZ, FEET] < -0.05
    assert alpha[CZ, FEET] < min(alpha[C3, FEET], alpha[C4, FEET])
    # High gamma goes up where alpha goes down.
    for ch, cls in ((C3, RIGHT), (C4, LEFT), (CZ, FEET)):
        assert gamma[ch, cls] > 0.05
        others = [gamma[o, cls] for o in range(3) if o != ch]
        assert gamma[ch, cls] > max(others)


def test_save_npz_round_trip(sim, tmp_path):
    small = sim.subset(np.r_[0:5, 300:305])
    path = save_npz(small, tmp_path / "sim.npz", verbose=False)
    assert sorted(os.listdir(tmp_path)) == ["sim.npz"]  # no temporary left
    back = load_npz(path, verbose=False)
    np.testing.assert_array_equal(back.X, small.X)
    np.testing.assert_array_equal(back.y, small.y)
    np.testing.assert_array_equal(back.session, small.session)
    assert back.class_names == small.class_names and back.ch_names == small.ch_names
    assert back.sfreq == small.sfreq and back.tmin == small.tmin
    assert back.description["truth"] == small.description["truth"]
    for i in range(back.n_trials):
        run = back.continuous.data[back.continuous.segment[i]]
        o = back.continuous.onset[i]
        np.testing.assert_array_equal(back.X[i], run[:, o : o + back.n_times])
    pos = back.info.get_montage().get_positions()["ch_pos"]
    ref = small.info.get_montage().get_positions()["ch_pos"]
    np.testing.assert_allclose(pos["C3"], ref["C3"])


def test_save_npz_is_atomic(sim, tmp_path, monkeypatch):
    path = tmp_path / "out.npz"
    path.write_bytes(b"old content")

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save_npz(sim.subset([0, 1]), path, verbose=False)
    assert path.read_bytes() == b"old content"
    assert sorted(os.listdir(tmp_path)) == ["out.npz"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": -1}, "'seed'.*minimum"),
        ({"sfreq": 128.0}, "'sfreq'.*too low"),
        ({"n_trials_per_class": 0}, "'n_trials_per_class'"),
        ({"tmin": 1.0}, "'tmin'"),
        ({"effect_scale": 0}, "'effect_scale'"),
        ({"subject": 0}, "'subject'.*minimum"),
        ({"subject": 1.5}, "'subject'"),
    ],
)
def test_bad_simulation_options(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        simulate_motor_imagery(**kwargs, verbose=False)


# --- Simulated subjects ------------------------------------------------------

# sha256 of X for simulate_motor_imagery(seed=0, n_trials_per_class=4, n_runs=2).
# The default subject's data change only on purpose: a change to the model
# updates this hash and says why in its commit message (last: beta and high
# gamma made to dominate their bands at the source electrodes).
PINNED_X_SHA256 = "8b061dc49e2d01fc19ca55ffb2d4e8a87847341857b11b973a1c2bfe63542800"
PINNED_Y = [1, 3, 0, 3, 2, 1, 2, 2, 0, 1, 2, 0, 3, 1, 0, 3]  # session_1


def small(**kwargs):
    return simulate_motor_imagery(
        n_trials_per_class=4, n_runs=2, **kwargs, verbose=False
    )


def test_default_subject_is_unchanged_bit_for_bit():
    """subject=None gives the pinned default subject (envcorr run's data)."""
    trials = small(seed=0)
    assert hashlib.sha256(trials.X.tobytes()).hexdigest() == PINNED_X_SHA256
    assert trials.y[:16].tolist() == PINNED_Y
    explicit = small(seed=0, subject=None)
    np.testing.assert_array_equal(explicit.X, trials.X)
    assert set(trials.subject) == {"sim0"}
    assert "subject" not in trials.description
    assert "physiology" not in trials.description
    assert simulation_truth(subject=None).equals(simulation_truth())


def tiny(**kwargs):
    options = {"n_trials_per_class": 2, "n_sessions": 1, "n_runs": 1, **kwargs}
    return simulate_motor_imagery(**options, verbose=False)


def test_subjects_differ_and_are_deterministic():
    a = tiny(seed=0, subject=2)
    again = tiny(seed=0, subject=2)
    b = tiny(seed=0, subject=3)
    np.testing.assert_array_equal(a.X, again.X)
    np.testing.assert_array_equal(a.y, again.y)
    assert not np.allclose(a.X, b.X)
    assert not np.allclose(a.X, tiny(seed=0).X)
    assert not np.allclose(a.X, tiny(seed=1, subject=2).X)
    assert set(a.subject) == {"sim0-2"} and set(b.subject) == {"sim0-3"}
    pa, pb = subject_physiology(2), subject_physiology(3)
    assert isinstance(pa, SubjectPhysiology)
    assert pa == subject_physiology(2, seed=0)  # deterministic
    assert pa != pb and pa != subject_physiology(2, seed=1)
    assert pa.alpha_peak_hz != pb.alpha_peak_hz
    assert a.description["subject"] == 2
    assert a.description["physiology"] == asdict(pa)
    assert a.description["seed"] == 0
    truth = simulation_truth(subject=2, seed=0)
    assert a.description["truth"] == truth.to_dict(orient="records")
    # The physiology does not depend on the other simulation options.
    c = tiny(seed=0, subject=2, n_trials_per_class=3, tmax=4.5)
    assert c.description["physiology"] == asdict(pa)


def test_physiology_ranges_and_weak_responders():
    for seed in (0, 1, 7):
        phys = [subject_physiology(k, seed=seed) for k in range(1, 19)]
        for block in (phys[:9], phys[9:]):
            assert sum(p.weak_responder for p in block) == 2
        for p in phys:
            lo, hi = (0.45, 0.6) if p.weak_responder else (0.8, 1.3)
            assert lo <= p.effect_strength <= hi
            assert 8.0 <= p.alpha_peak_hz <= 12.0
            assert 0.8 <= p.noise_scale <= 1.25
            assert 0.004 <= p.jitter <= 0.008
            assert [name for name, _ in p.source_shift] == list(_MOTOR_SOURCES)
            assert all(np.linalg.norm(v) < 0.012 + 1e-5 for _, v in p.source_shift)
    default = [subject_physiology(k) for k in range(1, 10)]
    assert [p.subject for p in default if p.weak_responder] == [1, 4]
    # Individual alpha peaks spread over the range, not all alike.
    assert np.ptp([p.alpha_peak_hz for p in default]) > 1.5


def test_truth_scales_with_effect_strength():
    weak, strong = simulation_truth(subject=1), simulation_truth(subject=2)
    assert subject_physiology(1).weak_responder
    assert not subject_physiology(2).weak_responder
    assert (weak["sign"] == strong["sign"]).all()
    assert (weak["sign"] == simulation_truth()["sign"]).all()
    assert (weak["strength"].abs() < 0.75 * strong["strength"].abs()).all()
    assert not simulation_truth(subject=2, seed=1).equals(strong)


def test_sources_stay_over_their_electrodes():
    """Spatial jitter changes the mixing a little; the peak stays put."""
    base = _layout(250.0).mix_motor
    for k in range(1, 10):
        shift = np.array([v for _, v in subject_physiology(k).source_shift])
        mix = _layout(250.0, shift).mix_motor
        assert not np.allclose(mix, base)
        assert np.abs(mix - base).max() < 0.25
        peak = [BCI_IV_2A_CH_NAMES[i] for i in mix.argmax(axis=0)]
        assert peak == list(_MOTOR_SOURCES)


def alpha_centroid(trials):
    """Spectral centroid (Hz) over 6-14 Hz at C3, C4 and Cz."""
    picks = [trials.ch_names.index(c) for c in ("C3", "C4", "Cz")]
    data = np.concatenate([r[picks] for r in trials.continuous.data], axis=-1)
    f, psd = welch(data.astype(np.float64), fs=trials.sfreq, nperseg=500)
    psd = psd.mean(axis=0)
    sel = (f >= 6.0) & (f <= 14.0)
    return float((f[sel] * psd[sel]).sum() / psd[sel].sum())


def test_alpha_rhythm_follows_the_alpha_peak():
    low, high = 3, 7  # alpha peaks 9.2 and 11.4 Hz for seed 0
    peak = {k: subject_physiology(k).alpha_peak_hz for k in (low, high)}
    assert peak[high] - peak[low] > 2.0
    centroid = {
        k: alpha_centroid(
            simulate_motor_imagery(
                subject=k,
                n_trials_per_class=4,
                n_sessions=1,
                n_runs=1,
                verbose=False,
            )
        )
        for k in (low, high)
    }
    assert centroid[high] > centroid[low] + 1.0
    for k in (low, high):
        assert abs(centroid[k] - peak[k]) < 1.0


@pytest.fixture(scope="module")
def weak_and_strong():
    def sim_subject(k):
        return simulate_motor_imagery(
            subject=k, n_trials_per_class=12, n_sessions=1, n_runs=2, verbose=False
        )

    return sim_subject(1), sim_subject(2)  # weak, strong for seed 0


def test_weak_responder_has_weaker_envelope_correlation(weak_and_strong):
    channels = ["C3", "C4", "Cz"]
    LEFT, RIGHT, FEET = (
        CLASS_NAMES.index(c) for c in ("left_hand", "right_hand", "feet")
    )
    cells = ([0, 1, 2], [RIGHT, LEFT, FEET])  # contralateral hand, vertex
    effect = {}
    for name, trials in zip(("weak", "strong"), weak_and_strong, strict=True):
        alpha = envelope_class_r(trials, BANDS["alpha"], channels)
        gamma = envelope_class_r(trials, BANDS["high_gamma"], channels)
        effect[name] = (-alpha[cells].mean(), gamma[cells].mean())
    for weak, strong in zip(effect["weak"], effect["strong"], strict=True):
        assert strong > 0.3
        # r saturates as the effect grows; r / sqrt(1 - r²), the effect over
        # the spread, scales with it (subject 1's strength is 0.48 × subject 2's).
        assert weak / np.sqrt(1 - weak**2) < 0.7 * strong / np.sqrt(1 - strong**2)


def test_strong_responder_topography_has_the_truth_pattern(weak_and_strong):
    trials = weak_and_strong[1]
    channels = list(BCI_IV_2A_CH_NAMES)
    truth = simulation_truth(subject=2)
    r = {
        band: envelope_class_r(trials, BANDS[band], channels)
        for band in ("alpha", "high_gamma")
    }
    hand_feet = truth[
        truth["class"].isin(["left_hand", "right_hand", "feet"])
        & truth["band"].isin(["alpha", "high_gamma"])
        & (truth["strength"].abs() >= 0.4)
    ]
    assert len(hand_feet) == 6
    for row in hand_feet.itertuples():
        value = r[row.band][channels.index(row.channel), CLASS_NAMES.index(row[1])]
        assert np.sign(value) == row.sign and abs(value) > 0.1
    # The extreme of each map lies over the source's area.
    near = {
        "C3": {"C3", "C5", "C1", "FC3", "CP3"},
        "C4": {"C4", "C6", "C2", "FC4", "CP4"},
        "Cz": {"Cz", "C1", "C2", "FCz", "CPz", "FC1", "FC2", "CP1", "CP2"},
    }
    for cls, src in (("right_hand", "C3"), ("left_hand", "C4"), ("feet", "Cz")):
        c = CLASS_NAMES.index(cls)
        assert channels[r["alpha"][:, c].argmin()] in near[src]
        assert channels[r["high_gamma"][:, c].argmax()] in near[src]
