"""One entry point for every data source: simulation, MOABB dataset or file."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from .._utils.check import invalid
from ._trials import Trials
from .datasets import DATASETS, LOCAL_DATASETS, load_moabb, resolve_dataset_name
from .files import is_epochs_file, load_epochs, load_npz, load_raw
from .simulate import simulate_motor_imagery

SIMULATED = "the simulated data"
RAW = "raw EEG files"
BCI_IV_2A = "BCI IV 2a files"


class Loader(NamedTuple):
    """What reads a source: a description for messages, and the function."""

    what: str
    function: Callable[..., Trials]


def loader_for(
    source: str | os.PathLike | Sequence[str | os.PathLike], *, name: str = "source"
) -> Loader:
    """The loader :func:`load_data` reads ``source`` with (nothing is read).

    Parameters
    ----------
    source : str | path-like | list of (str | path-like)
        As for :func:`load_data`.
    name : str
        Parameter named in errors.

    Returns
    -------
    loader : Loader
        ``what`` (e.g. ``"a .npz file"``) and ``function`` (e.g.
        :func:`~envcorr.data.load_npz`), whose keyword options
        :func:`load_data` passes on.
    """
    from .bci_iv_2a import is_bci_iv_2a_file, load_bci_iv_2a

    if not isinstance(source, str | os.PathLike):
        if not isinstance(source, Sequence) or not source:
            raise invalid(
                name, f"expected a name, a path or a list of paths, got {source!r}."
            )
        kinds = [loader_for(s, name=name).what for s in source]
        if set(kinds) == {BCI_IV_2A}:
            return Loader(BCI_IV_2A, load_bci_iv_2a)
        bad = [str(s) for s, k in zip(source, kinds, strict=True) if k != RAW]
        if bad:
            raise invalid(
                name,
                f"several sources are given, but {bad[0]!r} is not a raw EEG file.",
                "Several files are read as runs of one recording (raw files such "
                "as .gdf, .edf, .fif); give a dataset name, a .npz or an epochs "
                "file alone.",
            )
        return Loader(RAW, load_raw)
    if isinstance(source, str) and source.lower() in ("simulated", "simulation"):
        return Loader(SIMULATED, simulate_motor_imagery)
    dataset = resolve_dataset_name(source)
    if dataset == "PhysionetMI":
        from .physionet import load_physionet_mi

        return Loader(f"the dataset {dataset}", load_physionet_mi)
    if dataset is not None:
        return Loader(f"the dataset {dataset}", load_moabb)
    path = Path(source).expanduser()
    if path.suffix.lower() == ".npz":
        return Loader("a .npz file", load_npz)
    if is_bci_iv_2a_file(path):
        return Loader(BCI_IV_2A, load_bci_iv_2a)
    if is_epochs_file(path):
        return Loader("an epochs file", load_epochs)
    return Loader(RAW, load_raw)


def load_data(
    source: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    subject: int | None = None,
    verbose: bool | str | int | None = None,
    **kwargs: Any,
) -> Trials:
    """Load trials from a named source or a file.

    Parameters
    ----------
    source : str | path-like | list of path-like
        ``"simulated"`` for :func:`~envcorr.data.simulate_motor_imagery`; a
        MOABB dataset name (see :data:`~envcorr.data.datasets.DATASETS`) for
        :func:`~envcorr.data.load_moabb`; ``"physionet_mi"`` (also
        ``"PhysionetMI"``) for :func:`~envcorr.data.load_physionet_mi`, from
        local files; or an existing file: ``.npz`` for
        :func:`~envcorr.data.load_npz`, ``-epo.fif`` for
        :func:`~envcorr.data.load_epochs`, the competition's BCI IV 2a files
        (``A01T.gdf`` ... ``A09E.gdf``) for :func:`~envcorr.data.load_bci_iv_2a`,
        anything else for
        :func:`~envcorr.data.load_raw`. Several files are runs of one
        recording (raw files, or the BCI IV 2a files of one subject); see
        :func:`loader_for`.
    subject : int | None
        Subject number, required for a dataset (1–109 for PhysioNet MI); for
        ``"simulated"``, the simulated subject with its own physiology (see
        :func:`~envcorr.data.simulate.subject_physiology`); None gives the
        default simulated recording.
    verbose : bool | str | int | None
        Logging level.
    **kwargs
        Keyword options of the function chosen.

    Returns
    -------
    trials : Trials
    """
    loader = loader_for(source)
    if loader.what == SIMULATED:
        return loader.function(subject=subject, verbose=verbose, **kwargs)
    if not isinstance(source, str | os.PathLike):  # several files: runs
        return loader.function(list(source), verbose=verbose, **kwargs)
    name = resolve_dataset_name(source)
    if name is not None:
        if subject is None:
            raise invalid(
                "subject",
                f"a subject number is needed to load {name}.",
                "Pass subject=1 (or another subject of the dataset).",
            )
        if loader.function is load_moabb:
            return load_moabb(name, subject, verbose=verbose, **kwargs)
        return loader.function(subject, verbose=verbose, **kwargs)
    path = Path(source).expanduser()
    if not path.exists():
        raise invalid(
            "source",
            f"{str(source)!r} is neither 'simulated', a known dataset "
            f"({', '.join([*DATASETS, *LOCAL_DATASETS])}), nor an existing file "
            f"(not found: '{path}').",
            "Check the spelling or the path.",
        )
    return loader.function(path, verbose=verbose, **kwargs)
