"""PhysioNet MI on a tiny fake dataset in the eegbci folder layout."""

from __future__ import annotations

import time

import mne
import numpy as np
import pytest

from envcorr._utils.check import InvalidInputError
from envcorr.data import load_data, load_physionet_mi
from envcorr.data._montage import channels_without_position, standard_montage
from envcorr.data.physionet import physionet_mi_files, session_of_runs

# The 64 channel labels of the eegmmidb EDF files, dots included.
EDF_NAMES = (
    "Fc5. Fc3. Fc1. Fcz. Fc2. Fc4. Fc6. C5.. C3.. C1.. Cz.. C2.. C4.. C6.. "
    "Cp5. Cp3. Cp1. Cpz. Cp2. Cp4. Cp6. Fp1. Fpz. Fp2. Af7. Af3. Afz. Af4. "
    "Af8. F7.. F5.. F3.. F1.. Fz.. F2.. F4.. F6.. F8.. Ft7. Ft8. T7.. T8.. "
    "T9.. T10. Tp7. Tp8. P7.. P5.. P3.. P1.. Pz.. P2.. P4.. P6.. P8.. Po7. "
    "Po3. Poz. Po4. Po8. O1.. Oz.. O2.. Iz.."
).split()
SFREQ = 160.0
# T0 (rest) between cues, 4.2 s apart as in the real files: 2 x T1, 2 x T2.
CUES = ["T0", "T1", "T0", "T2", "T0", "T1", "T0", "T2"]
SPACING = 4.2


def write_run(path, seed):
    rng = np.random.default_rng(seed)
    n = int(35 * SFREQ)  # whole seconds: no padding by the EDF writer
    raw = mne.io.RawArray(
        20e-6 * rng.standard_normal((64, n)),
        mne.create_info(EDF_NAMES, SFREQ, "eeg"),
        verbose=False,
    )
    onsets = SPACING * np.arange(len(CUES))
    raw.set_annotations(mne.Annotations(onsets, 4.1, CUES))
    path.parent.mkdir(parents=True, exist_ok=True)
    mne.export.export_raw(path, raw, fmt="edf", verbose=False)
    return raw


@pytest.fixture(scope="module")
def physionet_path(tmp_path_factory):
    """``data_path`` with subject 7's runs 4, 6, 8, 10, 12, 14 (not run 3)."""
    root = tmp_path_factory.mktemp("mne_data")
    for run in (4, 6, 8, 10, 12, 14):
        write_run(physionet_mi_files(7, [run], root)[0], seed=run)
    return root


def test_file_layout_matches_mne_eegbci(tmp_path):
    (path,) = physionet_mi_files(1, [4], tmp_path)
    expected = tmp_path / "MNE-eegbci-data/files/eegmmidb/1.0.0/S001/S001R04.edf"
    assert path == expected


def test_load_physionet_mi(physionet_path, caplog):
    with caplog.at_level("INFO", logger="envcorr"):
        trials = load_physionet_mi(7, data_path=physionet_path, verbose=True)
    renamed = [r.getMessage() for r in caplog.records if "Renamed" in r.getMessage()]
    assert len(renamed) == 1  # once for all six runs
    assert "Fc5. → FC5" in renamed[0] and "Cz.. → Cz" in renamed[0]
    assert trials.ch_names[:4] == ["FC5", "FC3", "FC1", "FCz"]
    assert {"Fp1", "AFz", "T10", "Iz", "PO7", "TP8"} <= set(trials.ch_names)
    assert trials.class_names == ["left_hand", "right_hand", "hands", "feet"]
    assert trials.class_counts() == {
        "left_hand": 6,
        "right_hand": 6,
        "hands": 6,
        "feet": 6,
    }
    assert trials.sfreq == SFREQ and trials.n_times == 640 and trials.tmin == 0.0
    assert trials.n_channels == 64 and not channels_without_position(trials.info)
    pos = trials.info.get_montage().get_positions()["ch_pos"]
    ref = mne.create_info(["C3", "Iz"], SFREQ, "eeg").set_montage(standard_montage())
    ref_pos = ref.get_montage().get_positions()["ch_pos"]
    np.testing.assert_allclose(pos["C3"], ref_pos["C3"], atol=1e-6)
    np.testing.assert_allclose(pos["Iz"], ref_pos["Iz"], atol=1e-6)
    # Split: runs 4, 6, 8, 10 train; 12 and 14 (the last of each kind) test.
    assert list(trials.split_sessions()) == ["0train", "1test"]
    test = trials.split_sessions()["1test"]
    assert test.n_trials == 8 and test.class_counts() == dict.fromkeys(
        trials.class_names, 2
    )
    assert trials.subject[0] == "7" and trials.description["runs"] == [
        4,
        6,
        8,
        10,
        12,
        14,
    ]


def test_rest_runs_and_dispatch(physionet_path):
    trials = load_data(
        "PhysionetMI",
        subject=7,
        runs=[4, 8],
        include_rest=True,
        car=False,
        tmax=2.0,
        data_path=physionet_path,
        verbose=False,
    )
    assert trials.class_names == ["left_hand", "right_hand", "rest"]
    assert trials.class_counts() == {"left_hand": 4, "right_hand": 4, "rest": 8}
    assert trials.session.tolist() == ["0train"] * 8 + ["1test"] * 8
    assert trials.n_times == 320
    for alias in ("physionet_mi", "physionetmi"):
        assert (
            load_data(alias, subject=7, runs=[6], data_path=physionet_path).n_trials
            == 4
        )


def test_session_of_runs():
    assert session_of_runs([4, 6, 8, 10, 12, 14]) == ["0train"] * 4 + ["1test"] * 2
    assert session_of_runs([4, 6]) == ["0train", "0train"]
    assert session_of_runs([3, 4, 8]) == ["0train", "0train", "1test"]


def test_missing_files_fail_fast_with_paths(physionet_path):
    start = time.perf_counter()
    with pytest.raises(InvalidInputError, match=r"'data_path'") as info:
        load_physionet_mi(7, runs=[3, 4, 5], data_path=physionet_path)
    assert time.perf_counter() - start < 1.0
    msg = str(info.value)
    for run in (3, 5):
        assert str(physionet_mi_files(7, [run], physionet_path)[0]) in msg
    assert "S007R04.edf" not in msg
    assert "mne.datasets.eegbci.load_data(7, runs=[3, 4, 5]" in msg
    with pytest.raises(InvalidInputError, match=r"(?s)'data_path'.*S008R04\.edf"):
        load_data("physionet_mi", subject=8, data_path=physionet_path)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"subject": 0}, r"'subject'.*no subject 0.*1 to 109"),
        ({"subject": 110}, r"'subject'.*no subject 110"),
        ({"subject": 1, "runs": [1, 4]}, r"'runs'.*\[1\].*baseline"),
        ({"subject": 1, "runs": [4, 4]}, r"'runs'.*repeat"),
        ({"subject": 1, "runs": "4"}, r"'runs'.*list of run numbers"),
        ({"subject": 1, "data_path": "/nonexistent/x"}, r"'data_path'.*not found"),
    ],
)
def test_bad_arguments(kwargs, match):
    subject = kwargs.pop("subject")
    with pytest.raises(InvalidInputError, match=match):
        load_physionet_mi(subject, **kwargs)


def test_dispatch_needs_subject():
    with pytest.raises(InvalidInputError, match=r"'subject'.*PhysionetMI"):
        load_data("physionet_mi")
