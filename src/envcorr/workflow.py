"""The whole analysis as the command line runs it: load, train, compute, report.

Each function here is one subcommand of ``envcorr``; the command line only
parses options into a :class:`RunConfig` and calls them.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ._check import check_bands, check_int, check_option, invalid
from ._logging import logger, use_log_level
from .data import Trials, load_data
from .data.datasets import resolve_dataset_name
from .envelopes import DEFAULT_BANDS, filterbank_bands
from .maps import compute_maps
from .models import MODELS
from .results import load_maps, save_maps
from .train import DEFAULT_N_EPOCHS, load_checkpoint, save_checkpoint, train_cropped

RESULTS_NAME = "results.nc"
REPORT_NAME = "report.html"
CHECKPOINT_NAME = "checkpoint"


@dataclass
class RunConfig:
    """Options of ``envcorr run`` (and of its stages), with their defaults.

    Every field can be set in a TOML file (same names) and on the command line;
    the command line wins. The effective configuration is stored in the
    results' attrs and in the checkpoint.
    """

    data: str = "simulated"
    subject: int | None = None
    model: str = "deep4"
    bands: str = "default"
    epochs: int = DEFAULT_N_EPOCHS
    seed: int = 0
    out: str = "envcorr-results"
    n_untrained: int = 0
    batch_size: int | None = None
    device: str | None = None
    analyse: str = "test"
    square: str = "before"
    formats: list[str] = field(default_factory=lambda: ["png"])
    overwrite: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a JSON-serialisable dict."""
        return dataclasses.asdict(self)


def load_config(path: str | Path) -> dict[str, Any]:
    """Options from a TOML file (keys as in :class:`RunConfig`)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise invalid("config", f"file not found: '{path}'.")
    try:
        values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise invalid("config", f"'{path}' is not valid TOML: {err}.") from None
    values = values.get("envcorr", values)
    known = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise invalid(
            "config",
            f"unknown option(s) {unknown} in '{path}'.",
            f"Known options: {', '.join(sorted(known))}.",
        )
    return values


def parse_bands(spec: str | dict) -> dict[str, tuple[float, float]]:
    """Bands from ``"default"``, ``"filterbank"`` or ``"alpha=7-13,beta=13-31"``."""
    if isinstance(spec, dict):
        return {str(k): tuple(map(float, v)) for k, v in spec.items()}
    spec = str(spec).strip()
    if spec == "default":
        return dict(DEFAULT_BANDS)
    if spec == "filterbank":
        return filterbank_bands()
    bands = {}
    for item in spec.split(","):
        try:
            name, edges = item.split("=")
            low, high = (float(e) for e in edges.split("-"))
        except ValueError:
            raise invalid(
                "bands",
                f"cannot read {item!r}.",
                "Use 'default', 'filterbank' or NAME=LOW-HIGH pairs separated by "
                "commas, e.g. 'alpha=7-13,high_gamma=71-91'.",
            ) from None
        bands[name.strip()] = (low, high)
    return bands


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


def _load(config: RunConfig, verbose) -> Trials:
    subject = config.subject
    if subject is None and resolve_dataset_name(config.data) is not None:
        subject = 1
    return load_data(config.data, subject=subject, verbose=verbose)


def _check_run(config: RunConfig) -> None:
    check_option("model", config.model, list(MODELS))
    check_int("epochs", config.epochs, minimum=1)
    check_int("seed", config.seed, minimum=0)
    check_int("n_untrained", config.n_untrained, minimum=0)
    if config.batch_size is not None:
        check_int("batch_size", config.batch_size, minimum=1)
    check_option("analyse", config.analyse, ("test", "train", "all"))
    check_option("square", config.square, ("before", "after"))
    for fmt in config.formats:
        check_option("formats", fmt, ("png", "svg"))


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


def _checkpoint_maps(
    ckpt, trials: Trials, config: RunConfig, stored: dict, test_session, verbose
) -> xr.Dataset:
    """Maps of a checkpoint's trained and untrained networks, with provenance."""
    model, untrained = ckpt.model, ckpt.untrained_model
    extras, input_scale = ckpt.extra_untrained_models, ckpt.input_scale
    kw = dict(
        sfreq=trials.sfreq,
        ch_names=trials.ch_names,
        y=trials.y,
        class_names=trials.class_names,
        bands=parse_bands(config.bands),
        continuous=trials.continuous,
        square=config.square,
        input_scale=input_scale,
        ch_pos=trials.info,
        device=config.device,
        verbose=verbose,
    )
    ds = compute_maps(model, trials.X, untrained_model=untrained, **kw)
    if extras:
        logger.info("Maps of %d further random initialisations", len(extras))
        spread = [
            compute_maps(extra, trials.X, untrained_model=untrained, **kw)
            .layer_mean_abs_corr.sel(network="trained")
            .drop_vars("network")
            for extra in extras
        ]
        ds["random_init_layer_mean_abs_corr"] = xr.concat(spread, dim="init")
        ds["random_init_layer_mean_abs_corr"].attrs["description"] = (
            "layer_mean_abs_corr of further randomly initialised networks "
            "(seeds seed+1 ..), for the spread of the untrained baseline"
        )
    return _annotate(
        ds,
        config=stored,
        trials=trials,
        history=ckpt.history,
        test_session=test_session,
    )


def write_outputs(ds: xr.Dataset, out: Path, formats: list[str]) -> dict[str, Path]:
    """Save results, figures and the report into ``out``."""
    from .plotting import save_figures
    from .report import make_report

    out.mkdir(parents=True, exist_ok=True)
    results = save_maps(ds, out / RESULTS_NAME)
    save_figures(ds, out / "figures", formats=tuple(formats))
    report = make_report(ds, out / REPORT_NAME)
    return {"results": results, "figures": out / "figures", "report": report}


def _train(config: RunConfig, trials: Trials, verbose):
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
        verbose=verbose,
    )
    logger.info(
        "Accuracy: %.1f %% on %s (train %.1f %%)",
        100 * result.valid_accuracy,
        test_name,
        100 * result.train_accuracy,
    )
    return train, test, test_name, result


def run(config: RunConfig, *, verbose: bool | str | int | None = None) -> dict:
    """Load data, train, compute maps for trained and untrained, report.

    Returns
    -------
    summary : dict
        Paths of the outputs and the accuracies.
    """
    with use_log_level(verbose):
        _check_run(config)
        out = Path(config.out).expanduser()
        _check_output(out, config.overwrite)
        bands = parse_bands(config.bands)
        trials = _load(config, verbose)
        check_bands(bands, trials.sfreq)
        train, test, test_name, result = _train(config, trials, verbose)
        ckpt_dir = save_checkpoint(
            result,
            out / CHECKPOINT_NAME,
            trials_description=_jsonable(trials.description),
            config=config.to_dict(),
            overwrite=True,
        )
        ckpt = load_checkpoint(ckpt_dir)
        analysed = _analysed(config, train, test, trials)
        ds = _checkpoint_maps(
            ckpt, analysed, config, config.to_dict(), test_name, verbose
        )
        paths = write_outputs(ds, out, config.formats)
        paths["checkpoint"] = ckpt_dir
        return {
            "paths": paths,
            "test_accuracy": result.valid_accuracy,
            "train_accuracy": result.train_accuracy,
        }


def train_only(config: RunConfig, *, verbose=None) -> Path:
    """Train and save a checkpoint in ``config.out`` (``envcorr train``)."""
    with use_log_level(verbose):
        _check_run(config)
        out = Path(config.out).expanduser()
        if out.exists() and any(out.iterdir()) and not config.overwrite:
            raise invalid(
                "out",
                f"'{out}' is not empty.",
                "Choose another directory or pass --overwrite.",
            )
        trials = _load(config, verbose)
        _, _, _, result = _train(config, trials, verbose)
        return save_checkpoint(
            result,
            out,
            trials_description=_jsonable(trials.description),
            config=config.to_dict(),
            overwrite=config.overwrite,
        )


def compute_from_checkpoint(
    checkpoint: str | Path, config: RunConfig, *, verbose=None
) -> dict:
    """Maps of a saved network on data (``envcorr compute``)."""
    from .train import check_compatible

    with use_log_level(verbose):
        _check_run(config)
        out = Path(config.out).expanduser()
        _check_output(out, config.overwrite)
        ckpt = load_checkpoint(checkpoint)
        trials = _load(config, verbose)
        check_compatible(ckpt, trials)
        if config.analyse == "all":
            analysed, test_name = trials, None
        else:
            train, test, test_name = split_train_test(trials)
            analysed = test if config.analyse == "test" else train
        ds = _checkpoint_maps(
            ckpt,
            analysed,
            config,
            {**config.to_dict(), "checkpoint": str(checkpoint)},
            test_name,
            verbose,
        )
        return {"paths": write_outputs(ds, out, config.formats)}


def report_only(results: str | Path, output: str | Path, formats=("png",)) -> dict:
    """Figures and report from a results file (``envcorr report``)."""
    from .plotting import save_figures
    from .report import make_report

    ds = load_maps(results)
    output = Path(output).expanduser()
    figures = save_figures(ds, output.parent / "figures", formats=tuple(formats))
    return {"report": make_report(ds, output), "figures": figures}


def _jsonable(value: Any) -> Any:
    """``value`` with anything JSON cannot hold turned into strings."""
    return json.loads(json.dumps(value, default=str))
