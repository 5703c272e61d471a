"""Figures of the envelope–activation correlation maps.

Every ``plot_*`` function takes the results :class:`xarray.Dataset` (see
``docs/results-format.md``) and returns a matplotlib
:class:`~matplotlib.figure.Figure`, drawing onto given ``axes`` or into a new
figure. :func:`draw_figures` draws the standard set of figures once each, to
files and as PNG for the HTML report; :func:`save_figures` writes them to files.

Modules: :mod:`~envcorr.viz.topomaps` (scalp maps of layers and classes),
:mod:`~envcorr.viz.units` (scalp maps of single units), :mod:`~envcorr.viz.profiles`
(depth profiles), :mod:`~envcorr.viz.figures` (the standard set) and
:mod:`~envcorr.viz.labels` (access to the results and their labels, shared
with the report).
"""

from .figures import RenderedFigure, draw_figures, save_figures
from .profiles import plot_depth_profile
from .topomaps import plot_class_maps, plot_layer_band_grid
from .units import plot_top_units

__all__ = [
    "RenderedFigure",
    "draw_figures",
    "plot_class_maps",
    "plot_depth_profile",
    "plot_layer_band_grid",
    "plot_top_units",
    "save_figures",
]
