"""Tests of the file and MOABB loaders on small files the tests write."""

from __future__ import annotations

import warnings

import mne
import numpy as np
import pytest

from envcorr._utils.check import InvalidInputError
from envcorr.data import (
    load_data,
    load_epochs,
    load_moabb,
    load_npz,
    load_raw,
    save_npz,
    simulate_motor_imagery,
)
from envcorr.data._montage import channels_without_position, standard_montage

CHANNELS = ["C3", "Cz", "C4"]
CUES_S = np.arange(2.0, 40.0, 4.0)  # 10 cues, 4 s apart


def make_raw(sfreq=250.0, ch_names=CHANNELS, classes=("left", "right"), seed=0):
    """Random EEG of 44 s with one annotation per cue, classes in turn."""
    rng = np.random.default_rng(seed)
    data = 10e-6 * rng.standard_normal((len(ch_names), int(44 * sfreq)))
    info = mne.create_info(list(ch_names), sfreq, "eeg")
    raw = mne.io.RawArray(data, info, verbose=False)
    names = [classes[i % len(classes)] for i in range(len(CUES_S))]
    raw.set_annotations(mne.Annotations(CUES_S, 0.0, names))
    return raw


def expected_trial(raw, cue_s, tmin=-0.5, tmax=1.0):
    sfreq = raw.info["sfreq"]
    start = round((cue_s + tmin) * sfreq)
    return raw.get_data()[:, start : start + round((tmax - tmin) * sfreq)]


def write(raw, path):
    if path.suffix == ".fif":
        raw.save(path, verbose=False)
    else:
        with warnings.catch_warnings():  # BrainVision: "double format, to float32"
            warnings.simplefilter("ignore", RuntimeWarning)
            mne.export.export_raw(path, raw, verbose=False)
    return path


@pytest.mark.parametrize(
    ("name", "atol"), [("rec_raw.fif", 1e-12), ("rec.edf", 1e-9), ("rec.vhdr", 1e-7)]
)
def test_load_raw_formats(tmp_path, name, atol):
    raw = make_raw()
    path = write(raw, tmp_path / name)
    trials = load_raw(
        path,
        event_id={"left": "left", "right": "right"},
        tmin=-0.5,
        tmax=1.0,
        verbose=False,
    )
    assert trials.X.shape == (10, 3, 375)
    assert trials.class_names == ["left", "right"]
    assert trials.y.tolist() == [0, 1] * 5
    assert trials.ch_names == CHANNELS and trials.tmin == -0.5
    assert not channels_without_position(trials.info)
    for i, cue in enumerate(CUES_S):
        np.testing.assert_allclose(trials.X[i], expected_trial(raw, cue), atol=atol)
    rec = trials.continuous
    np.testing.assert_array_equal(
        trials.X[3], rec.data[rec.segment[3]][:, rec.onset[3] : rec.onset[3] + 375]
    )


def test_stim_channel_codes_and_subset_of_classes(tmp_path):
    raw = make_raw(classes=("a", "b", "c"))
    stim = np.zeros((1, raw.n_times))
    for i, cue in enumerate(CUES_S):
        stim[0, int(cue * 250)] = i % 3 + 1
    raw.add_channels(
        [mne.io.RawArray(stim, mne.create_info(["STI"], 250.0, "stim"), verbose=False)]
    )
    raw.set_annotations(None)
    path = write(raw, tmp_path / "stim_raw.fif")
    trials = load_raw(path, event_id={"first": 1, "third": 3}, verbose=False)
    assert trials.ch_names == CHANNELS  # stim channel dropped
    assert trials.class_counts() == {"first": 4, "third": 3}
    assert trials.n_times == 1125


def test_resample_and_common_average(tmp_path):
    path = write(make_raw(sfreq=500.0), tmp_path / "rec.edf")
    trials = load_raw(
        path,
        event_id={"l": "left", "r": "right"},
        resample=250.0,
        car=True,
        verbose=False,
    )
    assert trials.sfreq == 250.0 and trials.n_times == 1125
    np.testing.assert_allclose(trials.X.mean(axis=1), 0.0, atol=1e-12)


def test_several_files_give_sessions_and_need_one_rate(tmp_path):
    a = write(make_raw(seed=1), tmp_path / "day1_raw.fif")
    b = write(make_raw(sfreq=500.0, seed=2), tmp_path / "day2_raw.fif")
    event_id = {"left": "left", "right": "right"}
    with pytest.raises(InvalidInputError, match=r"'resample'.*mixed sampling rates"):
        load_raw([a, b], event_id=event_id, verbose=False)
    trials = load_raw([a, b], event_id=event_id, resample=250.0, verbose=False)
    assert list(trials.split_sessions()) == ["day1_raw", "day2_raw"]
    assert len(trials.continuous.data) == 2 and trials.n_trials == 20


def test_load_epochs(tmp_path):
    raw = make_raw()
    events, event_id = mne.events_from_annotations(raw, verbose=False)
    epochs = mne.Epochs(
        raw,
        events,
        event_id,
        tmin=-0.5,
        tmax=1.0,
        baseline=None,
        preload=True,
        verbose=False,
    )
    epochs.save(tmp_path / "rec-epo.fif", verbose=False)
    trials = load_epochs(tmp_path / "rec-epo.fif", verbose=False)
    assert trials.class_names == ["left", "right"]
    assert trials.tmin == pytest.approx(-0.5)
    np.testing.assert_allclose(trials.X, epochs.get_data(), atol=1e-12)
    renamed = load_epochs(
        tmp_path / "rec-epo.fif", event_id={"R": "right", "L": "left"}, verbose=False
    )
    assert renamed.class_names == ["R", "L"] and renamed.y.tolist() == [1, 0] * 5


def test_load_npz_minimal(tmp_path):
    X = np.random.default_rng(0).standard_normal((4, 2, 10))
    np.savez(
        tmp_path / "d.npz", X=X, y=[1, 2, 2, 1], sfreq=100.0, ch_names=["C3", "C4"]
    )
    trials = load_npz(tmp_path / "d.npz", verbose=False)
    assert trials.class_names == ["1", "2"] and trials.y.tolist() == [0, 1, 1, 0]
    assert trials.tmin == 0.0 and trials.session is None
    assert not channels_without_position(trials.info)


def test_load_data_dispatch(tmp_path):
    sim = load_data(
        "simulated", n_trials_per_class=2, n_runs=1, n_sessions=1, verbose=False
    )
    assert sim.n_trials == 8 and sim.description["dataset"] == "simulated"
    # a subject of the simulated data is that subject, with its own physiology
    small = dict(n_trials_per_class=2, n_runs=1, n_sessions=1, verbose=False)
    third = load_data("simulated", subject=3, **small)
    assert third.description["subject"] == 3
    np.testing.assert_array_equal(third.X, simulate_motor_imagery(subject=3, **small).X)
    save_npz(sim, tmp_path / "sim.npz", verbose=False)
    assert load_data(tmp_path / "sim.npz", verbose=False).n_trials == 8
    edf = write(make_raw(), tmp_path / "rec.edf")
    assert (
        load_data(edf, event_id={"l": "left", "r": "right"}, verbose=False).n_trials
        == 10
    )
    with pytest.raises(InvalidInputError, match=r"'source'.*Schirrmeister2017"):
        load_data("nonexistent.gdf")
    with pytest.raises(InvalidInputError, match=r"'subject'"):
        load_data("bnci2014_001")


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize("loader", [load_raw, load_epochs, load_npz])
def test_missing_file(tmp_path, loader):
    with pytest.raises(InvalidInputError, match=r"'path'.*not found.*nope"):
        loader(tmp_path / "nope.edf")


def test_no_matching_events_lists_found_ones(tmp_path):
    path = write(make_raw(), tmp_path / "rec_raw.fif")
    match = r"'event_id'.*no events match.*Events found.*'left': 5"
    with pytest.raises(InvalidInputError, match=match):
        load_raw(path, event_id={"a": "769", "b": "770"}, verbose=False)


def test_fewer_than_two_classes(tmp_path):
    path = write(make_raw(classes=("left",)), tmp_path / "rec_raw.fif")
    with pytest.raises(InvalidInputError, match=r"'event_id'.*fewer than two"):
        load_raw(path, verbose=False)
    with pytest.raises(InvalidInputError, match=r"'event_id'.*only trials of class"):
        load_raw(path, event_id={"left": "left", "right": "right"}, verbose=False)
    with pytest.raises(InvalidInputError, match=r"'event_id'.*only one class"):
        load_raw(path, event_id={"left": "left"}, verbose=False)
    np.savez(
        tmp_path / "one.npz",
        X=np.zeros((3, 2, 5)),
        y=[0, 0, 0],
        sfreq=1.0,
        ch_names=["C3", "C4"],
    )
    with pytest.raises(InvalidInputError, match=r"'y'.*fewer than two classes"):
        load_npz(tmp_path / "one.npz")


def test_channels_without_positions(tmp_path):
    raw = make_raw(ch_names=["C3", "X1", "Foo"])
    raw.set_montage(standard_montage(), on_missing="ignore")  # C3 has a position
    path = write(raw, tmp_path / "rec_raw.fif")
    with pytest.raises(
        InvalidInputError, match=r"'montage'.*\['X1', 'Foo'\].*set_montage"
    ):
        load_raw(path, verbose=False)
    trials = load_raw(path, montage=None, verbose=False)  # positions not required
    assert channels_without_position(trials.info) == ["X1", "Foo"]
    montage = mne.channels.make_dig_montage(
        ch_pos={"X1": [0.0, 0.05, 0.08], "Foo": [0.0, -0.05, 0.08]}, coord_frame="head"
    )
    ok = load_raw(path, montage=montage, verbose=False)
    assert channels_without_position(ok.info) == []
    pos = ok.info.get_montage().get_positions()["ch_pos"]
    np.testing.assert_allclose(pos["X1"], [0.0, 0.05, 0.08])
    assert pos["C3"][0] < -0.05  # the file's own position is kept


def test_unequal_trials_in_npz(tmp_path):
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros((2, 5)), np.zeros((2, 4))
    np.savez(tmp_path / "r.npz", X=ragged, y=[0, 1], sfreq=1.0, ch_names=["C3", "C4"])
    with pytest.raises(InvalidInputError, match=r"'path'.*unequal length"):
        load_npz(tmp_path / "r.npz")


def test_unknown_dataset_lists_known():
    match = r"'dataset_name'.*BNCI2014_001, Schirrmeister2017"
    with pytest.raises(InvalidInputError, match=match):
        load_moabb("BCI_IV_2b", 1)


# --- MOABB, offline ----------------------------------------------------------


@pytest.fixture
def offline_moabb(monkeypatch, tmp_path):
    """No network: MOABB's downloader only returns files that already exist."""
    import requests
    from moabb.datasets import download

    def retrieve(url, known_hash, fname, path, **kwargs):
        local = tmp_path.joinpath(path, fname)
        if local.is_file():
            return str(local)
        raise requests.ConnectionError(f"offline test: cannot fetch {url}")

    monkeypatch.setattr(download, "retrieve", retrieve)
    monkeypatch.setenv("MOABB_DOWNLOAD_PROVIDER", "upstream")  # skip NEMAR
    root = tmp_path / "mne_data"
    root.mkdir()
    for sign in ("BNCI", "SCHIRRMEISTER2017"):
        monkeypatch.setenv(f"MNE_DATASETS_{sign}_PATH", str(root))
    return root


def test_schirrmeister2017_from_files_in_moabb_folder(offline_moabb):
    """The real MOABB code path on small EDF files in the dataset's own format."""
    folder = offline_moabb.joinpath(
        "MNE-schirrmeister2017-data/robintibor/high-gamma-dataset/raw/master/data"
    )
    raws = {}
    for part, seed in (("train", 0), ("test", 1)):
        raw = make_raw(
            sfreq=500.0,
            ch_names=[*CHANNELS, "EMG_RH"],
            seed=seed,
            classes=("right_hand", "left_hand", "rest", "feet"),
        )
        raw.set_channel_types({"EMG_RH": "emg"})
        (folder / part).mkdir(parents=True)
        mne.export.export_raw(
            folder / part / "1.edf", raw, add_ch_type=True, verbose=False
        )
        raws[part] = raw
    trials = load_moabb("schirrmeister2017", 1, resample=None, car=False, verbose=False)
    assert trials.ch_names == CHANNELS  # EMG dropped
    assert trials.class_names == ["right_hand", "left_hand", "rest", "feet"]
    assert trials.sfreq == 500.0 and trials.X.shape == (20, 3, 2250)
    assert trials.session.tolist() == ["0train"] * 10 + ["1test"] * 10
    assert not channels_without_position(trials.info)
    np.testing.assert_allclose(
        trials.X[11], expected_trial(raws["test"], CUES_S[1], tmax=4.0)[:3], atol=1e-9
    )
    resampled = load_moabb("Schirrmeister2017", 1, verbose=False)
    assert resampled.sfreq == 250.0 and resampled.n_times == 1125
    np.testing.assert_allclose(resampled.X.mean(axis=1), 0.0, atol=1e-12)


def test_bnci2014_001_from_moabb_runs(offline_moabb, monkeypatch):
    """get_data's runs (EEG, EOG, stim channel at trial start) cut at the cue."""
    from moabb.datasets import BNCI2014_001

    def fake_subject(self, subject):
        sessions = {}
        for s, name in enumerate(("0train", "1test")):
            runs = {}
            for r in range(2):
                raw = make_raw(ch_names=[*CHANNELS, "EOG1", "STI"], seed=10 * s + r)
                raw.set_annotations(None)
                raw.set_channel_types({"EOG1": "eog", "STI": "stim"})
                stim = np.zeros(raw.n_times)
                for i, cue in enumerate(CUES_S):  # BNCI marks the trial start
                    stim[int((cue - 1.0) * 250)] = i % 4 + 1  # cue at cue + 1 s
                raw._data[-1] = stim
                runs[str(r)] = raw
            sessions[name] = runs
        return sessions

    monkeypatch.setattr(BNCI2014_001, "_get_single_subject_data", fake_subject)
    trials = load_moabb("BNCI2014_001", 3, verbose=False)
    assert trials.ch_names == CHANNELS
    assert trials.class_names == ["left_hand", "right_hand", "feet", "tongue"]
    assert trials.n_trials == 40 and trials.n_times == 1125
    assert trials.session.tolist() == ["0train"] * 20 + ["1test"] * 20
    assert trials.y[:4].tolist() == [0, 1, 2, 3]
    assert trials.subject[0] == "3"


def test_download_impossible_says_which_file_and_where(offline_moabb, tmp_path):
    with pytest.raises(InvalidInputError, match=r"'data_path'") as info:
        load_moabb("bnci2014_001", 1, verbose=False)
    msg = str(info.value)
    assert "A01T.mat" in msg and "A01E.mat" in msg
    assert str(offline_moabb / "MNE-bnci-data") in msg
    assert "MNE_DATASETS_BNCI_PATH" in msg and "ConnectionError" in msg
    elsewhere = tmp_path / "elsewhere"
    with pytest.raises(InvalidInputError, match=r"'data_path'.*not found.*elsewhere"):
        load_moabb("BNCI2014_001", 1, data_path=elsewhere, verbose=False)
    elsewhere.mkdir()
    with pytest.raises(InvalidInputError, match=r"elsewhere/MNE-bnci-data/.*A01T"):
        load_moabb("BNCI2014_001", 1, data_path=elsewhere, verbose=False)
    with pytest.raises(InvalidInputError, match=r"'subject'.*1, 2, 3"):
        load_moabb("BNCI2014_001", 10, verbose=False)


def test_simulated_npz_through_dispatch_keeps_sessions(tmp_path):
    sim = simulate_motor_imagery(n_trials_per_class=2, n_runs=2, verbose=False)
    save_npz(sim, tmp_path / "sim.npz", continuous=False, verbose=False)
    back = load_data(str(tmp_path / "sim.npz"), verbose=False)
    assert back.continuous is None
    assert list(back.split_sessions()) == ["session_1", "session_2"]
