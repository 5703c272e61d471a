"""The envcorr command, on tiny configurations so that each test takes seconds."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from envcorr import load_maps
from envcorr.cli import main
from envcorr.data import load_npz, save_npz, simulate_motor_imagery
from envcorr.nn.models import n_predictions

TINY = ["--model", "shallow", "--epochs", "1", "--bands", "alpha=7-13,high_gamma=71-91"]


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory):
    trials = simulate_motor_imagery(
        seed=3, n_trials_per_class=4, n_runs=1, verbose=False
    )
    return save_npz(trials, tmp_path_factory.mktemp("data") / "tiny.npz")


@pytest.fixture(scope="module")
def finished_run(tiny_npz, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    code = main(["run", "--data", str(tiny_npz), *TINY, "--out", str(out), "-q"])
    assert code == 0
    return out


@pytest.mark.slow
def test_run_writes_results_report_figures_and_checkpoint(finished_run, capsys):
    out = finished_run
    ds = load_maps(out / "results.nc")
    assert list(ds.band.values) == ["alpha", "high_gamma"]
    assert list(ds.layer.values) == ["pool_nonlin_exp", "final_layer.conv_classifier"]
    assert 0 <= ds.attrs["test_accuracy"] <= 1
    assert ds.attrs["test_session"] == "session_2"
    assert ds.confusion_matrix.sum() == ds.attrs["n_trials"] == 16
    config = json.loads(ds.attrs["config"])
    assert config["run"]["model"] == "shallow" and config["run"]["epochs"] == 1
    assert config["analysis"]["class_field"] == 99
    assert (out / "report.html").stat().st_size > 10_000
    assert any((out / "figures").glob("*.png"))
    for name in ("trained.pt", "initial.pt", "model.json", "data.json"):
        assert (out / "checkpoint" / name).is_file()


@pytest.mark.slow
def test_run_refuses_existing_results_unless_overwrite(finished_run, tiny_npz, capsys):
    before = (finished_run / "results.nc").stat().st_mtime_ns
    code = main(["run", "--data", str(tiny_npz), *TINY, "--out", str(finished_run)])
    assert code == 2
    err = capsys.readouterr().err
    assert "'out'" in err and "already holds results" in err and "--overwrite" in err
    assert (finished_run / "results.nc").stat().st_mtime_ns == before


@pytest.mark.slow
def test_compute_and_report_from_a_checkpoint(finished_run, tiny_npz, tmp_path, capsys):
    out = tmp_path / "again"
    code = main(
        [
            "compute",
            "--checkpoint",
            str(finished_run / "checkpoint"),
            "--data",
            str(tiny_npz),
            "--bands",
            "beta=13-31",
            "--analyse",
            "all",
            "--out",
            str(out),
            "-q",
        ]
    )
    assert code == 0, capsys.readouterr().err
    ds = load_maps(out / "results.nc")
    assert list(ds.band.values) == ["beta"] and ds.attrs["n_trials"] == 32
    assert "results.nc" in capsys.readouterr().out
    report = tmp_path / "r" / "report.html"
    report.parent.mkdir()
    assert main(["report", str(out / "results.nc"), "-o", str(report), "-q"]) == 0
    assert report.stat().st_size > 10_000


@pytest.mark.slow
def test_compute_at_own_positions_and_at_the_predictions(
    finished_run, tiny_npz, tmp_path, capsys
):
    base = ["compute", "--checkpoint", str(finished_run / "checkpoint")]
    base += ["--data", str(tiny_npz), "--bands", "alpha=7-13", "-q"]
    runs = {}
    for name, extra in {
        "dense": ["--samples", "predictions"],
        "own": ["--no-dense", "--no-chance"],
    }.items():
        out = tmp_path / name
        assert main([*base, *extra, "--out", str(out)]) == 0, capsys.readouterr().err
        runs[name] = load_maps(out / "results.nc")
    dense, own = runs["dense"], runs["own"]
    assert dense.attrs["dense"] == 1 and dense.attrs["samples"] == "predictions"
    assert json.loads(dense.attrs["config"])["run"]["samples"] == "predictions"
    # at the predictions, every layer keeps as many positions as the classifier
    assert len(set(dense.layer_n_times.values.tolist())) == 1
    assert own.attrs["dense"] == 0 and own.attrs["samples"] == "all"
    assert json.loads(own.attrs["config"])["run"]["dense"] is False
    # the chance level is measured unless --no-chance
    assert "layer_mean_abs_corr_excess_diff" in dense
    assert "chance_layer_mean_abs_corr" not in own
    assert json.loads(own.attrs["config"])["run"]["chance"] is False
    # the strided network has fewer positions in its deeper layers
    assert own.layer_n_times.values[-1] < own.layer_n_times.values[0]


@pytest.mark.slow
def test_compute_rejects_data_that_does_not_match_the_checkpoint(
    finished_run, tmp_path, capsys
):
    other = simulate_motor_imagery(
        seed=3, n_trials_per_class=2, n_runs=1, sfreq=200.0, verbose=False
    )
    path = save_npz(other, tmp_path / "other.npz")
    code = main(
        [
            "compute",
            "--checkpoint",
            str(finished_run / "checkpoint"),
            "--data",
            str(path),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "sfreq" in err or "sampling" in err
    assert not (tmp_path / "o" / "results.nc").exists()


@pytest.mark.slow
def test_missing_and_corrupt_checkpoint(finished_run, tiny_npz, tmp_path, capsys):
    code = main(
        [
            "compute",
            "--checkpoint",
            str(tmp_path / "nope"),
            "--data",
            str(tiny_npz),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "'checkpoint'" in capsys.readouterr().err
    broken = tmp_path / "broken"
    shutil.copytree(finished_run / "checkpoint", broken)
    (broken / "model.json").write_text("{not json")
    code = main(
        [
            "compute",
            "--checkpoint",
            str(broken),
            "--data",
            str(tiny_npz),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "model.json" in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_leaves_no_results(tiny_npz, tmp_path, monkeypatch, capsys):
    import envcorr.workflow

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(envcorr.workflow, "compute_maps", interrupted)
    out = tmp_path / "out"
    code = main(["run", "--data", str(tiny_npz), *TINY, "--out", str(out), "-q"])
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    assert not (out / "results.nc").exists()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["run", "--data", "bnci2099"], "'source'|dataset"),
        (["run", "--bands", "alpha:7-13"], "'bands'.*NAME=LOW-HIGH"),
        (["run", "--bands", "hg=71-130"], "'bands'.*Nyquist"),
        (["run", "--epochs", "0"], "'epochs'"),
        (["report", "missing.nc"], "'results'.*file not found"),
        (["run", "--config", "missing.toml"], "'config'.*not found"),
    ],
)
def test_bad_input_is_one_clear_line(args, match, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MOABB_DOWNLOAD_PROVIDER", "upstream")
    assert main([*args, "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("envcorr ") and "Traceback" not in err
    import re

    assert re.search(match, err), err


@pytest.mark.parametrize("command", ["run", "train"])
def test_unknown_model_is_refused_with_suggestions(command, capsys, no_work):
    assert main([command, "--model", "eegnett", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"envcorr {command}: error: ") and "Traceback" not in err
    assert "unknown model 'eegnett'. Did you mean 'EEGNet'" in err
    assert "'deep4', 'shallow'" in err and "ATCNet" in err


def test_help_lists_the_models(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "deep4 (braindecode's Deep4Net)" in text
    assert "shallow (ShallowFBCSPNet) or eegnet, trained with cropped" in text
    trialwise = text.split("trained trial-wise:")[1]
    for name in ("ATCNet", "EEGNeX", "TIDNet"):
        assert name in trialwise
    assert "EEGNet," not in trialwise


@pytest.mark.slow
def test_train_eegnet_on_crops(tiny_npz, tmp_path, capsys):
    out = tmp_path / "ckpt"
    args = ["train", "--data", str(tiny_npz), "--model", "eegnet", "--epochs", "1"]
    assert main([*args, "--bandpass", "4-40", "--out", str(out), "-q"]) == 0
    info = json.loads((out / "model.json").read_text())
    assert info["model"] == "EEGNet"
    assert info["kwargs"]["sfreq"] == 250.0 and info["kwargs"]["n_times"] == 1125
    # 35 positions after EEGNet's last pooling; the classifier spans 17: 19 crops
    assert info["kwargs"]["final_conv_length"] == 17
    history = json.loads((out / "history.json").read_text())
    assert history["settings"]["decoding"] == "cropped"
    assert history["settings"]["batch_size"] == 32
    assert json.loads((out / "config.json").read_text())["model"] == "eegnet"
    from envcorr.training import load_checkpoint

    ckpt = load_checkpoint(out)
    assert type(ckpt.model).__name__ == "EEGNet" and ckpt.model_name == "EEGNet"
    assert n_predictions(ckpt.model) == 19
    assert ckpt.config["bandpass"] == "4-40"
    # compute filters the data as the network saw them, and analyses EEGNet at
    # its own output positions
    maps_dir = tmp_path / "maps"
    compute = ["compute", "--checkpoint", str(out), "--data", str(tiny_npz)]
    code = main([*compute, "--bands", "alpha=7-13", "--out", str(maps_dir), "-q"])
    assert code == 0, capsys.readouterr().err
    ds = load_maps(maps_dir / "results.nc")
    assert json.loads(ds.attrs["config"])["run"]["bandpass"] == "4-40"
    assert ds.attrs["dense"] == 0 and ds.attrs["model_name"] == "EEGNet"
    assert list(ds.layer.values) == [
        "bnorm_temporal",
        "pool_1",
        "pool_2",
        "final_layer.conv_classifier",
    ]


@pytest.mark.slow
def test_toml_config_is_used_and_stored(tiny_npz, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(
        f'data = "{tiny_npz}"\nmodel = "shallow"\nepochs = 1\n'
        'bands = "theta=4-8"\nseed = 7\n'
    )
    out = tmp_path / "out"
    assert (
        main(["run", "--config", str(config), "--seed", "5", "--out", str(out), "-q"])
        == 0
    )
    ds = load_maps(out / "results.nc")
    run = json.loads(ds.attrs["config"])["run"]
    assert run["bands"] == "theta=4-8" and run["seed"] == 5  # command line wins
    assert ds.attrs["seed"] == 5
    stored = json.loads((out / "checkpoint" / "config.json").read_text())
    assert stored["seed"] == 5 and stored["model"] == "shallow"


def test_bad_toml_key(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text("epocs = 3\n")
    assert main(["run", "--config", str(config)]) == 2
    assert "unknown option(s) ['epocs']" in capsys.readouterr().err


@pytest.mark.slow
def test_simulate_writes_the_npz_the_loader_reads(tmp_path, capsys):
    out = tmp_path / "sim.npz"
    assert main(["simulate", "--seed", "2", "--out", str(out), "-q"]) == 0
    trials = load_npz(out)
    assert trials.X.shape == (576, 22, 1125)
    assert sorted(set(trials.session)) == ["session_1", "session_2"]
    again = simulate_motor_imagery(seed=2, verbose=False)
    np.testing.assert_array_equal(trials.X, again.X)


@pytest.mark.parametrize("command", ["run", "train", "compute", "simulate", "report"])
def test_help_explains_every_option(command):
    exe = Path(sys.executable).with_name("envcorr")
    out = subprocess.run([str(exe), command, "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    if command in ("run", "train"):
        assert "(default: deep4)" in text and "(default: 0)" in text
    if command in ("run", "compute"):
        assert "(default: default)" in text and "(default: test)" in text
    assert "Warning" not in out.stderr


@pytest.mark.slow
def test_train_writes_a_checkpoint_and_refuses_a_full_directory(
    tiny_npz, tmp_path, capsys
):
    out = tmp_path / "ckpt"
    assert (
        main(["train", "--data", str(tiny_npz), *TINY[:4], "--out", str(out), "-q"])
        == 0
    )
    assert (out / "trained.pt").is_file() and (out / "initial.pt").is_file()
    assert "Checkpoint:" in capsys.readouterr().out
    code = main(["train", "--data", str(tiny_npz), *TINY[:4], "--out", str(out)])
    assert code == 2
    assert "'out'" in capsys.readouterr().err


_HEAVY = ("torch", "matplotlib", "moabb", "braindecode", "mne", "xarray")


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["compute", "--help"]])
def test_help_imports_neither_torch_nor_matplotlib(args):
    code = (
        "import sys\n"
        "from envcorr.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {_HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_python_dash_m_is_the_command():
    out = subprocess.run(
        [sys.executable, "-m", "envcorr", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.startswith("envcorr ")
    out = subprocess.run(
        [sys.executable, "-m", "envcorr", "run", "--epochs", "0", "-q"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "'epochs'" in out.stderr


# --------------------------------------------------------------------------
# bad input: one line on stderr, exit 2, before any data load, nothing written
# --------------------------------------------------------------------------
def _tree(root: Path) -> dict[str, tuple[bool, int]]:
    """Every path under root with whether it is a folder and its mtime."""
    return {
        str(p.relative_to(root)): (p.is_dir(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a command gets as far as loading, simulating or training."""

    def boom(*args, **kwargs):
        raise AssertionError("the bad input must be refused before any work")

    monkeypatch.setattr("envcorr.workflow.load_data", boom)
    monkeypatch.setattr("envcorr.workflow.train_model", boom)
    monkeypatch.setattr("envcorr.workflow.load_checkpoint", boom)
    monkeypatch.setattr("envcorr.data.simulate_motor_imagery", boom)
    monkeypatch.setattr("envcorr.viz.draw_figures", boom)


def _results_file(path: Path, change=None) -> Path:
    from _results_fixture import make_results

    ds = make_results(bands={"alpha": (7.0, 13.0)})
    if change is not None:
        ds = change(ds)
    ds.to_netcdf(path, engine="h5netcdf")
    return path


def _setup(tmp_path: Path, kind: str) -> None:
    """Files the bad-input cases below refer to, by name, in tmp_path."""
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "notes.toml").write_text("# nothing\n")
    if kind == "ckpt_only":
        (tmp_path / "prev" / "checkpoint").mkdir(parents=True)
        (tmp_path / "prev" / "checkpoint" / "trained.pt").write_text("weights")
    elif kind == "report_only":
        (tmp_path / "prev").mkdir()
        (tmp_path / "prev" / "report.html").write_text("<html>")
    elif kind == "figures_only":
        (tmp_path / "prev" / "figures").mkdir(parents=True)
        (tmp_path / "prev" / "figures" / "a.png").write_text("png")
    elif kind == "not_empty":
        (tmp_path / "prev").mkdir()
        (tmp_path / "prev" / "mine.txt").write_text("mine")
    elif kind == "results":
        _results_file(tmp_path / "results.nc")
        (tmp_path / "r").mkdir()
        (tmp_path / "r" / "report.html").write_text("<html>")
    elif kind == "renamed_layer":
        _results_file(tmp_path / "results.nc", lambda ds: ds.rename(layer="stage"))
    elif kind == "empty_layer":
        _results_file(tmp_path / "results.nc", lambda ds: ds.isel(layer=[]))
    elif kind == "toml_no":
        (tmp_path / "c.toml").write_text('overwrite = "no"\n')
    elif kind == "toml_out":
        (tmp_path / "c.toml").write_text("out = 5\n")
    elif kind == "toml_binary":
        (tmp_path / "c.toml").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01")
    elif kind == "toml_epochs":
        (tmp_path / "c.toml").write_text("epochs = true\n")
    elif kind == "toml_data":
        (tmp_path / "c.toml").write_text("data = []\n")


BAD_INPUT = [
    # output safety
    (
        "ckpt_only",
        ["run", "-o", "prev"],
        r"'out'.*holds results \(checkpoint/\).*--overwrite",
    ),
    (
        "report_only",
        ["run", "-o", "prev"],
        r"'out'.*already holds results \(report\.html\)",
    ),
    (
        "figures_only",
        ["compute", "--checkpoint", "ck", "-o", "prev"],
        r"'out'.*\(figures/\)",
    ),
    ("not_empty", ["train", "-o", "prev"], r"'out'.*is not empty.*--overwrite"),
    ("none", ["run", "-o", "a_file"], r"'out'.*exists and is not a directory"),
    ("none", ["run", "-o", "a_file/out"], r"'out'.*cannot write to 'a_file/out'"),
    ("none", ["train", "-o", "a_file/ck"], r"'out'.*cannot write"),
    (
        "results",
        ["report", "results.nc", "-o", "r"],
        r"'out'.*'r' is a directory.*r/report\.html",
    ),
    (
        "results",
        ["report", "results.nc", "-o", "r/report.html"],
        r"'r/report\.html' already exists.*--overwrite",
    ),
    (
        "results",
        ["report", "results.nc", "-o", "a_file/r.html"],
        r"'out'.*'a_file' exists and is not a dir",
    ),
    ("none", ["simulate", "-o", "."], r"'out'.*'\.' is a directory"),
    (
        "none",
        ["simulate", "-o", "a_file"],
        r"'out'.*'a_file' already exists.*--overwrite",
    ),
    (
        "none",
        ["simulate", "-o", "a_file/sim.npz"],
        r"'out'.*'a_file' exists and is not a dir",
    ),
    # results files the report cannot draw
    (
        "renamed_layer",
        ["report", "results.nc", "-o", "x.html"],
        r"'results'.*'results\.nc' has no 'layer' dim",
    ),
    (
        "empty_layer",
        ["report", "results.nc", "-o", "x.html"],
        r"'results'.*'results\.nc' has an empty 'layer' dim",
    ),
    # TOML values of the wrong type
    (
        "toml_no",
        ["run", "--config", "c.toml"],
        r"'overwrite'.*expected a boolean.*got 'no' in 'c\.toml'",
    ),
    ("toml_out", ["run", "--config", "c.toml"], r"'out'.*expected a string.*got 5"),
    ("toml_binary", ["run", "--config", "c.toml"], r"'config'.*not a UTF-8 text file"),
    (
        "toml_epochs",
        ["train", "--config", "c.toml"],
        r"'epochs'.*expected an integer, got True",
    ),
    ("toml_data", ["run", "--config", "c.toml"], r"'data'.*got \[\]"),
    # bands
    ("none", ["run", "--bands", "a=1-4,a=5-8"], r"'bands'.*'a' is given twice"),
    ("none", ["run", "--bands", "=7-13"], r"'bands'.*has no band name"),
    # data options
    (
        "none",
        ["run", "--data", "S01/*.gdf"],
        r"'data'.*no file matches 'S01/\*\.gdf'.*--data",
    ),
    (
        "none",
        ["run", "--data", "x.gdf", "--test-data", "T*.gdf"],
        r"'test_data'.*no file matches.*--test-data",
    ),
    (
        "none",
        ["run", "--data", "a.npz", "b.npz"],
        r"'data'.*several sources.*'a\.npz' is not a raw",
    ),
    (
        "none",
        ["run", "--events", "left=T1,right=T2"],
        r"'events'.*does not apply to the simulated data",
    ),
    (
        "none",
        ["train", "--data", "x.npz", "--resample", "100"],
        r"'resample'.*not apply to a \.npz.*--montage",
    ),
    (
        "none",
        ["compute", "--checkpoint", "c", "--data", "bnci2014_001", "--montage", "none"],
        r"'montage'.*does not apply to the dataset",
    ),
    (
        "none",
        ["run", "--data", "x.edf", "--events", "left=T1"],
        r"'events'.*only one class",
    ),
    (
        "none",
        ["run", "--data", "x.edf", "--events", "left=T1,left=T2"],
        r"'events'.*'left' is given twice",
    ),
    (
        "none",
        ["run", "--data", "x.edf", "--events", "left"],
        r"'events'.*cannot read 'left'",
    ),
    (
        "none",
        ["run", "--data", "x.edf", "--montage", "my.elc"],
        r"'montage'.*file not found",
    ),
    (
        "none",
        ["run", "--data", "x.edf", "--tmin", "2", "--tmax", "1"],
        r"'tmax'.*not after tmin=2",
    ),
    ("none", ["run", "--data", "x.edf", "--resample", "0"], r"'resample'.*> 0"),
    ("none", ["run", "--bandpass", "40-4"], r"'bandpass'.*LOW must be below HIGH"),
    ("none", ["train", "--bandpass", "4"], r"'bandpass'.*expected LOW-HIGH"),
    (
        "none",
        ["run", "--model", "eegnex", "--samples", "predictions"],
        r"'samples'.*cropped decoding.*--samples all",
    ),
]


@pytest.mark.slow
def test_a_band_above_nyquist_stops_the_run_and_writes_nothing(
    tiny_npz, tmp_path, capsys
):
    out = tmp_path / "out"
    args = ["run", "--data", str(tiny_npz), *TINY, "--bandpass", "4-200"]
    assert main([*args, "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "'bandpass'" in err and "h_freq=200 Hz is outside (0, 125) Hz" in err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize(("kind", "args", "match"), BAD_INPUT)
def test_bad_input_fails_first_in_one_line_and_writes_nothing(
    kind, args, match, tmp_path, monkeypatch, capsys, no_work
):
    import re

    monkeypatch.chdir(tmp_path)
    _setup(tmp_path, kind)
    before = _tree(tmp_path)
    assert main([*args, "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"envcorr {args[0]}: error: ")
    assert "Traceback" not in err
    assert re.search(match, err), err
    assert _tree(tmp_path) == before


def test_ctrl_c_while_rendering_the_report_exits_130_without_a_report(
    tmp_path, monkeypatch, capsys
):
    import envcorr.report

    results = _results_file(tmp_path / "results.nc")

    class Interrupted:
        def get_template(self, name):
            return self

        def render(self, **context):
            raise KeyboardInterrupt

    monkeypatch.setattr("envcorr.viz.draw_figures", lambda *a, **k: [])
    monkeypatch.setattr(envcorr.report, "_environment", Interrupted)
    out = tmp_path / "new" / "report.html"
    assert main(["report", str(results), "-o", str(out), "-q"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not out.parent.exists()  # the folder it made is gone with the report


def test_ctrl_c_while_drawing_the_report_figures_exits_130(
    tmp_path, monkeypatch, capsys
):
    results = _results_file(tmp_path / "results.nc")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("envcorr.viz.draw_figures", interrupted)
    out = tmp_path / "report.html"
    assert main(["report", str(results), "-o", str(out), "-q"]) == 130
    assert not out.exists()


def test_data_options_are_defined_once_for_run_train_and_compute():
    from envcorr.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for command in ("run", "train", "compute"):
        p = sub.choices[command]
        group = next(g for g in p._action_groups if g.title == "data")
        flags = {s for a in group._group_actions for s in a.option_strings}
        assert flags == {
            "--data",
            "--subject",
            "--test-data",
            "--events",
            "--tmin",
            "--tmax",
            "--resample",
            "--bandpass",
            "--montage",
        }
    args = parser.parse_args(
        ["run", "--data", "a.gdf", "b.gdf", "--events", "l=1,r=2", "--tmin", "0"]
    )
    from envcorr.cli import _config

    config = _config(args)
    assert config.data == ["a.gdf", "b.gdf"] and config.events == "l=1,r=2"
    assert config.tmin == 0.0 and config.test_data is None
    one = _config(parser.parse_args(["train", "--data", "x.npz"]))
    assert one.data == "x.npz"  # one source stays a string, as in TOML


@pytest.mark.slow
def test_run_replaces_a_previous_run_only_with_overwrite(tiny_npz, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "checkpoint").mkdir(parents=True)
    (out / "checkpoint" / "old.txt").write_text("old")
    args = ["run", "--data", str(tiny_npz), *TINY, "--out", str(out), "-q"]
    assert main(args) == 2
    assert (out / "checkpoint" / "old.txt").read_text() == "old"
    assert main([*args, "--overwrite"]) == 0
    assert not (out / "checkpoint" / "old.txt").exists()
    assert (out / "results.nc").is_file()


@pytest.mark.slow
def test_run_on_physionet_mi_with_its_defaults(tmp_path, monkeypatch, capsys):
    from envcorr.data.physionet import physionet_mi_files
    from test_data_physionet import write_run

    root = tmp_path / "mne_data"
    for run in (4, 6, 8, 10, 12, 14):
        write_run(physionet_mi_files(1, [run], root)[0], seed=run)
    monkeypatch.setenv("MNE_DATA", str(root))
    monkeypatch.delenv("MNE_DATASETS_EEGBCI_PATH", raising=False)
    out = tmp_path / "out"
    args = ["run", "--data", "physionet_mi", "--subject", "1", "--out", str(out)]
    assert main([*args, "--model", "shallow", "--epochs", "1", "-q"]) == 0
    ds = load_maps(out / "results.nc")
    assert list(ds["class"].values) == ["left_hand", "right_hand", "hands", "feet"]
    assert ds.sizes["channel"] == 64 and "FC5" in ds.channel.values
    assert "high_gamma" not in ds.band.values  # 160 Hz: Nyquist 80 Hz
    assert ds.attrs["n_trials"] == 8  # runs 12 and 14 test, 4 cues each
    assert "ch_x" in ds.coords


@pytest.mark.slow
def test_run_on_the_competition_gdf_files(tmp_path, capsys):
    from test_data_bci_iv_2a import write_session

    train, _ = write_session(tmp_path, "T", seed=1)
    test, _ = write_session(tmp_path, "E", seed=2)
    out = tmp_path / "out"
    args = ["run", "--data", str(train), "--test-data", str(test), "--out", str(out)]
    assert main([*args, "--model", "shallow", "--epochs", "1", "-q"]) == 0
    ds = load_maps(out / "results.nc")
    assert list(ds["class"].values) == ["left_hand", "right_hand", "feet", "tongue"]
    assert list(ds.channel.values[:3]) == ["Fz", "FC3", "FC1"]
    assert ds.attrs["n_trials"] == 8 and int(ds.confusion_matrix.sum()) == 8
