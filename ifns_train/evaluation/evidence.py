"""The evidence beyond point figures: intervals, the IC's HAC t-statistic and trading proxies.

Why: a figure without its noise cannot support a promotion decision (spec 06.3, 07). For one
split's prediction arrays and its report (`report.split_report`), this adds

* `intervals`: for each headline metric of the family's set, a block-bootstrap interval over
  dates of the model's figure, and of its improvement over the best baseline on that metric
  (paired: the same resampled dates for both), with `significant` (`intervals`);
* `slice_intervals`: the improvement of the primary metric over each regime slice's best
  baseline, with its interval; a slice flagged small gets `significant: None`;
* `ic_tstat` (return models): the t-statistic of the mean per-date IC and rank IC with a
  Newey-West standard error over at least the label horizon in lags;
* `proxies` (families with a direction): the trading proxies of the model's and each
  baseline's positions (`proxies`), and for return models the top-minus-bottom quantile spread.

Pure: arrays in, a JSON-ready dict out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ifns_train.evaluation import intervals, proxies
from ifns_train.evaluation.predictions import PredictionArrays
from ifns_train.evaluation.regression import IC_MIN_NAMES

# Per metric set: the headline metrics that get intervals, and the prediction array each scores.
HEADLINE: dict[str, dict[str, str]] = {
    "directional": {"hit_rate": "pred", "auc": "prob", "brier": "prob"},
    "overlay": {"hit_rate": "pred", "auc": "prob", "brier": "prob"},
    "return": {"ic_mean": "pred", "rank_ic_mean": "pred", "mae": "pred"},
    "risk": {"qlike": "pred", "mae": "pred"},
    "cost": {"mae_bps": "pred"},
}
SERIES_METRICS = ("ic_mean", "rank_ic_mean")
INTERVAL_SLICES = ("regime_tag",)  # the slices the regime-floor promotion check reads


def per_date_ic(pred: np.ndarray, y: np.ndarray, dates: np.ndarray,
                min_names: int = IC_MIN_NAMES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dates, IC, rank IC) per date, NaN on a date with fewer than `min_names` rows or a
    constant side (the dates `regression.return_metrics` leaves out of its means)."""
    codes, uniques = pd.factorize(pd.Series(dates), sort=True)
    n = len(uniques)
    frame = pd.DataFrame({"d": codes, "p": pred, "y": y})
    ranks = frame.groupby("d")[["p", "y"]].rank(method="average")
    count = np.bincount(codes, minlength=n)

    def corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        da = a - (np.bincount(codes, a, n) / np.maximum(count, 1))[codes]
        db = b - (np.bincount(codes, b, n) / np.maximum(count, 1))[codes]
        sab = np.bincount(codes, da * db, n)
        saa, sbb = np.bincount(codes, da * da, n), np.bincount(codes, db * db, n)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.clip(sab / np.sqrt(saa * sbb), -1.0, 1.0)

    lo_p, hi_p = (frame.groupby("d")["p"].agg(f).to_numpy() for f in ("min", "max"))
    lo_y, hi_y = (frame.groupby("d")["y"].agg(f).to_numpy() for f in ("min", "max"))
    usable = (count >= min_names) & (lo_p < hi_p) & (lo_y < hi_y)
    ic = np.where(usable, corr(frame["p"].to_numpy(), frame["y"].to_numpy()), np.nan)
    rank_ic = np.where(usable, corr(ranks["p"].to_numpy(), ranks["y"].to_numpy()), np.nan)
    return np.asarray(uniques), ic, rank_ic


def _interval(metric: str, arrays: PredictionArrays, model: np.ndarray,
              baseline: np.ndarray | None, boot: Mapping[str, Any], horizon: int,
              rows: np.ndarray | None = None, small: bool = False) -> dict[str, Any]:
    sel = slice(None) if rows is None else rows
    options = {"horizon": horizon, "level": boot["level"], "reps": boot["reps"],
               "seed": boot["seed"], "block": boot["block"], "method": boot["method"],
               "small": small}
    if metric in SERIES_METRICS:
        dates, ic, rank_ic = per_date_ic(model[sel], arrays.y[sel], arrays.dates[sel])
        base = None
        if baseline is not None:
            _, b_ic, b_rank = per_date_ic(baseline[sel], arrays.y[sel], arrays.dates[sel])
            base = b_ic if metric == "ic_mean" else b_rank
        return intervals.series_interval(ic if metric == "ic_mean" else rank_ic, dates,
                                         baseline_values=base, **options)
    return intervals.metric_interval(metric, arrays.y[sel], model[sel], arrays.dates[sel],
                                     baseline_pred=None if baseline is None else baseline[sel],
                                     **options)


def split_intervals(arrays: PredictionArrays, report: Mapping[str, Any],
                    boot: Mapping[str, Any], horizon: int) -> dict[str, Any]:
    """Intervals of the headline metrics and of their improvement over the best baseline."""
    model_out: dict[str, Any] = {}
    improvement: dict[str, Any] = {}
    for metric, key in HEADLINE[report["metric_set"]].items():
        best = report["best_baseline"].get(metric)
        baseline = None if best is None else arrays.baselines[best][key]
        result = _interval(metric, arrays, arrays.model[key], baseline, boot, horizon)
        model_out[metric] = result["model"]
        if result["improvement"] is not None:
            improvement[metric] = {**result["improvement"], "baseline": best}
    return {"model": model_out, "improvement": improvement}


def slice_intervals(arrays: PredictionArrays, report: Mapping[str, Any],
                    boot: Mapping[str, Any], horizon: int) -> dict[str, Any]:
    """Per slice of `INTERVAL_SLICES`: the primary metric's improvement over the slice's best
    baseline, with its interval (no claim of significance for a small slice)."""
    from ifns_train.evaluation.promotion import best_in_cell

    primary = report["primary_metric"]
    key = HEADLINE[report["metric_set"]][primary]
    out: dict[str, Any] = {}
    for column in INTERVAL_SLICES:
        if column not in arrays.context:
            continue
        values = np.array([str(v) for v in arrays.context[column]], dtype=object)
        for value, cell in report["slices"].get(column, {}).items():
            best = best_in_cell(cell, primary)
            if best is None:
                continue
            rows = np.flatnonzero(values == value)
            result = _interval(primary, arrays, arrays.model[key],
                               arrays.baselines[best][key], boot, horizon, rows,
                               small=cell["small_slice"])
            out.setdefault(column, {})[value] = {**result["improvement"], "baseline": best}
    return out


def ic_tstats(arrays: PredictionArrays, horizon: int) -> dict[str, Any]:
    """HAC t-statistics of the mean IC and rank IC (lags = the label horizon)."""
    _, ic, rank_ic = per_date_ic(arrays.model["pred"], arrays.y, arrays.dates)
    out = {}
    for name, series in (("ic", ic), ("rank_ic", rank_ic)):
        defined = series[~np.isnan(series)]
        out[name] = intervals.hac_tstat(defined, horizon) if defined.size > horizon else None
    return out


def _positions(metric_set: str, preds: Mapping[str, np.ndarray], band: float) -> np.ndarray:
    if "prob" in preds:
        return proxies.positions_from_probability(preds["prob"], band)
    return proxies.positions_from_forecast(preds["pred"], band)


def trading(arrays: PredictionArrays, metric_set: str, *, horizon: int, cost_bps: float,
            band: float) -> dict[str, Any] | None:
    """The trading proxies of the model and each baseline (None for families without a
    direction, or without a realised return to earn)."""
    if metric_set in ("directional", "overlay"):
        realised = arrays.inputs.get("realised_return")
        if realised is None:
            return None
    elif metric_set == "return":
        realised = arrays.y
    else:
        return None
    cost = arrays.inputs.get("cost_bps", cost_bps)

    def run(preds: Mapping[str, np.ndarray]) -> dict[str, Any]:
        return proxies.trading_proxies(arrays.dates, arrays.symbols,
                                       _positions(metric_set, preds, band), realised,
                                       horizon_days=horizon, cost_bps=cost)

    model = run(arrays.model)
    out: dict[str, Any] = {
        "cost_bps": cost_bps if np.ndim(cost) == 0 else "per row (cost model)",
        "band": band,
        "model": model,
        "baselines": {name: {k: v for k, v in run(preds).items() if k != "series"}
                      for name, preds in arrays.baselines.items()},
    }
    if metric_set == "return":
        out["quantile_spread"] = {
            "model": proxies.quantile_spread(arrays.dates, arrays.model["pred"], realised,
                                             horizon_days=horizon),
            "baselines": {
                name: {k: v for k, v in proxies.quantile_spread(
                    arrays.dates, preds["pred"], realised, horizon_days=horizon).items()
                    if k != "series"}
                for name, preds in arrays.baselines.items() if np.ptp(preds["pred"]) > 0
            },
        }
    return out
