"""The README's promises: its Python example runs as written, its commands exist."""

import re
from pathlib import Path

import pytest

from envcorr.data import simulate_motor_imagery
from envcorr.training import save_checkpoint, train_cropped

README = Path(__file__).parents[1] / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def test_quick_start_is_what_ci_runs():
    commands = _blocks("bash")[0].splitlines()
    run, test = (c.split("#")[0].strip() for c in commands)
    assert run == "bash scripts/setup.sh && .venv/bin/envcorr run"
    ci = (README.parent / ".ci" / "run").read_text()
    assert test in ci


@pytest.mark.slow
def test_python_example_runs_as_written(tmp_path, monkeypatch):
    example = _blocks("python")[0]
    assert len(example.strip().splitlines()) == 5
    # what `envcorr run` leaves behind, from a quick training on a few trials
    trials = simulate_motor_imagery(seed=0, verbose=False).split_sessions()["session_1"]
    result = train_cropped(trials.subset(slice(0, 16)), n_epochs=1, verbose=False)
    save_checkpoint(result, tmp_path / "envcorr-results" / "checkpoint")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    maps = namespace["maps"]
    assert (tmp_path / "maps.nc").is_file()
    assert maps.attrs["untrained_source"] == "given"
    assert maps.sizes["unit"] == 25 + 50 + 100 + 200 + 4
    assert float(abs(maps.class_corr).max()) > 0.2


def test_slurm_example_calls_run_study_as_documented(monkeypatch):
    """The SLURM example runs against a stand-in dask_jobqueue and run_study."""
    import inspect
    import sys
    import types

    import envcorr
    from envcorr.study import run_study

    (example,) = [b for b in _blocks("python") if "SLURMCluster" in b]
    made, calls = [], []

    class SLURMCluster:
        scheduler_address = "tcp://10.0.0.1:8786"

        def __init__(self, **kwargs):
            made.append(kwargs)

        def scale(self, jobs):
            made.append({"jobs": jobs})

    def fake_run_study(*args, **kwargs):
        inspect.signature(run_study).bind(*args, **kwargs)  # real parameters only
        calls.append((args, kwargs))

    monkeypatch.setitem(
        sys.modules, "dask_jobqueue", types.SimpleNamespace(SLURMCluster=SLURMCluster)
    )
    monkeypatch.setattr(envcorr, "run_study", fake_run_study)
    exec(compile(example, "README.md", "exec"), {})
    assert made[0]["worker_extra_args"] == ["--resources", "subject=1"]
    ((config,), kwargs) = calls[0]
    assert config.data == "bnci2014_001"
    assert kwargs["scheduler"] == "tcp://10.0.0.1:8786"
