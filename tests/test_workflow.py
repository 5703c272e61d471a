"""Tests of envcorr.workflow: the stages of the envcorr command, end to end."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import envcorr.viz.figures as viz_figures
import envcorr.workflow as workflow
from envcorr import load_maps
from envcorr.config import RunConfig
from envcorr.data import save_npz, simulate_motor_imagery
from envcorr.workflow import split_train_test

TINY = dict(model="shallow", epochs=1, bands="alpha=7-13,high_gamma=71-91")


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory):
    trials = simulate_motor_imagery(
        seed=3, n_trials_per_class=4, n_runs=1, verbose=False
    )
    return save_npz(trials, tmp_path_factory.mktemp("data") / "tiny.npz")


def test_split_uses_first_and_last_session():
    trials = simulate_motor_imagery(
        seed=1, n_trials_per_class=2, n_runs=1, verbose=False
    )
    train, test, name = split_train_test(trials)
    assert name == "session_2"
    assert set(train.session) == {"session_1"} and set(test.session) == {"session_2"}


def test_split_without_sessions_keeps_the_first_80_percent():
    trials = simulate_motor_imagery(
        seed=1, n_trials_per_class=5, n_runs=1, verbose=False
    )
    trials = trials.subset(slice(0, 20))
    from dataclasses import replace

    trials = replace(trials, session=None)
    train, test, name = split_train_test(trials)
    assert (train.n_trials, test.n_trials, name) == (16, 4, "last 20% of trials")
    np.testing.assert_array_equal(test.X, trials.X[16:])


def _state():
    return {
        "torch_rng": torch.get_rng_state().tolist(),
        "numpy_rng": np.random.get_state()[1].tolist(),  # noqa: NPY002
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "umask": Path("/proc/self/status").read_text().split("Umask:")[1].split()[0],
        "environ": dict(os.environ),
    }


@pytest.mark.slow
def test_run_analyses_the_trained_network_in_memory_drawing_each_figure_once(
    tiny_npz, tmp_path, monkeypatch
):
    def no_reload(*args, **kwargs):
        raise AssertionError("run must not read its checkpoint back")

    monkeypatch.setattr(workflow, "load_checkpoint", no_reload)
    built = []
    real_specs = viz_figures.figure_specs

    def counting_specs(ds):
        return [spec._replace(build=_count(spec, built)) for spec in real_specs(ds)]

    monkeypatch.setattr(viz_figures, "figure_specs", counting_specs)
    before = _state()
    out = tmp_path / "out"
    config = RunConfig(data=str(tiny_npz), out=str(out), n_untrained=2, **TINY)
    summary = workflow.run(config, verbose=False)
    assert _state() == before
    ds = load_maps(out / "results.nc")
    assert list(ds.network.values) == [
        "trained",
        "untrained",
        "untrained_1",
        "untrained_2",
    ]
    assert summary["paths"]["checkpoint"] == out / "checkpoint"
    assert sorted(built) == sorted(set(built)) and built  # each figure built once
    files = sorted(p.stem for p in (out / "figures").glob("*.png"))
    assert files == sorted(built)
    assert "data:image/png;base64," in (out / "report.html").read_text()

    # the same numbers as an analysis of the checkpoint read back from disk
    monkeypatch.undo()
    again = workflow.compute_from_checkpoint(
        out / "checkpoint",
        RunConfig(data=str(tiny_npz), out=str(tmp_path / "again"), **TINY),
        verbose=False,
    )
    reloaded = load_maps(again["paths"]["results"])
    for name in ("unit_corr", "layer_mean_abs_corr", "class_corr"):
        np.testing.assert_allclose(reloaded[name], ds[name], atol=1e-6)
    run_config = json.loads(ds.attrs["config"])["run"]
    assert run_config["n_untrained"] == 2


def _count(spec, built):
    def build():
        built.append(spec.name)
        return spec.build()

    return build
