"""The whole analysis as the command line runs it: load, train, compute, report.

Each public function here is one subcommand of ``envcorr``; the command line
only parses options into a :class:`~envcorr.config.RunConfig` and calls them.
``run`` hands the trained networks in memory to the analysis (the checkpoint
is written as well), and each figure is drawn once for its files and the
report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ._utils.check import check_bands, invalid
from ._utils.jsonutil import stringified
from ._utils.logs import logger, verbose
from .config import (
    CHECKPOINT_NAME,
    FIGURES_NAME,
    REPORT_NAME,
    RESULTS_NAME,
    RunConfig,
    parse_bands,
)
from .data import Trials, load_data
from .data.datasets import resolve_dataset_name
from .maps import compute_maps
from .results import load_maps, save_maps
from .training import (
    check_compatible,
    load_checkpoint,
    save_checkpoint,
    train_cropped,
)


def split_train_test(trials: Trials) -> tuple[Trials, Trials, str]:
    """First session for training, last session for testing.

    Without session labels (or with one session), the first 80 % of the trials
    train and the last 20 % test.
    """
    sessions = None if trials.session is None else trials.split_sessions()
    if sessions is not None and len(sessions) >= 2:
        names = list(sessions)
        return sessions[names[0]], sessions[names[-1]], names[-1]
    n_train = round(0.8 * trials.n_trials)
    logger.info("No second session: training on the first 80 %% of the trials")
    return (
        trials.subset(slice(0, n_train)),
        trials.subset(slice(n_train, None)),
        "last 20% of trials",
    )


def _load(config: RunConfig) -> Trials:
    subject = config.subject
    if subject is None and resolve_dataset_name(config.data) is not None:
        subject = 1
    return load_data(config.data, subject=subject)


def _check_output(out: Path, overwrite: bool) -> None:
    results = out / RESULTS_NAME
    if results.exists() and not overwrite:
        raise invalid(
            "out",
            f"'{out}' already holds results ({results.name}).",
            "Choose another directory or pass --overwrite to replace them.",
        )
    if out.exists() and not out.is_dir():
        raise invalid("out", f"'{out}' exists and is not a directory.")


def _annotate(
    ds: xr.Dataset,
    *,
    config: dict[str, Any],
    trials: Trials,
    history: dict[str, Any] | None,
    test_session: str | None,
) -> xr.Dataset:
    """Add the run's provenance, accuracy and confusion matrix to the results."""
    analysis = json.loads(ds.attrs["config"])
    ds.attrs["config"] = json.dumps({"run": config, "analysis": analysis})
    desc = trials.description
    ds.attrs["dataset"] = str(desc.get("dataset", config.get("data", "")))
    subjects = sorted(set(trials.subject)) if trials.subject is not None else []
    ds.attrs["subject"] = ", ".join(subjects) or str(config.get("subject") or "")
    if test_session is not None:
        ds.attrs["test_session"] = test_session
    if history is not None:
        ds.attrs["train_accuracy"] = float(history["train"]["accuracy"])
        if history.get("valid") is not None:
            valid = history["valid"]
            ds.attrs["test_accuracy"] = float(valid["accuracy"])
            ds["confusion_matrix"] = xr.DataArray(
                np.asarray(valid["confusion"], dtype=np.int64),
                dims=("true_class", "predicted_class"),
                coords={
                    "true_class": list(ds["class"].values),
                    "predicted_class": list(ds["class"].values),
                },
            )
        ds.attrs["n_epochs"] = len(history.get("history", []))
    ds.attrs["seed"] = int(config.get("seed", 0))
    return ds


def _analysed(config: RunConfig, train: Trials, test: Trials, all_: Trials) -> Trials:
    return {"test": test, "train": train, "all": all_}[config.analyse]


def _network_maps(
    networks: Any,
    trials: Trials,
    config: RunConfig,
    stored: dict[str, Any],
    test_session: str | None,
) -> xr.Dataset:
    """Maps of trained and untrained networks on trials, with provenance.

    ``networks`` is a :class:`~envcorr.training.TrainResult` or a
    :class:`~envcorr.training.Checkpoint`: the trained network, its own
    initialisation and any further initialisations, analysed in one pass.
    """
    ds = compute_maps(
        networks.model,
        trials.X,
        untrained_model=networks.untrained_models(),
        sfreq=trials.sfreq,
        ch_names=trials.ch_names,
        y=trials.y,
        class_names=trials.class_names,
        bands=parse_bands(config.bands),
        continuous=trials.continuous,
        square=config.square,
        input_scale=networks.input_scale,
        ch_pos=trials.info,
        device=config.device,
    )
    return _annotate(
        ds,
        config=stored,
        trials=trials,
        history=networks.to_record(),
        test_session=test_session,
    )


def write_outputs(ds: xr.Dataset, out: Path, formats: list[str]) -> dict[str, Path]:
    """Save results, figures and the report into ``out``; each figure drawn once."""
    from .report import make_report
    from .viz import draw_figures

    out.mkdir(parents=True, exist_ok=True)
    results = save_maps(ds, out / RESULTS_NAME)
    figures = draw_figures(ds, out / FIGURES_NAME, formats=tuple(formats))
    report = make_report(ds, out / REPORT_NAME, figures=figures)
    return {"results": results, "figures": out / FIGURES_NAME, "report": report}


def _train(config: RunConfig, trials: Trials):
    """Split into training and test trials, train, and log the accuracy."""
    train, test, test_name = split_train_test(trials)
    logger.info(
        "Data: %s, %d channels at %g Hz, %d training and %d test trials",
        config.data,
        trials.n_channels,
        trials.sfreq,
        train.n_trials,
        test.n_trials,
    )
    result = train_cropped(
        train,
        test,
        model=config.model,
        n_epochs=config.epochs,
        batch_size=config.batch_size,
        n_untrained=config.n_untrained,
        seed=config.seed,
        device=config.device,
    )
    logger.info(
        "Accuracy: %.1f %% on %s (train %.1f %%)",
        100 * result.valid_accuracy,
        test_name,
        100 * result.train_accuracy,
    )
    return train, test, test_name, result


@verbose
def run(config: RunConfig, *, verbose: bool | str | int | None = None) -> dict:
    """Load data, train, compute maps for trained and untrained, report.

    Parameters
    ----------
    config : RunConfig
        The options.
    verbose : bool | str | int | None
        Logging level.

    Returns
    -------
    summary : dict
        Paths of the outputs and the accuracies.
    """
    config.check()
    out = Path(config.out).expanduser()
    _check_output(out, config.overwrite)
    bands = parse_bands(config.bands)
    trials = _load(config)
    check_bands(bands, trials.sfreq)
    train, test, test_name, result = _train(config, trials)
    ckpt_dir = save_checkpoint(
        result,
        out / CHECKPOINT_NAME,
        trials_description=stringified(trials.description),
        config=config.to_dict(),
        overwrite=True,
    )
    analysed = _analysed(config, train, test, trials)
    ds = _network_maps(result, analysed, config, config.to_dict(), test_name)
    paths = write_outputs(ds, out, config.formats)
    paths["checkpoint"] = ckpt_dir
    return {
        "paths": paths,
        "test_accuracy": result.valid_accuracy,
        "train_accuracy": result.train_accuracy,
    }


@verbose
def train_only(config: RunConfig, *, verbose: bool | str | int | None = None) -> Path:
    """Train and save a checkpoint in ``config.out`` (``envcorr train``)."""
    config.check()
    out = Path(config.out).expanduser()
    if out.exists() and any(out.iterdir()) and not config.overwrite:
        raise invalid(
            "out",
            f"'{out}' is not empty.",
            "Choose another directory or pass --overwrite.",
        )
    trials = _load(config)
    _, _, _, result = _train(config, trials)
    return save_checkpoint(
        result,
        out,
        trials_description=stringified(trials.description),
        config=config.to_dict(),
        overwrite=config.overwrite,
    )


@verbose
def compute_from_checkpoint(
    checkpoint: str | Path,
    config: RunConfig,
    *,
    verbose: bool | str | int | None = None,
) -> dict:
    """Maps of a saved network on data (``envcorr compute``)."""
    config.check()
    out = Path(config.out).expanduser()
    _check_output(out, config.overwrite)
    ckpt = load_checkpoint(checkpoint)
    trials = _load(config)
    check_compatible(ckpt, trials)
    if config.analyse == "all":
        analysed, test_name = trials, None
    else:
        train, test, test_name = split_train_test(trials)
        analysed = test if config.analyse == "test" else train
    stored = {**config.to_dict(), "checkpoint": str(checkpoint)}
    ds = _network_maps(ckpt, analysed, config, stored, test_name)
    return {"paths": write_outputs(ds, out, config.formats)}


@verbose
def report_only(
    results: str | Path,
    output: str | Path,
    formats: tuple[str, ...] = ("png",),
    *,
    verbose: bool | str | int | None = None,
) -> dict:
    """Figures and report from a results file (``envcorr report``)."""
    from .report import make_report
    from .viz import draw_figures

    ds = load_maps(results)
    output = Path(output).expanduser()
    figures = draw_figures(ds, output.parent / FIGURES_NAME, formats=tuple(formats))
    return {
        "report": make_report(ds, output, figures=figures),
        "figures": [path for fig in figures for path in fig.paths],
    }
