"""Tests of envcorr.viz.labels: reading the results, names of layers and bands."""

from __future__ import annotations

import pytest

from _results_fixture import make_results
from envcorr._utils.check import InvalidInputError
from envcorr.viz.labels import (
    as_dataset,
    band_label,
    band_range,
    check_results,
    dim_values,
    fmt_ms,
    has_positions,
    layer_label,
    receptive_field_ms,
    select,
    sfreq_of,
)


@pytest.fixture(scope="module")
def ds():
    return make_results(n_layers=5)


def test_as_dataset(ds, tmp_path):
    assert as_dataset(ds) is ds
    path = tmp_path / "results.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    assert as_dataset(str(path)).identical(ds)
    with pytest.raises(InvalidInputError, match=r"'where'.*got list"):
        as_dataset([1], "where")
    with pytest.raises(InvalidInputError, match=r"'where'.*not found"):
        as_dataset(tmp_path / "missing.nc", "where")


def test_check_results(ds):
    assert check_results(ds, "unit_corr", "band") is ds
    with pytest.raises(InvalidInputError, match=r"'x'.*no 'foo', 'bar'.*results"):
        check_results(ds, "unit_corr", "foo", "bar", name="x")
    with pytest.raises(InvalidInputError, match=r"'ds'.*got DataArray"):
        check_results(ds.unit_corr)


def test_positions_values_and_selection(ds):
    assert has_positions(ds)
    assert not has_positions(ds.drop_vars("ch_z"))
    assert dim_values(ds, "band") == ["alpha", "beta", "high_gamma"]
    assert select("bands", None, ["a", "b"]) == ["a", "b"]
    assert select("bands", "b", ["a", "b"]) == ["b"]
    assert select("bands", ["b", "a"], ["a", "b"]) == ["b", "a"]  # order kept
    with pytest.raises(InvalidInputError, match=r"'bands'.*empty.*\['a', 'b'\]"):
        select("bands", [], ["a", "b"])
    with pytest.raises(InvalidInputError, match=r"'bands'.*'c'.*'a', 'b'"):
        select("bands", ["a", "c"], ["a", "b"])


def test_sfreq_and_receptive_field(ds):
    assert sfreq_of(ds) == 250.0
    for bad in (None, "fast", 0, -1.0, float("nan")):
        assert sfreq_of(ds.assign_attrs(sfreq=bad)) is None
    assert receptive_field_ms(ds, "pool_nonlin_3") == pytest.approx(576.0)
    assert receptive_field_ms(ds.assign_attrs(sfreq=None), "pool_nonlin") is None
    assert fmt_ms(576.0) == "576 ms" and fmt_ms(4.8) == "4.8 ms"
    assert fmt_ms(10.0) == "10 ms"


def test_layer_labels(ds):
    assert layer_label(ds, "pool_nonlin") == "pool_nonlin\n48 ms"
    # long module paths break at the last dot, unless asked not to wrap
    name = "final_layer.conv_classifier"
    assert layer_label(ds, name) == "final_layer.\nconv_classifier\n2088 ms"
    assert layer_label(ds, name, wrap=False) == f"{name}\n2088 ms"
    no_sfreq = ds.assign_attrs(sfreq=None)
    assert layer_label(no_sfreq, "pool_nonlin") == "pool_nonlin\n12 samples"
    bare = no_sfreq.drop_vars("receptive_field")
    assert layer_label(bare, "pool_nonlin") == "pool_nonlin"


def test_band_labels(ds):
    assert band_label(ds, "high_gamma") == "high gamma\n71–91 Hz"
    assert band_label(ds, "beta", sep=", ") == "beta, 13–31 Hz"
    assert band_range(ds, "beta") == "13–31 Hz"
    bare = ds.drop_vars(["band_low", "band_high"])
    assert band_label(bare, "high_gamma") == "high gamma"
    assert band_range(bare, "beta") is None
