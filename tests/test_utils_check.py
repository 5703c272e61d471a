"""Tests of envcorr._utils.check: good values pass converted, bad ones name the
parameter in the error."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from envcorr._utils.check import (
    InvalidInputError,
    check_array,
    check_bands,
    check_bool,
    check_ch_names,
    check_instance,
    check_int,
    check_labels,
    check_non_negative_float,
    check_option,
    check_path_exists,
    check_positive_float,
    invalid,
)


# --------------------------------------------------------------------------
# invalid
# --------------------------------------------------------------------------
def test_invalid_builds_message_naming_parameter():
    err = invalid("n_jobs", "-3 is negative.", "Use a positive number.")
    assert isinstance(err, InvalidInputError)
    assert isinstance(err, ValueError)
    assert str(err) == (
        "Invalid value for the 'n_jobs' parameter: -3 is negative. "
        "Use a positive number."
    )
    assert str(invalid("x", "bad.")) == "Invalid value for the 'x' parameter: bad."


# --------------------------------------------------------------------------
# check_option
# --------------------------------------------------------------------------
def test_check_option_accepts_allowed():
    assert check_option("method", "fft", ["auto", "fft", "sosfiltfilt"]) == "fft"
    assert check_option("n", 2, (1, 2, 3)) == 2
    # any iterable, even a one-shot generator
    assert check_option("method", "b", (c for c in "abc")) == "b"


def test_check_option_rejects_with_allowed_and_hint():
    with pytest.raises(InvalidInputError, match="'method' parameter") as info:
        check_option("method", "fftt", ["auto", "fft", "sosfiltfilt"])
    msg = str(info.value)
    assert "'fftt'" in msg
    assert "'auto', 'fft', 'sosfiltfilt'" in msg
    assert "Did you mean 'fft'?" in msg


def test_check_option_no_hint_when_nothing_close():
    with pytest.raises(InvalidInputError, match="'method' parameter") as info:
        check_option("method", "zzzzzz", ["auto", "fft"])
    assert "Did you mean" not in str(info.value)
    with pytest.raises(InvalidInputError, match="'n' parameter") as info:
        check_option("n", 4, [1, 2, 3])
    assert "Did you mean" not in str(info.value)


# --------------------------------------------------------------------------
# check_int
# --------------------------------------------------------------------------
def test_check_int_accepts_python_and_numpy_ints():
    assert check_int("n", 3) == 3
    out = check_int("n", np.int64(7))
    assert out == 7 and type(out) is int
    assert check_int("n", 5, minimum=5) == 5
    assert check_int("n", 0, minimum=0) == 0


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 1.0, 2.5, "3", None])
def test_check_int_rejects_non_ints_and_bools(value):
    with pytest.raises(InvalidInputError, match="'n_units' parameter.*integer"):
        check_int("n_units", value)


def test_check_int_rejects_below_minimum():
    with pytest.raises(
        InvalidInputError, match="'n_units' parameter: 0 is below the minimum of 1"
    ):
        check_int("n_units", 0, minimum=1)


# --------------------------------------------------------------------------
# check_bool
# --------------------------------------------------------------------------
def test_check_bool_accepts_bools():
    assert check_bool("flag", True) is True
    assert check_bool("flag", False) is False
    out = check_bool("flag", np.bool_(True))
    assert out is True


@pytest.mark.parametrize("value", [1, 0, "True", "yes", None, 1.0])
def test_check_bool_rejects_others(value):
    with pytest.raises(InvalidInputError, match="'overwrite' parameter.*True or False"):
        check_bool("overwrite", value)


# --------------------------------------------------------------------------
# check_instance
# --------------------------------------------------------------------------
def test_check_instance():
    p = Path("x")
    assert check_instance("path", p, Path) is p
    with pytest.raises(
        InvalidInputError, match=r"'path' parameter: expected pathlib.*Path, got int"
    ):
        check_instance("path", 3, Path)
    with pytest.raises(InvalidInputError, match="'path' parameter.*Give a Path"):
        check_instance("path", 3, Path, "Give a Path.")


# --------------------------------------------------------------------------
# check_non_negative_float / check_positive_float
# --------------------------------------------------------------------------
def test_check_non_negative_float_accepts():
    assert check_non_negative_float("tmin", 0) == 0.0
    out = check_non_negative_float("tmin", np.float32(1.5))
    assert out == 1.5 and type(out) is float
    assert check_non_negative_float("tmin", "2.5") == 2.5


@pytest.mark.parametrize(
    "value", [-1, -1e-9, math.nan, math.inf, -math.inf, np.nan, "abc", None, [1]]
)
def test_check_non_negative_float_rejects(value):
    with pytest.raises(InvalidInputError, match="'tmin' parameter.*number >= 0"):
        check_non_negative_float("tmin", value)


def test_check_positive_float_accepts():
    out = check_positive_float("sfreq", 250)
    assert out == 250.0 and type(out) is float
    assert check_positive_float("sfreq", np.float64(1e-3)) == 1e-3


@pytest.mark.parametrize(
    "value", [0, 0.0, -5, math.nan, math.inf, np.inf, "x", None, object()]
)
def test_check_positive_float_rejects(value):
    with pytest.raises(InvalidInputError, match="'sfreq' parameter.*positive number"):
        check_positive_float("sfreq", value)


# --------------------------------------------------------------------------
# check_array
# --------------------------------------------------------------------------
DIMS = "(n_trials, n_channels, n_times)"


def test_check_array_accepts_and_converts():
    out = check_array("X", [[[1, 2], [3, 4]]], ndim=3, dims=DIMS)
    assert isinstance(out, np.ndarray)
    assert out.shape == (1, 2, 2)
    np.testing.assert_array_equal(out, [[[1, 2], [3, 4]]])


def test_check_array_dtype_converts_without_copy_when_same():
    X = np.zeros((2, 3, 4), dtype=np.float32)
    assert check_array("X", X, ndim=3, dims=DIMS, dtype=np.float32) is X
    out = check_array("X", X, ndim=3, dims=DIMS, dtype=np.float64)
    assert out.dtype == np.float64


def test_check_array_rejects_wrong_ndim():
    with pytest.raises(
        InvalidInputError,
        match=r"'X' parameter: expected 3 dimensions \(n_trials, n_channels, "
        r"n_times\), got shape \(2, 3\)",
    ):
        check_array("X", np.zeros((2, 3)), ndim=3, dims=DIMS)


def test_check_array_rejects_empty():
    with pytest.raises(InvalidInputError, match=r"'X' parameter: the array is empty"):
        check_array("X", np.zeros((0, 3, 4)), ndim=3, dims=DIMS)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_array_rejects_non_finite_with_index(bad):
    X = np.zeros((2, 3, 4))
    X[1, 2, 3] = bad
    X[1, 2, 1] = bad
    with pytest.raises(
        InvalidInputError,
        match=r"'X' parameter: contains 2 NaN or Inf value\(s\), the first at "
        r"index \(1, 2, 1\)",
    ):
        check_array("X", X, ndim=3, dims=DIMS)


def test_check_array_finite_false_allows_nan():
    X = np.full((1, 1, 2), np.nan)
    out = check_array("X", X, ndim=3, dims=DIMS, finite=False)
    assert np.isnan(out).all()


def test_check_array_rejects_unconvertible():
    with pytest.raises(InvalidInputError, match="'X' parameter: could not be"):
        check_array("X", [[1, 2], [3]], ndim=2, dims="(a, b)")
    with pytest.raises(InvalidInputError, match="'X' parameter: could not be"):
        check_array("X", [["a", "b"]], ndim=2, dims="(a, b)", dtype=float)


# --------------------------------------------------------------------------
# check_ch_names
# --------------------------------------------------------------------------
def test_check_ch_names_accepts_list_tuple_array():
    assert check_ch_names("ch_names", ["C3", "Cz", "C4"], 3) == ["C3", "Cz", "C4"]
    assert check_ch_names("ch_names", ("C3", "C4"), 2) == ["C3", "C4"]
    out = check_ch_names("ch_names", np.array(["C3", "C4"]), 2)
    assert out == ["C3", "C4"]
    assert all(type(c) is str for c in out)


@pytest.mark.parametrize("value", ["C3", None, 3, {"C3", "C4"}])
def test_check_ch_names_rejects_non_sequences(value):
    with pytest.raises(InvalidInputError, match="'ch_names' parameter.*list of"):
        check_ch_names("ch_names", value, 2)


def test_check_ch_names_rejects_wrong_length():
    with pytest.raises(
        InvalidInputError, match="'ch_names' parameter: 2 names for 3 channels"
    ):
        check_ch_names("ch_names", ["C3", "C4"], 3)


def test_check_ch_names_rejects_duplicates():
    with pytest.raises(
        InvalidInputError,
        match=r"'ch_names' parameter: duplicate channel names \['C3', 'Cz'\]",
    ):
        check_ch_names("ch_names", ["C3", "Cz", "C3", "Cz", "C4"], 5)


# --------------------------------------------------------------------------
# check_bands
# --------------------------------------------------------------------------
def test_check_bands_accepts_and_converts():
    out = check_bands({"alpha": (8, 13), "delta": [0, 4], 3: np.array([30, 40])}, 125)
    assert out == {"alpha": (8.0, 13.0), "delta": (0.0, 4.0), "3": (30.0, 40.0)}
    assert all(type(e) is float for edges in out.values() for e in edges)


def test_check_bands_rejects_above_nyquist_with_nyquist_value():
    with pytest.raises(
        InvalidInputError,
        match=r"'bands' parameter: band 'high': 95 Hz is at or above Nyquist "
        r"\(62.5 Hz for sfreq=125\)\. Use band edges below 62.5 Hz",
    ):
        check_bands({"alpha": (8, 13), "high": (60, 95)}, 125)


def test_check_bands_rejects_at_nyquist():
    with pytest.raises(InvalidInputError, match="'bands' parameter.*Nyquist"):
        check_bands({"gamma": (30, 62.5)}, 125)


@pytest.mark.parametrize("edges", [(13, 8), (10, 10)])
def test_check_bands_rejects_low_not_below_high(edges):
    with pytest.raises(
        InvalidInputError,
        match=r"'bands' parameter: band 'alpha' has low edge .* >= high edge",
    ):
        check_bands({"alpha": edges}, 250)


@pytest.mark.parametrize(
    "bands", [{}, None, [("alpha", (8, 13))], {"alpha": 8}, {"alpha": (1, 2, 3)}]
)
def test_check_bands_rejects_malformed(bands):
    with pytest.raises(InvalidInputError, match="'bands' parameter"):
        check_bands(bands, 250)


@pytest.mark.parametrize("edges", [(-1, 4), (np.nan, 4), (1, np.inf)])
def test_check_bands_rejects_invalid_edges(edges):
    with pytest.raises(InvalidInputError, match="'bands' parameter.*invalid edges"):
        check_bands({"b": edges}, 250)


def test_check_bands_uses_given_name():
    with pytest.raises(InvalidInputError, match="'my_bands' parameter"):
        check_bands({"b": (5, 1)}, 250, name="my_bands")


# --------------------------------------------------------------------------
# check_labels
# --------------------------------------------------------------------------
def test_check_labels_integers_and_strings():
    y, names = check_labels([1, 0, 2, 1], None, 4)
    assert y.dtype == np.int64 and y.tolist() == [1, 0, 2, 1]
    assert names == ["0", "1", "2"]
    y, names = check_labels(np.array(["r", "l", "r"]), None, 3)
    assert y.tolist() == [1, 0, 1] and names == ["l", "r"]
    y, names = check_labels(["r", "l", "r"], ["r", "l", "feet"], 3)
    assert y.tolist() == [0, 1, 0] and names == ["r", "l", "feet"]


def test_check_labels_accepts_whole_floats_as_class_indices():
    y, names = check_labels(np.array([1.0, 0.0, 2.0]), ["a", "b", "c"], 3)
    assert y.dtype == np.int64 and y.tolist() == [1, 0, 2]
    assert names == ["a", "b", "c"]
    assert check_labels([0.0, 1.0], None, 2)[1] == ["0", "1"]


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (
            np.array([0.0, np.nan, 1.0]),
            r"'y' parameter: 1 NaN or Inf label\(s\), the first at trial 1\.",
        ),
        (
            np.array([0.0, 1.0, np.inf]),
            r"'y' parameter: 1 NaN or Inf label\(s\), the first at trial 2",
        ),
        (
            np.array(["l", None, "r"], dtype=object),
            r"'y' parameter: 1 missing label\(s\) \(None or NaN\), the first at "
            r"trial 1",
        ),
        (
            np.array(["l", "r", float("nan")], dtype=object),
            r"'y' parameter: 1 missing label\(s\).*trial 2",
        ),
        (
            np.array([0.0, 1.5, 1.0]),
            r"'y' parameter: float labels must be whole numbers .*1\.5 at trial 1",
        ),
    ],
)
def test_check_labels_rejects_missing_and_fractional_labels(y, match):
    with pytest.raises(InvalidInputError, match=match):
        check_labels(y, None, 3)


@pytest.mark.parametrize(
    ("y", "names", "seen"),
    [
        ([1, 1, 1], None, "'1'"),
        ([0, 0, 0], ["left", "right"], "'left'"),
        (["r", "r", "r"], None, "'r'"),
        ([2.0, 2.0, 2.0], None, "'2'"),
    ],
)
def test_check_labels_needs_two_classes(y, names, seen):
    with pytest.raises(
        InvalidInputError,
        match=rf"'y' parameter: all 3 trials are of one class \({seen}\): the "
        r"envelope-class correlation needs trials of at least two classes\. .*"
        r"y=None to skip",
    ):
        check_labels(y, names, 3)


def test_check_labels_rejects_wrong_length_and_range():
    with pytest.raises(InvalidInputError, match=r"'y'.*3 labels.*for 4 trials"):
        check_labels([0, 1, 0], None, 4)
    with pytest.raises(InvalidInputError, match=r"'y'.*must lie in \[0, 1\]"):
        check_labels([0, 2, 1], ["a", "b"], 3)
    with pytest.raises(InvalidInputError, match=r"'labels'.*\['x'\] are not in"):
        check_labels(["a", "x"], ["a", "b"], 2, name="labels")


# --------------------------------------------------------------------------
# check_path_exists
# --------------------------------------------------------------------------
def test_check_path_exists(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("x")
    out = check_path_exists("fname", str(f))
    assert isinstance(out, Path) and out == f
    assert check_path_exists("fname", tmp_path) == tmp_path


def test_check_path_exists_rejects_missing(tmp_path):
    missing = tmp_path / "nope.nc"
    with pytest.raises(
        InvalidInputError, match=r"'fname' parameter: file not found: .*nope\.nc"
    ):
        check_path_exists("fname", missing)


def test_check_path_exists_expands_user(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "b.txt").write_text("x")
    assert check_path_exists("fname", "~/b.txt") == tmp_path / "b.txt"
