"""Helpers shared by the figure tests: inspecting scalp-map figures."""

import matplotlib
import matplotlib.pyplot as plt
import pytest

matplotlib.use("Agg")  # never open windows


@pytest.fixture(autouse=True)
def close_figures():
    """Close every figure a test leaves open (import it to use it)."""
    yield
    plt.close("all")


def map_axes(fig):
    """Scalp-map axes (those holding an image) as {(row, col): axes}."""
    out = {}
    for ax in fig.axes:
        if ax.images:
            spec = ax.get_subplotspec()
            out[(spec.rowspan.start, spec.colspan.start)] = ax
    return out


def colorbar_axes(fig):
    """Axes without an image: the colour bars."""
    return [ax for ax in fig.axes if not ax.images]


def clim(ax):
    """Colour limits of the scalp map in ``ax``."""
    return tuple(float(v) for v in ax.images[0].get_clim())
