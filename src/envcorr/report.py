"""A self-contained HTML report of one results file.

:func:`make_report` renders the Jinja2 template ``templates/report.html`` with the
run's configuration, a data summary, the model and its accuracy, the receptive
fields of the analysed layers and every figure of the standard set of
:mod:`envcorr.viz` (embedded as base64 PNG), into one HTML file that needs
nothing else to open. The figures are drawn by :func:`envcorr.viz.draw_figures`,
or given already drawn, so that a run draws each figure once for its files and
its report.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import xarray as xr

from ._utils.check import invalid
from ._utils.docs import fill_doc
from ._utils.io import atomic_path
from ._utils.logs import logger, verbose
from ._version import __version__
from .viz.figures import REPORT_DPI, RenderedFigure, draw_figures
from .viz.labels import (
    as_dataset,
    band_range,
    check_results,
    dim_values,
    fmt_ms,
    has_positions,
    receptive_field_ms,
    sfreq_of,
)

__all__ = ["make_report"]


@verbose
@fill_doc
def make_report(
    ds_or_path: xr.Dataset | str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    title: str | None = None,
    figures: Sequence[RenderedFigure] | None = None,
    verbose: bool | str | int | None = None,
) -> Path:
    """Write a self-contained HTML report of a results Dataset.

    The report holds the configuration (the ``config`` attribute), a data
    summary (dataset, subject, trials per class, channels, sampling frequency,
    samples per trial, bands), the model with its accuracy and confusion matrix,
    a table of the analysed layers' receptive fields, and the standard figures
    of :func:`envcorr.viz.draw_figures`, each with a caption saying how to
    read it. Parts the results do not hold (class correlations, accuracy,
    confusion matrix, electrode positions) are left out with a note. The file is
    written under a temporary name and then renamed.

    Parameters
    ----------
    ds_or_path : xarray.Dataset | path-like
        The results, or the path of a results file (NetCDF).
    out_path : path-like
        The HTML file to write (its folder is created when missing).
    title : str | None
        Title of the report; default names the model, dataset and subject.
    figures : sequence of RenderedFigure | None
        Figures already drawn by :func:`envcorr.viz.draw_figures` with a PNG
        (``report_dpi`` not None), embedded as given, in order: the report
        then draws nothing. None (default) draws the standard figures of the
        results at 144 dpi.
    %(verbose)s

    Returns
    -------
    path : pathlib.Path
        The file written.

    Examples
    --------
    Draw each figure once, for the figure files and the report::

        figs = draw_figures(ds, out / "figures", formats=("png", "svg"))
        make_report(ds, out / "report.html", figures=figs)
    """
    ds = check_results(
        as_dataset(ds_or_path, "ds_or_path"),
        "layer",
        "band",
        "channel",
        name="ds_or_path",
    )
    out, figures = _check_target(out_path, title, figures)
    out.parent.mkdir(parents=True, exist_ok=True)
    context = _context(ds, title)
    if figures is None:
        figures = draw_figures(ds, None, report_dpi=REPORT_DPI)
    return _write_report("report.html", context, figures, out, "report")


def _check_target(
    out_path: str | os.PathLike, title: Any, figures: Any
) -> tuple[Path, list[RenderedFigure] | None]:
    """The checked output path and figures of a report (subject or group)."""
    out = Path(out_path).expanduser()
    if out.is_dir():
        raise invalid(
            "out_path", f"'{out}' is a folder.", "Give the path of an HTML file."
        )
    if title is not None and not isinstance(title, str):
        raise invalid("title", f"expected a string, got {type(title).__name__}.")
    if figures is not None:
        figures = _check_figures(figures)
    return out, figures


def _write_report(
    template: str,
    context: dict[str, Any],
    figures: Sequence[RenderedFigure],
    out: Path,
    what: str,
) -> Path:
    """Embed the figures, render ``template`` and write it atomically to ``out``."""
    logger.info("Embedding %d figure(s) in the %s", len(figures), what)
    context["figures"] = [_embed(fig) for fig in figures]
    html = _environment().get_template(template).render(**context)
    with atomic_path(out) as tmp:
        tmp.write_text(html, encoding="utf-8")
    logger.info("Wrote %s %s (%.1f MB)", what, out, out.stat().st_size / 1e6)
    return out


# --------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("envcorr", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _check_figures(figures: Any) -> list[RenderedFigure]:
    if isinstance(figures, RenderedFigure) or not isinstance(figures, Sequence):
        raise invalid(
            "figures",
            f"expected a sequence of RenderedFigure, got {type(figures).__name__}.",
            "Pass the list returned by envcorr.viz.draw_figures, or None.",
        )
    for i, fig in enumerate(figures):
        if not isinstance(fig, RenderedFigure):
            raise invalid(
                "figures",
                f"element {i} is a {type(fig).__name__}, not a RenderedFigure.",
                "Pass the list returned by envcorr.viz.draw_figures, or None.",
            )
        if fig.png is None:
            raise invalid(
                "figures",
                f"figure {fig.name!r} has no PNG (drawn with report_dpi=None).",
                "Draw the figures with a report_dpi, e.g. the default 144.",
            )
    return list(figures)


def _embed(fig: RenderedFigure) -> dict[str, Any]:
    # shown at its physical size (96 CSS px per inch), shrunk to fit narrow screens
    return {
        "id": f"fig-{fig.name}",
        "title": fig.title,
        "caption": fig.caption,
        "width": fig.width_px,
        "src": "data:image/png;base64," + base64.b64encode(fig.png).decode(),
    }


# --------------------------------------------------------------------------
# the content
# --------------------------------------------------------------------------
def _attr(ds: xr.Dataset, name: str) -> Any:
    value = ds.attrs.get(name)
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def _percent(value: Any) -> str | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return f"{100 * value:.1f} %" if np.isfinite(value) else None


def _pretty_json(obj: Any, level: int = 0) -> str:
    """JSON indented by 2, with short lists of scalars kept on one line."""
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(obj, dict) and obj:
        items = [
            f"{inner}{json.dumps(str(k), ensure_ascii=False)}: "
            f"{_pretty_json(v, level + 1)}"
            for k, v in obj.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(obj, list) and obj:
        flat = json.dumps(obj, ensure_ascii=False)
        if not any(isinstance(v, dict | list) for v in obj) and len(flat) <= 72:
            return flat
        items = [f"{inner}{_pretty_json(v, level + 1)}" for v in obj]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(obj, ensure_ascii=False)


def _json_block(text: Any) -> str | None:
    """Pretty-print a JSON attribute (as given when it is not valid JSON)."""
    if text is None:
        return None
    try:
        return _pretty_json(json.loads(text))
    except (TypeError, ValueError):
        return str(text)


def _versions(text: Any) -> list[tuple[str, str]]:
    try:
        versions = json.loads(text)
    except (TypeError, ValueError):
        return []
    if not isinstance(versions, dict):
        return []
    return [(str(k), str(v)) for k, v in versions.items()]


def _cell_style(frac: float) -> str:
    """Background shaded by the fraction of the true class's trials in a cell."""
    style = f"background-color: rgba(192, 57, 43, {0.08 + 0.8 * frac:.2f});"
    return style + (" color: #fff;" if frac > 0.55 else "")


def _confusion(ds: xr.Dataset) -> dict[str, Any] | None:
    if "confusion_matrix" not in ds.variables:
        return None
    cm = ds["confusion_matrix"]
    if cm.ndim != 2:
        return None
    true_dim, pred_dim = cm.dims
    counts = np.asarray(cm.values, dtype=float)
    true_names = [str(v) for v in ds[true_dim].values] if true_dim in ds.coords else []
    pred_names = [str(v) for v in ds[pred_dim].values] if pred_dim in ds.coords else []
    true_names = true_names or [str(i) for i in range(counts.shape[0])]
    pred_names = pred_names or [str(i) for i in range(counts.shape[1])]
    totals = counts.sum(axis=1)
    rows = []
    for i, name in enumerate(true_names):
        cells = []
        for j in range(counts.shape[1]):
            frac = counts[i, j] / totals[i] if totals[i] > 0 else 0.0
            cells.append(
                {
                    "count": f"{counts[i, j]:g}",
                    "percent": f"{100 * frac:.0f} %",
                    # shade by the fraction of the true class's trials
                    "style": _cell_style(frac),
                    "diagonal": i == j,
                }
            )
        rows.append(
            {"name": name.replace("_", " "), "cells": cells, "total": f"{totals[i]:g}"}
        )
    total = counts.sum()
    accuracy = (
        np.trace(counts) / total
        if total > 0 and counts.shape[0] == counts.shape[1]
        else None
    )
    return {
        "classes": [n.replace("_", " ") for n in pred_names],
        "rows": rows,
        "n_trials": f"{total:g}",
        "accuracy": _percent(accuracy),
    }


def _layers(ds: xr.Dataset) -> list[dict[str, str]]:
    rows = []
    for layer in dim_values(ds, "layer"):
        row = {"name": layer, "rf": "—", "rf_ms": "—", "n_times": "—", "n_units": "—"}
        if "receptive_field" in ds.coords:
            row["rf"] = f"{int(ds['receptive_field'].sel(layer=layer))}"
        ms = receptive_field_ms(ds, layer)
        if ms is not None:
            row["rf_ms"] = fmt_ms(ms)
        if "layer_n_times" in ds.coords:
            row["n_times"] = f"{int(ds['layer_n_times'].sel(layer=layer))}"
        if "layer_n_units" in ds.coords:
            row["n_units"] = f"{int(ds['layer_n_units'].sel(layer=layer))}"
        elif "unit_layer" in ds.coords:
            units = np.asarray(ds["unit_layer"].values).astype(str) == layer
            row["n_units"] = f"{int(units.sum())}"
        rows.append(row)
    return rows


def _bands(ds: xr.Dataset) -> list[dict[str, str]]:
    rows = []
    for band in dim_values(ds, "band"):
        row = {"name": band.replace("_", " "), "range": "—", "filter": "—"}
        if "band_low" in ds.coords and "band_high" in ds.coords:
            low = float(ds["band_low"].sel(band=band))
            row["range"] = band_range(ds, band)
            row["filter"] = "low-pass" if low == 0 else "band-pass"
        rows.append(row)
    return rows


def _data_summary(ds: xr.Dataset) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []

    def add(label: str, value: Any) -> None:
        if value is not None:
            items.append((label, str(value)))

    add("Dataset", _attr(ds, "dataset"))
    add("Subject", _attr(ds, "subject"))
    add("Test session", _attr(ds, "test_session"))
    add("Trials analysed", _attr(ds, "n_trials"))
    if "n_trials_per_class" in ds.variables and "class" in ds.dims:
        per_class = ds["n_trials_per_class"]
        add(
            "Trials per class",
            ", ".join(
                f"{c.replace('_', ' ')}: {int(n)}"
                for c, n in zip(dim_values(ds, "class"), per_class.values, strict=True)
            ),
        )
    channels = dim_values(ds, "channel")
    add("Channels", f"{len(channels)}: {' '.join(channels)}")
    if not has_positions(ds):
        add("Electrode positions", "not stored (no scalp maps)")
    sfreq = sfreq_of(ds)
    add("Sampling frequency", f"{sfreq:g} Hz" if sfreq else None)
    n_times = _attr(ds, "n_times")
    if n_times is not None:
        duration = f" ({float(n_times) / sfreq:g} s)" if sfreq else ""
        add("Samples per trial", f"{n_times}{duration}")
    add("Band filtering", _attr(ds, "filtering"))
    square = _attr(ds, "square")
    if square is not None:
        add(
            "Envelope",
            {
                "before": "squared, then averaged over the receptive field",
                "after": "averaged over the receptive field, then squared",
            }.get(square, square),
        )
    class_field = _attr(ds, "class_field")
    if class_field is not None and "class_corr" in ds.variables:
        ms = f" ({fmt_ms(float(class_field) / sfreq * 1000)})" if sfreq else ""
        add("Window of the class correlation", f"{class_field} samples{ms}")
    return items


def _model(ds: xr.Dataset) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for label, name in (
        ("Model", "model_name"),
        ("Training epochs", "n_epochs"),
        ("Seed", "seed"),
    ):
        value = _attr(ds, name)
        if value is not None:
            items.append((label, str(value)))
    source = _attr(ds, "untrained_source")
    if source is not None:
        items.append(
            (
                "Untrained baseline",
                {
                    "given": "the network's own initial weights",
                    "reinitialized": "re-initialised weights of the same architecture",
                }.get(source, source),
            )
        )
    return items


def _context(ds: xr.Dataset, title: str | None) -> dict[str, Any]:
    model_name = _attr(ds, "model_name")
    dataset, subject = _attr(ds, "dataset"), _attr(ds, "subject")
    if title is None:
        title = "Envelope–activation correlation maps"
        where = " · ".join(
            p
            for p in (
                model_name,
                dataset,
                f"subject {subject}" if subject is not None else None,
            )
            if p
        )
        subtitle = where or None
    else:
        subtitle = None
    train_acc = _percent(_attr(ds, "train_accuracy"))
    test_acc = _percent(_attr(ds, "test_accuracy"))
    sfreq = sfreq_of(ds)
    highlights = [
        ("Model", model_name),
        ("Test accuracy", test_acc),
        ("Trials", _attr(ds, "n_trials")),
        ("Channels", ds.sizes.get("channel")),
        ("Bands", ds.sizes.get("band")),
        ("Layers", ds.sizes.get("layer")),
        ("Sampling", f"{sfreq:g} Hz" if sfreq else None),
    ]
    notes = []
    if not has_positions(ds):
        notes.append(
            "The results hold no electrode positions (coordinates ch_x, ch_y, ch_z), "
            "so the scalp maps are left out."
        )
    if "class_corr" not in ds.variables:
        notes.append(
            "No envelope–class correlation: the maps were computed without class "
            "labels."
        )
    return {
        "title": title,
        "subtitle": subtitle,
        "created": _attr(ds, "created"),
        "envcorr_version": __version__,
        "highlights": [(k, str(v)) for k, v in highlights if v is not None],
        "data_summary": _data_summary(ds),
        "bands": _bands(ds),
        "model": _model(ds),
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "confusion": _confusion(ds),
        "layers": _layers(ds),
        "figure_notes": notes,
        "config": _json_block(_attr(ds, "config")),
        "versions": _versions(_attr(ds, "versions")),
    }
