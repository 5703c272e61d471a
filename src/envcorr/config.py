"""Options of the ``envcorr`` commands, their defaults, and reading them.

Light on purpose: the command line builds its parser and help text from
this module without importing torch, MNE or matplotlib.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._utils.check import check_int, check_option, invalid
from .signal.bands import DEFAULT_BANDS, filterbank_bands

DEFAULT_N_EPOCHS = 20
"""Default number of training epochs.

Deep4 on 288 trials × 22 channels × 1125 samples takes about 10 s per epoch
(training, batch-norm recalibration and validation on 288 trials) on 2 CPU
cores, so 20 epochs take about 3.3 minutes; Shallow about 5 s per epoch.
"""

MODEL_NAMES = ("deep4", "shallow")
"""Networks the commands train: braindecode's Deep4Net and ShallowFBCSPNet."""

SQUARE_OPTIONS = ("before", "after")
"""Square the envelope before or after averaging over the receptive field."""

ANALYSE_OPTIONS = ("test", "train", "all")
"""Which trials the maps are computed on."""

RESULTS_NAME = "results.nc"
REPORT_NAME = "report.html"
CHECKPOINT_NAME = "checkpoint"
FIGURES_NAME = "figures"


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

    def check(self) -> None:
        """Raise an error naming the first option with a value out of range."""
        check_option("model", self.model, MODEL_NAMES)
        check_int("epochs", self.epochs, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_int("n_untrained", self.n_untrained, minimum=0)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, minimum=1)
        check_option("analyse", self.analyse, ANALYSE_OPTIONS)
        check_option("square", self.square, SQUARE_OPTIONS)
        for fmt in self.formats:
            check_option("formats", fmt, ("png", "svg"))


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
