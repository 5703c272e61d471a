"""envcorr: envelope-activation correlation maps for EEG ConvNets.

The analysis of Schirrmeister et al. 2017 (Human Brain Mapping 38(11)): which
band power at which electrode the units of each layer of a trained network
track, compared with the same network untrained, and how band power relates
to the classes.
"""

__version__ = "0.1.0"

from ._check import InvalidInputError
from ._logging import set_log_level
from .envelopes import DEFAULT_BANDS, band_envelopes, filterbank_bands, moving_average
from .maps import compute_maps
from .receptive import layer_geometry, make_dense, receptive_fields
from .results import load_maps, save_maps

__all__ = [
    "DEFAULT_BANDS",
    "InvalidInputError",
    "band_envelopes",
    "compute_maps",
    "filterbank_bands",
    "layer_geometry",
    "load_maps",
    "make_dense",
    "moving_average",
    "receptive_fields",
    "save_maps",
    "set_log_level",
]
