"""Data: the :class:`Trials` container, the simulated dataset and loaders.

Loaded lazily: the MOABB and file readers are imported when first used.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submod_attrs={
        "_trials": ["Recordings", "Trials", "concatenate_trials"],
        "bci_iv_2a": ["load_bci_iv_2a"],
        "datasets": ["DATASETS", "load_moabb"],
        "files": ["load_epochs", "load_npz", "load_raw", "save_npz"],
        "loaders": ["Loader", "load_data", "loader_for"],
        "physionet": ["load_physionet_mi"],
        "simulate": [
            "BCI_IV_2A_CH_NAMES",
            "CLASS_NAMES",
            "SubjectPhysiology",
            "simulate_motor_imagery",
            "simulation_truth",
            "subject_physiology",
        ],
    },
)
