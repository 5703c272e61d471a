"""Bad files given to the file readers: clear errors naming the parameter."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from envcorr._utils.check import InvalidInputError
from envcorr.data import load_data, load_epochs, load_npz, load_raw
from envcorr.data._montage import STANDARD_MONTAGE, montage_name

GOOD = {
    "X": np.zeros((2, 2, 5)),
    "y": np.array([0, 1]),
    "sfreq": 100.0,
    "ch_names": np.array(["C3", "C4"]),
}


def _npz(path, **changes):
    arrays = {**GOOD, **changes}
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"sfreq": 0.0}, r"'sfreq'.*0 Hz is not a positive sampling rate.*np.float64"),
        ({"sfreq": -250.0}, r"'sfreq'.*-250 Hz is not a positive"),
        ({"sfreq": np.array([250.0, 250.0])}, r"'sfreq'.*one number.*shape \(2,\)"),
        ({"sfreq": "fast"}, r"'sfreq'.*one number"),
        ({"description": "{not json"}, r"'description'.*not valid JSON.*json.dumps"),
        ({"description": "[1, 2]"}, r"'description'.*JSON object, got a list"),
        (
            {
                "ch_names": np.array(["C3", "C3"]),
                "ch_pos": np.array([[-0.05, 0.0, 0.05]] * 2),
            },
            r"'ch_names'.*duplicate channel names: \['C3'\]",
        ),
        ({"ch_names": np.array(["C3", "C3"])}, r"'ch_names'.*duplicate.*\['C3'\]"),
        (
            {"ch_names": np.array(["C3", "C3.."])},
            r"'ch_names'.*C3 from \['C3', 'C3..'\]",
        ),
    ],
)
def test_bad_npz_fields(tmp_path, changes, match):
    path = _npz(tmp_path / "d.npz", **changes)
    with pytest.raises(InvalidInputError, match=match):
        load_npz(path)
    with pytest.raises(InvalidInputError, match=match):
        load_data(path)


def _empty_savez(path):
    np.savez(path)


def _zero_bytes(path):
    path.write_bytes(b"")


def _random_bytes(path):
    path.write_bytes(np.random.default_rng(0).bytes(3000))


@pytest.mark.parametrize(
    ("name", "write", "match"),
    [
        ("e.npz", _empty_savez, r"'path'.*lacks the array\(s\) \['X', 'y'"),
        ("z.npz", _zero_bytes, r"'path'.*z\.npz' is empty \(0 bytes\)"),
        ("r.npz", _random_bytes, r"'path'.*not a readable \.npz"),
        ("z.fif", _zero_bytes, r"'path'.*z\.fif' is empty \(0 bytes\)"),
        ("z-epo.fif", _zero_bytes, r"'path'.*is empty \(0 bytes\)"),
        ("r.vhdr", _random_bytes, r"'path'.*could not read.*r\.vhdr.*load_npz"),
        ("r_raw.fif", _random_bytes, r"'path'.*could not read.*r_raw\.fif"),
        ("r.edf", _random_bytes, r"'path'.*could not read.*r\.edf"),
    ],
)
def test_unreadable_files(tmp_path, name, write, match):
    path = tmp_path / name
    write(path)
    with pytest.raises(InvalidInputError, match=match):
        load_data(path, verbose=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing written


def test_single_array_npy_named_npz(tmp_path):
    path = tmp_path / "a.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(InvalidInputError, match=r"'path'.*single array"):
        load_npz(path)


@pytest.mark.parametrize("loader", [load_raw, load_epochs])
def test_zero_byte_file_direct(tmp_path, loader):
    path = tmp_path / "x_raw.fif"
    path.write_bytes(b"")
    with pytest.raises(InvalidInputError, match=r"'path'.*0 bytes"):
        loader(path)


def test_deprecated_montage_names_mapped():
    assert STANDARD_MONTAGE == montage_name("standard_1005")
    assert montage_name("biosemi64") == "biosemi64"
    if STANDARD_MONTAGE == "colin27_1005":  # MNE >= 1.13
        assert montage_name("standard_1020") == "colin27_1020"


def test_no_deprecated_montage_reaches_mne(tmp_path):
    """Defaults and the old names given by a user: no FutureWarning from MNE."""
    path = _npz(tmp_path / "d.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        load_npz(path, verbose=False)
        load_npz(path, montage="standard_1005", verbose=False)
        load_npz(path, montage="standard_1020", verbose=False)
