"""Tests of the Trials container and concatenate_trials."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from envcorr._utils.check import InvalidInputError
from envcorr.data import Recordings, Trials, concatenate_trials


def make_trials(n_trials=6, n_times=50, sfreq=100.0, session="a", seed=0):
    rng = np.random.default_rng(seed)
    run = rng.standard_normal((3, 1000)).astype(np.float32)
    onset = np.arange(n_trials) * 100 + 10
    return Trials(
        X=np.stack([run[:, o : o + n_times] for o in onset]),
        y=np.arange(n_trials) % 2,
        class_names=["left", "right"],
        sfreq=sfreq,
        ch_names=["C3", "Cz", "C4"],
        session=np.full(n_trials, session),
        continuous=Recordings([run], np.zeros(n_trials, int), onset),
    )


def test_concatenate_keeps_trials_and_recordings():
    a, b = make_trials(session="a", seed=0), make_trials(4, session="b", seed=1)
    both = concatenate_trials([a, b])
    assert both.n_trials == 10
    assert list(both.split_sessions()) == ["a", "b"]
    np.testing.assert_array_equal(both.X[6:], b.X)
    rec = both.continuous
    assert len(rec.data) == 2 and rec.segment.tolist() == [0] * 6 + [1] * 4
    for i in range(both.n_trials):
        run = rec.data[rec.segment[i]]
        np.testing.assert_array_equal(
            both.X[i], run[:, rec.onset[i] : rec.onset[i] + 50]
        )


def test_subset_and_repr():
    t = make_trials()
    sub = t.subset(t.y == 1)
    assert sub.n_trials == 3 and set(sub.y) == {1}
    assert sub.continuous.onset.tolist() == t.continuous.onset[t.y == 1].tolist()
    text = repr(t)
    assert "6 trials × 3 channels × 50 samples at 100 Hz" in text
    assert "'left': 3" in text and "continuous=yes" in text


def test_mixed_sampling_rates_rejected():
    a = make_trials()
    b = replace(make_trials(), sfreq=200.0, continuous=None)
    with pytest.raises(InvalidInputError, match=r"'trials'.*mixed sampling rates"):
        concatenate_trials([a, b])


def test_unequal_trial_lengths_rejected():
    with pytest.raises(InvalidInputError, match=r"'trials'.*unequal length"):
        concatenate_trials([make_trials(n_times=50), make_trials(n_times=40)])
    ragged = [np.zeros((3, 50)), np.zeros((3, 40))]
    with pytest.raises(InvalidInputError, match=r"'X'.*unequal length.*trial 1"):
        Trials(
            X=ragged,
            y=[0, 1],
            class_names=["a", "b"],
            sfreq=100.0,
            ch_names=["C3", "Cz", "C4"],
        )


def test_concatenate_rejects_other_channels_or_classes():
    a = make_trials()
    with pytest.raises(InvalidInputError, match="channels"):
        concatenate_trials([a, replace(a, ch_names=["C3", "C4", "Cz"])])
    with pytest.raises(InvalidInputError, match="classes"):
        concatenate_trials([a, replace(a, class_names=["x", "y"])])
    with pytest.raises(InvalidInputError, match="empty"):
        concatenate_trials([])


def test_band_passed_filters_the_recordings_and_cuts_the_trials_again():
    import mne

    trials = make_trials(n_trials=6, n_times=50, sfreq=100.0)
    filtered = trials.band_passed(8.0, 12.0)
    run = trials.continuous.data[0].astype(np.float64)
    expected = mne.filter.filter_data(run, 100.0, 8.0, 12.0, verbose="error")
    for i, onset in enumerate(trials.continuous.onset):
        np.testing.assert_allclose(
            filtered.X[i], expected[:, onset : onset + 50], rtol=1e-5, atol=1e-6
        )
    np.testing.assert_allclose(filtered.continuous.data[0], expected, atol=1e-6)
    assert filtered.X.dtype == np.float32 and trials.X is not filtered.X
    np.testing.assert_array_equal(filtered.y, trials.y)
    # 10 Hz passes, 30 Hz (and the broadband noise around it) is removed
    spectrum = np.abs(np.fft.rfft(expected[:, 100:900], axis=-1)).mean(axis=0)
    freqs = np.fft.rfftfreq(800, 1 / 100.0)
    assert spectrum[freqs == 10.0] > 20 * spectrum[freqs == 30.0]
    assert trials.band_passed(None, None) is trials


def test_band_passed_without_recordings_filters_each_trial_with_a_warning():
    trials = replace(make_trials(n_times=200), continuous=None)
    with pytest.warns(RuntimeWarning, match="each trial on its own"):
        high = trials.band_passed(5.0, None)
    assert high.X.shape == trials.X.shape
    # the mean (0 Hz) is gone from the middle of each trial
    assert np.abs(high.X[..., 50:150].mean(axis=-1)).max() < 0.2


@pytest.mark.parametrize(
    ("l_freq", "h_freq", "match"),
    [(0.0, 10.0, "l_freq=0 Hz"), (5.0, 50.0, "h_freq=50 Hz is outside")],
)
def test_band_passed_refuses_edges_outside_the_data(l_freq, h_freq, match):
    with pytest.raises(InvalidInputError, match=rf"'bandpass'.*{match}"):
        make_trials().band_passed(l_freq, h_freq)
