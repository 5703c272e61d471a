"""The whole analysis as the command line runs it: load, train, compute, report.

Each public function here is one subcommand of ``envcorr``; the command line
only parses options into a :class:`~envcorr.config.RunConfig` and calls them.
``run`` hands the trained networks in memory to the analysis (the checkpoint
is written as well), and each figure is drawn once for its files and the
report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ._utils.check import invalid
from ._utils.jsonutil import stringified
from ._utils.logs import logger, verbose
from .config import (
    CHECKPOINT_NAME,
    FIGURES_NAME,
    REPORT_NAME,
    RESULTS_NAME,
    RunConfig,
    check_output_dir,
    check_report_output,
    check_writable_dir,
    expand_data,
    parse_bandpass,
    parse_bands,
    parse_events,
    remove_created,
)
from .data import Trials, concatenate_trials, load_data
from .data.datasets import resolve_dataset_name
from .data.loaders import SIMULATED, loader_for
from .maps import compute_maps
from .results import read_results, save_maps
from .signal.bands import bands_for
from .training import check_compatible, load_checkpoint, save_checkpoint
from .training.loop import train_model


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


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------
_LOADER_OPTIONS = {
    # RunConfig field: keyword of the loaders
    "events": "event_id",
    "tmin": "tmin",
    "tmax": "tmax",
    "resample": "resample",
    "montage": "montage",
}


def _montage(value: str) -> Any:
    """``--montage``: None for 'none', a montage read from a file, or a name."""
    if value.strip().lower() == "none":
        return None
    path = Path(value).expanduser()
    looks_like_file = path.suffix != "" or os.sep in value
    if not path.is_file():
        if looks_like_file:
            raise invalid(
                "montage",
                f"file not found: '{path}'.",
                "Give an MNE montage name (e.g. standard_1005), a montage file "
                "MNE reads, or 'none'.",
            )
        return value
    import mne

    try:
        return mne.channels.read_custom_montage(path)
    except (ValueError, OSError, RuntimeError, KeyError) as err:
        raise invalid(
            "montage",
            f"MNE could not read '{path}' as a montage ({err}).",
            "Give a montage file mne.channels.read_custom_montage reads "
            "(.elc, .sfp, .loc, .bvef, ...), a montage name, or 'none'.",
        ) from None


def loader_options(config: RunConfig, source: str | list[str]) -> dict[str, Any]:
    """Keyword options of the loader of ``source`` from ``--events`` and the like.

    Only options that were given are passed; one that the loader of
    ``source`` does not take is an error naming it.
    """
    what, function = loader_for(source)
    accepted = inspect.signature(function).parameters
    kwargs: dict[str, Any] = {}
    for option, key in _LOADER_OPTIONS.items():
        value = getattr(config, option)
        if value is None:
            continue
        if key not in accepted:
            takes = ", ".join(
                f"--{o}" for o, k in _LOADER_OPTIONS.items() if k in accepted
            )
            raise invalid(
                option,
                f"--{option} does not apply to {what}"
                + ("." if what == SIMULATED else f" ({_describe(source)})."),
                f"Leave --{option} out"
                + (f" ({what} takes {takes})." if takes else "."),
            )
        if option == "events":
            value = parse_events(value)
        elif option == "montage":
            value = _montage(value)
        kwargs[key] = value
    return kwargs


def _describe(source: str | list[str]) -> str:
    if isinstance(source, list):
        return f"{len(source)} files: {source[0]}, ..."
    return source


def _source(config: RunConfig, name: str) -> tuple[str | list[str], dict[str, Any]]:
    """``config.data`` or ``config.test_data`` (``name``) expanded, and its options.

    Everything about the source that can be checked without reading the data
    is checked here, before any output is written.
    """
    source = expand_data(name, getattr(config, name))
    loader_for(source, name=name)  # several sources must all be raw files
    return source, loader_options(config, source)


def check_sources(config: RunConfig) -> None:
    """Check ``--data``, ``--test-data`` and the loader options without loading."""
    _source(config, "data")
    if config.test_data is not None:
        test_data = _source(config, "test_data")[0]
        if loader_for(test_data, name="test_data").what == SIMULATED:
            raise invalid(
                "test_data",
                "the simulated data cannot be test data.",
                "Give files for --test-data, or leave it out.",
            )


def _load_source(config: RunConfig, name: str) -> Trials:
    """Load ``config.data`` or ``config.test_data`` (``name``) with its options."""
    source, kwargs = _source(config, name)
    subject = config.subject
    if (
        subject is None
        and not isinstance(source, list)
        and resolve_dataset_name(source)
    ):
        subject = 1
    trials = load_data(source, subject=subject, **kwargs)
    if config.bandpass is not None:
        l_freq, h_freq = parse_bandpass(config.bandpass)
        logger.info("Filtering %s: %s Hz", name.replace("_", " "), config.bandpass)
        trials = trials.band_passed(l_freq, h_freq)
    return trials


def _load(config: RunConfig) -> Trials:
    return _load_source(config, "data")


def _check_same_layout(train: Trials, test: Trials) -> None:
    """The test data must look like the training data to the network."""
    for what, a, b in (
        ("sampling rate", train.sfreq, test.sfreq),
        ("channels", list(train.ch_names), list(test.ch_names)),
        ("classes", list(train.class_names), list(test.class_names)),
        ("samples per trial", train.X.shape[-1], test.X.shape[-1]),
    ):
        if a != b:
            raise invalid(
                "test_data",
                f"the {what} differ from those of --data ({b} instead of {a}).",
                "Give test files recorded and cut like the training files "
                "(same channels, classes, window and --resample).",
            )


def load_split(config: RunConfig) -> tuple[Trials, Trials, Trials, str | None]:
    """All trials, training and test trials, and the name of the test part.

    With ``config.test_data``, the test trials are those files; otherwise
    :func:`split_train_test` splits ``config.data``. The first item is all
    trials (training and test), joined only when ``analyse="all"`` needs it.
    """
    trials = _load(config)
    if config.test_data is None:
        train, test, test_name = split_train_test(trials)
        return trials, train, test, test_name
    test = _load_source(config, "test_data")
    _check_same_layout(trials, test)
    files = expand_data("test_data", config.test_data)
    test_name = ", ".join(
        Path(f).name for f in ([files] if isinstance(files, str) else files)
    )
    all_ = concatenate_trials([trials, test]) if config.analyse == "all" else trials
    return all_, trials, test, test_name


# --------------------------------------------------------------------------
# output folders
# --------------------------------------------------------------------------
@contextlib.contextmanager
def output_dir(out: Path, overwrite: bool, *, empty: bool = False) -> Iterator[None]:
    """Check ``out`` before any work; remove it on failure if it was made here."""
    check_output_dir(out, overwrite, empty=empty)
    created = check_writable_dir(out)
    try:
        yield
    except BaseException:
        remove_created(created)
        raise


def check_results_file(path: str | Path, *, name: str = "results") -> xr.Dataset:
    """Read a results file for the report; errors name ``name`` and the file."""
    ds = read_results(path, name=name)
    for dim in ("network", "layer", "band", "channel"):
        if dim not in ds.dims:
            dims = ", ".join(map(repr, ds.dims))
            raise invalid(
                name,
                f"'{path}' has no {dim!r} dimension (it has {dims}).",
                "Give a results file written by `envcorr run` or `envcorr compute`.",
            )
        if ds.sizes[dim] == 0:
            raise invalid(
                name,
                f"'{path}' has an empty {dim!r} dimension (no {dim}s).",
                "Give a results file written by `envcorr run` or `envcorr compute`.",
            )
    return ds


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
    bands: dict[str, tuple[float, float]],
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
        bands=bands,
        continuous=trials.continuous,
        square=config.square,
        dense=config.dense,
        samples=config.samples,
        chance=config.chance,
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


def _train(config: RunConfig, trials: Trials, train: Trials, test: Trials, test_name):
    """Train on ``train``, validate on ``test``, and log the accuracy."""
    logger.info(
        "Data: %s, %d channels at %g Hz, %d training and %d test trials",
        config.data,
        trials.n_channels,
        trials.sfreq,
        train.n_trials,
        test.n_trials,
    )
    result = train_model(
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
    chance, p = result.valid_scores.above_chance()
    if p >= 0.05:
        hint = ""
        if result.settings["decoding"] == "trialwise" and config.bandpass is None:
            hint = (
                " Trial-wise networks learn from one example per trial and may "
                "need band-passed data and more epochs to generalise (e.g. "
                "--bandpass 4- --epochs 80), or a network trained on crops "
                "(--model deep4, shallow or eegnet)."
            )
        logger.warning(
            "The test accuracy, %.1f %%, is not above chance (%.1f %%, binomial "
            "p = %.2f): the maps describe a network that has not learned the "
            "classes.%s",
            100 * result.valid_accuracy,
            100 * chance,
            p,
            hint,
        )
    return result


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
    check_sources(config)
    out = Path(config.out).expanduser()
    bands = parse_bands(config.bands)
    with output_dir(out, config.overwrite):
        trials, train, test, test_name = load_split(config)
        bands = bands_for(trials.sfreq, bands)  # checked before training
        result = _train(config, trials, train, test, test_name)
        ckpt_dir = save_checkpoint(
            result,
            out / CHECKPOINT_NAME,
            trials_description=stringified(trials.description),
            config=config.to_dict(),
            overwrite=True,
        )
        analysed = _analysed(config, train, test, trials)
        ds = _network_maps(result, analysed, config, config.to_dict(), test_name, bands)
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
    check_sources(config)
    out = Path(config.out).expanduser()
    with output_dir(out, config.overwrite, empty=True):
        trials, train, test, test_name = load_split(config)
        result = _train(config, trials, train, test, test_name)
        # the folder was checked empty (or --overwrite given): replace it whole
        return save_checkpoint(
            result,
            out,
            trials_description=stringified(trials.description),
            config=config.to_dict(),
            overwrite=True,
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
    check_sources(config)
    out = Path(config.out).expanduser()
    with output_dir(out, config.overwrite):
        ckpt = load_checkpoint(checkpoint)
        trained_with = ckpt.config.get("bandpass")
        if config.bandpass is None and trained_with is not None:
            # the network learnt on filtered data: analyse what it saw
            logger.info("Filtering %s Hz, as the checkpoint's data", trained_with)
            config = dataclasses.replace(config, bandpass=trained_with)
        trials, train, test, test_name = load_split(config)
        check_compatible(ckpt, trials)
        if config.analyse == "all":
            analysed, test_name = trials, None
        else:
            analysed = test if config.analyse == "test" else train
        stored = {**config.to_dict(), "checkpoint": str(checkpoint)}
        bands = bands_for(analysed.sfreq, parse_bands(config.bands))
        ds = _network_maps(ckpt, analysed, config, stored, test_name, bands)
        return {"paths": write_outputs(ds, out, config.formats)}


@verbose
def report_only(
    results: str | Path,
    output: str | Path,
    formats: tuple[str, ...] = ("png",),
    *,
    overwrite: bool = False,
    verbose: bool | str | int | None = None,
) -> dict:
    """Figures and report from a results file (``envcorr report``).

    The results file and the output paths are checked before anything is
    written; the report and the ``figures`` folder beside it are replaced only
    with ``overwrite``.
    """
    from .report import make_report
    from .viz import draw_figures

    ds = check_results_file(results)
    output = Path(output).expanduser()
    created = check_report_output(output, overwrite)
    try:
        figures = draw_figures(ds, output.parent / FIGURES_NAME, formats=tuple(formats))
        report = make_report(ds, output, figures=figures)
    except BaseException:
        remove_created(created)
        raise
    return {
        "report": report,
        "figures": [path for fig in figures for path in fig.paths],
    }
