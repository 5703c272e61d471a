"""Tests of the package root: lazy loading of submodules and functions."""

import subprocess
import sys

import pytest

import envcorr


def _modules_after(statement: str) -> list[str]:
    heavy = ("torch", "matplotlib.pyplot", "moabb", "braindecode", "mne", "scipy")
    code = (
        f"import sys\n{statement}\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return eval(out.stdout.strip().splitlines()[-1])


def test_import_is_light():
    assert _modules_after("import envcorr") == []


def test_names_load_on_first_use():
    loaded = _modules_after("import envcorr; envcorr.compute_maps")
    assert "torch" in loaded and "matplotlib.pyplot" not in loaded
    assert "moabb" not in loaded


@pytest.mark.parametrize("name", envcorr.__all__)
def test_every_public_name_resolves(name):
    assert getattr(envcorr, name) is not None


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        envcorr.no_such_thing  # noqa: B018
