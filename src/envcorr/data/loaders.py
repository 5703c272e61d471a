"""One entry point for every data source: simulation, MOABB dataset or file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._utils.check import invalid
from ._trials import Trials
from .datasets import DATASETS, load_moabb, resolve_dataset_name
from .files import is_epochs_file, load_epochs, load_npz, load_raw
from .simulate import simulate_motor_imagery


def load_data(
    source: str | os.PathLike,
    *,
    subject: int | None = None,
    verbose: bool | str | int | None = None,
    **kwargs: Any,
) -> Trials:
    """Load trials from a named source or a file.

    Parameters
    ----------
    source : str | path-like
        ``"simulated"`` for :func:`~envcorr.data.simulate_motor_imagery`; a
        MOABB dataset name (see :data:`~envcorr.data.datasets.DATASETS`) for
        :func:`~envcorr.data.load_moabb`; or an existing file: ``.npz`` for
        :func:`~envcorr.data.load_npz`, ``-epo.fif`` for
        :func:`~envcorr.data.load_epochs`, anything else for
        :func:`~envcorr.data.load_raw`.
    subject : int | None
        Subject number, required for a MOABB dataset; for ``"simulated"`` it
        is the seed unless ``seed`` is given.
    verbose : bool | str | int | None
        Logging level.
    **kwargs
        Keyword options of the function chosen.

    Returns
    -------
    trials : Trials
    """
    if isinstance(source, str) and source.lower() in ("simulated", "simulation"):
        if subject is not None:
            kwargs.setdefault("seed", subject)
        return simulate_motor_imagery(verbose=verbose, **kwargs)
    name = resolve_dataset_name(source)
    if name is not None:
        if subject is None:
            raise invalid(
                "subject",
                f"a subject number is needed to load {name}.",
                "Pass subject=1 (or another subject of the dataset).",
            )
        return load_moabb(name, subject, verbose=verbose, **kwargs)
    if not isinstance(source, str | os.PathLike):
        raise invalid("source", f"expected a name or a path, got {source!r}.")
    path = Path(source).expanduser()
    if not path.exists():
        raise invalid(
            "source",
            f"{str(source)!r} is neither 'simulated', a known dataset "
            f"({', '.join(DATASETS)}), nor an existing file (not found: '{path}').",
            "Check the spelling or the path.",
        )
    if path.suffix.lower() == ".npz":
        return load_npz(path, verbose=verbose, **kwargs)
    if is_epochs_file(path):
        return load_epochs(path, verbose=verbose, **kwargs)
    return load_raw(path, verbose=verbose, **kwargs)
