"""envcorr: envelope-activation correlation maps for EEG ConvNets."""

__version__ = "0.1.0"
