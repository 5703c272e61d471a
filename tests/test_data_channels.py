"""Channel names: 10-05 spelling, logging of renames, duplicates."""

from __future__ import annotations

import edfio
import mne
import numpy as np
import pytest

from envcorr._utils.check import InvalidInputError
from envcorr.data import load_epochs, load_npz, load_raw
from envcorr.data._channels import standard_ch_name, standard_ch_names
from envcorr.data._montage import channels_without_position


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Fc5.", "FC5"),
        ("C3..", "C3"),
        ("Cz..", "Cz"),
        ("T10.", "T10"),
        ("Fpz.", "Fpz"),
        ("EEG-Fz", "Fz"),
        ("EEG-C3", "C3"),
        ("EEG Fz", "Fz"),
        ("eeg-pz", "Pz"),
        ("FP1", "Fp1"),
        ("fcz", "FCz"),
        ("POZ", "POz"),
        ("C3", "C3"),
        ("EEG-0", "EEG-0"),  # numbered BCI IV 2a names: no montage name
        ("EOG-left", "EOG-left"),
        ("Foo.", "Foo."),
        ("STI 014", "STI 014"),
    ],
)
def test_standard_ch_name(name, expected):
    assert standard_ch_name(name) == expected


def test_standard_ch_names_only_changes_and_duplicates():
    assert standard_ch_names(["C3", "Cz..", "X1"]) == {"Cz..": "Cz"}
    with pytest.raises(
        InvalidInputError, match=r"'ch_names'.*C3 from \['C3', 'C3..'\]"
    ):
        standard_ch_names(["C3", "C4", "C3.."])
    with pytest.raises(InvalidInputError, match=r"'ch_names'.*duplicate.*\['Cz'\]"):
        standard_ch_names(["Cz", "C4", "Cz"])


def _raw(ch_names, sfreq=100.0, n_s=20):
    rng = np.random.default_rng(0)
    info = mne.create_info(ch_names, sfreq, "eeg")
    raw = mne.io.RawArray(
        10e-6 * rng.standard_normal((len(ch_names), int(n_s * sfreq))),
        info,
        verbose=False,
    )
    raw.set_annotations(mne.Annotations([2.0, 6.0, 10.0, 14.0], 0.0, ["a", "b"] * 2))
    return raw


def test_load_raw_renames_and_logs_once(tmp_path, caplog):
    raws = [_raw(["Fc5.", "EEG-Cz", "FP1", "Oz"]) for _ in range(2)]
    paths = []
    for k, raw in enumerate(raws):
        paths.append(tmp_path / f"r{k}_raw.fif")
        raw.save(paths[-1], verbose=False)
    with caplog.at_level("INFO", logger="envcorr"):
        trials = load_raw(paths, tmax=1.0, verbose=True)
    assert trials.ch_names == ["FC5", "Cz", "Fp1", "Oz"]
    msgs = [r.getMessage() for r in caplog.records if "Renamed" in r.getMessage()]
    assert msgs == [
        "Renamed 3 channel(s) to standard 10-05 names: Fc5. → FC5, EEG-Cz → Cz, "
        "FP1 → Fp1"
    ]
    assert channels_without_position(trials.info) == []


def test_load_epochs_and_npz_rename(tmp_path):
    raw = _raw(["Fc5.", "C3..", "Cz.."])
    epochs = mne.Epochs(
        raw,
        *mne.events_from_annotations(raw, verbose=False)[:2],
        tmin=0,
        tmax=0.5,
        baseline=None,
        verbose=False,
    )
    epochs.save(tmp_path / "x-epo.fif", verbose=False)
    assert load_epochs(tmp_path / "x-epo.fif", verbose=False).ch_names == [
        "FC5",
        "C3",
        "Cz",
    ]
    np.savez(
        tmp_path / "x.npz",
        X=np.zeros((2, 2, 5)),
        y=[0, 1],
        sfreq=100.0,
        ch_names=["EEG-Fz", "fcz"],
    )
    trials = load_npz(tmp_path / "x.npz", verbose=False)
    assert trials.ch_names == ["Fz", "FCz"]
    assert not channels_without_position(trials.info)


def _write_edf_with_duplicates(path):
    signals = [
        edfio.EdfSignal(np.zeros(200), 100.0, label=label, physical_range=(-1, 1))
        for label in ("FC1", "C3", "FC1", "Cz")
    ]
    edfio.Edf(signals).write(path)


def test_duplicate_names_in_file_are_named(tmp_path):
    path = tmp_path / "dup.edf"
    _write_edf_with_duplicates(path)
    with pytest.raises(
        InvalidInputError, match=r"'path'.*dup\.edf.*duplicate channel names.*\['FC1'\]"
    ) as info:
        load_raw(path, verbose=False)
    assert "FC1-0" not in str(info.value) and "montage" not in str(info.value)


def test_duplicates_after_standardising_in_file(tmp_path):
    raw = _raw(["C3", "C3..", "Cz"])
    raw.save(tmp_path / "d_raw.fif", verbose=False)
    with pytest.raises(
        InvalidInputError, match=r"d_raw\.fif.*C3 from \['C3', 'C3..'\]"
    ):
        load_raw(tmp_path / "d_raw.fif", verbose=False)
