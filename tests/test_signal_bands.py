"""Tests of envcorr.signal.bands: the default bands, the filter bank, and their
adaptation to the sampling rate."""

import logging

import pytest

from envcorr import DEFAULT_BANDS, InvalidInputError, filterbank_bands
from envcorr.signal.bands import bands_for


def test_filterbank_of_the_original_code():
    bands = filterbank_bands()
    edges = list(bands.values())
    assert len(edges) == 32
    assert edges[:3] == [(0.0, 4.0), (1.0, 7.0), (4.0, 10.0)]
    assert edges[10] == (28.0, 34.0)
    assert edges[11:13] == [(31.0, 39.0), (35.0, 43.0)]
    assert edges[-1] == (111.0, 119.0)
    assert list(bands)[-1] == "111-119Hz"
    assert all(hi - lo == 8 for lo, hi in edges[11:])


def test_filterbank_max_freq_keeps_its_meaning():
    edges = list(filterbank_bands(max_freq=50).values())
    assert edges[-1] == (39.0, 47.0)
    assert len(filterbank_bands(max_freq=118)) == 31


def test_filterbank_for_a_sampling_rate_leaves_out_bands_at_nyquist():
    assert filterbank_bands(sfreq=250) == filterbank_bands()
    bands = filterbank_bands(sfreq=200)  # Nyquist 100 Hz
    assert list(bands.values())[-1] == (91.0, 99.0)
    assert len(bands) == 27
    assert list(filterbank_bands(sfreq=198).values())[-1] == (87.0, 95.0)


def test_default_bands_hold_the_paper_rows():
    assert DEFAULT_BANDS["alpha"] == (7.0, 13.0)
    assert DEFAULT_BANDS["beta"] == (13.0, 31.0)
    assert DEFAULT_BANDS["high_gamma"] == (71.0, 91.0)
    assert DEFAULT_BANDS["delta"][0] == 0.0  # a low-pass


@pytest.fixture
def envcorr_warnings(caplog):
    caplog.set_level(logging.WARNING, logger="envcorr")
    logging.getLogger("envcorr").addHandler(caplog.handler)
    yield caplog
    logging.getLogger("envcorr").removeHandler(caplog.handler)


@pytest.mark.parametrize("bands", [None, "default"])
def test_default_bands_at_a_high_rate_are_kept_silently(envcorr_warnings, bands):
    assert bands_for(250.0, bands) == DEFAULT_BANDS
    assert not envcorr_warnings.records


def test_default_band_reaching_nyquist_is_left_out_with_one_warning(
    envcorr_warnings,
):
    bands = bands_for(150.0)  # Nyquist 75 Hz
    assert list(bands) == ["delta", "theta", "alpha", "beta", "low_gamma"]
    (record,) = envcorr_warnings.records
    assert record.levelno == logging.WARNING
    assert "default band high_gamma (71-91 Hz)" in record.getMessage()
    assert "75 Hz for sfreq=150 Hz" in record.getMessage()


def test_default_band_whose_high_edge_is_nyquist_is_left_out(envcorr_warnings):
    bands = bands_for(142.0)  # Nyquist 71 Hz: low gamma ends there
    assert "low_gamma" not in bands and "beta" in bands
    (record,) = envcorr_warnings.records
    assert "low_gamma (31-71 Hz), high_gamma (71-91 Hz)" in record.getMessage()


def test_filterbank_choice_adapts_with_one_warning(envcorr_warnings):
    assert bands_for(250.0, "filterbank") == filterbank_bands()
    assert not envcorr_warnings.records
    assert bands_for(200.0, "filterbank") == filterbank_bands(sfreq=200.0)
    (record,) = envcorr_warnings.records
    assert "filter-bank bands 95-103Hz, 99-107Hz" in record.getMessage()


def test_no_default_band_below_nyquist_is_an_error():
    with pytest.raises(
        InvalidInputError, match=r"'sfreq'.*sfreq=8 Hz \(Nyquist 4 Hz\) none of"
    ):
        bands_for(8.0)


def test_bands_given_by_the_user_stay_strict(envcorr_warnings):
    with pytest.raises(InvalidInputError, match=r"'bands'.*91 Hz is at or above"):
        bands_for(150.0, {"alpha": (7, 13), "high_gamma": (71, 91)})
    assert bands_for(150.0, {"alpha": (7, 13)}) == {"alpha": (7.0, 13.0)}
    assert not envcorr_warnings.records


@pytest.mark.parametrize(
    ("bands", "match"),
    [("gamma", r"'bands'.*unknown band set 'gamma'"), (3, r"'bands'.*non-empty dict")],
)
def test_bad_band_choice_names_the_parameter(bands, match):
    with pytest.raises(InvalidInputError, match=match):
        bands_for(250.0, bands)


def test_bad_sfreq_names_the_parameter():
    with pytest.raises(InvalidInputError, match="'sfreq'"):
        bands_for(0.0)
    with pytest.raises(InvalidInputError, match="'sfreq'"):
        filterbank_bands(sfreq=-1)
