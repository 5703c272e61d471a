"""Tests of envcorr._utils.jsonutil: what JSON can hold, and clear errors."""

from __future__ import annotations

import json
import math
from pathlib import Path, PurePosixPath

import numpy as np
import pytest

from envcorr._utils.check import InvalidInputError
from envcorr._utils.jsonutil import dumps, jsonable, stringified


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.float32(1.5), 1.5),
        (np.float64(0.25), 0.25),
        (np.int64(7), 7),
        (np.int8(-3), -3),
        (np.bool_(True), True),
        (np.str_("abc"), "abc"),
        (np.float64(np.nan), None),
        (np.float32(np.inf), None),
        (math.nan, None),
        (-math.inf, None),
        (1.0, 1.0),
        (3, 3),
        (True, True),
        (None, None),
        ("s", "s"),
    ],
)
def test_jsonable_scalars(value, expected):
    out = jsonable(value, "config")
    assert out == expected
    assert type(out) is type(expected)


def test_jsonable_arrays():
    assert jsonable(np.arange(3), "x") == [0, 1, 2]
    out = jsonable(np.array([[1.5, np.nan], [np.inf, 2.0]], dtype=np.float32), "x")
    assert out == [[1.5, None], [None, 2.0]]
    assert jsonable(np.array(4.0), "x") == 4.0  # 0-d array
    assert jsonable(np.array([True, False]), "x") == [True, False]


def test_jsonable_paths():
    assert jsonable(Path("/a/b.nc"), "x") == "/a/b.nc"
    assert jsonable(PurePosixPath("rel/c.txt"), "x") == "rel/c.txt"


def test_jsonable_nested():
    obj = {
        "a": {"b": [np.int32(1), (2.0, np.nan)], "path": Path("/p")},
        3: np.zeros(2),
        np.int64(4): {"deep": {"deeper": [np.float64(np.inf)]}},
    }
    assert jsonable(obj, "config") == {
        "a": {"b": [1, [2.0, None]], "path": "/p"},
        "3": [0.0, 0.0],
        "4": {"deep": {"deeper": [None]}},
    }


def test_jsonable_does_not_modify_input():
    obj = {"a": [np.nan, np.int64(1)]}
    jsonable(obj, "config")
    assert math.isnan(obj["a"][0]) and isinstance(obj["a"][1], np.int64)


@pytest.mark.parametrize(
    "bad",
    [object(), {1, 2}, 1 + 2j, np.complex128(1 + 1j), {"nested": [object()]}, b"xy"],
)
def test_jsonable_rejects_naming_the_name(bad):
    with pytest.raises(
        InvalidInputError, match="'model_kwargs' parameter.*cannot be written to JSON"
    ):
        jsonable(bad, "model_kwargs")


def test_jsonable_error_names_the_type():
    class Custom:
        pass

    with pytest.raises(InvalidInputError, match="'history' parameter.*type Custom"):
        jsonable({"x": Custom()}, "history")


def test_dumps_newline_and_round_trip():
    obj = {"lr": np.float32(0.5), "bands": {"alpha": (8, 13)}, "bad": np.nan}
    text = dumps(obj, "config")
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    assert "NaN" not in text
    assert json.loads(text) == {"lr": 0.5, "bands": {"alpha": [8, 13]}, "bad": None}
    assert json.loads(text) == jsonable(obj, "config")
    # compact form still ends with a newline
    compact = dumps([1, 2], "x", indent=None)
    assert compact == "[1, 2]\n"


def test_dumps_indent():
    assert dumps({"a": 1}, "x") == '{\n  "a": 1\n}\n'
    assert dumps({"a": 1}, "x", indent=4) == '{\n    "a": 1\n}\n'


def test_dumps_rejects_naming_the_name():
    with pytest.raises(InvalidInputError, match="'config' parameter"):
        dumps({"f": print}, "config")


def test_stringified():
    out = stringified({"p": Path("/a"), "n": [1, 2.5, None], "o": {"k": "v"}})
    assert out == {"p": "/a", "n": [1, 2.5, None], "o": {"k": "v"}}
    out = stringified({"dtype": np.dtype("float32"), "t": (1, 2)})
    assert out == {"dtype": "float32", "t": [1, 2]}
    json.dumps(out)  # now plain JSON
