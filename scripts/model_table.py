"""Which braindecode networks envcorr can analyse: writes docs/models.md.

For every braindecode model class (an ``nn.Module`` and ``EEGModuleMixin``)
whose ``forward`` takes one input of shape (batch, n_chans, n_times): build it
for 22 channels x 1125 samples at 250 Hz and 4 classes (BCI IV 2a), find its
default layers (:func:`envcorr.nn.layers.default_layers`: the table for known
networks, the block-output rule for the others), and run
:func:`envcorr.compute_maps` on 8 random trials with an untouched copy as the
untrained baseline. Each row says "works" or the first line of the error, and
how long ``compute_maps`` took. Each model runs in a forked process that gets
at most ``--time-limit`` seconds (building, finding layers and computing
together), so that the whole table takes a few minutes and a crash stays in
its row; a model that needs more is reported as stopped.

Usage::

    .venv/bin/python scripts/model_table.py [--out docs/models.md] [--models A,B]
        [--time-limit 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

N_CHANS, N_TIMES, SFREQ, N_OUTPUTS, N_TRIALS = 22, 1125, 250.0, 4, 8
CH_NAMES = (
    "Fz FC3 FC1 FCz FC2 FC4 C5 C3 C1 Cz C2 C4 C6 CP3 CP1 CPz CP2 CP4 P1 Pz P2 POz"
).split()
MAX_REASON = 300


def model_classes() -> dict[str, type]:
    """braindecode's model classes by name (the first name of each class)."""
    import inspect

    import braindecode.models as models
    from braindecode.models.base import EEGModuleMixin
    from torch import nn

    found: dict[str, type] = {}
    for name, cls in sorted(vars(models).items()):
        if (
            inspect.isclass(cls)
            and issubclass(cls, nn.Module)
            and issubclass(cls, EEGModuleMixin)
            and cls is not EEGModuleMixin
            and cls not in found.values()
        ):
            found[name] = cls
    return found


def extra_inputs(cls: type) -> list[str]:
    """Required arguments of ``forward`` besides the input tensor."""
    import inspect

    params = list(inspect.signature(cls.forward).parameters.values())[2:]
    return [
        p.name
        for p in params
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def chs_info() -> list[dict]:
    """Channel info of the BCI IV 2a channels at MNE's standard 10-05 positions."""
    import mne

    info = mne.create_info(CH_NAMES, SFREQ, "eeg")
    info.set_montage(mne.channels.make_standard_montage("standard_1005"))
    return list(info["chs"])


def build(name: str, cls: type) -> tuple[object, bool]:
    """The network at 22 x 1125, 250 Hz, 4 classes; chs_info where needed."""
    from braindecode.models.util import models_mandatory_parameters

    mandatory = {n: params for n, params, _ in models_mandatory_parameters}
    kwargs = {
        "n_chans": N_CHANS,
        "n_outputs": N_OUTPUTS,
        "n_times": N_TIMES,
        "sfreq": SFREQ,
    }
    if "chs_info" in mandatory.get(name, []):
        return cls(**kwargs, chs_info=chs_info()), True
    try:
        return cls(**kwargs), False
    except Exception:
        return cls(**kwargs, chs_info=chs_info()), True


def reason(stage: str, err: BaseException) -> str:
    """The first line of an error, for a table cell."""
    lines = str(err).strip().splitlines()
    text = f"{type(err).__name__}: {lines[0] if lines else ''}".strip()
    if len(text) > MAX_REASON:
        text = text[: MAX_REASON - 1] + "…"
    return f"fails in {stage}: {text}"


def row(name: str, cls: type, X, y, send) -> None:
    """Build, find default layers and compute maps for one model; ``send``
    reports each step and the row's cells as they become known."""
    import copy

    import torch

    import envcorr
    from envcorr.nn.layers import DEFAULT_LAYERS, default_layers

    extra = extra_inputs(cls)
    if extra:
        send(
            "result",
            "skipped: forward needs inputs other than (batch, n_chans, n_times): "
            + ", ".join(extra),
        )
        return
    stage = "building"
    send("stage", stage)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model, _ = build(name, cls)
        stage = "default_layers"
        send("stage", stage)
        layers = default_layers(
            model, n_chans=N_CHANS, n_times=N_TIMES, verbose="WARNING"
        )
        source = "" if layers == DEFAULT_LAYERS.get(name) else " (rule)"
        send("layers", ", ".join(f"`{n}`" for n in layers) + source)
        stage = "compute_maps"
        send("stage", stage)
        envcorr.compute_maps(
            model,
            X,
            sfreq=SFREQ,
            ch_names=CH_NAMES,
            y=y,
            layers=layers,
            untrained_model=copy.deepcopy(model),
            device="cpu",
            verbose=False,
        )
        send("result", "works")
    except Exception as err:
        send("result", reason(stage, err))


def run_row(name: str, cls: type, X, y, limit: float) -> dict[str, str]:
    """:func:`row` in a forked process, stopped after ``limit`` seconds."""
    import multiprocessing
    import warnings

    out = {"model": name, "layers": "", "result": "", "time": ""}
    receive, send_end = multiprocessing.Pipe(duplex=False)

    def child():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row(name, cls, X, y, lambda key, value: send_end.send((key, value)))
        send_end.send(("end", None))

    process = multiprocessing.get_context("fork").Process(target=child)
    start = time.perf_counter()
    process.start()
    send_end.close()
    stage, maps_start = "", None
    deadline = start + limit
    finished = False
    while not finished:
        remaining = deadline - time.perf_counter()
        if remaining <= 0 or not receive.poll(remaining):
            break
        try:
            key, value = receive.recv()
        except EOFError:  # the process died
            break
        if key == "stage":
            stage = value
            if stage == "compute_maps":
                maps_start = time.perf_counter()
        elif key == "end":
            finished = True
        else:
            out[key] = value
    if maps_start is not None:
        out["time"] = f"{time.perf_counter() - maps_start:.1f}"
    if not finished:
        if process.is_alive():
            process.kill()
            out["result"] = f"stopped in {stage}: over the limit of {limit:g} s"
            if out["time"]:
                out["time"] = "> " + out["time"]
        else:
            process.join()
            out["result"] = f"crashed in {stage} (exit code {process.exitcode})"
    process.join()
    return out


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/models.md", help="Markdown file")
    parser.add_argument(
        "--models", default=None, help="comma-separated class names (default: all)"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=20.0,
        help="seconds per model for building, layers and maps together",
    )
    args = parser.parse_args(argv)

    import warnings

    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import braindecode
        import torch

        import envcorr.maps  # noqa: F401 (imported once, before the forks)

        classes = model_classes()
    if args.models:
        wanted = [m.strip() for m in args.models.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in classes]
        if unknown:
            parser.error(f"unknown models {unknown}; known: {', '.join(classes)}")
        classes = {m: classes[m] for m in wanted}

    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_TRIALS, N_CHANS, N_TIMES)).astype(np.float32)
    y = np.arange(N_TRIALS) % N_OUTPUTS
    rows = []
    total = time.perf_counter()
    for name, cls in classes.items():
        start = time.perf_counter()
        rows.append(run_row(name, cls, X, y, args.time_limit))
        print(
            f"{name:24s} {time.perf_counter() - start:6.1f} s  {rows[-1]['result']}",
            file=sys.stderr,
        )
    total = time.perf_counter() - total

    command = "python scripts/model_table.py"
    if args.models:
        command += f" --models {args.models}"
    if args.time_limit != parser.get_default("time_limit"):
        command += f" --time-limit {args.time_limit:g}"
    counts = {
        "work": sum(r["result"] == "works" for r in rows),
        "fail": sum(r["result"].startswith("fails") for r in rows),
        "crashed": sum(r["result"].startswith("crashed") for r in rows),
        "were stopped at the time limit": sum(
            r["result"].startswith("stopped") for r in rows
        ),
        "were skipped": sum(r["result"].startswith("skipped") for r in rows),
    }
    summary = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
    lines = [
        "# braindecode models in envcorr",
        "",
        f"Generated by `{command}` with braindecode {braindecode.__version__} and "
        f"torch {torch.__version__.split('+')[0]}: each model is built for "
        f"{N_CHANS} channels x {N_TIMES} samples at {SFREQ:g} Hz and "
        f"{N_OUTPUTS} classes (chs_info: MNE's standard_1005 positions of the "
        "BCI IV 2a channels, where the model needs it), and "
        f"`envcorr.compute_maps` runs on {N_TRIALS} random trials with an "
        "untouched copy as the untrained baseline, each model within "
        f"{args.time_limit:g} s. Do not edit by hand: run the script again.",
        "",
        "Models: every class of `braindecode.models` that is an `nn.Module` "
        "and an `EEGModuleMixin`; one whose `forward` needs inputs besides "
        "(batch, n_chans, n_times) would be listed as skipped.",
        "",
        "*default layers*: `envcorr.nn.layers.DEFAULT_LAYERS` for the models "
        "listed there, else the block-output rule of "
        "`envcorr.nn.layers.default_layers` (marked *(rule)*). *result*: "
        "`works`, or the first line of the error and the step that raised it. "
        "*time*: seconds in `compute_maps` on a CPU (it varies between runs).",
        "",
        f"Of {len(rows)} models, {summary}.",
        "",
        "| model | default layers | result | time (s) |",
        "| --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {cell(r['layers'])} | {cell(r['result'])} | "
            f"{r['time']} |"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(rows)} models, {total:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
