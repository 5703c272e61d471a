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
