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
    (example,) = _blocks("python")
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
