"""Tests of the simulated motor-imagery dataset, with a known-answer check."""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy.signal import butter, hilbert, sosfiltfilt
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
    ],
)
def test_bad_simulation_options(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        simulate_motor_imagery(**kwargs, verbose=False)
