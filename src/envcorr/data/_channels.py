"""Channel names: standard 10-05 spelling and the duplicate-name check.

Files name channels in many ways: PhysioNet's EDF files pad names with dots
(``"Fc5."``, ``"C3.."``), the BCI IV 2a GDF files prefix them (``"EEG-Fz"``),
and many writers upper-case them (``"FP1"``). :func:`standard_ch_names`
spells each name as the standard 10-05 montage does, so that positions are
found and maps of different datasets line up.
"""

from __future__ import annotations

import ast
import functools
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import mne

from .._utils.check import invalid
from .._utils.logs import logger
from ._montage import STANDARD_MONTAGE

T = TypeVar("T")

_PREFIXES = ("eeg-", "eeg ")
_DUPLICATES_WARNING = re.compile(r"found duplicates for: (\{.*\})")


@functools.cache
def _montage_names() -> dict[str, str]:
    """Lower-case name -> name of every channel of the standard 10-05 montage."""
    names = mne.channels.make_standard_montage(STANDARD_MONTAGE).ch_names
    return {name.lower(): name for name in names}


def standard_ch_name(name: str) -> str:
    """The standard 10-05 spelling of one channel name.

    Trailing dots and an ``EEG-`` / ``EEG `` prefix are removed and the case
    is matched to the montage's (``"Fc5."`` → ``"FC5"``, ``"EEG-Fz"`` →
    ``"Fz"``, ``"FP1"`` → ``"Fp1"``). A name that matches no montage name
    after this is returned unchanged (``"EEG-0"``, ``"EOG-left"``).
    """
    stem = str(name).strip().rstrip(".").strip()
    if stem.lower().startswith(_PREFIXES):
        stem = stem[4:].strip()
    return _montage_names().get(stem.lower(), name)


def standard_ch_names(
    ch_names: Sequence[str], *, name: str = "ch_names", where: str = "the data"
) -> dict[str, str]:
    """``{old: new}`` for the names of ``ch_names`` that change to 10-05 spelling.

    Parameters
    ----------
    ch_names : sequence of str
        The names, in the data's order.
    name : str
        Parameter named in the error message.
    where : str
        What holds the channels (a file name), for the error message.

    Raises
    ------
    InvalidInputError
        If names repeat, in the data or after standardising.
    """
    ch_names = [str(c) for c in ch_names]
    check_unique_ch_names(ch_names, name=name, where=where)
    new = [standard_ch_name(c) for c in ch_names]
    dups = sorted(c for c, n in Counter(new).items() if n > 1)
    if dups:
        origins = "; ".join(
            f"{d} from {[o for o, s in zip(ch_names, new, strict=True) if s == d]}"
            for d in dups
        )
        raise invalid(
            name,
            f"{where} has channels whose names become the same standard 10-05 "
            f"name: {origins}.",
            "Drop or rename one of each pair before loading (e.g. "
            "raw.drop_channels([...]) and save again).",
        )
    return {o: s for o, s in zip(ch_names, new, strict=True) if o != s}


def check_unique_ch_names(
    ch_names: Sequence[str], *, name: str = "ch_names", where: str = "the data"
) -> None:
    """Raise if a channel name occurs more than once, naming the duplicates."""
    dups = sorted(c for c, n in Counter(str(c) for c in ch_names).items() if n > 1)
    if dups:
        raise _duplicates_error(dups, name=name, where=where)


def _duplicates_error(dups: Iterable[str], *, name: str, where: str) -> Exception:
    return invalid(
        name,
        f"{where} has duplicate channel names: {sorted(dups)}.",
        "Give every channel its own name (rename or drop the repeated ones in "
        "the program that wrote the file).",
    )


def read_checking_duplicates(
    read: Callable[[], T], *, name: str = "path", where: str = "the file"
) -> T:
    """Call ``read`` (an MNE reader) and raise if the file repeats channel names.

    MNE renames repeated names (``FC1`` → ``FC1-0``, ``FC1-1``) with a warning;
    that warning becomes a clear error here. Other warnings pass on.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = read()
    for w in caught:
        match = _DUPLICATES_WARNING.search(str(w.message))
        if match:
            try:
                dups = ast.literal_eval(match.group(1))
            except (ValueError, SyntaxError):
                dups = [match.group(1)]
            raise _duplicates_error([str(d) for d in dups], name=name, where=where)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out


def log_renames(renames: dict[str, str]) -> None:
    """Log the renamed channels once, as one compact list."""
    if renames:
        listing = ", ".join(f"{o} → {n}" for o, n in renames.items())
        logger.info(
            "Renamed %d channel(s) to standard 10-05 names: %s", len(renames), listing
        )


def standardize_channels(
    inst: Any, *, name: str = "path", where: str = "the file", log: bool = True
) -> dict[str, str]:
    """Rename the channels of an MNE object to 10-05 spelling, in place.

    Returns the ``{old: new}`` renames (logged unless ``log=False``).
    """
    renames = standard_ch_names(inst.ch_names, name=name, where=where)
    if renames:
        inst.rename_channels(renames, verbose=False)
    if log:
        log_renames(renames)
    return renames
