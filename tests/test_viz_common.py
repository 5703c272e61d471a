"""Tests of envcorr.viz._common: axes checks, colour limits, the mne.Info."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from _figures import close_figures  # noqa: F401
from _results_fixture import make_results
from envcorr._utils.check import InvalidInputError
from envcorr.viz._common import (
    colorbar,
    flat_axes,
    grid_axes,
    make_info,
    root_figure,
    seq_vlim,
    sym_vlim,
)


def test_grid_axes_shapes():
    _, axes = plt.subplots(2, 3)
    assert grid_axes(axes, (2, 3), "rows × cols") is not None
    assert grid_axes(axes.tolist(), (2, 3), "rows × cols").shape == (2, 3)
    # squeezed rows and columns, and a single Axes, as plt.subplots returns them
    _, row = plt.subplots(1, 3)
    assert grid_axes(row, (1, 3), "x").shape == (1, 3)
    _, col = plt.subplots(3, 1)
    out = grid_axes(col, (3, 1), "x")
    assert out.shape == (3, 1) and list(out[:, 0]) == list(col)
    _, ax = plt.subplots()
    assert grid_axes(ax, (1, 1), "x")[0, 0] is ax


@pytest.mark.parametrize(
    ("shape", "given", "match"),
    [
        ((2, 3), (3, 2), r"expected an array of 2 × 3 Axes \(n_a × n_b\), got shape"),
        ((2, 3), (6,), r"2 × 3 Axes.*got shape \(6,\)"),  # flat only for 1 row/col
        ((1, 3), (1, 2), r"1 × 3 Axes.*got shape \(1, 2\)"),
        ((1, 2), None, r"1 × 2 Axes.*got a single Axes"),
    ],
)
def test_grid_axes_wrong_shape(shape, given, match):
    if given is None:
        _, axes = plt.subplots()
    else:
        _, axes = plt.subplots(*given, squeeze=False)
        axes = axes.reshape(given)
    with pytest.raises(InvalidInputError, match=r"'axes'.*" + match):
        grid_axes(axes, shape, "n_a × n_b")


def test_grid_axes_elements():
    with pytest.raises(InvalidInputError, match=r"'axes'.*type NoneType"):
        grid_axes([[None, None]], (1, 2), "x")
    _, ax1 = plt.subplots()
    _, ax2 = plt.subplots()
    with pytest.raises(InvalidInputError, match=r"'axes'.*different figures"):
        grid_axes([ax1, ax2], (1, 2), "x")
    # subfigures of one figure are one figure
    sub1, sub2 = plt.figure().subfigures(1, 2)
    a, b = sub1.add_subplot(), sub2.add_subplot()
    assert grid_axes([a, b], (1, 2), "x").shape == (1, 2)
    assert root_figure(a) is sub1.get_figure(root=True)


def test_flat_axes():
    _, axes = plt.subplots(2, 2)
    assert flat_axes(axes, 4, "x") == list(axes.ravel())  # row by row
    _, ax = plt.subplots()
    assert flat_axes(ax, 1, "x") == [ax]
    with pytest.raises(
        InvalidInputError, match=r"'axes'.*expected 3 Axes \(three things\).*4 Axes"
    ):
        flat_axes(axes, 3, "three things")


def test_colorbar_into_cax_or_beside_axes():
    fig, (ax, cax) = plt.subplots(1, 2)
    im = ax.imshow(np.arange(4.0).reshape(2, 2))
    colorbar(im, "r", cax=cax)
    assert len(fig.axes) == 2 and cax.get_ylabel() == "r"
    fig, axes = plt.subplots(1, 2)
    im = axes[0].imshow(np.arange(4.0).reshape(2, 2))
    colorbar(im, "|r|", ax=list(axes))
    assert len(fig.axes) == 3 and fig.axes[-1].get_ylabel() == "|r|"


def test_colour_limits():
    assert sym_vlim(np.array([0.1, -0.3]), np.array([[0.2]])) == (-0.3, 0.3)
    assert sym_vlim(np.array([np.nan, 0.2])) == (-0.2, 0.2)
    assert sym_vlim(np.zeros(3)) == (-1e-3, 1e-3)  # never an empty scale
    assert sym_vlim(np.full(3, np.nan)) == (-1e-3, 1e-3)
    assert seq_vlim(np.array([0.1, 0.4]), np.array([np.nan, 0.2])) == (0.1, 0.4)
    assert seq_vlim(np.full(2, 0.5)) == (0.5, 0.501)
    assert seq_vlim(np.full(2, np.nan)) == (0.0, 1e-3)


def test_make_info_positions():
    ds = make_results(n_layers=1, bands={"alpha": (7.0, 13.0)})
    info = make_info(ds)
    assert info.ch_names == [str(c) for c in ds.channel.values]
    assert info["sfreq"] == 250.0
    pos = np.array([ch["loc"][:3] for ch in info["chs"]])
    expected = np.column_stack([ds.ch_x, ds.ch_y, ds.ch_z])
    np.testing.assert_allclose(pos, expected)
    with pytest.raises(InvalidInputError, match=r"'ds'.*ch_y, ch_z"):
        make_info(ds.drop_vars(["ch_y", "ch_z"]))
