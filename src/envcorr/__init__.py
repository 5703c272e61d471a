"""envcorr: envelope-activation correlation maps for EEG ConvNets.

The analysis of Schirrmeister et al. 2017 (Human Brain Mapping 38(11)): which
band power at which electrode the units of each layer of a trained network
track, compared with the same network untrained, and how band power relates
to the classes.

Submodules and functions load on first use (as in MNE), so ``import envcorr``
is quick and imports neither torch's networks, MOABB nor matplotlib until a
function needs them.
"""

import lazy_loader as _lazy

from ._utils.check import InvalidInputError
from ._utils.logs import set_log_level
from ._version import __version__

__getattr__, __dir__, _ = _lazy.attach(
    __name__,
    submodules=[
        "config",
        "data",
        "maps",
        "nn",
        "report",
        "results",
        "signal",
        "stats",
        "study",
        "training",
        "viz",
        "workflow",
    ],
    submod_attrs={
        "maps": ["compute_maps"],
        "nn.dense": ["make_dense"],
        "nn.geometry": ["layer_geometry", "receptive_fields"],
        "results": ["load_maps", "save_maps"],
        "signal.bands": ["DEFAULT_BANDS", "filterbank_bands"],
        "signal.envelopes": ["band_envelopes"],
        "signal.windows": ["moving_average"],
        "study": ["run_study"],
        "training.checkpoint": ["load_checkpoint"],
    },
)

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
    "run_study",
    "save_maps",
    "set_log_level",
]
