"""Versions of envcorr and of the libraries its numbers depend on."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .._version import __version__

_LIBRARIES = ("numpy", "scipy", "torch", "braindecode", "mne", "xarray")


def versions() -> dict[str, str]:
    """``{package: version}`` for envcorr and the libraries of its numbers.

    Read from the installed distributions' metadata, so nothing is imported.
    """
    out = {"envcorr": __version__}
    for name in _LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
