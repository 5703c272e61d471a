"""Options of the ``envcorr`` commands, their defaults, and reading them.

Light on purpose: the command line builds its parser and help text from
this module without importing torch, MNE or matplotlib.
"""

from __future__ import annotations

import dataclasses
import difflib
import glob
import math
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._utils.check import check_int, check_option, invalid

DEFAULT_N_EPOCHS = 20
"""Default number of training epochs.

Deep4 on 288 trials × 22 channels × 1125 samples takes about 10 s per epoch
(training, batch-norm recalibration and validation on 288 trials) on 2 CPU
cores, so 20 epochs take about 3.3 minutes; Shallow about 5 s per epoch.
"""

MODEL_ALIASES: dict[str, str] = {"deep4": "Deep4Net", "shallow": "ShallowFBCSPNet"}
"""envcorr's names of the networks of Schirrmeister et al. 2017 (cropped decoding).

``Deep4Net`` and ``ShallowFBCSPNet`` given by their class names are the same
networks, built and trained the same way.
"""

DENSE_MODELS = ("deep4", "shallow")
"""Networks built dense: one prediction per input sample past the receptive field.

Their convolutional classifier predicts at every position of the dense
network (no padding anywhere), one prediction per crop of its receptive
field (see :mod:`envcorr.nn.models`).
"""

CROPPED_MODELS = (*DENSE_MODELS, "EEGNet")
"""Networks trained with cropped decoding; every other model is trained trial-wise.

Deep4 and Shallow predict densely; EEGNet is built with a convolutional
classifier shorter than the trial, so that it predicts every 32 samples, one
prediction per crop (see :func:`envcorr.nn.models.build_model` and
:mod:`envcorr.training.loop`).
"""

BRAINDECODE_MODELS = (
    "ATCNet", "AttentionBaseNet", "AttnSleep", "BDTCN", "BENDR", "BIOT",
    "BrainModule", "CBraMod", "CTNet", "CodeBrain", "ContraWR", "DGCNN",
    "Deep4Net", "DeepSleepNet", "EEGConformer", "EEGDINO", "EEGITNet",
    "EEGInceptionERP", "EEGInceptionMI", "EEGMiner", "EEGNeX", "EEGNet", "EEGPT",
    "EEGSimpleConv", "EEGSym", "EEGTCNet", "FBCNet", "FBLightConvNet", "FBMSNet",
    "IFNet", "InterpolatedBENDR", "InterpolatedBIOT", "InterpolatedEEGPT",
    "InterpolatedLaBraM", "LUNA", "Labram", "MEDFormer", "MSVTNet", "MVPFormer",
    "PBT", "REVE", "SCCNet", "SPARCNet", "SSTDPN", "STEEGFormer",
    "ShallowFBCSPNet", "SignalJEPA_Contextual", "SignalJEPA_PostLocal",
    "SignalJEPA_PreLocal", "SincShallowNet", "SleepStagerBlanco2020",
    "SleepStagerChambon2018", "SyncNet", "TCFormer", "TIDNet", "TSception",
    "USleep", "ZUNA",
)  # fmt: skip
"""The classifiers of ``braindecode.models`` (braindecode 1.8), by class name.

Every model class there that takes trials of shape (batch, n_chans, n_times)
and gives one score per class (``n_outputs``); left out are braindecode's
``non_classification_models`` (embeddings, sequence outputs). Kept as text so
that ``envcorr --help`` needs no torch; ``tests/test_config.py`` checks it
against braindecode.
"""

MODEL_NAMES = (*MODEL_ALIASES, *BRAINDECODE_MODELS)
"""Names ``--model`` takes (case-insensitive)."""

_MODEL_KEYS = {
    **{name.lower(): name for name in BRAINDECODE_MODELS},
    **{cls.lower(): alias for alias, cls in MODEL_ALIASES.items()},
    **{alias: alias for alias in MODEL_ALIASES},
}


def resolve_model_name(name: Any, *, param: str = "model") -> str:
    """envcorr's name of a model: ``"deep4"``, ``"shallow"`` or a class name.

    Case does not matter: ``"eegnet"`` is ``"EEGNet"``, ``"Deep4Net"`` is
    ``"deep4"``. An unknown name is an error naming ``param``, the closest
    names and all choices.
    """
    key = _MODEL_KEYS.get(name.lower()) if isinstance(name, str) else None
    if key is not None:
        return key
    close = []
    if isinstance(name, str):
        lower = difflib.get_close_matches(name.lower(), list(_MODEL_KEYS), n=3)
        close = list(dict.fromkeys(_MODEL_KEYS[c] for c in lower))
    quoted = [repr(c) for c in close]
    hint = ""
    if quoted:
        listed = " or ".join(
            [", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted
        )
        hint = f"Did you mean {listed}? "
    raise invalid(
        param,
        f"unknown model {name!r}.",
        f"{hint}Choose 'deep4', 'shallow' or a braindecode model "
        f"(case-insensitive): {', '.join(BRAINDECODE_MODELS)}.",
    )


SQUARE_OPTIONS = ("before", "after")
"""Square the envelope before or after averaging over the receptive field."""

SAMPLES_OPTIONS = ("all", "predictions")
"""Which output positions of each layer the correlations pool over."""

ANALYSE_OPTIONS = ("test", "train", "all")
"""Which trials the maps are computed on."""

RESULTS_NAME = "results.nc"
REPORT_NAME = "report.html"
CHECKPOINT_NAME = "checkpoint"
FIGURES_NAME = "figures"
OUTPUT_NAMES = (RESULTS_NAME, REPORT_NAME, FIGURES_NAME, CHECKPOINT_NAME)
"""What envcorr writes into an output directory: never replaced without overwrite."""

SIMULATED = "simulated"
_GLOB_CHARS = frozenset("*?[")


@dataclass
class RunConfig:
    """Options of ``envcorr run`` (and of its stages), with their defaults.

    Every field can be set in a TOML file (same names) and on the command line;
    the command line wins. The effective configuration is stored in the
    results' attrs and in the checkpoint.
    """

    data: str | list[str] = SIMULATED
    subject: int | None = None
    test_data: str | list[str] | None = None
    events: str | dict[str, str | int] | None = None
    tmin: float | None = None
    tmax: float | None = None
    resample: float | None = None
    montage: str | None = None
    bandpass: str | None = None
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
    dense: bool | None = None
    samples: str = "all"
    chance: bool = True
    formats: list[str] = field(default_factory=lambda: ["png"])
    overwrite: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a JSON-serialisable dict."""
        return dataclasses.asdict(self)

    def check(self) -> None:
        """Raise an error naming the first option with a bad type or value."""
        for f in dataclasses.fields(self):
            check_type(f.name, getattr(self, f.name))
        resolve_model_name(self.model)
        check_int("epochs", self.epochs, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_int("n_untrained", self.n_untrained, minimum=0)
        if self.subject is not None:
            check_int("subject", self.subject, minimum=0)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, minimum=1)
        check_option("analyse", self.analyse, ANALYSE_OPTIONS)
        check_option("square", self.square, SQUARE_OPTIONS)
        check_option("samples", self.samples, SAMPLES_OPTIONS)
        key = resolve_model_name(self.model)
        if self.samples == "predictions" and key not in CROPPED_MODELS:
            raise invalid(
                "samples",
                f"'predictions' needs a network trained with cropped decoding, but "
                f"{self.model!r} is trained trial-wise (one prediction per trial).",
                "Use --samples all, or --model deep4, shallow or eegnet.",
            )
        for fmt in self.formats:
            check_option("formats", fmt, ("png", "svg"))
        parse_bands(self.bands)
        if self.bandpass is not None:
            parse_bandpass(self.bandpass)
        if self.events is not None:
            parse_events(self.events)
        for name in ("tmin", "tmax"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise invalid(
                    name, f"expected a finite number of seconds, got {value}."
                )
        if self.tmin is not None and self.tmax is not None and self.tmin >= self.tmax:
            raise invalid(
                "tmax",
                f"{self.tmax:g} s is not after tmin={self.tmin:g} s.",
                "Give a trial window with tmin < tmax.",
            )
        if self.resample is not None and not (
            math.isfinite(self.resample) and self.resample > 0
        ):
            raise invalid(
                "resample", f"expected a rate in Hz > 0, got {self.resample:g}."
            )
        expand_data("data", self.data)
        if self.test_data is not None:
            expand_data("test_data", self.test_data)


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPES: dict[str, tuple[Any, str]] = {
    # field: (test of a value, what is expected)
    "data": (
        lambda v: isinstance(v, str) or (_is_str_list(v) and v),
        "a string ('simulated', a dataset name, a file or a glob) or a non-empty "
        "list of file names",
    ),
    "test_data": (
        lambda v: v is None or isinstance(v, str) or (_is_str_list(v) and v),
        "a file name, a glob or a non-empty list of file names",
    ),
    "subject": (lambda v: v is None or isinstance(v, int), "an integer"),
    "events": (
        lambda v: v is None or isinstance(v, str | dict),
        "a string like 'left=T1,right=T2' or a table {left = 'T1', right = 'T2'}",
    ),
    "tmin": (lambda v: v is None or _is_number(v), "a number of seconds"),
    "tmax": (lambda v: v is None or _is_number(v), "a number of seconds"),
    "resample": (lambda v: v is None or _is_number(v), "a rate in Hz"),
    "montage": (
        lambda v: v is None or isinstance(v, str),
        "a string: an MNE montage name, a montage file or 'none'",
    ),
    "bandpass": (
        lambda v: v is None or isinstance(v, str),
        "a string like '4-40' (Hz), '4-' (high-pass) or '-40' (low-pass)",
    ),
    "model": (lambda v: isinstance(v, str), "a string"),
    "bands": (
        lambda v: isinstance(v, str | dict),
        "a string like 'alpha=7-13,beta=13-31' or a table {alpha = [7, 13]}",
    ),
    "epochs": (lambda v: isinstance(v, int), "an integer"),
    "seed": (lambda v: isinstance(v, int), "an integer"),
    "out": (lambda v: isinstance(v, str), "a string (a directory path)"),
    "n_untrained": (lambda v: isinstance(v, int), "an integer"),
    "batch_size": (lambda v: v is None or isinstance(v, int), "an integer"),
    "device": (lambda v: v is None or isinstance(v, str), "a string ('cpu', 'cuda')"),
    "analyse": (lambda v: isinstance(v, str), "a string"),
    "square": (lambda v: isinstance(v, str), "a string"),
    "dense": (
        lambda v: v is None or isinstance(v, bool),
        "a boolean (true or false; leave it out to decide by the network)",
    ),
    "samples": (lambda v: isinstance(v, str), "a string"),
    "chance": (lambda v: isinstance(v, bool), "a boolean (true or false)"),
    "formats": (_is_str_list, "a list of strings, e.g. ['png', 'svg']"),
    "overwrite": (lambda v: isinstance(v, bool), "a boolean (true or false)"),
}


def check_type(name: str, value: Any, where: str = "") -> None:
    """Raise an error naming option ``name`` when ``value`` has the wrong type.

    Booleans are never taken for integers, nor strings for booleans: TOML
    ``overwrite = "no"`` is an error, not True.
    """
    test, expected = _TYPES[name]
    ok = test(value)
    if ok and isinstance(value, bool) and name not in ("overwrite", "dense", "chance"):
        ok = False
    if not ok:
        raise invalid(name, f"expected {expected}, got {value!r}{where}.")


def load_config(path: str | Path) -> dict[str, Any]:
    """Options from a TOML file (keys as in :class:`RunConfig`), type-checked."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise invalid("config", f"file not found: '{path}'.")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise invalid(
            "config",
            f"'{path}' is not a UTF-8 text file.",
            "Give a TOML file (text, UTF-8).",
        ) from None
    except OSError as err:
        raise invalid("config", f"cannot read '{path}' ({err.strerror}).") from None
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise invalid("config", f"'{path}' is not valid TOML: {err}.") from None
    values = values.get("envcorr", values)
    if not isinstance(values, dict):
        raise invalid("config", f"'{path}': [envcorr] must be a table of options.")
    known = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise invalid(
            "config",
            f"unknown option(s) {unknown} in '{path}'.",
            f"Known options: {', '.join(sorted(known))}.",
        )
    for name, value in values.items():
        check_type(name, value, f" in '{path}'")
    return values


def expand_data(name: str, spec: str | list[str]) -> str | list[str]:
    """Expand globs in a data source: a name, a file, or several files.

    ``"simulated"`` and dataset names are returned as given. A glob is expanded
    to its matches, sorted; one that matches nothing is an error naming
    ``name`` (``data`` or ``test_data``). Several files come back as a list,
    one as a string.
    """
    items = [spec] if isinstance(spec, str) else list(spec)
    flag = "--" + name.replace("_", "-")
    if not items:
        raise invalid(name, "no files given.", f"Give {flag} FILE [FILE ...].")
    out: list[str] = []
    for item in items:
        if not item.strip():
            raise invalid(name, "an empty file name.", f"Give {flag} FILE [FILE ...].")
        if _GLOB_CHARS.intersection(item):
            matches = sorted(glob.glob(str(Path(item).expanduser())))
            if not matches:
                raise invalid(
                    name,
                    f"no file matches {item!r}.",
                    f"Check the pattern given to {flag} (quote it so that the "
                    "shell passes it as written).",
                )
            out.extend(matches)
        else:
            out.append(item)
    return out[0] if len(out) == 1 else out


def parse_events(spec: str | dict) -> dict[str, str]:
    """Classes to load from ``"left=T1,right=T2"`` or ``{"left": "T1"}``.

    Each class name maps to an event name or code of the files (``769``). The
    result is the ``event_id`` of :func:`envcorr.data.load_raw`.
    """
    fix = (
        "Give CLASS=EVENT pairs separated by commas, e.g. 'left=T1,right=T2' or "
        "'left_hand=769,right_hand=770'."
    )
    if isinstance(spec, dict):
        pairs = [(str(k), v) for k, v in spec.items()]
    else:
        pairs = []
        for item in str(spec).split(","):
            name, sep, event = item.partition("=")
            if not sep:
                raise invalid("events", f"cannot read {item.strip()!r}.", fix)
            pairs.append((name, event))
    out: dict[str, str] = {}
    for name, event in pairs:
        name = name.strip()
        if isinstance(event, bool) or not isinstance(event, str | int):
            raise invalid("events", f"class {name!r}: event {event!r}.", fix)
        event = str(event).strip()
        if not name or not event:
            raise invalid("events", f"empty class or event name in {spec!r}.", fix)
        if name in out:
            raise invalid("events", f"class {name!r} is given twice.", fix)
        out[name] = event
    if len(out) < 2:
        raise invalid(
            "events", f"only one class in {spec!r}; at least two are needed.", fix
        )
    return out


def parse_bandpass(spec: str) -> tuple[float | None, float | None]:
    """Filter edges in Hz from ``"4-40"``, ``"4-"`` (high-pass) or ``"-40"``."""
    low, sep, high = spec.strip().partition("-")
    fix = "Give LOW-HIGH in Hz, e.g. '4-40', or '4-' / '-40' for one edge."
    if not sep:
        raise invalid("bandpass", f"expected LOW-HIGH, got {spec!r}.", fix)
    edges = []
    for text in (low, high):
        text = text.strip()
        if not text:
            edges.append(None)
            continue
        try:
            value = float(text)
        except ValueError:
            raise invalid("bandpass", f"{text!r} is not a number of Hz.", fix) from None
        if not (math.isfinite(value) and value > 0):
            raise invalid("bandpass", f"edges must be positive, got {text!r}.", fix)
        edges.append(value)
    l_freq, h_freq = edges
    if l_freq is None and h_freq is None:
        raise invalid("bandpass", f"no edge given in {spec!r}.", fix)
    if l_freq is not None and h_freq is not None and l_freq >= h_freq:
        raise invalid("bandpass", f"LOW must be below HIGH, got {spec!r}.", fix)
    return l_freq, h_freq


def parse_bands(spec: str | dict) -> dict[str, tuple[float, float]] | str:
    """Bands from ``"alpha=7-13,beta=13-31"`` (or a TOML table), in Hz.

    The names of envcorr's band sets, ``"default"`` and ``"filterbank"``,
    are returned as they are: which of their bands lie below Nyquist depends
    on the data's sampling rate (:func:`envcorr.signal.bands.bands_for`).
    """
    if isinstance(spec, dict):
        out = {}
        for name, edges in spec.items():
            try:
                low, high = (float(e) for e in edges)
            except (TypeError, ValueError):
                raise invalid(
                    "bands",
                    f"band {name!r} must be a pair [low, high] in Hz, got {edges!r}.",
                ) from None
            if not str(name).strip():
                raise invalid("bands", "a band has an empty name.")
            out[str(name).strip()] = (low, high)
        return out
    spec = str(spec).strip()
    if spec in ("default", "filterbank"):
        return spec
    fix = (
        "Use 'default', 'filterbank' or NAME=LOW-HIGH pairs separated by "
        "commas, e.g. 'alpha=7-13,high_gamma=71-91'."
    )
    bands: dict[str, tuple[float, float]] = {}
    for item in spec.split(","):
        try:
            name, edges = item.split("=")
            low, high = (float(e) for e in edges.split("-"))
        except ValueError:
            raise invalid("bands", f"cannot read {item!r}.", fix) from None
        name = name.strip()
        if not name:
            raise invalid("bands", f"{item.strip()!r} has no band name.", fix)
        if name in bands:
            raise invalid(
                "bands",
                f"band {name!r} is given twice.",
                "Give each band a name of its own.",
            )
        bands[name] = (low, high)
    return bands


# --------------------------------------------------------------------------
# output paths: checked before any data is read
# --------------------------------------------------------------------------
def _unwritable(name: str, path: Path, err: OSError) -> Exception:
    reason = err.strerror or type(err).__name__
    return invalid(
        name,
        f"cannot write to '{path}' ({reason}).",
        "Choose a directory you can write to.",
    )


def check_writable_dir(path: Path, *, name: str = "out") -> list[Path]:
    """Create folder ``path`` when missing and check that files can be written.

    Returns the folders created (deepest first), for :func:`_remove_created`.
    """
    created = [p for p in (path, *path.parents) if not p.exists()]
    if path.exists() and not path.is_dir():
        raise invalid(
            name,
            f"'{path}' exists and is not a directory.",
            "Give a directory (or remove the file).",
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _unwritable(name, path, err) from None
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".envcorr-probe-"):
            pass
    except OSError as err:
        remove_created(created)
        raise _unwritable(name, path, err) from None
    return created


def remove_created(created: list[Path]) -> None:
    """Remove the folders :func:`check_writable_dir` made, when still empty."""
    for folder in created:  # deepest first; only when still empty
        try:
            folder.rmdir()
        except OSError:
            return


def check_output_dir(
    out: Path, overwrite: bool, *, empty: bool = False, name: str = "out"
) -> None:
    """Refuse an output folder holding envcorr's outputs, unless ``overwrite``.

    ``empty``: refuse any content (``envcorr train`` replaces the folder).
    """
    if out.exists() and not out.is_dir():
        raise invalid(
            name,
            f"'{out}' exists and is not a directory.",
            "Give a directory (or remove the file).",
        )
    if overwrite or not out.is_dir():
        return
    if empty:
        if any(out.iterdir()):
            raise invalid(
                name,
                f"'{out}' is not empty.",
                "Choose another directory or pass --overwrite.",
            )
        return
    held = [
        n + ("/" if (out / n).is_dir() else "")
        for n in OUTPUT_NAMES
        if (out / n).exists()
    ]
    if held:
        raise invalid(
            name,
            f"'{out}' already holds results ({', '.join(held)}).",
            "Choose another directory or pass --overwrite to replace them.",
        )


def check_report_output(output: Path, overwrite: bool) -> list[Path]:
    """Check where ``envcorr report`` writes, before it draws anything.

    The report file must not be a folder; it and the ``figures`` folder beside
    it are replaced only with ``overwrite``. Returns the folders created.
    """
    if output.is_dir():
        raise invalid(
            "out",
            f"'{output}' is a directory.",
            f"Give the path of the HTML file to write, e.g. '{output / REPORT_NAME}'.",
        )
    figures = output.parent / FIGURES_NAME
    if figures.exists() and not figures.is_dir():
        raise invalid(
            "out",
            f"'{figures}' (where the figures go) exists and is not a directory.",
            "Write the report into another directory.",
        )
    if not overwrite:
        taken = [output] if output.exists() else []
        if figures.is_dir() and any(figures.iterdir()):
            taken.append(figures)
        if taken:
            raise invalid(
                "out",
                f"'{taken[0]}' already exists.",
                "Choose another report path or pass --overwrite to replace it "
                "(and the figures beside it).",
            )
    return check_writable_dir(output.parent)


def check_output_file(path: Path, *, overwrite: bool, name: str = "out") -> list[Path]:
    """Check that file ``path`` can be written (its folder is created).

    An existing file is replaced only with ``overwrite``. Returns the folders
    created, for :func:`remove_created`.
    """
    if path.is_dir():
        raise invalid(
            name,
            f"'{path}' is a directory.",
            f"Give the path of the file to write, e.g. '{path / 'simulated.npz'}'.",
        )
    if path.exists() and not overwrite:
        raise invalid(
            name,
            f"'{path}' already exists.",
            "Choose another file or pass --overwrite to replace it.",
        )
    return check_writable_dir(path.parent, name=name)
