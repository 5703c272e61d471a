import numpy as np
import pytest
import scipy.signal
import torch

from envcorr import InvalidInputError, band_envelopes
from envcorr.data import Recordings
from envcorr.signal.envelopes import EnvelopeComputer, band_sos

SFREQ = 250.0
BANDS = {"delta": (0.0, 4.0), "alpha": (7.0, 13.0), "beta": (13.0, 31.0)}


def sine(freq, amp, n_times=1000, n_trials=2, n_chans=3):
    t = np.arange(n_times) / SFREQ
    x = amp * np.sin(2 * np.pi * freq * t)
    return np.broadcast_to(x, (n_trials, n_chans, n_times)).astype(np.float32)


@pytest.mark.parametrize("method", ["auto", "fft", "sosfiltfilt"])
def test_sine_envelope_is_its_amplitude_in_its_band_only(method):
    env = band_envelopes(sine(10.0, 3.0), SFREQ, bands=BANDS, method=method)
    assert env.shape == (3, 2, 3, 1000)
    interior = env[..., 300:-300]
    np.testing.assert_allclose(interior[1], 3.0, rtol=0.01)  # alpha
    assert interior[0].max() < 0.05 * 3  # delta: low-pass at 4 Hz
    assert interior[2].max() < 0.3 * 3  # beta: 10 Hz lies outside 13-31 Hz


def test_fft_and_sosfiltfilt_agree():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 2, 1125)).astype(np.float32)
    a = band_envelopes(X, SFREQ, bands=BANDS, method="fft")
    b = band_envelopes(X, SFREQ, bands=BANDS, method="sosfiltfilt")
    # band-pass envelopes are local: the two filters agree sample by sample
    np.testing.assert_allclose(a[1:], b[1:], rtol=0, atol=2e-3 * b[1:].max())
    # the Hilbert envelope of a low-pass band depends on the whole segment
    for band in range(3):
        assert np.corrcoef(a[band].ravel(), b[band].ravel())[0, 1] > 0.999


def test_auto_filters_low_pass_bands_with_sosfiltfilt_and_the_rest_by_fft():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((3, 2, 1125)).astype(np.float32)
    computer = EnvelopeComputer(SFREQ, BANDS, 1125)
    assert computer.band_methods == ["sosfiltfilt", "fft", "fft"]
    auto = band_envelopes(X, SFREQ, bands=BANDS)
    fft = band_envelopes(X, SFREQ, bands=BANDS, method="fft")
    sos = band_envelopes(X, SFREQ, bands=BANDS, method="sosfiltfilt")
    np.testing.assert_array_equal(auto[0], sos[0])
    np.testing.assert_array_equal(auto[1:], fft[1:])
    # sosfiltfilt then a float64 Hilbert transform, as a plain implementation
    pad = np.pad(X, [(0, 0), (0, 0), (computer.margin,) * 2], mode="reflect")
    filtered = scipy.signal.sosfiltfilt(
        band_sos(0.0, 4.0, SFREQ), pad.astype(np.float64), axis=-1, padtype=None
    )
    plain = np.abs(scipy.signal.hilbert(filtered, N=computer.n_fft, axis=-1))
    plain = plain[..., computer.margin : computer.margin + 1125]
    np.testing.assert_allclose(auto[0], plain, rtol=0, atol=1e-5 * plain.max())


@pytest.mark.parametrize(
    ("method", "tol"), [("auto", 3e-4), ("fft", 3e-4), ("sosfiltfilt", 3e-3)]
)
def test_continuous_matches_filtering_the_whole_recording(method, tol):
    """Trials cut from a recording get the envelope of the filtered recording."""
    rng = np.random.default_rng(1)
    rec = rng.standard_normal((2, 20000))
    onsets = np.array([3000, 8000, 12000, 18800])
    X = np.stack([rec[:, o : o + 1000] for o in onsets]).astype(np.float32)
    cont = Recordings([rec.astype(np.float32)], np.zeros(4, int), onsets)
    env = band_envelopes(X, SFREQ, bands=BANDS, continuous=cont, method=method)
    for b, (lo, hi) in enumerate(BANDS.values()):
        filtered = scipy.signal.sosfiltfilt(band_sos(lo, hi, SFREQ), rec)
        full = np.abs(scipy.signal.hilbert(filtered))
        ref = np.stack([full[:, o : o + 1000] for o in onsets])
        if lo > 0:
            # the last trial ends 200 samples before the recording: edge effects
            np.testing.assert_allclose(env[b, :3], ref[:3], atol=tol * ref.max())
        assert np.corrcoef(env[b].ravel(), ref.ravel())[0, 1] > 0.99


@pytest.mark.parametrize("continuous", [False, True])
def test_threads_share_a_batch_without_changing_a_number(continuous):
    """Each thread takes its own trials; every trial's envelopes stay the same."""
    rng = np.random.default_rng(3)
    rec = rng.standard_normal((2, 12000)).astype(np.float32)
    onsets = np.arange(7) * 1500 + 600
    X = np.stack([rec[:, o : o + 1000] for o in onsets])
    idx = np.arange(len(X))
    cont = Recordings([rec], np.zeros(len(X), int), onsets) if continuous else None
    one = EnvelopeComputer(SFREQ, BANDS, 1000, continuous=cont, threads=1)(X, idx)
    for threads in (2, 3, 16):
        computer = EnvelopeComputer(
            SFREQ, BANDS, 1000, continuous=cont, threads=threads
        )
        np.testing.assert_array_equal(computer(X, idx), one)
        # a batch's trials keep their own context when split among threads
        np.testing.assert_array_equal(computer(X[2:5], idx[2:5]), one[2:5])
    with pytest.raises(InvalidInputError, match="'threads'"):
        EnvelopeComputer(SFREQ, BANDS, 1000, threads=0)


def test_threads_follow_torch_by_default():
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        assert EnvelopeComputer(SFREQ, BANDS, 1000).threads == 3
    finally:
        torch.set_num_threads(old)


@pytest.mark.parametrize(
    ("bands", "match"),
    [
        ({"hg": (71.0, 130.0)}, r"'bands'.*130 Hz is at or above Nyquist \(125 Hz"),
        ({"x": (13.0, 7.0)}, r"'bands'.*low edge 13 Hz >= high edge 7 Hz"),
        ({"x": (10.0, 10.0)}, r"'bands'.*low edge"),
        ({"x": (-1.0, 10.0)}, r"'bands'.*invalid edges"),
        ({}, r"'bands'.*non-empty dict"),
    ],
)
def test_bad_bands(bands, match):
    with pytest.raises(InvalidInputError, match=match):
        band_envelopes(sine(10, 1), SFREQ, bands=bands)


def test_bad_method_names_the_parameter_and_the_choices():
    with pytest.raises(InvalidInputError, match=r"'method'.*'auto', 'fft'"):
        band_envelopes(sine(10, 1), SFREQ, bands=BANDS, method="fir")


def test_nan_in_X_is_rejected():
    X = sine(10, 1).copy()
    X[1, 2, 17] = np.nan
    with pytest.raises(InvalidInputError, match=r"'X'.*NaN or Inf.*\(1, 2, 17\)"):
        band_envelopes(X, SFREQ)


def test_default_bands_adapt_to_the_sampling_rate():
    X = sine(10.0, 1.0, n_times=300)
    assert band_envelopes(X, SFREQ).shape == (6, 2, 3, 300)
    assert band_envelopes(X, 150.0).shape == (5, 2, 3, 300)  # without high gamma
    with pytest.raises(InvalidInputError, match=r"'bands'.*91 Hz is at or above"):
        band_envelopes(X, 150.0, bands={"high_gamma": (71.0, 91.0)})
