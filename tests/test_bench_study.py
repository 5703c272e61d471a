"""The study benchmark (benchmarks/bench_study.py) measures what it says."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

_path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_study.py"
_spec = importlib.util.spec_from_file_location("envcorr_bench_study", _path)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def _sequential(imports, totals, cpu):
    return {
        "imports": imports,
        "subjects": [
            {"subject": k + 1, "total": t, "test_accuracy": 0.5}
            for k, t in enumerate(totals)
        ],
        "cpu_total": cpu,
        "torch_threads": 1,
    }


def _cluster(task_seconds, wall, cpu_self, cpu_children):
    return {
        "tasks": {str(k + 1): {"seconds": s} for k, s in enumerate(task_seconds)},
        "wall": wall,
        "workers": 2,
        "cpu_self": cpu_self,
        "cpu_children": cpu_children,
    }


def test_overhead_figures_by_cpu_and_by_wall_time():
    seq = _sequential(10.0, [100.0, 90.0], cpu=200.0)
    cluster = _cluster([105.0, 100.0], wall=110.0, cpu_self=6.0, cpu_children=204.0)
    fig = bench.overhead_figures(seq, cluster)
    assert fig["sequential_total"] == pytest.approx(200.0)
    assert fig["worker_seconds"] == pytest.approx(205.0)
    assert fig["overhead_pct"] == pytest.approx(2.5)
    assert fig["cpu_cluster"] == pytest.approx(210.0)
    assert fig["cpu_overhead_pct"] == pytest.approx(5.0)
    assert fig["speedup"] == pytest.approx(200.0 / 110.0)
    assert fig["occupied_pct"] == pytest.approx(10.0)


def test_task_records_sum_each_subjects_time_on_workers():
    records = [
        {
            "key": "envcorr-subject-2-123-456",
            "worker": "tcp://a",
            "startstops": [
                {"action": "deserialize", "start": 10.0, "stop": 10.5},
                {"action": "compute", "start": 10.5, "stop": 40.5},
            ],
        },
        {
            "key": "envcorr-subject-11-123-789",
            "worker": "tcp://b",
            "startstops": [{"action": "compute", "start": 11.0, "stop": 31.0}],
        },
        {"key": "something-else", "startstops": [{"start": 0.0, "stop": 99.0}]},
    ]
    tasks = bench._task_records(records)
    assert set(tasks) == {2, 11}
    assert tasks[2]["seconds"] == pytest.approx(30.5)
    assert (tasks[2]["start"], tasks[2]["stop"]) == (10.0, 40.5)
    assert tasks[11]["seconds"] == pytest.approx(20.0)
    assert tasks[11]["workers"] == ["tcp://b"]


@pytest.mark.slow
def test_sequential_and_cluster_runs_of_two_tiny_subjects(tmp_path, capsys):
    """S1 and S2 end to end on tiny subjects (Shallow, one band, one epoch)."""
    template = bench._write_subjects(tmp_path, [1, 2], per_class=4)
    config = {
        "data": template,
        "model": "shallow",
        "epochs": 1,
        "bands": "alpha=7-13",
        "seed": 0,
    }
    common = {"config": config, "subjects": [1, 2], "threads": 1}
    seq = bench.run_child(
        {**common, "kind": "sequential", "out": str(tmp_path / "seq")}
    )
    cluster = bench.run_child(
        {**common, "kind": "cluster", "out": str(tmp_path / "dask"), "workers": 2}
    )
    specs = bench.side_by_side_specs(config, [1, 2], tmp_path / "side", 2, 1)
    assert [spec["subjects"] for spec in specs] == [[1], [2]]
    side, side_wall = bench.run_side_by_side(specs)
    assert [r["subjects"][0]["subject"] for r in side] == [1, 2]
    assert all(r["group"] == 0 for r in side) and side_wall > 0
    assert not (tmp_path / "side" / "group.nc").exists()
    assert [s["subject"] for s in seq["subjects"]] == [1, 2]
    for s in seq["subjects"]:
        stages = s["load"] + s["train"] + s["analyse"] + s["write"]
        assert 0 < stages <= s["total"] + 1e-6
        assert s["n_train"] == s["n_test"] == 16
    assert set(cluster["tasks"]) == {"1", "2"}
    assert cluster["workers"] == 2 and cluster["threads"] == [1]
    assert all(t["seconds"] > 0 for t in cluster["tasks"].values())
    assert cluster["cpu_children"] > 0  # the worker processes were counted
    for k in ("1", "2"):
        assert (tmp_path / "dask" / "subjects" / k / "results.nc").is_file()
        assert (tmp_path / "seq" / "subjects" / k / "results.nc").is_file()
    # the sequential run makes the study's group outputs too
    assert seq["group"] > 0
    for name in ("group.nc", "report.html"):
        assert (tmp_path / "seq" / name).is_file()
        assert (tmp_path / "dask" / name).is_file()
    bench.report_stages(seq, "cpu")
    bench.report_overhead(seq, cluster, 2, side, side_wall)
    out = capsys.readouterr().out
    assert "S2 overhead:" in out and "cluster vs sequential: identical" in out
    assert "S2 overhead split:" in out


def test_overhead_split_between_machine_and_dask():
    sequential = {
        "imports": 5.0,
        "subjects": [{"total": 100.0}, {"total": 100.0}],
        "cpu_total": 200.0,
        "group_cpu": 4.0,
    }
    cluster = {
        "tasks": {"1": {"seconds": 120.0}, "2": {"seconds": 120.0}},
        "cpu_self": 20.0,
        "cpu_children": 244.0,
        "wall": 130.0,
        "workers": 2,
    }
    side = [{"cpu_total": 118.0}, {"cpu_total": 118.0}]
    fig = bench.overhead_figures(sequential, cluster, side)
    assert fig["cpu_overhead_pct"] == pytest.approx(32.0)  # 264 / 200
    assert fig["cpu_side"] == pytest.approx(240.0)  # 236 + the group's 4
    assert fig["machine_pct"] == pytest.approx(20.0)  # 240 / 200
    assert fig["dask_pct"] == pytest.approx(10.0)  # 264 / 240
    assert "machine_pct" not in bench.overhead_figures(sequential, cluster)


@pytest.mark.slow
def test_braindecode_comparison_on_a_tiny_subject(tmp_path, capsys):
    """S3 end to end: same learning rates, accuracies from crop predictions."""
    template = bench._write_subjects(tmp_path, [1], per_class=4)
    config = {"data": template, "model": "deep4", "epochs": 2, "seed": 0}
    base = {"config": config, "subject": 1, "out": str(tmp_path), "threads": 1}
    env = bench.run_child({**base, "kind": "train_envcorr"})
    bd = bench.run_child({**base, "kind": "train_braindecode"})
    assert len(env["epochs"]) == len(bd["epochs"]) == 2
    assert env["lrs"] == pytest.approx(bd["lrs"], rel=1e-12)
    assert env["n_preds"] == bd["n_preds"] == 604
    assert bd["batch_size"] == env["settings"]["batch_size"] == 16
    assert 0 <= bd["test_accuracy"] <= 1 and 0 <= env["test_accuracy"] <= 1
    assert sum(bd["predicted_per_class"]) == env["n_test"]
    assert 0 <= bd["test_accuracy_recalibrated"] <= 1
    bench.report_braindecode(1, env, bd)
    out = capsys.readouterr().out
    assert "the same in both" in out and "after envcorr's batch-norm" in out


def test_machine_use_splits_busy_time_between_us_and_others():
    ticks = os.sysconf("SC_CLK_TCK")
    before = [0] * 8
    # user nice system idle iowait irq softirq steal: 1000 ticks in all
    after = [500, 0, 100, 300, 50, 0, 0, 50]
    use = bench.machine_use(before, after, own=400 / ticks)
    assert use["busy"] == pytest.approx(65.0)
    assert use["ours"] == pytest.approx(40.0)
    assert use["others"] == pytest.approx(25.0)
    assert use["steal"] == pytest.approx(5.0)
    assert bench.machine_use(None, after, own=1.0) is None
