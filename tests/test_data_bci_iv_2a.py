"""BCI IV 2a GDF files, written small by the tests' own GDF writer."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from _gdf import write_gdf
from envcorr._utils.check import InvalidInputError
from envcorr.data import BCI_IV_2A_CH_NAMES, load_bci_iv_2a, load_data
from envcorr.data._montage import channels_without_position

SFREQ = 250
# The file's labels: EEG-Fz, EEG-0..5, EEG-C3, EEG-6, EEG-Cz, EEG-7, EEG-C4,
# EEG-8..14, EEG-Pz, EEG-15, EEG-16, then the three EOG channels.
_NUMBERED = iter(range(17))
FILE_NAMES = [
    f"EEG-{n}" if n in ("Fz", "C3", "Cz", "C4", "Pz") else f"EEG-{next(_NUMBERED)}"
    for n in BCI_IV_2A_CH_NAMES
] + ["EOG-left", "EOG-central", "EOG-right"]
CLASSES = [1, 2, 3, 4, 2, 1, 4, 3]  # 8 trials, 2 per class
TRIAL_S = 7  # trial start (768) at 7 k s + 1, cue 2 s later


def write_session(folder, kind, seed=0):
    """A tiny A01T.gdf / A01E.gdf (+ A01E.mat); returns the data in volts."""
    rng = np.random.default_rng(seed)
    n = (len(CLASSES) * TRIAL_S + 2) * SFREQ
    data_uv = 10 * rng.standard_normal((25, n))
    events = []
    for k, c in enumerate(CLASSES):
        start = (TRIAL_S * k + 1) * SFREQ
        events.append((start, 768))
        events.append((start + 2 * SFREQ, 768 + c if kind == "T" else 783))
    events.insert(3, (events[2][0], 1023))  # a rejected-trial marker
    path = write_gdf(folder / f"A01{kind}.gdf", data_uv, SFREQ, FILE_NAMES, events)
    if kind == "E":
        scipy.io.savemat(
            folder / "A01E.mat", {"classlabel": np.array(CLASSES, np.uint8)[:, None]}
        )
    return path, data_uv * 1e-6


def test_training_and_evaluation_files(tmp_path):
    t_path, t_data = write_session(tmp_path, "T", seed=0)
    e_path, _ = write_session(tmp_path, "E", seed=1)
    trials = load_bci_iv_2a([t_path, e_path], car=False, verbose=False)
    assert trials.ch_names == list(BCI_IV_2A_CH_NAMES)
    assert trials.class_names == ["left_hand", "right_hand", "feet", "tongue"]
    assert trials.y.tolist() == [c - 1 for c in CLASSES] * 2
    assert trials.session.tolist() == ["0train"] * 8 + ["1test"] * 8
    assert trials.sfreq == SFREQ and trials.tmin == -0.5 and trials.n_times == 1125
    assert trials.subject[0] == "1"
    assert not channels_without_position(trials.info)
    cue = 3 * SFREQ  # first cue: trial start at 1 s, cue at 3 s
    np.testing.assert_allclose(
        trials.X[0], t_data[:22, cue - 125 : cue + 1000], rtol=1e-5, atol=1e-12
    )


def test_dispatch_and_car(tmp_path):
    t_path, _ = write_session(tmp_path, "T")
    trials = load_data(t_path, tmin=0.0, tmax=2.0, verbose=False)
    assert trials.n_trials == 8 and trials.n_times == 500
    np.testing.assert_allclose(trials.X.mean(axis=1), 0.0, atol=1e-10)


def test_evaluation_file_needs_its_labels(tmp_path):
    e_path, _ = write_session(tmp_path, "E")
    (tmp_path / "A01E.mat").unlink()
    with pytest.raises(InvalidInputError, match=r"'labels'.*783.*A01E\.mat"):
        load_bci_iv_2a(e_path, verbose=False)
    scipy.io.savemat(tmp_path / "short.mat", {"classlabel": np.array([[1], [2]])})
    with pytest.raises(InvalidInputError, match=r"'labels'.*2 labels.*8 cues"):
        load_bci_iv_2a(e_path, labels=tmp_path / "short.mat", verbose=False)


def test_other_files_are_refused(tmp_path):
    path = write_gdf(tmp_path / "B01T.gdf", np.zeros((2, 500)), SFREQ, ["C3", "C4"], [])
    with pytest.raises(InvalidInputError, match=r"'path'.*not named like"):
        load_bci_iv_2a(path)
    renamed = tmp_path / "A02T.gdf"
    path.rename(renamed)
    with pytest.raises(InvalidInputError, match=r"'path'.*2 channels.*22 EEG"):
        load_bci_iv_2a(renamed)
