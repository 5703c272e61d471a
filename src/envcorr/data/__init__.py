"""Data: the :class:`Trials` container, the simulated dataset and loaders.

Loaded lazily: the MOABB and file readers are imported when first used.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submod_attrs={
        "_trials": ["Recordings", "Trials", "concatenate_trials"],
        "datasets": ["DATASETS", "load_moabb"],
        "files": ["load_epochs", "load_npz", "load_raw", "save_npz"],
        "loaders": ["load_data"],
        "simulate": [
            "BCI_IV_2A_CH_NAMES",
            "CLASS_NAMES",
            "simulate_motor_imagery",
            "simulation_truth",
        ],
    },
)
