"""envcorr: envelope-activation correlation maps for EEG ConvNets.

The analysis of Schirrmeister et al. 2017 (Human Brain Mapping 38(11)): which
band power at which electrode the units of each layer of a trained network
track, compared with the same network untrained, and how band power relates
to the classes.
"""

import warnings

with warnings.catch_warnings():
    # braindecode's model zoo builds a montage under a name MNE 1.13 deprecates
    # when it is imported; the warning concerns braindecode, not our users.
    warnings.filterwarnings(
        "ignore", "Montage name 'standard_1020' is deprecated", FutureWarning
    )
    import braindecode.models  # noqa: F401

from . import data
from ._check import InvalidInputError
from ._logging import set_log_level
from ._version import __version__
from .envelopes import DEFAULT_BANDS, band_envelopes, filterbank_bands, moving_average
from .maps import compute_maps
from .receptive import layer_geometry, make_dense, receptive_fields
from .results import load_maps, save_maps
from .train import load_checkpoint

__all__ = [
    "DEFAULT_BANDS",
    "InvalidInputError",
    "__version__",
    "band_envelopes",
    "compute_maps",
    "data",
    "filterbank_bands",
    "layer_geometry",
    "load_checkpoint",
    "load_maps",
    "make_dense",
    "moving_average",
    "receptive_fields",
    "save_maps",
    "set_log_level",
]
