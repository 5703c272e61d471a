"""Data: the :class:`Trials` container, the simulated dataset and loaders."""

from ._trials import Recordings, Trials

__all__ = ["Recordings", "Trials"]
