"""The ``envcorr`` command: one entry point, one subcommand per stage."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from ._utils.check import InvalidInputError
from ._version import __version__
from .config import (
    ANALYSE_OPTIONS,
    BRAINDECODE_MODELS,
    CROPPED_MODELS,
    MODEL_ALIASES,
    SAMPLES_OPTIONS,
    SQUARE_OPTIONS,
    RunConfig,
    remove_created,
)


def _defaults() -> RunConfig:
    return RunConfig()


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("output and logging")
    g.add_argument(
        "-q", "--quiet", action="store_true", help="only warnings and errors"
    )
    g.add_argument("-v", "--verbose", action="store_true", help="debug messages")


def _data_options(p: argparse.ArgumentParser, *, subject: bool = True) -> None:
    """The data options of run, train, compute and study (one definition for all).

    ``subject=False``: no ``--subject`` (``envcorr study`` takes ``--subjects``).
    """
    d = _defaults()
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        nargs="+",
        metavar="SOURCE",
        help="'simulated' (built-in ground-truth dataset), a dataset "
        "('bnci2014_001', 'schirrmeister2017', 'physionet_mi') or files: one .npz, "
        "one -epo.fif, or one or more raw EEG files MNE reads, BCI IV 2a's A01T.gdf "
        "included (runs of one subject; a quoted glob "
        f"such as 'S01/*.gdf' is expanded and sorted) (default: {d.data})",
    )
    if subject:
        g.add_argument(
            "--subject",
            type=int,
            help="subject number of a dataset (bnci2014_001: 1-9, schirrmeister2017: "
            "1-14, physionet_mi: 1-109) or of the simulated data (any k >= 1: a "
            "subject with its own physiology) (default: 1 for a dataset, the "
            "default simulated recording)",
        )
    g.add_argument(
        "--test-data",
        dest="test_data",
        nargs="+",
        metavar="FILE",
        help="files of the test trials, read like --data (default: the first "
        "session of --data trains and the last tests; with one session, the first "
        "80%% of the trials train and the last 20%% test)",
    )
    g.add_argument(
        "--events",
        metavar="CLASS=EVENT,...",
        help="classes to load and their names: CLASS=EVENT pairs, where EVENT is an "
        "annotation or event code of the files, e.g. 'left=T1,right=T2' or "
        "'left_hand=769,right_hand=770' (raw and epochs files; default: every "
        "event found)",
    )
    g.add_argument(
        "--tmin",
        type=float,
        metavar="SECONDS",
        help="start of each trial relative to its event (raw files, MOABB, "
        "simulated; default: -0.5)",
    )
    g.add_argument(
        "--tmax",
        type=float,
        metavar="SECONDS",
        help="end of each trial relative to its event, exclusive (raw files, MOABB, "
        "simulated; default: 4.0)",
    )
    g.add_argument(
        "--resample",
        type=float,
        metavar="HZ",
        help="resample to this rate before cutting trials (raw files, MOABB; "
        "default: the file's rate, 250 Hz for MOABB)",
    )
    g.add_argument(
        "--bandpass",
        metavar="LOW-HIGH",
        help="filter the data in Hz before training and analysis, e.g. '4-40' "
        "(EEGNet's usual input), '4-' (high-pass) or '-40' (low-pass): MNE's "
        "zero-phase FIR filter over the continuous recordings where the data have "
        "them, else over each trial (default: no filter)",
    )
    g.add_argument(
        "--montage",
        metavar="NAME|FILE|none",
        help="electrode positions for channels the files have none for: an MNE "
        "montage name, a montage file, or 'none' to require none (files; default: "
        "standard_1005)",
    )


def _analysis_options(p: argparse.ArgumentParser) -> None:
    d = _defaults()
    p.add_argument(
        "--bands",
        help="'default' (delta, theta, alpha, beta, low_gamma, high_gamma), "
        "'filterbank' (the original code's 32 bands) or NAME=LOW-HIGH pairs, e.g. "
        f"'alpha=7-13,high_gamma=71-91' (default: {d.bands})",
    )
    p.add_argument(
        "--analyse",
        choices=ANALYSE_OPTIONS,
        help=f"which trials the maps are computed on (default: {d.analyse})",
    )
    p.add_argument(
        "--square",
        choices=SQUARE_OPTIONS,
        help="square the envelope before averaging over the receptive field (as the "
        f"original code) or after (default: {d.square})",
    )
    p.add_argument(
        "--dense",
        action=argparse.BooleanOptionalAction,
        help="analyse a dense copy of the network (one output per input sample; "
        "exact for stacks of valid convolutions such as deep4 and shallow) or, with "
        "--no-dense, the network at its own output positions (default: dense "
        "where exact)",
    )
    p.add_argument(
        "--samples",
        choices=SAMPLES_OPTIONS,
        help="correlate at all output positions of every layer, or only at those "
        "aligned with the cropped decoder's predictions, as the original 2017 code "
        f"(default: {d.samples})",
    )
    p.add_argument(
        "--chance",
        action=argparse.BooleanOptionalAction,
        help="also measure each network's chance level of mean |r| (its units "
        "against the envelopes of another trial) and the trained − untrained "
        "difference above it; --no-chance skips it (about a quarter of the "
        f"analysis time; default: {'on' if d.chance else 'off'})",
    )
    p.add_argument(
        "--device", help="'cpu' or 'cuda' (default: CUDA when available, else CPU)"
    )
    p.add_argument(
        "--svg",
        action="store_true",
        help="also save figures as SVG (default: PNG only)",
    )


def _train_options(p: argparse.ArgumentParser) -> None:
    d = _defaults()
    cropped = {*MODEL_ALIASES.values(), *CROPPED_MODELS}
    others = [m for m in BRAINDECODE_MODELS if m not in cropped]
    p.add_argument(
        "--model",
        metavar="NAME",
        help="the network, any case: deep4 (braindecode's Deep4Net), shallow "
        "(ShallowFBCSPNet) or eegnet, trained with cropped decoding, or another "
        f"braindecode classifier, trained trial-wise: {', '.join(others)} "
        f"(default: {d.model})",
    )
    p.add_argument("--epochs", type=int, help=f"training epochs (default: {d.epochs})")
    p.add_argument("--seed", type=int, help=f"random seed (default: {d.seed})")
    p.add_argument(
        "--batch-size",
        dest="batch_size",
        type=int,
        help="training batch size (default: 16 for deep4, 64 for shallow, 32 for "
        "the others)",
    )
    p.add_argument(
        "--n-untrained",
        dest="n_untrained",
        type=int,
        help="further random initialisations whose maps show the spread of the "
        f"untrained baseline (default: {d.n_untrained})",
    )


def _out_options(p: argparse.ArgumentParser, what: str) -> None:
    d = _defaults()
    p.add_argument("-o", "--out", help=f"{what} (default: {d.out})")
    p.add_argument(
        "--overwrite", action="store_true", help="replace results already in --out"
    )
    p.add_argument(
        "--config", help="TOML file with any of these options (command line wins)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``envcorr``."""
    parser = argparse.ArgumentParser(
        prog="envcorr",
        description="Envelope-activation correlation maps for EEG ConvNets "
        "(Schirrmeister et al. 2017).",
    )
    parser.add_argument("--version", action="version", version=f"envcorr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "run",
        help="load data, train, compute maps, write results and report",
        description="Load the data, train the network on the first session (cropped "
        "decoding for deep4, shallow and eegnet, trial-wise for the others), test on "
        "the last, compute the correlation maps of the trained and the untrained "
        "network, and write results.nc, figures and report.html.",
    )
    _data_options(p)
    _train_options(p)
    _analysis_options(p)
    _out_options(p, "output directory")
    _common(p)

    p = sub.add_parser(
        "train",
        help="train a network and save a checkpoint",
        description="Train (cropped decoding for deep4, shallow and eegnet, trial-wise "
        "for the others) and save a checkpoint directory "
        "(trained and initial weights, model arguments, data description, history).",
    )
    _data_options(p)
    _train_options(p)
    _out_options(p, "checkpoint directory")
    _common(p)

    p = sub.add_parser(
        "compute",
        help="compute maps of a saved network on data",
        description="Rebuild the trained and untrained networks of a checkpoint and "
        "compute their correlation maps on data.",
    )
    p.add_argument("--checkpoint", required=True, help="checkpoint directory")
    _data_options(p)
    _analysis_options(p)
    _out_options(p, "output directory")
    _common(p)

    p = sub.add_parser(
        "simulate",
        help="write the simulated motor-imagery dataset as .npz",
        description="Write the built-in simulated dataset (both sessions, with a "
        "'session' array) in the .npz layout that --data FILE.npz reads.",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("-o", "--out", required=True, help="output .npz file")
    p.add_argument(
        "--overwrite", action="store_true", help="replace the file if it exists"
    )
    _common(p)

    p = sub.add_parser(
        "report",
        help="figures and HTML report from a results file",
        description="Draw the figures and write one self-contained HTML report.",
    )
    p.add_argument(
        "results",
        help="results file (.nc) written by run or compute, or a study's folder "
        "or its group.nc",
    )
    p.add_argument(
        "-o",
        "--out",
        default="report.html",
        help="report file; the figures go into 'figures' beside it "
        "(default: report.html)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the report and the figures folder beside it",
    )
    p.add_argument("--svg", action="store_true", help="also save figures as SVG")
    _common(p)

    _study_parser(sub)
    return parser


def _study_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "study",
        help="run many subjects on a Dask cluster and compute group maps",
        description="Run `envcorr run` for each subject, one Dask task per subject "
        "(a local cluster of worker processes, or a running cluster), into "
        "OUT/subjects/<subject>/, then write OUT/group.nc: the subjects' maps, their "
        "means and sign-flip tests. Running the same command again reuses finished "
        "subjects and retries failed ones (OUT/failures.json).",
    )
    _data_options(p, subject=False)
    g = p.add_argument_group("subjects")
    g.add_argument(
        "--subjects",
        default="all",
        metavar="1-9|all|1,3,5",
        help="subjects: a range, a list, both ('1-3,7') or 'all' (simulated: 1-9, "
        "bnci2014_001: 1-9, schirrmeister2017: 1-14, physionet_mi: 1-109); with "
        "files, write the subject as {subject} in their names, e.g. "
        "'data/A{subject:02d}T.gdf' (default: all)",
    )
    _train_options(p)
    _analysis_options(p)
    g = p.add_argument_group("cluster")
    g.add_argument(
        "--workers",
        type=int,
        help="Dask worker processes of the local cluster (default: one per core, "
        "no more than subjects to run; one per GPU with CUDA)",
    )
    g.add_argument(
        "--threads-per-worker",
        dest="threads_per_worker",
        type=int,
        metavar="T",
        help="threads (and torch threads) of each worker, which runs one subject at "
        "a time (default: the cores shared among the workers)",
    )
    g.add_argument(
        "--scheduler",
        metavar="ADDRESS|FILE",
        help="use a running Dask cluster: its scheduler address (tcp://host:8786) "
        "or scheduler file (default: start a local cluster)",
    )
    g = p.add_argument_group("group statistics and output")
    g.add_argument(
        "--n-permutations",
        dest="n_permutations",
        type=int,
        default=10000,
        metavar="N",
        help="random sign flips of the group tests above 12 subjects (up to 12: "
        "all flips) (default: 10000)",
    )
    g.add_argument(
        "-o",
        "--out",
        help="study folder: subjects/<subject>/, study.json, failures.json, group.nc "
        "(default: envcorr-study)",
    )
    g.add_argument(
        "--overwrite",
        action="store_true",
        help="run every subject again, also when the study in --out was made with "
        "other options (refused otherwise)",
    )
    g.add_argument(
        "--config", help="TOML file with any of these options (command line wins)"
    )
    _common(p)


def _config(args: argparse.Namespace) -> RunConfig:
    from .config import load_config

    values = load_config(args.config) if getattr(args, "config", None) else {}
    for f in dataclasses.fields(RunConfig):
        value = getattr(args, f.name, None)
        if f.name == "overwrite":
            value = True if args.overwrite else None
        if f.name in ("data", "test_data") and value is not None and len(value) == 1:
            value = value[0]  # one source: as a string, as in a TOML file
        if value is not None:
            values[f.name] = value
    if getattr(args, "svg", False):
        values["formats"] = ["png", "svg"]
    return RunConfig(**values)


def _verbose(args: argparse.Namespace) -> str:
    if args.quiet:
        return "WARNING"
    return "DEBUG" if args.verbose else "INFO"


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _dispatch(args: argparse.Namespace) -> None:
    verbose = _verbose(args)
    if args.command == "simulate":
        from .config import check_output_file
        from .data import save_npz, simulate_motor_imagery

        out = Path(args.out).expanduser()
        # before the simulation takes its time
        created = check_output_file(out, overwrite=args.overwrite)
        try:
            trials = simulate_motor_imagery(seed=args.seed, verbose=verbose)
            path = save_npz(trials, out)
        except BaseException:
            remove_created(created)
            raise
        _say(f"Simulated data ({trials.n_trials} trials) written to {path}")
        return
    if args.command == "report":
        from .group_report import find_group, group_report_only
        from .workflow import report_only

        formats = ("png", "svg") if args.svg else ("png",)
        group = find_group(args.results)  # a study's folder or its group.nc
        make = report_only if group is None else group_report_only
        paths = make(
            group or args.results,
            args.out,
            formats=formats,
            overwrite=args.overwrite,
            verbose=verbose,
        )
        _say(f"Report: {paths['report']}")
        return
    config = _config(args)
    if args.command == "study":
        _study(args, config, verbose)
        return
    config.check()  # bad options fail before torch and the data load
    from . import workflow

    if args.command == "train":
        path = workflow.train_only(config, verbose=verbose)
        _say(f"Checkpoint: {path}")
    elif args.command == "compute":
        summary = workflow.compute_from_checkpoint(
            args.checkpoint, config, verbose=verbose
        )
        _print_paths(summary["paths"])
    else:
        summary = workflow.run(config, verbose=verbose)
        _say(
            f"Test accuracy: {100 * summary['test_accuracy']:.1f} % "
            f"(train {100 * summary['train_accuracy']:.1f} %)"
        )
        _print_paths(summary["paths"])


def _study(args: argparse.Namespace, config: RunConfig, verbose: str) -> None:
    from .study import DEFAULT_OUT, run_study

    config = dataclasses.replace(config, overwrite=False)
    summary = run_study(
        config,
        subjects=args.subjects,
        out=args.out or DEFAULT_OUT,
        workers=args.workers,
        threads_per_worker=args.threads_per_worker,
        scheduler=args.scheduler,
        n_permutations=args.n_permutations,
        overwrite=args.overwrite,
        verbose=verbose,
    )
    paths = summary["paths"]
    _say(
        f"Subjects finished: {len(summary['subjects'])}, failed: "
        f"{len(summary['failed'])}"
    )
    _say(f"{'Study':<11} {paths['out']}")
    if paths["group"] is not None:
        _say(f"{'Group':<11} {paths['group']}")
    if paths.get("report") is not None:
        _say(f"{'Report':<11} {paths['report']}")
    if paths["failures"] is not None:
        _say(f"{'Failures':<11} {paths['failures']}")


def _print_paths(paths: dict[str, Path]) -> None:
    for key in ("results", "report", "figures", "checkpoint"):
        if key in paths:
            _say(f"{key.capitalize():<11} {paths[key]}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``envcorr``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        _dispatch(args)
    except InvalidInputError as err:
        sys.stderr.write(f"envcorr {args.command}: error: {err}\n")
        return 2
    except FileNotFoundError as err:
        sys.stderr.write(f"envcorr {args.command}: error: {err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(
            f"envcorr {args.command}: interrupted; results already written are "
            "complete, nothing was left half-written.\n"
        )
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
