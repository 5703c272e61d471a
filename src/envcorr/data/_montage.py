"""Channel positions: the standard 10-05 montage and the check that all are known."""

from __future__ import annotations

import mne
import numpy as np

from .._utils.check import invalid

_BUILTIN = set(mne.channels.get_builtin_montages())

# MNE 1.13 renamed the "standard_*" montages to "colin27_*" (same positions)
# and deprecated the old names; older MNE versions only know the old ones.
# Users may still write the old names; MNE only ever gets the new ones.
_RENAMED = {
    old: old.replace("standard_", "colin27_")
    for old in (
        "standard_1005",
        "standard_1020",
        "standard_alphabetic",
        "standard_postfixed",
        "standard_prefixed",
        "standard_primed",
    )
}


def montage_name(name: str) -> str:
    """The name MNE should be given for the built-in montage ``name``.

    A name deprecated in MNE 1.13 (``"standard_1005"``) becomes its
    replacement (``"colin27_1005"``) when this MNE has it.
    """
    new = _RENAMED.get(name)
    return new if new is not None and new in _BUILTIN else name


#: The standard 10-05 montage's name for this MNE version.
STANDARD_MONTAGE = montage_name("standard_1005")


def standard_montage() -> mne.channels.DigMontage:
    """The standard 10-05 montage (MNE's ``standard_1005`` positions)."""
    return mne.channels.make_standard_montage(STANDARD_MONTAGE)


def _resolve(montage: str | mne.channels.DigMontage) -> mne.channels.DigMontage:
    if isinstance(montage, mne.channels.DigMontage):
        return montage
    if isinstance(montage, str):
        name = montage_name(montage)
        known = mne.channels.get_builtin_montages()
        if name not in known:
            raise invalid(
                "montage",
                f"{montage!r} is not a built-in MNE montage.",
                f"Use one of {', '.join(known)}, or an mne.channels.DigMontage.",
            )
        return mne.channels.make_standard_montage(name)
    raise invalid(
        "montage",
        f"expected a montage name, an mne.channels.DigMontage or None, got "
        f"{montage!r}.",
    )


def channels_without_position(info: mne.Info) -> list[str]:
    """Names of the channels in ``info`` whose position is unknown (zero or NaN)."""
    missing = []
    for ch in info["chs"]:
        loc = ch["loc"][:3]
        if not np.all(np.isfinite(loc)) or np.allclose(loc, 0.0):
            missing.append(ch["ch_name"])
    return missing


def ensure_positions(
    inst: mne.io.BaseRaw | mne.BaseEpochs | mne.Info,
    montage: str | mne.channels.DigMontage | None,
) -> None:
    """Give every channel of ``inst`` a position, in place.

    Channels that already have a position keep it. The others get theirs from
    ``montage`` (names matched case-insensitively). With ``montage=None``
    positions are not required and nothing is changed.

    Raises
    ------
    InvalidInputError
        If some channels have a position neither in the data nor in
        ``montage``; the message names them and says how to fix it.
    """
    if montage is None:
        return
    info = inst if isinstance(inst, mne.Info) else inst.info
    missing = channels_without_position(info)
    if not missing:
        return
    dig = _resolve(montage)
    if len(missing) == len(info["ch_names"]):
        positions = dig
    else:
        # Keep the positions the data carries; take only the missing ones.
        known = {
            name.lower(): pos for name, pos in dig.get_positions()["ch_pos"].items()
        }
        own = {
            ch["ch_name"]: ch["loc"][:3].copy()
            for ch in info["chs"]
            if ch["ch_name"] not in missing
        }
        own.update(
            {name: known[name.lower()] for name in missing if name.lower() in known}
        )
        positions = mne.channels.make_dig_montage(ch_pos=own, coord_frame="head")
    inst.set_montage(positions, match_case=False, on_missing="ignore", verbose=False)
    still = channels_without_position(info)
    if still:
        name = montage if isinstance(montage, str) else "the montage given"
        raise invalid(
            "montage",
            f"{len(still)} channel(s) have no position in the data or in {name!r}: "
            f"{still}.",
            "Rename them to 10-05 names before loading, pass a montage that "
            "contains them (montage='biosemi64', or "
            "mne.channels.make_dig_montage(ch_pos={...}) for custom positions; "
            "for an MNE object raw.set_montage(...)), or montage=None to load "
            "without positions (scalp maps are then impossible).",
        )
