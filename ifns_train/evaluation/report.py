"""One split's evaluation: the model and its baselines on the same rows, overall and per slice.

Pure: arrays in, a JSON-ready dict out. Each family names a metric set; the `improvement` of a
baseline is model minus baseline (for a loss, negative is better). `best_baseline` names, for
each metric with a direction, the baseline strongest on that metric (a median forecast wins on
MAE, a mean on RMSE): a model is compared with the best naive predictor for each figure, and
must beat the one of the set's primary metric.

The context columns are encoded once into a ``grouped.Layout`` shared by every predictor, and
each predictor is scored on the aggregate and every slice in one call of its set's grouped
function (the aggregate is the same function's one-group case).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ifns_train.evaluation.classification import binary_metrics, binary_scores
from ifns_train.evaluation.compare import HIGHER_IS_BETTER, best_baseline, improvement
from ifns_train.evaluation.cost import cost_metrics, cost_scores
from ifns_train.evaluation.gating import gating_scores
from ifns_train.evaluation.grouped import Layout, Scores
from ifns_train.evaluation.regression import IC_MIN_NAMES, return_metrics, return_scores
from ifns_train.evaluation.risk import volatility_metrics, volatility_scores
from ifns_train.evaluation.slices import common_length

DIRECTIONAL_KEYS = ("hit_rate", "auc", "brier", "log_loss", "ece", "precision_up", "recall_up")


@dataclass(frozen=True)
class MetricSet:
    fn: Callable[..., dict[str, Any]]  # the aggregate: arrays in, one dict of figures out
    scores: Callable[..., Scores]  # the same on every group of a layout (first argument)
    primary: str  # the metric a model must beat its best baseline on
    keys: tuple[str, ...]  # the figures copied into the registry record
    inputs: tuple[str, ...] = ()  # arrays the metric function takes besides y and predictions
    options: tuple[str, ...] = ()  # keyword settings it takes (n_bins, horizon_days)


METRIC_SETS: dict[str, MetricSet] = {
    "directional": MetricSet(binary_metrics, binary_scores, "auc", DIRECTIONAL_KEYS,
                             options=("n_bins",)),
    # A directional overlay, also scored on how it gates a primary signal.
    "overlay": MetricSet(binary_metrics, binary_scores, "auc", DIRECTIONAL_KEYS,
                         options=("n_bins",)),
    "return": MetricSet(
        return_metrics,
        return_scores,
        "rank_ic_mean",
        ("rank_ic_mean", "rank_ic_ir", "ic_mean", "ic_ir", "r2", "pearson", "spearman",
         "rmse", "mae"),
        inputs=("dates",),
        options=("horizon_days",),
    ),
    "risk": MetricSet(
        volatility_metrics, volatility_scores, "qlike",
        ("qlike", "rmse", "mae", "bias", "corr", "log_rmse"),
    ),
    "cost": MetricSet(
        cost_metrics, cost_scores, "mae_bps",
        ("mae_bps", "rmse_bps", "bias_bps", "p90_abs_error_bps", "corr"),
    ),
}


def unscorable(metric_set: str, y: np.ndarray, dates: np.ndarray) -> str | None:
    """Why the set's primary metric cannot be computed on labels `y` (None if it can).

    Checked on each split before training, so a run that could only record an undefined
    primary metric fails at once, naming the cause.
    """
    if len(y) == 0:
        return "no rows"
    if METRIC_SETS[metric_set].fn is binary_metrics:
        classes = np.unique(y)
        if len(classes) < 2:
            return (f"every label is {classes[0]:g} (one class): "
                    f"{METRIC_SETS[metric_set].primary} needs both classes")
    if metric_set == "return":
        _, names = np.unique(dates, return_counts=True)
        if names.max() < IC_MIN_NAMES:
            return (f"the rank IC needs at least {IC_MIN_NAMES} symbols on a date, and no "
                    f"date has more than {names.max()}; ret_core ranks a universe, use "
                    "dir_core or risk_vol for fewer symbols")
    return None


def split_report(
    metric_set: str,
    *,
    y: np.ndarray,
    model: Mapping[str, np.ndarray],
    baselines: Mapping[str, Mapping[str, np.ndarray]],
    context: Mapping[str, np.ndarray],
    inputs: Mapping[str, np.ndarray] | None = None,
    min_rows: int,
    n_bins: int,
    horizon_days: int,
    gate_threshold: float | None = None,
) -> dict[str, Any]:
    """The model and each baseline on the split's rows, overall and per value of each
    context column (cells flagged ``small_slice`` under ``min_rows`` rows).

    No defaults: ``min_rows`` and ``n_bins`` are ``evaluation.min_slice_rows`` and
    ``evaluation.calibration_bins``, ``horizon_days`` the label's, ``gate_threshold`` the
    overlay family's ``baseline_params.gate_threshold`` (the config holds each, once); the
    gate threshold is required for the overlay metric set only."""
    ms = METRIC_SETS[metric_set]
    settings = {"n_bins": n_bins, "horizon_days": horizon_days}
    options = {k: settings[k] for k in ms.options}
    inputs = inputs or {}
    shared = {"y": y, **{k: inputs[k] for k in ms.inputs}}
    predictors = {"model": model, **{f"baseline:{k}": v for k, v in baselines.items()}}
    for preds in predictors.values():
        common_length({**shared, **preds}, context)
    layout = Layout.of_columns(context, len(y))
    scores = {name: ms.scores(layout, **shared, **preds, **options)
              for name, preds in predictors.items()}
    overall = {name: s.overall() for name, s in scores.items()}
    base = {k: overall[f"baseline:{k}"] for k in baselines}
    best = best_by_metric(base, [k for k in overall["model"] if k in HIGHER_IS_BETTER])
    report = {
        "rows": len(y),
        "metric_set": metric_set,
        "primary_metric": ms.primary,
        "model": overall["model"],
        "baselines": base,
        "best_baseline": best,
        "improvement": {k: improvement(overall["model"], b) for k, b in base.items()},
        "improvement_over_best": {
            k: improvement(overall["model"], base[name], [k])[k] for k, name in best.items()
        },
        "slices": _slices(layout, scores, list(baselines), min_rows),
    }
    if metric_set == "overlay":
        if gate_threshold is None:
            raise ValueError("the overlay metric set needs gate_threshold "
                             "(family.baseline_params.gate_threshold)")
        report["gating"] = _gating(layout, model["prob"], y, inputs["primary_up"],
                                   min_rows, gate_threshold)
    return report


def _slices(layout: Layout, scores: Mapping[str, Scores], baselines: list[str],
            min_rows: int) -> dict[str, dict[str, Any]]:
    """``{column: {str(value): {rows, small_slice, baselines, model, improvement}}}``."""
    out: dict[str, dict[str, Any]] = {}
    for i, grouping in enumerate(layout.groupings[1:], start=1):
        rows = layout.counts()[i]
        groups = {name: s.groups(i) for name, s in scores.items()}
        cells = {}
        for j, key in enumerate(grouping.keys):
            model = _without_rows(groups["model"][j])
            base = {b: _without_rows(groups[f"baseline:{b}"][j]) for b in baselines}
            cells[str(key)] = {
                "rows": int(rows[j]),
                "small_slice": bool(rows[j] < min_rows),
                "baselines": base,
                "model": model,
                "improvement": {b: improvement(model, m) for b, m in base.items()},
            }
        if cells:
            out[str(grouping.name)] = cells
    return out


def _without_rows(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k != "rows"}


def best_by_metric(
    baselines: Mapping[str, Mapping[str, Any]], metrics: list[str]
) -> dict[str, str]:
    """The strongest baseline on each metric; a metric no baseline has a value for (e.g. a
    constant forecast has no IC) has none."""
    best = {}
    for metric in metrics:
        scored = {k: v for k, v in baselines.items() if v.get(metric) is not None}
        if scored:
            best[metric] = best_baseline(scored, metric)
    return best


def _gating(layout: Layout, prob: np.ndarray, y: np.ndarray, primary_up: np.ndarray,
            min_rows: int, threshold: float) -> dict[str, Any]:
    """The primary signal's hit rate before and after the overlay's gate, overall and by regime."""
    scores = gating_scores(layout, primary_up, y, prob, threshold)
    slices = {}
    for i, grouping in enumerate(layout.groupings):
        if grouping.name == "regime_tag":
            slices["regime_tag"] = {
                key: {**cell, "small_slice": cell["rows"] < min_rows}
                for key, cell in zip(grouping.keys, scores.groups(i), strict=True)
            }
    return {**scores.overall(), "slices": slices}


def key_metrics(metric_set: str, report: Mapping[str, Any]) -> dict[str, Any]:
    """The figures a registry record carries: the model's, and on each metric the best
    baseline's, its name and the difference (model minus baseline)."""
    ms = METRIC_SETS[metric_set]
    best = {k: v for k, v in report["best_baseline"].items() if k in ms.keys}
    out: dict[str, Any] = {
        "rows": report["rows"],
        "primary_metric": ms.primary,
        "model": {k: report["model"].get(k) for k in ms.keys},
        "best_baseline": best,
        "baseline": {k: report["baselines"][name][k] for k, name in best.items()},
        "improvement": {k: report["improvement_over_best"][k] for k in best},
    }
    if "gating" in report:
        out["gating"] = {k: v for k, v in report["gating"].items() if k != "slices"}
    return out
