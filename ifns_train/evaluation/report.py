"""One split's evaluation: the model and its baselines on the same rows, overall and per slice.

Pure: arrays in, a JSON-ready dict out. The `improvement` of each baseline is model minus
baseline (for a loss, negative is better); `best_baseline` is the strongest baseline on the
family's primary metric, the one a model must beat.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np

from ifns_train.evaluation.classification import binary_metrics
from ifns_train.evaluation.compare import best_baseline, improvement
from ifns_train.evaluation.slices import by_slice

# task -> (metric function, primary metric, metrics copied into the registry record)
TASKS: dict[str, tuple[Callable[..., dict[str, Any]], str, tuple[str, ...]]] = {
    "classification": (
        binary_metrics,
        "auc",
        ("hit_rate", "auc", "brier", "log_loss", "ece", "precision_up", "recall_up"),
    ),
}
CURVES = ("reliability",)  # kept for the aggregate only; per slice they would drown the file


def _metric_fn(task: str, n_bins: int) -> tuple[Callable[..., dict[str, Any]], str]:
    fn, primary, _ = TASKS[task]
    return (partial(fn, n_bins=n_bins) if task == "classification" else fn), primary


def split_report(
    task: str,
    *,
    y: np.ndarray,
    model: Mapping[str, np.ndarray],
    baselines: Mapping[str, Mapping[str, np.ndarray]],
    context: Mapping[str, np.ndarray],
    min_rows: int,
    n_bins: int = 10,
) -> dict[str, Any]:
    fn, primary = _metric_fn(task, n_bins)
    predictors = {"model": model, **{f"baseline:{k}": v for k, v in baselines.items()}}
    overall = {name: fn(y=y, **preds) for name, preds in predictors.items()}
    base = {k: overall[f"baseline:{k}"] for k in baselines}
    best = best_baseline(base, primary) if base else None

    slices: dict[str, dict[str, Any]] = {}
    for name, preds in predictors.items():
        for column, values in by_slice(fn, {"y": y, **preds}, context, min_rows).items():
            for value, metrics in values.items():
                cell = slices.setdefault(column, {}).setdefault(
                    str(value),
                    {"rows": metrics["rows"], "small_slice": metrics["small_slice"],
                     "baselines": {}},
                )
                clean = {k: v for k, v in metrics.items()
                         if k not in CURVES and k not in ("rows", "small_slice")}
                if name == "model":
                    cell["model"] = clean
                else:
                    cell["baselines"][name.split(":", 1)[1]] = clean
    for values in slices.values():
        for cell in values.values():
            cell["improvement"] = {
                k: improvement(cell["model"], b) for k, b in cell["baselines"].items()
            }
    return {
        "rows": len(y),
        "primary_metric": primary,
        "model": overall["model"],
        "baselines": base,
        "best_baseline": best,
        "improvement": {k: improvement(overall["model"], b) for k, b in base.items()},
        "slices": slices,
    }


def key_metrics(task: str, report: Mapping[str, Any]) -> dict[str, Any]:
    """The figures a registry record carries: model, best baseline, and the difference."""
    _, primary, keys = TASKS[task]
    best = report["best_baseline"]
    out: dict[str, Any] = {
        "rows": report["rows"],
        "primary_metric": primary,
        "model": {k: report["model"].get(k) for k in keys},
        "best_baseline": best,
    }
    if best is not None:
        out["baseline"] = {k: report["baselines"][best].get(k) for k in keys}
        out["improvement"] = {k: report["improvement"][best].get(k) for k in keys}
    return out
