"""Tests of envcorr.signal.bands: the default bands and the filter bank."""

from envcorr import DEFAULT_BANDS, filterbank_bands


def test_filterbank_of_the_original_code():
    bands = filterbank_bands()
    edges = list(bands.values())
    assert len(edges) == 32
    assert edges[:3] == [(0.0, 4.0), (1.0, 7.0), (4.0, 10.0)]
    assert edges[10] == (28.0, 34.0)
    assert edges[11] == (30.0, 38.0)
    assert edges[-1] == (110.0, 118.0)


def test_default_bands_hold_the_paper_rows():
    assert DEFAULT_BANDS["alpha"] == (7.0, 13.0)
    assert DEFAULT_BANDS["beta"] == (13.0, 31.0)
    assert DEFAULT_BANDS["high_gamma"] == (71.0, 91.0)
    assert DEFAULT_BANDS["delta"][0] == 0.0  # a low-pass
