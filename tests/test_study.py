"""Tests of envcorr.study: many subjects on Dask workers, resuming, group maps."""

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from envcorr import InvalidInputError
from envcorr.cli import main
from envcorr.config import RunConfig
from envcorr.data import save_npz, simulate_motor_imagery
from envcorr.stats import group_test, subject_z
from envcorr.study import parse_subjects, run_study

# Tiny subjects: a few seconds each. Files named with {subject}, relative to
# the study's folder (each test runs from its own copy of it).
TINY = dict(model="shallow", epochs=1, bands="alpha=7-13", n_untrained=1)
DATA = "data/sub{subject}.npz"


def _tiny_subjects(root: Path, subjects, junk=()) -> None:
    (root / "data").mkdir(parents=True, exist_ok=True)
    for k in subjects:
        trials = simulate_motor_imagery(
            subject=k, n_trials_per_class=4, n_runs=1, verbose=False
        )
        save_npz(trials, root / DATA.format(subject=k), verbose=False)
    for k in junk:
        (root / DATA.format(subject=k)).write_text("not an npz file")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A study of subjects 1-4 on 2 worker processes; subject 4's file is bad."""
    root = tmp_path_factory.mktemp("study")
    _tiny_subjects(root, (1, 2, 3), junk=(4,))
    cwd = os.getcwd()
    os.chdir(root)
    try:
        start = time.perf_counter()
        summary = run_study(
            RunConfig(data=DATA, **TINY),
            subjects="1-4",
            out="out",
            workers=2,
            verbose=False,
        )
        summary["wall"] = time.perf_counter() - start
    finally:
        os.chdir(cwd)
    return root, summary


def _copy(root: Path, to: Path) -> Path:
    shutil.copytree(root, to / "study")
    return to / "study"


@pytest.mark.slow
def test_a_failing_subject_is_recorded_and_the_others_finish(finished):
    root, summary = finished
    out = root / "out"
    assert summary["subjects"] == [1, 2, 3] and summary["reused"] == []
    assert list(summary["failed"]) == [4]
    failures = json.loads((out / "failures.json").read_text())
    assert list(failures) == ["4"]
    assert failures["4"]["error_type"] == "InvalidInputError"
    assert "sub4.npz" in failures["4"]["message"]
    for k in (1, 2, 3):
        sub = out / "subjects" / str(k)
        assert (sub / "results.nc").is_file() and (sub / "report.html").is_file()
        assert (sub / "checkpoint").is_dir()
    assert not (out / "subjects" / "4" / "results.nc").exists()
    stored = json.loads((out / "study.json").read_text())
    assert stored["options"]["epochs"] == 1 and stored["subjects"] == [1, 2, 3, 4]
    assert set(stored["seconds"]) == {"1", "2", "3"}
    assert set(summary["accuracy"]) == {1, 2, 3}


@pytest.mark.slow
def test_the_group_report_links_the_subjects_and_lists_the_failure(finished):
    root, summary = finished
    out = root / "out"
    assert root / summary["paths"]["report"] == out / "report.html"
    html = (out / "report.html").read_text(encoding="utf-8")
    for k in (1, 2, 3):
        assert f'<a href="subjects/{k}/report.html">' in html
    assert "InvalidInputError" in html and "sub4.npz" in html
    assert html.count('<img src="data:image/png;base64,') == 5
    names = sorted(p.name for p in (out / "figures").iterdir())
    assert names == [
        "group_accuracy.png",
        "group_class_maps.png",
        "group_depth_profile.png",
        "group_layer_band_grid.png",
        "group_layer_band_grid_excess.png",  # the chance level is on by default
    ]


@pytest.mark.slow
def test_group_nc_holds_the_subjects_maps_and_their_tests(finished):
    root, _ = finished
    out = root / "out"
    group = xr.open_dataset(out / "group.nc").load()
    cell = ("layer", "band", "channel")
    assert group["subject"].values.tolist() == [1, 2, 3]
    assert group["subject_layer_mean_abs_corr_diff"].dims == ("subject", *cell)
    assert group["subject_layer_mean_corr_diff"].dims == ("subject", *cell)
    assert group["subject_class_corr"].dims == ("subject", "band", "channel", "class")
    assert group["subject_diff_z"].dims == ("subject", *cell)
    for name in ("diff_p", "diff_p_fwer", "diff_q_fdr", "layer_mean_corr_diff"):
        assert group[name].dims == cell
    for name in ("class_corr", "class_p_fwer", "class_q_fdr"):
        assert group[name].dims == ("band", "channel", "class")
    for name in ("ch_x", "ch_y", "ch_z", "band_low", "receptive_field"):
        assert name in group.coords
    assert json.loads(group.attrs["failed_subjects"]) == [4]
    assert json.loads(group.attrs["config"])["model"] == "shallow"
    assert "torch" in json.loads(group.attrs["versions"])

    subjects = [xr.open_dataset(out / "subjects" / str(k) / "results.nc").load()
                for k in (1, 2, 3)]  # fmt: skip
    maps = np.stack([ds["layer_mean_abs_corr_diff"].values for ds in subjects])
    np.testing.assert_array_equal(group["subject_layer_mean_abs_corr_diff"], maps)
    np.testing.assert_allclose(group["layer_mean_abs_corr_diff"], maps.mean(axis=0))
    test = group_test(maps, tail=0)
    np.testing.assert_array_equal(group["diff_p_fwer"], test.p_fwer)
    np.testing.assert_array_equal(group["diff_q_fdr"], test.q_fdr)
    assert group.attrs["diff_n_flips"] == 2**2  # exact: all sign flips
    mac = subjects[0]["layer_mean_abs_corr"]
    z = subject_z(
        mac.sel(network="trained"), mac.sel(network=["untrained", "untrained_1"])
    )
    np.testing.assert_array_equal(group["subject_diff_z"][0], z)
    accuracy = [ds.attrs["test_accuracy"] for ds in subjects]
    np.testing.assert_array_equal(group["accuracy"], accuracy)
    assert group["n_trials"].values.tolist() == [
        ds.attrs["n_trials"] for ds in subjects
    ]


@pytest.mark.slow
def test_a_rerun_reuses_finished_subjects_and_retries_failed_ones(
    finished, tmp_path, monkeypatch
):
    from distributed import Client

    root = _copy(finished[0], tmp_path)
    monkeypatch.chdir(root)
    _tiny_subjects(root, (4,))  # the bad file is repaired
    results = {k: root / f"out/subjects/{k}/results.nc" for k in (1, 2, 3)}
    before = {k: p.stat().st_mtime_ns for k, p in results.items()}
    start = time.perf_counter()
    with Client(processes=False, n_workers=1, threads_per_worker=1) as client:
        summary = run_study(
            RunConfig(data=DATA, **TINY),
            subjects="1-4",
            out="out",
            scheduler=client,
            verbose=False,
        )
    assert time.perf_counter() - start < 60
    assert summary["reused"] == [1, 2, 3] and summary["subjects"] == [1, 2, 3, 4]
    assert summary["failed"] == {} and not (root / "out/failures.json").exists()
    assert {k: p.stat().st_mtime_ns for k, p in results.items()} == before
    seconds = json.loads((root / "out/study.json").read_text())["seconds"]
    assert set(seconds) == {"1", "2", "3", "4"}  # the reused ones kept theirs
    assert "sub4.npz" not in (root / "out/report.html").read_text(encoding="utf-8")
    group = xr.open_dataset(root / "out/group.nc")
    assert group["subject"].values.tolist() == [1, 2, 3, 4]
    assert json.loads(group.attrs["failed_subjects"]) == []


@pytest.mark.slow
def test_other_options_are_refused_unless_overwrite(finished, tmp_path, monkeypatch):
    from distributed import Client

    import envcorr.workflow as workflow

    root = _copy(finished[0], tmp_path)
    monkeypatch.chdir(root)
    other = RunConfig(data=DATA, **{**TINY, "epochs": 2})
    with pytest.raises(InvalidInputError, match=r"'epochs'.*epochs=1, not 2"):
        run_study(other, subjects="1-4", out="out", verbose=False)
    with pytest.raises(InvalidInputError, match="'n_permutations'"):
        run_study(
            RunConfig(data=DATA, **TINY), subjects="1-3", out="out",
            n_permutations=99, verbose=False,
        )  # fmt: skip
    assert json.loads((root / "out/study.json").read_text())["options"]["epochs"] == 1

    ran = []
    template = root / "out/subjects/1/results.nc"
    kept = template.read_bytes()

    def fake_run(config, verbose=None):  # a stand-in: copies subject 1's results
        ran.append(config.subject)
        assert config.overwrite and config.epochs == 2
        Path(config.out).mkdir(parents=True, exist_ok=True)
        (Path(config.out) / "results.nc").write_bytes(kept)
        return {"test_accuracy": 0.5, "train_accuracy": 0.5}

    monkeypatch.setattr(workflow, "run", fake_run)
    _tiny_subjects(root, (4,))
    with Client(processes=False, n_workers=1, threads_per_worker=1) as client:
        summary = run_study(
            other, subjects="1-4", out="out", scheduler=client, overwrite=True,
            verbose=False,
        )  # fmt: skip
    assert ran == [None] * 4  # files named with {subject}: no subject
    assert summary["reused"] == [] and summary["subjects"] == [1, 2, 3, 4]
    assert json.loads((root / "out/study.json").read_text())["options"]["epochs"] == 2


@pytest.mark.slow
def test_a_killed_worker_does_not_stop_the_study(tmp_path, monkeypatch):
    from distributed import Client, LocalCluster

    _tiny_subjects(tmp_path, (1, 2, 3))
    monkeypatch.chdir(tmp_path)
    killed: list[int] = []
    done = threading.Event()
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        pids = client.run(os.getpid)

        def kill_when_a_subject_runs():
            deadline = time.monotonic() + 60
            while not done.is_set() and time.monotonic() < deadline:
                busy = [w for w, keys in client.processing().items() if keys]
                started = list(Path("out/subjects").glob("*"))
                if busy and started:
                    time.sleep(0.5)  # inside workflow.run
                    pid = pids[busy[0]]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_when_a_subject_runs, daemon=True)
        killer.start()
        try:
            summary = run_study(
                RunConfig(data=DATA, **TINY),
                subjects="1-3",
                out="out",
                scheduler=client,
                verbose=False,
            )
        finally:
            done.set()
            killer.join(timeout=10)
    assert killed, "no worker was killed"
    assert summary["subjects"] == [1, 2, 3] and summary["failed"] == {}
    assert (tmp_path / "out/group.nc").is_file()


def _fake_run(config, verbose=None):
    """A stand-in for workflow.run: synthetic results and a report, at once."""
    from _results_fixture import make_results

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = make_results(n_layers=1, bands={"alpha": (7.0, 13.0)}, seed=config.subject)
    ds.attrs["test_accuracy"] = 0.5 + 0.1 * config.subject
    ds.to_netcdf(out / "results.nc", engine="h5netcdf")
    (out / "report.html").write_text("<html></html>")
    return {"test_accuracy": ds.attrs["test_accuracy"], "train_accuracy": 1.0}


@pytest.mark.slow
def test_progress_one_line_per_subject_and_the_group_report(
    tmp_path, monkeypatch, capsys
):
    from distributed import Client

    import envcorr.workflow as workflow
    from envcorr._utils.logs import logger

    monkeypatch.setattr(workflow, "run", _fake_run)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    config = RunConfig(data="simulated", **TINY, formats=["png", "svg"])
    out = tmp_path / "out"
    try:
        with Client(
            processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0"
        ) as client:
            summary = run_study(
                config, subjects="1-3", out=out, scheduler=client, verbose=True
            )
            err = capsys.readouterr().err
            html = (out / "report.html").read_text(encoding="utf-8")
            figures = sorted(p.name for p in (out / "figures").iterdir())
            seconds = json.loads((out / "study.json").read_text())["seconds"]
            # fewer than 2 subjects: no group.nc, no group report or figures
            one = run_study(
                config, subjects="1", out=out, scheduler=client, overwrite=True,
                verbose=False,
            )  # fmt: skip
            quiet_err = capsys.readouterr().err
    finally:
        logger.removeHandler(handler)

    assert "Subjects:" in err and "3/3" in err  # the progress bar
    assert "Subjects:" not in quiet_err  # hidden when quiet
    lines = [r.getMessage() for r in records if r.getMessage().startswith("Subject ")]
    assert len(lines) == 3  # one per subject; none when quiet
    for line in lines:
        assert re.fullmatch(
            r"Subject \d: test accuracy \d+\.\d %, \d+\.\d min "
            r"\(\d/\d done, about \d+\.\d min left\)",
            line,
        ), line

    assert summary["paths"]["report"] == out / "report.html"
    assert summary["paths"]["figures"] == out / "figures"
    for k in (1, 2, 3):
        assert f'<a href="subjects/{k}/report.html">' in html
    assert "70.0 %" in html and "80.0 %" in html
    assert figures == sorted(
        f"group_{name}.{ext}"
        for name in ("layer_band_grid", "class_maps", "depth_profile", "accuracy")
        for ext in ("png", "svg")
    )
    assert set(seconds) == {"1", "2", "3"}

    assert one["paths"]["report"] is None and one["paths"]["group"] is None
    assert not (out / "report.html").exists() and not (out / "group.nc").exists()
    assert list((out / "figures").iterdir()) == []


def test_parse_subjects():
    assert parse_subjects("1-3,7", "simulated") == [1, 2, 3, 7]
    assert parse_subjects("all", "simulated") == list(range(1, 10))
    assert parse_subjects("all", "Schirrmeister2017") == list(range(1, 15))
    assert parse_subjects("all", "PhysionetMI")[-1] == 109
    assert parse_subjects([3, 1, 3], None) == [1, 3]
    assert parse_subjects("12", None) == [12]
    for bad, dataset in [
        ("0", "simulated"),
        ("10", "BNCI2014_001"),
        ("3-1", None),
        ("1,x", None),
        ("", None),
        ("all", None),
    ]:
        with pytest.raises(InvalidInputError, match="'subjects'"):
            parse_subjects(bad, dataset)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--subjects", "1-x"], r"'subjects'.*'1-x'"),
        (["--subjects", "10"], r"'subjects'.*10 is not a subject"),
        (["--data", "one.npz"], r"'data'.*one recording"),
        (["--data", "s{subject}.npz", "--subjects", "all"], r"'subjects'.*'all'"),
        (["--data", "s{nope}.npz", "--subjects", "1,2"], r"'data'.*subject"),
        (["--workers", "0"], r"'workers'.*minimum"),
        (["--threads-per-worker", "0"], r"'threads_per_worker'"),
        (["--n-permutations", "1"], r"'n_permutations'"),
        (["--scheduler", "no-such-file.json"], r"'scheduler'.*not found"),
        (["--epochs", "0"], r"'epochs'"),
        (["--events", "l=1,r=2"], r"'events'.*simulated"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    args, match, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    assert main(["study", *args, "-o", "out"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("envcorr study: error:") and err.count("\n") == 1
    assert __import__("re").search(match, err), err
    assert not (tmp_path / "out").exists()


def test_study_help_imports_neither_torch_dask_nor_matplotlib():
    code = (
        "import sys\nfrom envcorr.cli import main\n"
        "try:\n    main(['study', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'dask', 'distributed', 'matplotlib') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "--subjects" in out and "--scheduler" in out
    assert out.strip().endswith("[]")


def test_envcorr_run_study_is_the_function():
    import envcorr
    import envcorr.study

    assert envcorr.run_study is envcorr.study.run_study
