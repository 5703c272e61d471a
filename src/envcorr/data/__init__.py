"""Data: the :class:`Trials` container, the simulated dataset and loaders."""

from ._trials import Recordings, Trials, concatenate_trials
from .datasets import DATASETS, load_moabb
from .files import load_epochs, load_npz, load_raw, save_npz
from .loaders import load_data
from .simulate import (
    BCI_IV_2A_CH_NAMES,
    CLASS_NAMES,
    simulate_motor_imagery,
    simulation_truth,
)

__all__ = [
    "BCI_IV_2A_CH_NAMES",
    "CLASS_NAMES",
    "DATASETS",
    "Recordings",
    "Trials",
    "concatenate_trials",
    "load_data",
    "load_epochs",
    "load_moabb",
    "load_npz",
    "load_raw",
    "save_npz",
    "simulate_motor_imagery",
    "simulation_truth",
]
