"""Benchmark of envcorr.compute_maps.

"The analysis costs little more than the network's own forward passes."

W1: BCI IV 2a-sized session (288 x 22 x 1125 at 250 Hz, simulated), dense
Deep4Net, 6 default bands: forward passes alone vs compute_maps (also with the
chance level, ``chance=True``) vs the plain reference
(benchmarks/reference.py), agreement, peak memory.
W2: 128 channels, the 32-band filter bank, 1x/2x/4x a base number of trials:
time and peak memory of compute_maps.
W1u: W1 with further untrained initialisations (``envcorr run --n-untrained``):
all networks in one compute_maps pass against one call per extra network.
W3: W1's data with braindecode's EEGNet, analysed at its own output positions
('same' padding, strided pooling, a whole-trial classifier): compute_maps
against EEGNet's two forward passes, each timed after a warm-up call (the first
call in a process is also printed), and max |dr| against the brute force of
benchmarks/brute_force.py (windows probed by large changes at each input
sample, np.corrcoef) on a subset of trials.

Every measurement runs in its own fresh process (this script re-invoked with
``--child``), so peak resident memory (ru_maxrss) is that of one measurement.

Usage::

    .venv/bin/python benchmarks/bench_compute_maps.py            # everything
    .venv/bin/python benchmarks/bench_compute_maps.py --quick    # smoke run
    .venv/bin/python benchmarks/bench_compute_maps.py --workload W1 --profile
    .venv/bin/python benchmarks/bench_compute_maps.py --workload W1u
    .venv/bin/python benchmarks/bench_compute_maps.py --workload W3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SFREQ = 250.0
N_TIMES = 1125
INPUT_SCALE = 1e6  # data in volts, networks see microvolts (envcorr.training default)
FORWARD_BATCH = 64
TRAINED_SEED, UNTRAINED_SEED = 1, 2

TARGETS = {
    "w1_ratio_forward": 1.25,
    "w1_speedup_reference": 4.0,
    "w1_max_dr": 1e-4,
    "w1_peak_mb": 1024.0,
    "w2_peak_mb": 4096.0,
    "w2_time_ratio": 4.5,
    "gpu_max_dr": 1e-4,
    "w1u_ratio_separate": 0.5,
    "w3_ratio_forward": 2.0,
    "w3_max_dr": 1e-4,
}
W3_CHECK_TRIALS = 24  # trials of W3's brute-force check
N_EXTRA = 4  # further untrained initialisations of W1u (seeds 3 ..)


# --------------------------------------------------------------------------
# Child side: one measurement per process.
# --------------------------------------------------------------------------


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_mb() -> float:
    """Peak resident memory of this process image, in MiB.

    VmHWM, not ru_maxrss: after fork and exec, ru_maxrss keeps the peak of the
    forked copy of the parent (the benchmark's own ~1 GB), which would hide the
    peak of the measurement itself.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB


def _deep4(n_chans: int, seed: int):
    import torch
    from braindecode.models import Deep4Net

    torch.manual_seed(seed)
    return Deep4Net(
        n_chans=n_chans, n_outputs=4, n_times=N_TIMES, final_conv_length="auto"
    )


def _dense(model, device):
    import copy

    net = copy.deepcopy(model)
    net.to_dense_prediction_model()
    return net.to(device).eval()


def _envcorr_dense(model, device):
    from envcorr.nn.fast import inference_copy

    return inference_copy(model, device)


def _forward_all(nets, X, device):
    import torch

    with torch.no_grad():
        for net in nets:
            for start in range(0, len(X), FORWARD_BATCH):
                x = torch.as_tensor(X[start : start + FORWARD_BATCH]).to(device)
                net(x * INPUT_SCALE)
    if device.type == "cuda":
        torch.cuda.synchronize()


def _eegnet(n_chans: int, seed: int):
    import torch
    from braindecode.models import EEGNet

    torch.manual_seed(seed)
    return EEGNet(n_chans=n_chans, n_outputs=4, n_times=N_TIMES, sfreq=SFREQ).eval()


def _load_data(spec: dict) -> tuple[np.ndarray, np.ndarray, list[str], dict]:
    """The first ``spec["n_trials"]`` trials of the workload's .npz file:
    X, y, channel names and bands."""
    data = np.load(spec["data"])
    X = np.ascontiguousarray(data["X"][: spec["n_trials"]])
    y = data["y"][: spec["n_trials"]]
    ch_names = [str(c) for c in data["ch_names"]]
    bands = {k: tuple(v) for k, v in json.loads(str(data["bands"])).items()}
    return X, y, ch_names, bands


def _child_w3(spec: dict) -> dict:
    """W3: EEGNet at its own output positions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import torch

        import envcorr

    X, y, ch_names, bands = _load_data(spec)
    trained = _eegnet(X.shape[1], TRAINED_SEED)
    untrained = _eegnet(X.shape[1], UNTRAINED_SEED)
    out: dict = {"kind": spec["kind"], "n_trials": len(X)}
    _forward_all([trained, untrained], X[:2], torch.device("cpu"))  # warm-up
    kwargs = dict(
        sfreq=SFREQ,
        ch_names=ch_names,
        y=y,
        bands=bands,
        untrained_model=untrained,
        input_scale=INPUT_SCALE,
        verbose="warning",
    )
    if spec.get("warm"):  # one-time imports and caches, as torch's warm-up above
        envcorr.compute_maps(trained, X[:8], **{**kwargs, "y": y[:8]})
    cpu_start = time.process_time()
    start = time.perf_counter()
    if spec["kind"] == "w3_forward":
        _forward_all([trained, untrained], X, torch.device("cpu"))
    elif spec["kind"] == "w3_compute_maps":
        maps = envcorr.compute_maps(trained, X, **kwargs)
        out["dense"] = int(maps.attrs["dense"])
        out["layers"] = {
            str(k): int(v)
            for k, v in zip(maps.layer.values, maps.layer_n_units.values, strict=True)
        }
    elif spec["kind"] == "w3_check":
        out["max_dr"] = _w3_brute_force(trained, X, **kwargs)
    else:
        raise ValueError(spec["kind"])
    out["seconds"] = time.perf_counter() - start
    out["cpu_seconds"] = time.process_time() - cpu_start
    out["peak_mb"] = _peak_mb()
    out["torch_threads"] = torch.get_num_threads()
    return out


def _w3_brute_force(trained, X, **kwargs) -> dict:
    """Max |dr| per layer of compute_maps against benchmarks/brute_force.py."""
    import copy

    import envcorr
    from envcorr.nn.geometry import layer_geometry

    sys.path.insert(0, str(HERE))
    from brute_force import brute_force_corr, probed_windows

    maps = envcorr.compute_maps(trained, X, **kwargs)
    layers = [str(v) for v in maps.layer.values]
    geometry = layer_geometry(
        copy.deepcopy(trained), X.shape[-1], layers, n_chans=X.shape[1], probe=False
    )
    windows = probed_windows(
        trained,
        {g.name: g.time_axis for g in geometry},
        n_chans=X.shape[1],
        n_times=X.shape[-1],
    )
    errors = {}
    for g in geometry:
        starts, stops = windows[g.name]
        pos = np.arange(len(starts))
        expected = brute_force_corr(
            copy.deepcopy(trained),
            X,
            sfreq=kwargs["sfreq"],
            bands=kwargs["bands"],
            layer=g.name,
            positions=pos,
            starts=starts,
            stops=stops,
            time_axis=g.time_axis,
            input_scale=kwargs["input_scale"],
        )
        got = (
            maps.unit_corr.sel(network="trained")
            .where(maps.unit_layer == g.name, drop=True)
            .transpose("unit", "band", "channel")
            .values
        )
        ok = ~np.isnan(expected)
        if got.shape != expected.shape or not np.array_equal(np.isnan(got), ~ok):
            errors[g.name] = float("inf")
        else:
            errors[g.name] = float(np.abs(got[ok] - expected[ok]).max(initial=0.0))
    return errors


def _child(spec: dict) -> dict:
    if spec["kind"].startswith("w3"):
        return _child_w3(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import torch

        import envcorr
        from envcorr._utils.torchutils import resolve_device

    X, y, ch_names, bands = _load_data(spec)
    n_chans = X.shape[1]
    trained = _deep4(n_chans, TRAINED_SEED)
    untrained = _deep4(n_chans, UNTRAINED_SEED)
    device = resolve_device(spec.get("device"))
    out: dict = {"kind": spec["kind"], "device": str(device), "n_trials": len(X)}

    # Warm up torch (thread pools, kernels): one forward on 2 trials.
    kind = spec["kind"]
    prepare = _envcorr_dense if kind == "forward_envcorr" else _dense
    dense = [prepare(trained, device), prepare(untrained, device)]
    _forward_all(dense, X[:2], device)
    if not kind.startswith("forward"):
        del dense
    rss_before = _rss_mb()
    out["peak_before_mb"] = _peak_mb()
    cpu_start = time.process_time()
    start = time.perf_counter()
    if kind.startswith("forward"):
        _forward_all(dense, X, device)
    elif kind in ("compute_maps", "profile"):
        kwargs = dict(
            sfreq=SFREQ,
            ch_names=ch_names,
            y=y,
            class_names=["left_hand", "right_hand", "feet", "tongue"],
            bands=bands,
            untrained_model=untrained,
            input_scale=INPUT_SCALE,
            ch_pos=spec.get("ch_pos"),
            device=spec.get("device"),
            chance=spec.get("chance", False),
            verbose="warning",
        )
        if kind == "profile":
            import cProfile
            import io
            import pstats

            profiler = cProfile.Profile()
            maps = profiler.runcall(envcorr.compute_maps, trained, X, **kwargs)
            stream = io.StringIO()
            stats = pstats.Stats(profiler, stream=stream)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(40)
            out["profile"] = stream.getvalue()
        else:
            maps = envcorr.compute_maps(trained, X, **kwargs)
        out["config_device"] = json.loads(maps.attrs["config"])["device"]
        out["batch_size"] = json.loads(maps.attrs["config"])["batch_size"]
        unit_corr, class_corr = maps["unit_corr"].values, maps["class_corr"].values
    elif kind == "untrained":
        kwargs = dict(
            sfreq=SFREQ,
            ch_names=ch_names,
            y=y,
            bands=bands,
            input_scale=INPUT_SCALE,
            device=spec.get("device"),
            verbose="warning",
        )
        extras = [
            _deep4(n_chans, UNTRAINED_SEED + 1 + k) for k in range(spec["n_extra"])
        ]
        if spec["mode"] == "one_pass":
            maps = envcorr.compute_maps(
                trained, X, untrained_model=[untrained, *extras], **kwargs
            )
            out["networks"] = int(maps.sizes["network"])
        else:  # one call per extra network, as envcorr run analysed them before
            envcorr.compute_maps(trained, X, untrained_model=untrained, **kwargs)
            for extra in extras:
                envcorr.compute_maps(extra, X, untrained_model=untrained, **kwargs)
            out["networks"] = 2 * (1 + len(extras))
    elif kind == "reference":
        sys.path.insert(0, str(HERE))
        from envcorr.nn.layers import default_layers
        from reference import reference_maps

        ref = reference_maps(
            trained,
            untrained,
            X,
            sfreq=SFREQ,
            bands=bands,
            layers=default_layers(trained),
            y=y,
            n_classes=4,
            input_scale=INPUT_SCALE,
            batch_size=FORWARD_BATCH,
        )
        unit_corr, class_corr = ref["unit_corr"], ref["class_corr"]
    else:
        raise ValueError(kind)
    out["seconds"] = time.perf_counter() - start
    out["cpu_seconds"] = time.process_time() - cpu_start
    out["rss_before_mb"] = rss_before
    out["peak_mb"] = _peak_mb()
    out["torch_threads"] = torch.get_num_threads()
    if not kind.startswith("forward") and spec.get("save"):
        np.savez(spec["save"], unit_corr=unit_corr, class_corr=class_corr)
    return out


# --------------------------------------------------------------------------
# Parent side.
# --------------------------------------------------------------------------


def run_child(spec: dict, script: str | Path = __file__) -> dict:
    """Run one measurement in a fresh interpreter; return its JSON result.

    ``script`` is the benchmark that measures (called with ``--child SPEC``,
    it prints ``RESULT {json}``): this one, or bench_study.py.
    """
    proc = subprocess.run(
        child_command(spec, script), capture_output=True, text=True, check=False
    )
    return child_result(spec, proc.returncode, proc.stdout, proc.stderr)


def child_command(spec: dict, script: str | Path = __file__) -> list[str]:
    """The command line of one measurement of ``script``."""
    return [sys.executable, str(Path(script).resolve()), "--child", json.dumps(spec)]


def child_result(spec: dict, returncode: int, stdout: str, stderr: str) -> dict:
    """The JSON result a finished child printed; an error if it printed none."""
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if returncode != 0 or not lines:
        sys.stderr.write(stderr[-5000:])
        raise RuntimeError(f"child {spec['kind']} failed (exit {returncode})")
    return json.loads(lines[-1][len("RESULT ") :])


def _times(runs: list[dict]) -> str:
    return ", ".join(f"{r['seconds']:.2f}" for r in runs)


def _mark(ok: bool) -> str:
    return "[target met]" if ok else "[TARGET MISSED]"


SUMMARY: list[str] = []


def _say(line: str) -> None:
    SUMMARY.append(line)
    print(line, flush=True)


def _git_version() -> str:
    def git(*cmd):
        return subprocess.run(
            ["git", *cmd], cwd=HERE, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", str(HERE.parent / "src"))
    return commit + (" + uncommitted changes in src/" if dirty else "")


def w1_data(path: Path, n_trials: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import envcorr

    trials = envcorr.data.simulate_motor_imagery(seed=0, verbose="warning")
    session = trials.split_sessions()["session_2"]
    np.savez(
        path,
        X=session.X[:n_trials].astype(np.float32),
        y=session.y[:n_trials],
        ch_names=np.array(session.ch_names),
        bands=json.dumps(envcorr.DEFAULT_BANDS),
    )


def w2_data(path: Path, n_trials: int) -> dict:
    """Pink-noise trials (1/f power) on 128 BioSemi channels, in volts."""
    import mne

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import envcorr

    montage = mne.channels.make_standard_montage("biosemi128")
    rng = np.random.default_rng(0)
    spec = np.fft.rfft(rng.standard_normal((n_trials, 128, N_TIMES)), axis=-1)
    freqs = np.fft.rfftfreq(N_TIMES, 1 / SFREQ)
    spec /= np.sqrt(np.maximum(freqs, 1.0))
    X = np.fft.irfft(spec, n=N_TIMES, axis=-1)
    X *= 1e-5 / X.std()
    bands = envcorr.filterbank_bands()
    nyquist = SFREQ / 2
    above = {k: v for k, v in bands.items() if v[1] >= nyquist}
    _say(
        f"W2 filter bank: {len(bands)} bands, highest edge "
        f"{max(v[1] for v in bands.values()):g} Hz, Nyquist {nyquist:g} Hz: "
        + ("all below Nyquist" if not above else f"ABOVE NYQUIST: {above}")
    )
    np.savez(
        path,
        X=X.astype(np.float32),
        y=rng.integers(0, 4, n_trials),
        ch_names=np.array(montage.ch_names),
        bands=json.dumps(bands),
    )
    pos = montage.get_positions()["ch_pos"]
    return {k: [float(c) for c in v] for k, v in pos.items()}


def bench_w1(tmp: Path, args) -> None:
    import torch

    n_trials = 64 if args.quick else 288
    data = tmp / "w1.npz"
    w1_data(data, n_trials)
    base = {"data": str(data), "n_trials": n_trials}
    # Forward and compute_maps alternate, and the fastest run of each counts, so
    # that a burst of load from other processes hits both alike.
    fwds, own_fwds, cms, chances = [], [], [], []
    for _ in range(args.repeat):
        fwds.append(run_child({**base, "kind": "forward"}))
        own_fwds.append(run_child({**base, "kind": "forward_envcorr"}))
        cms.append(
            run_child({**base, "kind": "compute_maps", "save": str(tmp / "w1_cm.npz")})
        )
        chances.append(run_child({**base, "kind": "compute_maps", "chance": True}))
    fwd = min(fwds, key=lambda r: r["seconds"])
    own_fwd = min(own_fwds, key=lambda r: r["seconds"])
    cm = min(cms, key=lambda r: r["seconds"])
    with_chance = min(chances, key=lambda r: r["seconds"])
    ref = run_child({**base, "kind": "reference", "save": str(tmp / "w1_ref.npz")})
    a, b = np.load(tmp / "w1_cm.npz"), np.load(tmp / "w1_ref.npz")
    d_unit = float(np.nanmax(np.abs(a["unit_corr"] - b["unit_corr"])))
    d_class = float(np.nanmax(np.abs(a["class_corr"] - b["class_corr"])))
    ratio = cm["seconds"] / fwd["seconds"]
    speedup = ref["seconds"] / cm["seconds"]
    shape = f"{n_trials} x 22 x {N_TIMES}"
    _say(
        f"W1 data: {shape}, 6 bands, dense Deep4Net, device {cm['config_device']}"
        f", torch threads {cm['torch_threads']}, compute_maps batch "
        f"{cm['batch_size']}"
    )
    _say(
        f"W1 forward passes alone: {fwd['seconds']:.2f} s (2 networks; best of "
        f"{len(fwds)}: {_times(fwds)} s; CPU "
        f"time {fwd['cpu_seconds']:.1f} s)"
    )
    _say(
        f"W1 forward passes, envcorr's dense copies: {own_fwd['seconds']:.2f} s "
        f"({fwd['seconds'] / own_fwd['seconds']:.2f}x faster: slice max-pooling, "
        f"channels-last convolutions on CPU; best of {len(own_fwds)}: "
        f"{_times(own_fwds)} s)"
    )
    cpu_ratio = cm["cpu_seconds"] / fwd["cpu_seconds"]
    _say(
        f"W1 compute_maps: {cm['seconds']:.2f} s ({ratio:.2f}x forward; best of "
        f"{len(cms)}: {_times(cms)} s; CPU time "
        f"{cm['cpu_seconds']:.1f} s = {cpu_ratio:.2f}x forward; "
        f"{cm['seconds'] / own_fwd['seconds']:.2f}x envcorr's own forward) "
        f"{_mark(ratio <= TARGETS['w1_ratio_forward'])} target <= 1.25x"
    )
    _say(
        f"W1 compute_maps with chance=True: {with_chance['seconds']:.2f} s "
        f"(+{100 * (with_chance['seconds'] / cm['seconds'] - 1):.0f} % over "
        f"compute_maps; best of {len(chances)}: {_times(chances)} s; peak "
        f"{with_chance['peak_mb']:.0f} MB)"
    )
    _say(
        f"W1 reference: {ref['seconds']:.2f} s (compute_maps {speedup:.2f}x "
        f"faster) {_mark(speedup >= TARGETS['w1_speedup_reference'])} target >= 4x"
    )
    d_max = max(d_unit, d_class)
    _say(
        f"W1 max |dr| vs reference: {d_max:.1e} (unit_corr {d_unit:.1e}, "
        f"class_corr {d_class:.1e}) {_mark(d_max <= TARGETS['w1_max_dr'])} "
        "target <= 1e-4"
    )
    bands = list(json.loads(str(np.load(data)["bands"])))
    per_band = np.maximum(
        np.nanmax(np.abs(a["unit_corr"] - b["unit_corr"]), axis=(0, 2, 3)),
        np.nanmax(np.abs(a["class_corr"] - b["class_corr"]), axis=(1, 2)),
    )
    _say(
        "W1 max |dr| per band: "
        + ", ".join(f"{n} {v:.1e}" for n, v in zip(bands, per_band, strict=True))
    )
    _say(
        f"W1 peak memory: compute_maps {cm['peak_mb']:.0f} MB (+"
        f"{cm['peak_mb'] - cm['rss_before_mb']:.0f} MB over the "
        f"{cm['rss_before_mb']:.0f} MB of the process before the call), "
        f"reference {ref['peak_mb']:.0f} MB, "
        f"forward {fwd['peak_mb']:.0f} MB (envcorr's {own_fwd['peak_mb']:.0f} MB) "
        f"{_mark(cm['peak_mb'] <= TARGETS['w1_peak_mb'])} target compute_maps"
        " <= 1 GB"
    )
    if torch.cuda.is_available():
        cpu = run_child(
            {**base, "kind": "compute_maps", "device": "cpu", "save": str(tmp / "c")}
        )
        c = np.load(tmp / "c.npz")
        d_gpu = float(
            max(
                np.nanmax(np.abs(a["unit_corr"] - c["unit_corr"])),
                np.nanmax(np.abs(a["class_corr"] - c["class_corr"])),
            )
        )
        _say(
            f"W1 GPU vs CPU: compute_maps {cm['seconds']:.2f} s on "
            f"{cm['config_device']} vs {cpu['seconds']:.2f} s on cpu, max |dr| "
            f"{d_gpu:.1e} {_mark(d_gpu <= TARGETS['gpu_max_dr'])} target <= 1e-4"
        )
    else:
        _say("W1 GPU vs CPU: CUDA not available, skipped")
    if args.profile:
        prof = run_child({**base, "kind": "profile"})
        print(f"W1 compute_maps profile ({prof['seconds']:.2f} s under cProfile):")
        print(prof["profile"], flush=True)


def bench_w1u(tmp: Path, args) -> None:
    n_trials = 64 if args.quick else 288
    data = tmp / "w1.npz"
    if not data.exists():
        w1_data(data, n_trials)
    base = {"data": str(data), "n_trials": n_trials, "kind": "untrained"}
    runs = {}
    for n_extra, mode in (
        (0, "one_pass"),
        (N_EXTRA, "one_pass"),
        (N_EXTRA, "separate"),
    ):
        tries = [
            run_child({**base, "n_extra": n_extra, "mode": mode})
            for _ in range(args.repeat)
        ]
        runs[n_extra, mode] = min(tries, key=lambda r: r["seconds"])
        best = runs[n_extra, mode]
        what = (
            f"one pass over {best['networks']} networks"
            if mode == "one_pass"
            else f"one call per extra network ({best['networks']} network passes)"
        )
        _say(
            f"W1u --n-untrained {n_extra}: {best['seconds']:.2f} s, {what}; best "
            f"of {len(tries)}: {_times(tries)} s; peak {best['peak_mb']:.0f} MB"
        )
    ratio = runs[N_EXTRA, "one_pass"]["seconds"] / runs[N_EXTRA, "separate"]["seconds"]
    _say(
        f"W1u --n-untrained {N_EXTRA}, one pass / one call per network: {ratio:.2f} "
        f"{_mark(ratio <= TARGETS['w1u_ratio_separate'])} target <= 0.5"
    )


def bench_w3(tmp: Path, args) -> None:
    n_trials = 64 if args.quick else 288
    data = tmp / "w1.npz"
    if not data.exists():
        w1_data(data, n_trials)
    base = {"data": str(data), "n_trials": n_trials}
    fwds, cms, warms = [], [], []
    for _ in range(args.repeat):
        fwds.append(run_child({**base, "kind": "w3_forward"}))
        cms.append(run_child({**base, "kind": "w3_compute_maps"}))
        warms.append(run_child({**base, "kind": "w3_compute_maps", "warm": True}))
    fwd = min(fwds, key=lambda r: r["seconds"])
    cm = min(cms, key=lambda r: r["seconds"])
    warm = min(warms, key=lambda r: r["seconds"])
    ratio = warm["seconds"] / fwd["seconds"]
    _say(
        f"W3 data: {n_trials} x 22 x {N_TIMES}, 6 bands, EEGNet at its own "
        f"positions (dense={cm['dense']}), layers and units {cm['layers']}, "
        f"torch threads {cm['torch_threads']}"
    )
    _say(
        f"W3 forward passes alone: {fwd['seconds']:.2f} s (2 networks, after a "
        f"warm-up pass; best of {len(fwds)}: {_times(fwds)} s)"
    )
    # Like the forward passes, compute_maps is timed after a warm-up call (8
    # trials): both sides then exclude one-time imports and caches.
    _say(
        f"W3 compute_maps: {warm['seconds']:.2f} s ({ratio:.2f}x forward; after a "
        f"warm-up call on 8 trials; best of {len(warms)}: {_times(warms)} s; CPU "
        f"time {warm['cpu_seconds']:.1f} s; peak {warm['peak_mb']:.0f} MB) "
        f"{_mark(ratio <= TARGETS['w3_ratio_forward'])} target <= 2x"
    )
    _say(
        f"W3 compute_maps as the first call in a fresh process: {cm['seconds']:.2f} "
        f"s ({cm['seconds'] / fwd['seconds']:.2f}x forward; best of {len(cms)}: "
        f"{_times(cms)} s; peak {cm['peak_mb']:.0f} MB): it also pays one-time "
        "imports (xarray imports dask on its first Dataset) and caches"
    )
    n_check = min(W3_CHECK_TRIALS, n_trials)
    check = run_child({**base, "n_trials": n_check, "kind": "w3_check"})
    worst = max(check["max_dr"].values())
    _say(
        f"W3 max |dr| vs brute force ({n_check} trials, every position of every "
        "layer probed): "
        + ", ".join(f"{k} {v:.1e}" for k, v in check["max_dr"].items())
        + f" {_mark(worst <= TARGETS['w3_max_dr'])} target <= 1e-4"
    )


def bench_w2(tmp: Path, args) -> None:
    base_trials = args.w2_base or (4 if args.quick else 24)
    sizes = [1, 2, 4]
    data = tmp / "w2.npz"
    ch_pos = w2_data(data, base_trials * sizes[-1])
    results = {}
    for k in sizes:
        res = run_child(
            {
                "data": str(data),
                "n_trials": base_trials * k,
                "kind": "compute_maps",
                "ch_pos": ch_pos,
            }
        )
        results[k] = res
        _say(
            f"W2 {k}x ({res['n_trials']} trials x 128 ch, 32 bands): "
            f"{res['seconds']:.1f} s (CPU {res['cpu_seconds']:.0f} s), "
            f"peak {res['peak_mb']:.0f} MB (+"
            f"{res['peak_mb'] - res['rss_before_mb']:.0f} MB over "
            f"{res['rss_before_mb']:.0f} MB before the call, batch "
            f"{res['batch_size']}, "
            f"device {res['config_device']}) "
            f"{_mark(res['peak_mb'] <= TARGETS['w2_peak_mb'])} target <= 4 GB"
        )
    if args.profile:
        prof = run_child(
            {
                "data": str(data),
                "n_trials": base_trials,
                "kind": "profile",
                "ch_pos": ch_pos,
            }
        )
        print(f"W2 1x compute_maps profile ({prof['seconds']:.2f} s under cProfile):")
        print(prof["profile"], flush=True)
    ratio = results[4]["seconds"] / results[1]["seconds"]
    _say(
        f"W2 time 4x/1x: {ratio:.2f} "
        f"{_mark(ratio <= TARGETS['w2_time_ratio'])} target <= 4.5"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument(
        "--workload", choices=["W1", "W1u", "W2", "W3", "all"], default="all"
    )
    parser.add_argument(
        "--w2-base", type=int, default=None, help="W2 base trials (default 24)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile W1 compute_maps"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="W1 forward and compute_maps runs, alternating; the fastest counts",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(_child(json.loads(args.child))), flush=True)
        return
    load = os.getloadavg()
    _say(
        f"envcorr benchmark {time.strftime('%Y-%m-%d %H:%M')}, {platform.node()}, "
        f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}{' (quick)' if args.quick else ''}"
    )
    _say(f"envcorr commit {_git_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.workload in ("W1", "all"):
            bench_w1(Path(tmp), args)
        if args.workload in ("W1u", "all"):
            bench_w1u(Path(tmp), args)
        if args.workload in ("W3", "all"):
            bench_w3(Path(tmp), args)
        if args.workload in ("W2", "all"):
            bench_w2(Path(tmp), args)
    load = os.getloadavg()
    _say(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.profile:
        print("\nSummary:\n" + "\n".join(SUMMARY))


if __name__ == "__main__":
    main()
