"""Benchmark of envcorr study: stages per subject, Dask overhead, training.

S1 stages: each simulated subject's load, train, analyse and write times,
calling envcorr's own stage functions in sequence (those of
``envcorr.workflow.run``, the study's task), all subjects one after the other
in one process.
S2 overhead: the same subjects as ``envcorr.study.run_study`` on a local Dask
cluster (workers x threads = cores) against S1's sequential run with as many
torch threads per subject as a worker has: total work, wall time, CPU time.
A control runs the subjects side by side in plain processes, one per worker,
to split the overhead between the machine (subjects running at the same time
share caches and memory bandwidth) and Dask.
S3 training: envcorr's ``train_cropped`` against braindecode's own cropped
training (``EEGClassifier(cropped=True)`` with ``CroppedLoss``) on the same
trials, network, initial weights, batch size, epochs, optimiser and schedule:
seconds per epoch and trial-wise test accuracy. envcorr re-estimates the
batch-norm statistics with dropout off after training; braindecode keeps those
its training collected, which with Deep4's dropout overestimate the variance
(on the simulated data it then predicts one class for every trial). The
accuracy target compares the trainings with the same re-estimation applied
to braindecode's network; braindecode's own figure is printed too.

Every measurement runs in its own fresh interpreter (this script re-invoked
with ``--child``).

Usage::

    .venv/bin/python benchmarks/bench_study.py                  # everything
    .venv/bin/python benchmarks/bench_study.py --quick          # smoke run
    .venv/bin/python benchmarks/bench_study.py --only overhead  # S1 and S2
    .venv/bin/python benchmarks/bench_study.py --only braindecode --epochs 10
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import resource
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent

TARGETS = {
    "overhead_pct": 5.0,  # cluster total work at most 5 % above sequential
    "speedup_braindecode": 1.3,  # envcorr's epochs at least 1.3x faster
    "accuracy_points": 3.0,  # test accuracies within 3 percentage points
}
DEFAULT_SUBJECTS = "1-2"
# Half of envcorr's default 20 (envcorr.config.DEFAULT_N_EPOCHS), so that the
# whole benchmark takes ~15 min on 2 cores; --epochs 20 doubles that.
DEFAULT_EPOCHS = 10
FULL_TRIALS_PER_CLASS = 72  # BCI IV 2a: 2 sessions x 288 trials
QUICK = {"subjects": "1-2", "epochs": 1, "bd_epochs": 2, "trials_per_class": 8}


# --------------------------------------------------------------------------
# Child side: one measurement per process.
# --------------------------------------------------------------------------


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _quiet() -> None:
    warnings.simplefilter("ignore", FutureWarning)
    import envcorr

    envcorr.set_log_level("WARNING")  # as the study's workers log


def _run_config(spec: dict):
    from envcorr.config import RunConfig

    return RunConfig(**spec["config"])


def child_sequential(spec: dict) -> dict:
    """S1: the subjects one after the other, stage by stage, in this process.

    The calls are those of ``envcorr.workflow.run`` for each subject's
    ``envcorr.study.subject_config``: what one study task does.
    """
    start = time.perf_counter()
    import torch

    _quiet()
    from envcorr import workflow
    from envcorr._utils.jsonutil import stringified
    from envcorr.config import CHECKPOINT_NAME, parse_bands
    from envcorr.signal.bands import bands_for
    from envcorr.study import subject_config
    from envcorr.training import save_checkpoint

    imports = time.perf_counter() - start
    torch.set_num_threads(spec["threads"])
    config = _run_config(spec)
    out = Path(spec["out"])
    subjects = []
    for subject in spec["subjects"]:
        cfg = subject_config(config, subject, out)
        sub_out = Path(cfg.out)
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        cfg.check()
        workflow.check_sources(cfg)
        with workflow.output_dir(sub_out, cfg.overwrite):
            trials, train, test, test_name = workflow.load_split(cfg)
            bands = bands_for(trials.sfreq, parse_bands(cfg.bands))
            t1 = time.perf_counter()
            result = workflow._train(cfg, trials, train, test, test_name)
            t2 = time.perf_counter()
            analysed = workflow._analysed(cfg, train, test, trials)
            ds = workflow._network_maps(
                result, analysed, cfg, cfg.to_dict(), test_name, bands
            )
            t3 = time.perf_counter()
            save_checkpoint(
                result,
                sub_out / CHECKPOINT_NAME,
                trials_description=stringified(trials.description),
                config=cfg.to_dict(),
                overwrite=True,
            )
            workflow.write_outputs(ds, sub_out, cfg.formats)
            t4 = time.perf_counter()
        epochs = [e["duration_s"] for e in result.history]
        subjects.append(
            {
                "subject": subject,
                "load": t1 - t0,
                "train": t2 - t1,
                "analyse": t3 - t2,
                "write": t4 - t3,
                "total": t4 - t0,
                "cpu": time.process_time() - cpu0,
                "n_epochs": len(epochs),
                "epoch_s": sum(epochs) / len(epochs),
                "n_train": train.n_trials,
                "n_test": analysed.n_trials,
                "test_accuracy": result.valid_accuracy,
                "device": str(result.settings["device"]),
            }
        )
    group = group_cpu = 0.0
    if len(subjects) > 1 and spec.get("group", True):
        cpu0 = time.process_time()
        group = _group_step(config, spec["subjects"], out)
        group_cpu = time.process_time() - cpu0
    return {
        "imports": imports,
        "subjects": subjects,
        "group": group,
        "group_cpu": group_cpu,
        "torch_threads": torch.get_num_threads(),
        # the whole process: interpreter start, imports, every subject
        "cpu_total": _cpu_seconds(resource.RUSAGE_SELF),
    }


def _group_step(config, subjects: list[int], out: Path) -> float:
    """What ``run_study`` does once its subjects are done; its wall time.

    ``group.nc``, the group figures and the group report: the sequential run
    makes the same outputs as the study.
    """
    from envcorr import study
    from envcorr.group import write_group

    start = time.perf_counter()
    n_permutations = 10000  # run_study's default
    group = write_group(
        out / study.GROUP_NAME,
        {s: study.subject_dir(out, s) / study.RESULTS_NAME for s in subjects},
        options=study.study_options(config, n_permutations),
        n_permutations=n_permutations,
    )
    study._group_report(out, group, config.formats)
    return time.perf_counter() - start


def _task_records(records: list[dict]) -> dict[int, dict]:
    """Per subject, the time its task spent on a worker, from the task stream."""
    tasks: dict[int, dict] = {}
    for rec in records:
        key = rec["key"]
        key = key[0] if isinstance(key, tuple) else key
        if not str(key).startswith("envcorr-subject-"):
            continue
        subject = int(str(key).split("-")[2])
        spans = [(s["start"], s["stop"]) for s in rec.get("startstops", ())]
        task = tasks.setdefault(
            subject, {"seconds": 0.0, "start": None, "stop": None, "workers": []}
        )
        task["seconds"] += sum(stop - start for start, stop in spans)
        starts = [a for a, _ in spans] + [task["start"] or float("inf")]
        stops = [b for _, b in spans] + [task["stop"] or float("-inf")]
        task["start"], task["stop"] = min(starts), max(stops)
        task["workers"].append(str(rec.get("worker", "?")))
    return tasks


def child_cluster(spec: dict) -> dict:
    """S2: ``run_study`` on the local cluster the study itself would start.

    The cluster is ``envcorr.cluster.StudyCluster`` started here with the
    shape ``run_study`` would give it, and handed to ``run_study`` as its
    scheduler, so that the scheduler's task stream can be recorded: every
    subject's time on its worker (its first task on a worker includes that
    worker's imports of torch and envcorr).
    """
    wall0 = time.perf_counter()
    _quiet()
    from distributed import get_task_stream

    from envcorr.cluster import StudyCluster, count_gpus
    from envcorr.study import run_study

    config = _run_config(spec)
    subjects = spec["subjects"]
    # as envcorr.study._run_subjects does before it starts the cluster
    n_gpus = count_gpus(config)
    cluster = StudyCluster(
        None, len(subjects), spec["workers"], spec["threads"], n_gpus
    )
    wall1 = time.perf_counter()
    try:
        with get_task_stream(cluster.client) as stream:
            summary = run_study(
                config,
                subjects=subjects,
                out=spec["out"],
                scheduler=cluster.client,
                verbose="warning",
            )
        wall2 = time.perf_counter()
        records = list(stream.data)
        nthreads = cluster.client.nthreads()
    finally:
        cluster.close()
    wall3 = time.perf_counter()
    if summary["failed"]:
        raise RuntimeError(f"subjects failed: {summary['failed']}")
    tasks = _task_records(records)
    missing = sorted(set(subjects) - set(tasks))
    if missing:
        raise RuntimeError(f"no task-stream record of subjects {missing}")
    return {
        "start": wall1 - wall0,
        "study": wall2 - wall1,
        "close": wall3 - wall2,
        "wall": wall3 - wall0,
        "tasks": {str(k): v for k, v in tasks.items()},
        "accuracy": {str(k): v for k, v in summary["accuracy"].items()},
        "workers": len(nthreads),
        "threads": sorted(set(nthreads.values())),
        "n_gpus": n_gpus,
        # the whole process, as the sequential run's: interpreter start,
        # imports, client, scheduler, nannies, group.nc
        "cpu_self": _cpu_seconds(resource.RUSAGE_SELF),
        # the worker processes, reaped when the cluster closed
        "cpu_children": _cpu_seconds(resource.RUSAGE_CHILDREN),
    }


def _subject_trials(spec: dict):
    from envcorr import workflow
    from envcorr.study import subject_config

    cfg = subject_config(_run_config(spec), spec["subject"], Path(spec["out"]))
    _, train, test, _ = workflow.load_split(cfg)
    return cfg, train, test


def child_train_envcorr(spec: dict) -> dict:
    """S3: envcorr's cropped training, as ``envcorr run`` calls it."""
    import torch

    _quiet()
    from envcorr.training import train_cropped

    torch.set_num_threads(spec["threads"])
    cfg, train, test = _subject_trials(spec)
    start = time.perf_counter()
    result = train_cropped(
        train,
        test,
        model=cfg.model,
        n_epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        n_untrained=cfg.n_untrained,
        seed=cfg.seed,
        device=cfg.device,
    )
    total = time.perf_counter() - start
    epochs = [e["duration_s"] for e in result.history]
    return {
        "total": total,
        "epochs": epochs,
        "lrs": [e["lr"] for e in result.history],
        "test_accuracy": result.valid_accuracy,
        "settings": result.settings,
        "model_kwargs": result.model_kwargs,
        "n_preds": result.n_preds,
        "n_train": train.n_trials,
        "n_test": test.n_trials,
        "torch_threads": torch.get_num_threads(),
    }


def child_train_braindecode(spec: dict) -> dict:
    """S3: braindecode's cropped training, as its cropped-decoding example does.

    The same dense Deep4Net (envcorr's constructor arguments, made dense by
    ``to_dense_prediction_model``) with the same initial weights, the same
    trials in µV, batch size, epochs, AdamW settings and cosine schedule
    (``T_max`` = epochs, as envcorr). braindecode 1.8's Deep4Net returns
    logits; the per-crop log-softmax of the cropped loss is added after it, so
    that ``CroppedLoss(nll_loss)`` is the loss envcorr minimises and
    ``predict_proba`` the mean of the crops' log-probabilities per trial.
    """
    import numpy as np
    import torch

    _quiet()
    from braindecode import EEGClassifier
    from braindecode.datasets import create_from_X_y
    from braindecode.training import CroppedLoss
    from skorch.callbacks import LRScheduler
    from skorch.helper import predefined_split

    from envcorr.nn.models import MODELS, build_model
    from envcorr.training import DEFAULT_INPUT_SCALE, TRAIN_DEFAULTS
    from envcorr.training.batchnorm import recalibrate_batchnorm

    torch.set_num_threads(spec["threads"])
    cfg, train, test = _subject_trials(spec)
    defaults = TRAIN_DEFAULTS[cfg.model]
    batch_size = cfg.batch_size or defaults["batch_size"]
    device = "cuda" if torch.cuda.is_available() and cfg.device != "cpu" else "cpu"
    # envcorr's network and initial weights (its seed), built the user's way
    envcorr_net, kwargs = build_model(
        cfg.model,
        n_chans=train.n_channels,
        n_outputs=len(train.class_names),
        n_times=train.n_times,
        seed=cfg.seed,
    )
    net = MODELS[cfg.model](**kwargs)  # braindecode.models.Deep4Net
    net.to_dense_prediction_model()
    net.load_state_dict(envcorr_net.state_dict())
    n_preds = int(net.get_output_shape()[2])
    module = torch.nn.Sequential(net, torch.nn.LogSoftmax(dim=1))

    prep0 = time.perf_counter()
    sets = [
        create_from_X_y(
            (t.X * DEFAULT_INPUT_SCALE).astype(np.float32),
            t.y,
            drop_last_window=False,
            sfreq=t.sfreq,
            ch_names=list(t.ch_names),
            window_size_samples=t.n_times,
            window_stride_samples=n_preds,
        )
        for t in (train, test)
    ]
    train_set, test_set = sets
    prep = time.perf_counter() - prep0
    torch.manual_seed(cfg.seed)  # batch order and dropout
    clf = EEGClassifier(
        module,
        cropped=True,
        criterion=CroppedLoss,
        criterion__loss_function=torch.nn.functional.nll_loss,
        optimizer=torch.optim.AdamW,
        optimizer__lr=defaults["lr"],
        optimizer__weight_decay=defaults["weight_decay"],
        train_split=predefined_split(test_set),
        iterator_train__shuffle=True,
        batch_size=batch_size,
        callbacks=[
            "accuracy",
            ("lr_scheduler", LRScheduler("CosineAnnealingLR", T_max=cfg.epochs)),
        ],
        device=device,
        classes=list(range(len(train.class_names))),
        max_epochs=cfg.epochs,
        verbose=0,
    )
    start = time.perf_counter()
    clf.fit(train_set, y=None)
    total = time.perf_counter() - start

    def predict() -> np.ndarray:
        # argmax of the mean over crops of the log-probabilities
        return clf.predict_proba(test_set).argmax(axis=1)

    y_pred = predict()
    accuracy = float((y_pred == test.y).mean())
    predicted = np.bincount(y_pred, minlength=len(train.class_names))
    # envcorr re-estimates the batch-norm statistics with dropout off after
    # training (envcorr.training.batchnorm); the same step on braindecode's
    # network separates the training loops from that evaluation step.
    recalibrate_batchnorm(clf.module_, train.X, input_scale=DEFAULT_INPUT_SCALE)
    recalibrated = float((predict() == test.y).mean())
    history = clf.history
    lrs = [float(v) for v in history[:, "event_lr"]] if "event_lr" in history[0] else []
    return {
        "total": total,
        "prep": prep,
        "epochs": [float(d) for d in history[:, "dur"]],
        "lrs": lrs,
        "test_accuracy": accuracy,
        "predicted_per_class": predicted.tolist(),
        "test_accuracy_recalibrated": recalibrated,
        "last_valid_accuracy": float(history[-1, "valid_accuracy"]),
        "device": device,
        "batch_size": batch_size,
        "n_preds": n_preds,
        "torch_threads": torch.get_num_threads(),
    }


CHILDREN = {
    "sequential": child_sequential,
    "cluster": child_cluster,
    "train_envcorr": child_train_envcorr,
    "train_braindecode": child_train_braindecode,
}


# --------------------------------------------------------------------------
# Parent side.
# --------------------------------------------------------------------------


def _sibling(name: str):
    """Load another script of this folder as a module (not on sys.path in tests)."""
    spec = importlib.util.spec_from_file_location(
        f"envcorr_{name}", HERE / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Printing, target marks and the commit line are those of the maps benchmark.
_maps_bench = _sibling("bench_compute_maps")
_mark, _say, _git_version = (
    _maps_bench._mark,
    _maps_bench._say,
    _maps_bench._git_version,
)
SUMMARY = _maps_bench.SUMMARY


def run_child(spec: dict) -> dict:
    """Run one measurement of this script in a fresh interpreter."""
    return _maps_bench.run_child(spec, __file__)


def run_side_by_side(specs: list[dict]) -> tuple[list[dict], float]:
    """Run measurements at the same time, each in its own fresh interpreter.

    Returns their results, in the order of ``specs``, and the wall time until
    the last one ended. The children write to files, not pipes, so that none
    waits on a full pipe while another is read.
    """
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        runs = []
        for spec in specs:
            out, err = (
                stack.enter_context(tempfile.TemporaryFile("w+")) for _ in range(2)
            )
            command = _maps_bench.child_command(spec, __file__)
            proc = subprocess.Popen(command, stdout=out, stderr=err, text=True)
            runs.append((spec, proc, out, err))
        codes = [proc.wait() for _, proc, _, _ in runs]
        wall = time.perf_counter() - start
        results = []
        for (spec, _, out, err), code in zip(runs, codes, strict=True):
            out.seek(0)
            err.seek(0)
            results.append(_maps_bench.child_result(spec, code, out.read(), err.read()))
    return results, wall


def _cpu_stat() -> list[int] | None:
    """The machine's CPU time counters (``/proc/stat``), in clock ticks."""
    try:
        with open("/proc/stat") as stat:
            return [int(v) for v in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None


def machine_use(before: list[int] | None, after: list[int] | None, own: float):
    """Shares of the machine's CPU time: busy, this benchmark, others, steal."""
    if before is None or after is None:
        return None
    d = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(d)
    if total <= 0:
        return None
    busy = total - d[3] - d[4]  # all but idle and iowait
    ticks = os.sysconf("SC_CLK_TCK")
    ours = own * ticks
    return {
        "busy": 100 * busy / total,
        "ours": 100 * ours / total,
        "others": 100 * max(0.0, busy - ours) / total,
        "steal": 100 * d[7] / total,
    }


def side_by_side_specs(config: dict, subjects, out: Path, workers: int, threads: int):
    """S2's control: the subjects dealt out to as many plain processes as workers.

    Each process runs its subjects as S1 does, with a worker's torch threads
    and its own imports, and none makes group outputs: what the cluster's
    workers do, without Dask.
    """
    return [
        {
            "kind": "sequential",
            "config": config,
            "subjects": subjects[i::workers],
            "out": str(out),
            "threads": threads,
            "group": False,
        }
        for i in range(min(workers, len(subjects)))
    ]


def overhead_figures(
    sequential: dict, cluster: dict, side: list[dict] | None = None
) -> dict:
    """S2's figures from the sequential run and the cluster run.

    Total work is the CPU time of every process involved: the sequential
    process from its start, against the cluster's process (client, scheduler,
    nannies, group.nc) and its worker processes. By wall time, it is the sum
    of the subjects' times where they ran: on the workers (each task's time on
    its worker, from the scheduler's task stream) against one process (the
    imports of torch and envcorr once, plus each subject's time). The overhead
    is how much more the cluster's is, in per cent.

    With ``side``, the results of the control (:func:`side_by_side_specs`),
    the overhead is split in two: running subjects at the same time on this
    machine (the control's CPU time, plus the sequential run's group outputs,
    against the sequential run's) and Dask (the cluster's against the
    control's plus those group outputs).
    """
    seq_subjects = sum(s["total"] for s in sequential["subjects"])
    seq_total = sequential["imports"] + seq_subjects
    worker_s = sum(t["seconds"] for t in cluster["tasks"].values())
    cluster_cpu = cluster["cpu_self"] + cluster["cpu_children"]
    split = {}
    if side:
        side_cpu = sum(r["cpu_total"] for r in side) + sequential["group_cpu"]
        split = {
            "cpu_side": side_cpu,
            "machine_pct": 100 * (side_cpu / sequential["cpu_total"] - 1),
            "dask_pct": 100 * (cluster_cpu / side_cpu - 1),
        }
    return {
        **split,
        "sequential_subjects": seq_subjects,
        "sequential_total": seq_total,
        "worker_seconds": worker_s,
        "overhead_pct": 100 * (worker_s / seq_total - 1),
        "cpu_sequential": sequential["cpu_total"],
        "cpu_cluster": cluster_cpu,
        "cpu_overhead_pct": 100 * (cluster_cpu / sequential["cpu_total"] - 1),
        "speedup": seq_total / cluster["wall"],
        "occupied_pct": 100 * (cluster["wall"] * cluster["workers"] / seq_total - 1),
    }


def report_stages(sequential: dict, device: str) -> None:
    subs = sequential["subjects"]
    _say(
        f"S1 stages, subjects one after the other in one process, torch threads "
        f"{sequential['torch_threads']}, device {device}; imports of torch, "
        f"braindecode and envcorr {sequential['imports']:.1f} s (once)"
    )
    for s in subs:
        _say(
            f"S1 subject {s['subject']}: load {s['load']:.1f} s, train "
            f"{s['train']:.1f} s ({s['n_epochs']} epochs, {s['epoch_s']:.2f} "
            f"s/epoch, {s['n_train']} training trials), analyse {s['analyse']:.1f}"
            f" s ({s['n_test']} test trials), write {s['write']:.1f} s; total "
            f"{s['total']:.1f} s (CPU {s['cpu']:.0f} s); test accuracy "
            f"{100 * s['test_accuracy']:.1f} %"
        )
    if sequential["group"]:
        _say(
            f"S1 group outputs after the subjects (group.nc, group figures, group "
            f"report, as run_study makes them): {sequential['group']:.1f} s"
        )
    n = len(subs)
    stages = ("load", "train", "analyse", "write", "total")
    mean = {k: sum(s[k] for s in subs) / n for k in stages}
    _say(
        f"S1 mean over {n} subject(s): "
        + ", ".join(f"{k} {mean[k]:.1f} s" for k in stages[:-1])
        + f"; total {mean['total']:.1f} s ("
        + ", ".join(f"{k} {100 * mean[k] / mean['total']:.0f} %" for k in stages[:-1])
        + ")"
    )


def report_overhead(
    sequential: dict,
    cluster: dict,
    cores: int,
    side: list[dict] | None = None,
    side_wall: float | None = None,
) -> None:
    fig = overhead_figures(sequential, cluster, side)
    threads = ",".join(map(str, cluster["threads"]))
    _say(
        f"S2 cluster: {cluster['workers']} worker(s) x {threads} thread(s) on "
        f"{cores} cores, {cluster['n_gpus']} GPU(s); sequential run with torch "
        f"threads {sequential['torch_threads']}"
    )
    _say(
        f"S2 sequential total: {fig['sequential_total']:.1f} s (imports "
        f"{sequential['imports']:.1f} s + subjects {fig['sequential_subjects']:.1f} "
        "s; the group outputs are made outside the tasks in both runs and are "
        "not counted)"
    )
    per_task = ", ".join(
        f"subject {k} {t['seconds']:.1f} s" for k, t in sorted(cluster["tasks"].items())
    )
    _say(f"S2 cluster total worker-seconds: {fig['worker_seconds']:.1f} s ({per_task})")
    _say(
        f"S2 cluster wall: {cluster['wall']:.1f} s (cluster start "
        f"{cluster['start']:.1f} s, run_study {cluster['study']:.1f} s incl. "
        f"group outputs, close {cluster['close']:.1f} s); "
        f"{fig['speedup']:.2f}x faster than sequential (ideal "
        f"{min(cluster['workers'], len(cluster['tasks']))}x); wall x workers is "
        f"{fig['occupied_pct']:+.1f} % over the sequential total"
    )
    _say(
        f"S2 CPU time: sequential process {fig['cpu_sequential']:.0f} s, cluster "
        f"(this process, scheduler, nannies and workers) {fig['cpu_cluster']:.0f}"
        f" s ({fig['cpu_overhead_pct']:+.1f} %)"
    )
    ok = fig["cpu_overhead_pct"] <= TARGETS["overhead_pct"]
    _say(
        f"S2 overhead: {fig['cpu_overhead_pct']:+.1f} % total work (CPU time of "
        f"every process, cluster vs sequential) {_mark(ok)} target <= +5 %"
    )
    if side:
        _say(
            f"S2 control, the subjects side by side without Dask ({len(side)} "
            f"plain processes x {side[0]['torch_threads']} torch thread(s), "
            f"each with its own imports): CPU {fig['cpu_side']:.0f} s with the "
            f"sequential run's group outputs, wall {side_wall:.1f} s"
        )
        _say(
            f"S2 overhead split: running subjects at the same time on this "
            f"machine {fig['machine_pct']:+.1f} % (control vs sequential), "
            f"Dask {fig['dask_pct']:+.1f} % (cluster vs control)"
        )
    within = "within" if fig["overhead_pct"] <= TARGETS["overhead_pct"] else "OVER"
    _say(
        f"S2 overhead by wall time: {fig['overhead_pct']:+.1f} % (worker-seconds "
        f"vs sequential total; {within} 5 %; inflated by other load on the "
        "machine, which slows parallel subjects more than sequential ones)"
    )
    acc_seq = {str(s["subject"]): s["test_accuracy"] for s in sequential["subjects"]}
    same = all(abs(acc_seq[k] - v) < 1e-9 for k, v in cluster["accuracy"].items())
    _say(
        "S2 test accuracies cluster vs sequential: "
        + ("identical" if same else f"DIFFER: {cluster['accuracy']} vs {acc_seq}")
    )


def report_braindecode(subject: int, env: dict, bd: dict) -> tuple[float, float]:
    s = env["settings"]
    n_epochs = len(env["epochs"])
    _say(
        f"S3 subject {subject}: {env['n_train']} training / {env['n_test']} test "
        f"trials, dense Deep4Net final_conv_length="
        f"{env['model_kwargs'].get('final_conv_length')} "
        f"({env['n_preds']} crop predictions per trial), batch "
        f"{s['batch_size']}, AdamW lr {s['lr']:g} weight decay "
        f"{s['weight_decay']:g}, cosine T_max {n_epochs}, {n_epochs} epochs, "
        f"device {s['device']} / {bd['device']}, torch threads "
        f"{env['torch_threads']} / {bd['torch_threads']}"
    )
    env_epoch = sum(env["epochs"]) / n_epochs
    bd_epoch = sum(bd["epochs"]) / len(bd["epochs"])
    _say(
        f"S3 envcorr train_cropped: {env_epoch:.2f} s/epoch (epochs "
        + ", ".join(f"{d:.1f}" for d in env["epochs"])
        + f" s; the call {env['total']:.1f} s with final batch-norm recalibration "
        f"and scoring), test accuracy {100 * env['test_accuracy']:.1f} %"
    )
    _say(
        f"S3 braindecode EEGClassifier: {bd_epoch:.2f} s/epoch (epochs "
        + ", ".join(f"{d:.1f}" for d in bd["epochs"])
        + f" s; fit {bd['total']:.1f} s, create_from_X_y {bd['prep']:.1f} s), "
        f"test accuracy {100 * bd['test_accuracy']:.1f} % (last epoch's "
        f"valid_accuracy {100 * bd['last_valid_accuracy']:.1f} %; trials "
        f"predicted per class {bd['predicted_per_class']}), "
        f"{100 * bd['test_accuracy_recalibrated']:.1f} % after envcorr's "
        "batch-norm recalibration"
    )
    if bd["lrs"]:
        same = len(bd["lrs"]) == len(env["lrs"]) and all(
            abs(a - b) <= 1e-12 * max(1.0, abs(a))
            for a, b in zip(env["lrs"], bd["lrs"], strict=False)
        )
        _say(
            "S3 learning rate per epoch: "
            + ("the same in both" if same else f"DIFFERS: {env['lrs']} vs {bd['lrs']}")
        )
    return env_epoch, bd_epoch


def bench_stages_overhead(tmp: Path, args, config: dict, subjects, shape, device):
    workers, threads = shape
    out_seq, out_cluster = tmp / "sequential", tmp / "cluster"
    sequential = run_child(
        {
            "kind": "sequential",
            "config": config,
            "subjects": subjects,
            "out": str(out_seq),
            "threads": threads,
        }
    )
    report_stages(sequential, device)
    if args.only == "stages":
        return
    side, side_wall = run_side_by_side(
        side_by_side_specs(config, subjects, tmp / "side", workers, threads)
    )
    cluster = run_child(
        {
            "kind": "cluster",
            "config": config,
            "subjects": subjects,
            "out": str(out_cluster),
            "workers": workers,
            "threads": threads,
        }
    )
    report_overhead(sequential, cluster, os.cpu_count() or 1, side, side_wall)


def bench_braindecode(tmp: Path, args, config: dict, subjects, threads: int) -> None:
    cfg = {**config, "epochs": args.bd_epochs}
    env_epochs, bd_epochs, env_acc, bd_acc, bd_own = [], [], [], [], []
    for subject in subjects:
        base = {
            "config": cfg,
            "subject": subject,
            "out": str(tmp / "s3"),
            "threads": threads,
        }
        env = run_child({**base, "kind": "train_envcorr"})
        bd = run_child({**base, "kind": "train_braindecode"})
        e, b = report_braindecode(subject, env, bd)
        env_epochs.append(e)
        bd_epochs.append(b)
        env_acc.append(env["test_accuracy"])
        bd_acc.append(bd["test_accuracy_recalibrated"])
        bd_own.append(bd["test_accuracy"])
    n = len(subjects)
    speedup = sum(bd_epochs) / sum(env_epochs)
    _say(
        f"S3 speed-up per epoch: {speedup:.2f}x (braindecode "
        f"{sum(bd_epochs) / n:.2f} s / envcorr {sum(env_epochs) / n:.2f} s, mean "
        f"over {n} subject(s)) {_mark(speedup >= TARGETS['speedup_braindecode'])}"
        " target >= 1.3x"
    )
    # Training is compared with the same evaluation step after it: braindecode's
    # network with its batch-norm statistics re-estimated as envcorr's are.
    diff = 100 * (sum(env_acc) - sum(bd_acc)) / n
    ok = abs(diff) <= TARGETS["accuracy_points"]
    _say(
        f"S3 test accuracy: envcorr {100 * sum(env_acc) / n:.1f} %, braindecode "
        f"{100 * sum(bd_acc) / n:.1f} %, difference {diff:+.1f} points (mean over "
        f"{n} subject(s); both with batch-norm statistics re-estimated after "
        f"training) {_mark(ok)} target within 3 points"
    )
    own = 100 * (sum(env_acc) - sum(bd_own)) / n
    _say(
        f"S3 test accuracy with braindecode's own training-time batch-norm "
        f"statistics: {100 * sum(bd_own) / n:.1f} %; envcorr's recalibration "
        f"adds {own:+.1f} points"
    )


def _write_subjects(tmp: Path, subjects: list[int], per_class: int) -> str:
    """Simulated subjects with fewer trials, as .npz files named by subject."""
    from envcorr.data import save_npz, simulate_motor_imagery

    template = str(tmp / "data" / "sim{subject}.npz")
    (tmp / "data").mkdir()
    for k in subjects:
        trials = simulate_motor_imagery(
            subject=k, n_trials_per_class=per_class, n_runs=2, verbose=False
        )
        save_npz(trials, template.format(subject=k), verbose=False)
    return template


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--subjects",
        default=None,
        help=f"simulated subjects of S1-S2, e.g. '1-3' (default {DEFAULT_SUBJECTS})",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"training epochs of S1-S2 (default {DEFAULT_EPOCHS}; envcorr run's: 20)",
    )
    parser.add_argument(
        "--bd-epochs",
        type=int,
        default=None,
        help="training epochs of S3 (default: --epochs)",
    )
    parser.add_argument(
        "--bd-subjects",
        default=None,
        help="subjects of S3 (default: the first of --subjects)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="Dask workers (default: the study's)"
    )
    parser.add_argument(
        "--threads-per-worker",
        type=int,
        default=None,
        help="threads per worker, also torch threads per subject in S1 "
        "(default: the study's, cores / workers)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of both trainings in S3 (default: torch's, one per core)",
    )
    parser.add_argument(
        "--trials-per-class",
        type=int,
        default=None,
        help=f"trials per class and session (default {FULL_TRIALS_PER_CLASS}: "
        "'simulated' itself; fewer: the subjects simulated once and read from "
        ".npz files)",
    )
    parser.add_argument(
        "--only",
        choices=["stages", "overhead", "braindecode"],
        default=None,
        help="stages: S1; overhead: S1 and S2 (S2 reuses S1's sequential run); "
        "braindecode: S3",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: defaults subjects {QUICK['subjects']}, epochs "
        f"{QUICK['epochs']}, S3 epochs {QUICK['bd_epochs']}, "
        f"{QUICK['trials_per_class']} trials per class and session",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        print("RESULT " + json.dumps(CHILDREN[spec["kind"]](spec)), flush=True)
        return

    defaults = (
        QUICK
        if args.quick
        else {
            "subjects": DEFAULT_SUBJECTS,
            "epochs": DEFAULT_EPOCHS,
            "trials_per_class": FULL_TRIALS_PER_CLASS,
        }
    )
    args.subjects = args.subjects or defaults["subjects"]
    if args.bd_epochs is None:
        args.bd_epochs = args.epochs or defaults.get("bd_epochs", defaults["epochs"])
    args.epochs = args.epochs or defaults["epochs"]
    args.trials_per_class = args.trials_per_class or defaults["trials_per_class"]

    import torch

    from envcorr.cluster import cluster_shape
    from envcorr.study import parse_subjects

    subjects = parse_subjects(args.subjects, "simulated")
    bd_subjects = (
        parse_subjects(args.bd_subjects, "simulated")
        if args.bd_subjects
        else subjects[:1]
    )
    cores = os.cpu_count() or 1
    n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    device = "cuda" if n_gpus else "cpu"
    shape = cluster_shape(
        len(subjects), args.workers, args.threads_per_worker, n_gpus=n_gpus
    )
    bd_threads = args.threads or torch.get_num_threads()
    stat0 = _cpu_stat()
    own0 = sum(
        _cpu_seconds(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    load = os.getloadavg()
    _say(
        f"envcorr study benchmark {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{platform.node()}, {cores} cores, load average {load[0]:.2f} "
        f"{load[1]:.2f} {load[2]:.2f}{' (quick)' if args.quick else ''}"
    )
    gpu = f" ({torch.cuda.get_device_name(0)})" if n_gpus else ""
    _say(
        f"envcorr commit {_git_version()}, torch {torch.__version__}, device "
        f"{device}{gpu}, torch threads by default {torch.get_num_threads()}"
    )
    size = (
        "simulated (288 + 288 trials)"
        if args.trials_per_class == FULL_TRIALS_PER_CLASS
        else f"simulated, {4 * args.trials_per_class} + "
        f"{4 * args.trials_per_class} trials, read from .npz"
    )
    _say(
        f"settings: subjects {args.subjects} ({size}, 22 channels x 1125 "
        f"samples), Deep4Net, {args.epochs} epochs (S3: {args.bd_epochs}, "
        f"subjects {','.join(map(str, bd_subjects))}, torch threads "
        f"{bd_threads}); cluster {shape[0]} worker(s) x {shape[1]} thread(s)"
    )
    if shape[0] * shape[1] != cores and not n_gpus:
        _say(
            f"note: workers x threads = {shape[0] * shape[1]}, not the {cores} "
            "cores: the study does not use the machine as its default would"
        )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.trials_per_class == FULL_TRIALS_PER_CLASS:
            data = "simulated"
        else:
            data = _write_subjects(
                tmp, sorted(set(subjects) | set(bd_subjects)), args.trials_per_class
            )
        config = {"data": data, "model": "deep4", "epochs": args.epochs, "seed": 0}
        if args.only in (None, "stages", "overhead"):
            bench_stages_overhead(tmp, args, config, subjects, shape, device)
        if args.only in (None, "braindecode"):
            bench_braindecode(tmp, args, config, bd_subjects, bd_threads)
    load = os.getloadavg()
    _say(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    own = sum(_cpu_seconds(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    use = machine_use(stat0, _cpu_stat(), own - own0)
    if use is not None:
        quiet = "quiet enough" if use["others"] < 10 else "NOT QUIET: rerun"
        _say(
            f"machine during the run: {use['busy']:.0f} % busy, this benchmark "
            f"{use['ours']:.0f} %, other processes {use['others']:.0f} %, steal "
            f"{use['steal']:.0f} % of all cores' time ({quiet})"
        )
    print("\nSummary (to paste):\n" + "\n".join(SUMMARY))


if __name__ == "__main__":
    main()
