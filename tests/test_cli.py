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
        (["report", "missing.nc"], "'path'.*file not found"),
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


def test_unknown_model_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--model", "resnet"])
    assert exc.value.code == 2
    assert "invalid choice: 'resnet'" in capsys.readouterr().err


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
