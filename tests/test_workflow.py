"""Tests of envcorr.workflow: the stages of the envcorr command, end to end."""

import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import envcorr.viz.figures as viz_figures
import envcorr.workflow as workflow
from _training_fixtures import scores_of
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


def _raw_runs(folder: Path, n_runs: int = 2) -> list[Path]:
    """Short raw FIF runs with T1/T2 annotations and 10-20 channel names."""
    import mne

    paths = []
    rng = np.random.default_rng(0)
    for k in range(n_runs):
        info = mne.create_info(["C3", "Cz", "C4"], 200.0, ch_types="eeg")
        raw = mne.io.RawArray(
            1e-5 * rng.standard_normal((3, 200 * 40)), info, verbose=False
        )
        onsets = np.arange(1.0, 37.0, 3.0)
        raw.set_annotations(
            mne.Annotations(onsets, 0.0, ["T1", "T2"] * (len(onsets) // 2))
        )
        path = folder / f"run{k + 1}_raw.fif"
        raw.save(path, verbose=False)
        paths.append(path)
    return paths


def test_several_raw_files_are_read_with_the_data_options(tmp_path):
    _raw_runs(tmp_path)
    config = RunConfig(
        data=str(tmp_path / "run*_raw.fif"),
        events="left=T1,right=T2",
        tmin=0.0,
        tmax=2.0,
        resample=100.0,
        montage="standard_1005",
    )
    config.check()
    trials, train, test, name = workflow.load_split(config)
    assert trials.class_names == ["left", "right"]
    assert trials.sfreq == 100.0 and trials.X.shape[1:] == (3, 200)
    assert trials.n_trials == 24 and name == "run2_raw"  # runs become sessions
    assert (train.n_trials, test.n_trials) == (12, 12)


def test_test_data_files_are_the_test_trials(tmp_path):
    run1, run2 = _raw_runs(tmp_path)
    config = RunConfig(
        data=str(run1),
        test_data=[str(run2)],
        events={"left": "T1", "right": "T2"},
        tmin=0.0,
        tmax=2.0,
        montage="none",
        analyse="all",
    )
    trials, train, test, name = workflow.load_split(config)
    assert (train.n_trials, test.n_trials, trials.n_trials) == (12, 12, 24)
    assert name == "run2_raw.fif"
    np.testing.assert_array_equal(trials.X[12:], test.X)


def test_test_data_must_match_the_training_data(tmp_path):
    from dataclasses import replace

    from envcorr import InvalidInputError

    run1, _ = _raw_runs(tmp_path)
    config = RunConfig(data=str(run1), events="a=T1,b=T2", tmin=0.0, tmax=2.0)
    trials = workflow._load_source(config, "data")
    shorter = replace(trials, X=trials.X[..., :-10], continuous=None)
    with pytest.raises(InvalidInputError, match="'test_data'.*samples per trial"):
        workflow._check_same_layout(trials, shorter)
    renamed = replace(trials, class_names=["left", "right"])
    with pytest.raises(InvalidInputError, match="'test_data'.*classes"):
        workflow._check_same_layout(trials, renamed)


@pytest.mark.parametrize(
    ("data", "options", "expected"),
    [
        ("simulated", dict(tmin=0.0, tmax=3.0), {"tmin": 0.0, "tmax": 3.0}),
        ("bnci2014_001", dict(resample=128.0), {"resample": 128.0}),
        ("x.npz", dict(montage="none"), {"montage": None}),
        ("x-epo.fif", dict(events="a=1,b=2"), {"event_id": {"a": "1", "b": "2"}}),
        (
            "x.edf",
            dict(montage="biosemi64", tmax=2),
            {"montage": "biosemi64", "tmax": 2},
        ),
        ("x.edf", {}, {}),
        (
            "physionet_mi",
            dict(tmin=0.0, resample=160.0),
            {"tmin": 0.0, "resample": 160.0},
        ),
        (["A01T.gdf", "A01E.gdf"], dict(tmax=3.0), {"tmax": 3.0}),
        (
            ["a.edf", "b.edf"],
            dict(events="a=1,b=2"),
            {"event_id": {"a": "1", "b": "2"}},
        ),
    ],
)
def test_only_options_given_and_accepted_reach_the_loader(data, options, expected):
    config = RunConfig(data=data, **options)
    assert workflow.loader_options(config, data) == expected


@pytest.mark.parametrize(
    ("data", "options", "match"),
    [
        ("simulated", dict(events="a=1,b=2"), "'events'.*simulated data"),
        ("simulated", dict(montage="none"), "'montage'.*simulated.*--tmin, --tmax"),
        ("simulated", dict(resample=100.0), "'resample'.*simulated"),
        ("bnci2014_001", dict(events="a=1,b=2"), "'events'.*dataset BNCI2014_001"),
        ("x.npz", dict(tmin=0.0), r"'tmin'.*\.npz file.*takes --montage"),
        ("x-epo.fif", dict(resample=100.0), "'resample'.*epochs file"),
        ("A01T.gdf", dict(events="a=1,b=2"), "'events'.*BCI IV 2a files"),
        ("physionet_mi", dict(montage="none"), "'montage'.*dataset PhysionetMI"),
        (["A01T.gdf", "x.edf"], {}, "'data'.*several sources.*'A01T.gdf'"),
    ],
)
def test_options_a_source_does_not_take_are_errors(data, options, match):
    from envcorr import InvalidInputError

    config = RunConfig(data=data, **options)
    with pytest.raises(InvalidInputError, match=match):
        workflow.check_sources(config)


def test_montage_file_is_read(tmp_path):
    path = tmp_path / "my.elc"
    path.write_text("garbage")
    from envcorr import InvalidInputError

    with pytest.raises(InvalidInputError, match="'montage'.*could not read"):
        workflow.loader_options(RunConfig(montage=str(path)), "x.edf")


def test_results_file_checks_name_the_file(tmp_path):
    from _results_fixture import make_results
    from envcorr import InvalidInputError

    ds = make_results(bands={"alpha": (7.0, 13.0)})
    for name, changed in (
        ("band", ds.rename(band="freq")),
        ("channel", ds.isel(channel=[])),
    ):
        path = tmp_path / f"{name}.nc"
        changed.to_netcdf(path, engine="h5netcdf")
        with pytest.raises(
            InvalidInputError, match=f"'results'.*{path.name}.*'{name}'"
        ):
            workflow.check_results_file(path)


@pytest.mark.slow
def test_default_bands_adapt_to_a_low_sampling_rate(tiny_npz, tmp_path, caplog):
    from dataclasses import replace

    low = tmp_path / "low.npz"
    trials = simulate_motor_imagery(
        seed=3, n_trials_per_class=4, n_runs=1, verbose=False
    )
    # every other sample: 125 Hz, Nyquist 62.5 Hz (aliasing does not matter here)
    trials = replace(trials, X=trials.X[..., ::2], sfreq=125.0, continuous=None)
    save_npz(trials, low)
    config = RunConfig(
        data=str(low), out=str(tmp_path / "out"), model="shallow", epochs=1
    )
    with caplog.at_level("WARNING", logger="envcorr"):
        workflow.run(config, verbose="WARNING")
    ds = load_maps(tmp_path / "out" / "results.nc")
    assert list(ds.band.values) == ["delta", "theta", "alpha", "beta"]
    assert caplog.text.count("Leaving out the default band") == 1
    assert "high_gamma" in caplog.text and "low_gamma" in caplog.text


def _fake_training(monkeypatch, y_pred, decoding):
    scores = scores_of([0, 1, 2, 3] * 10, y_pred, 4)
    result = SimpleNamespace(
        valid_scores=scores,
        valid_accuracy=scores.accuracy,
        train_accuracy=1.0,
        settings={"decoding": decoding},
    )
    monkeypatch.setattr(workflow, "train_model", lambda *a, **k: result)
    return SimpleNamespace(n_channels=22, sfreq=250.0, n_trials=40)


@pytest.mark.parametrize("decoding", ["trialwise", "cropped"])
def test_a_network_at_chance_is_warned_about(monkeypatch, caplog, decoding):
    trials = _fake_training(monkeypatch, np.zeros(40, int), decoding)
    config = RunConfig(model="eegnex" if decoding == "trialwise" else "eegnet")
    with caplog.at_level("WARNING", logger="envcorr"):
        workflow._train(config, trials, trials, trials, "session_2")
    assert "25.0 %, is not above chance (25.0 %, binomial p = 0.5" in caplog.text
    assert ("--bandpass 4- --epochs 80" in caplog.text) == (decoding == "trialwise")


def test_a_network_above_chance_is_not_warned_about(monkeypatch, caplog):
    trials = _fake_training(monkeypatch, np.array([0, 1, 2, 0] * 10), "x")
    with caplog.at_level("WARNING", logger="envcorr"):
        workflow._train(RunConfig(), trials, trials, trials, "session_2")
    assert "chance" not in caplog.text  # 75 % of 40 trials: p = 1e-9
