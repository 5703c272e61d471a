"""Tests of envcorr._utils.versions: read from metadata, importing nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

from envcorr._utils import versions as versions_mod
from envcorr._utils.versions import versions
from envcorr._version import __version__

LIBRARIES = ("numpy", "scipy", "torch", "braindecode", "mne", "xarray")


def test_versions_has_envcorr_and_libraries():
    out = versions()
    assert set(out) == {"envcorr", *LIBRARIES}
    assert next(iter(out)) == "envcorr"
    assert out["envcorr"] == __version__
    assert all(isinstance(v, str) and v for v in out.values())


def test_versions_match_installed_metadata():
    out = versions()
    for name in LIBRARIES:
        assert out[name] == version(name)


def test_versions_missing_library(monkeypatch):
    monkeypatch.setattr(
        versions_mod, "_LIBRARIES", ("numpy", "surely-not-an-installed-package")
    )
    out = versions()
    assert out["surely-not-an-installed-package"] == "not installed"
    assert out["numpy"] == version("numpy")


def test_versions_json_serialisable():
    out = versions()
    assert json.loads(json.dumps(out)) == out


def test_versions_does_not_import_torch():
    # NOTE: importing envcorr._utils.versions runs envcorr/__init__.py first, so
    # this assertion also checks that the package itself is lazy (no eager
    # ``import braindecode``/``import torch`` in envcorr/__init__.py). It fails
    # for as long as envcorr/__init__.py imports torch at import time.
    code = (
        "import json, sys\n"
        "from envcorr._utils.versions import versions\n"
        "v = versions()\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'n': len(v)}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["n"] == 1 + len(LIBRARIES)
    assert result["torch"] is False, "importing/calling versions() imported torch"
