"""Tests of envcorr._utils.docs: docstring fragments filled with the right indent."""

from __future__ import annotations

import inspect

import pytest

from envcorr._utils.docs import docdict, fill_doc


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" "))]


def _check_fragment(doc: str, key: str) -> None:
    """The fragment ``key`` stands in ``doc`` line by line, indented as its
    first line (which stood where ``%(key)s`` was)."""
    lines = doc.splitlines()
    frag = docdict[key].splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == frag[0])
    base = _indent(lines[start])
    for offset, expected in enumerate(frag):
        assert lines[start + offset] == base + expected


@fill_doc
def _module_function(x, *, verbose=None):
    """Do something.

    Parameters
    ----------
    x : int
        A number.
    %(verbose)s

    Returns
    -------
    y : int
        Up 50%% on x.
    """
    return x


class _Thing:
    @fill_doc
    def method(self, x, *, verbose=None):
        """Do something.

        Parameters
        ----------
        x : int
            A number.
        %(verbose)s
        """
        return x


def test_fill_doc_module_function():
    doc = _module_function.__doc__
    assert "%(" not in doc
    _check_fragment(doc, "verbose")
    # the fragment sits at the indentation of the other parameters
    lines = doc.splitlines()
    x_line = next(line for line in lines if line.strip().startswith("x : int"))
    v_line = next(line for line in lines if line.strip().startswith("verbose :"))
    assert _indent(v_line) == _indent(x_line)
    cleaned = inspect.cleandoc(doc)
    assert (
        "Parameters\n----------\nx : int\n    A number.\n" + docdict["verbose"] + "\n"
    ) in cleaned


def test_fill_doc_method():
    doc = _Thing.method.__doc__
    assert "%(" not in doc
    _check_fragment(doc, "verbose")
    lines = doc.splitlines()
    x_line = next(line for line in lines if line.strip().startswith("x : int"))
    v_line = next(line for line in lines if line.strip().startswith("verbose :"))
    assert _indent(v_line) == _indent(x_line)
    assert inspect.cleandoc(doc).endswith(docdict["verbose"])
    # the description lines sit 4 spaces deeper than the parameter line
    i = lines.index(v_line)
    assert _indent(lines[i + 1]) == _indent(v_line) + "    "


def test_fill_doc_double_percent_becomes_percent():
    doc = _module_function.__doc__
    assert "Up 50% on x." in doc
    assert "%%" not in doc


def test_fill_doc_returns_same_function():
    def f():
        """%(sfreq)s"""

    assert fill_doc(f) is f
    assert f.__doc__ == docdict["sfreq"]


def test_fill_doc_every_key():
    keys = list(docdict)
    body = "\n".join(f"    %({k})s" for k in keys)

    def f():
        pass

    f.__doc__ = f"Summary.\n\n    Parameters\n    ----------\n{body}\n    "
    fill_doc(f)
    for key in keys:
        _check_fragment(f.__doc__, key)


def test_fill_doc_unknown_key_raises():
    def f():
        """Summary.

        %(no_such_fragment)s
        """

    with pytest.raises(RuntimeError, match="no_such_fragment"):
        fill_doc(f)


def test_fill_doc_single_percent_raises():
    def f():
        """Summary.

        Up 50% on x.
        """

    with pytest.raises(RuntimeError, match="f"):
        fill_doc(f)


def test_fill_doc_no_docstring():
    def f():
        pass

    assert fill_doc(f) is f
    assert f.__doc__ is None


def test_docdict_verbose_fragment_shape():
    lines = docdict["verbose"].splitlines()
    assert lines[0].startswith("verbose : ")
    assert all(line.startswith("    ") for line in lines[1:])
