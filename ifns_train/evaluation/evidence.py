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
  baseline's own calls (`proxies`), the model's excess over the best baseline's, and for return
  models the same market-neutral and the top-minus-bottom quantile spread.

Pure: arrays in, a JSON-ready dict out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ifns_train.evaluation import intervals, proxies
from ifns_train.evaluation.grouped import factorize
from ifns_train.evaluation.panel import Panel
from ifns_train.evaluation.predictions import PredictionArrays
from ifns_train.evaluation.promotion import best_in_cell
from ifns_train.evaluation.ranking import ranks_within, varies
from ifns_train.evaluation.regression import IC_MIN_NAMES
from ifns_train.evaluation.weighted_auc import ScoreBins, score_bins

# Per metric set: the headline metrics that get intervals, and the prediction array each scores.
HEADLINE: dict[str, dict[str, str]] = {
    "directional": {"hit_rate": "pred", "auc": "prob", "brier": "prob"},
    "overlay": {"hit_rate": "pred", "auc": "prob", "brier": "prob"},
    "return": {"ic_mean": "pred", "rank_ic_mean": "pred", "mae": "pred"},
    "risk": {"qlike": "pred", "mae": "pred"},
    "cost": {"mae_bps": "pred"},
}
# The metrics that are means of a per-date series, and where `per_date_ic` returns the series.
SERIES_METRICS = {"ic_mean": 1, "rank_ic_mean": 2}
INTERVAL_SLICES = ("regime_tag",)  # the slices the regime-floor promotion check reads


def per_date_ic(pred: np.ndarray, y: np.ndarray, dates: np.ndarray,
                min_names: int = IC_MIN_NAMES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dates, IC, rank IC) per date, NaN on a date with fewer than `min_names` rows or a
    constant side (the dates `regression.return_metrics` leaves out of its means)."""
    codes, uniques = pd.factorize(pd.Series(dates), sort=True)
    n = len(uniques)
    pred, y = np.asarray(pred, dtype=np.float64), np.asarray(y, dtype=np.float64)
    rank_p, rank_y = (ranks_within(codes, n, v) for v in (pred, y))
    count = np.bincount(codes, minlength=n)

    def corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        da = a - (np.bincount(codes, a, n) / np.maximum(count, 1))[codes]
        db = b - (np.bincount(codes, b, n) / np.maximum(count, 1))[codes]
        sab = np.bincount(codes, da * db, n)
        saa, sbb = np.bincount(codes, da * da, n), np.bincount(codes, db * db, n)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.clip(sab / np.sqrt(saa * sbb), -1.0, 1.0)

    usable = (count >= min_names) & varies(codes, n, pred) & varies(codes, n, y)
    ic = np.where(usable, corr(pred, y), np.nan)
    rank_ic = np.where(usable, corr(rank_p, rank_y), np.nan)
    return np.asarray(uniques), ic, rank_ic


def date_series(metric: str, pred: np.ndarray, y: np.ndarray, dates: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """(dates, the per-date series) whose mean is `metric` (one of `SERIES_METRICS`)."""
    out = per_date_ic(pred, y, dates)
    return out[0], out[SERIES_METRICS[metric]]


class Grids:
    """The score grid bins of a split's score arrays, each sorted once: the AUC of a large
    sample is taken on a score grid (`weighted_auc`), and the split's headline interval, its
    slices' and the permutation attribution's read the same arrays. Holds the arrays it has
    binned, so an array's identity names it while the cache lives (one split's evaluation);
    binned only when a sample takes the grid; the `KEEP` used last are kept (the
    attribution's permuted copies come and go, the unpermuted one stays)."""

    KEEP = 4

    def __init__(self) -> None:
        self._binned: dict[int, tuple[np.ndarray, ScoreBins]] = {}

    def of(self, score: np.ndarray, rows: np.ndarray | None) -> Callable[[], ScoreBins]:
        def bins() -> ScoreBins:
            hit = self._binned.pop(id(score), None)
            if hit is None or hit[0] is not score:
                hit = (score, score_bins(np.asarray(score, dtype=np.float64)))
            self._binned[id(score)] = hit  # last used, last out
            while len(self._binned) > self.KEEP:
                del self._binned[next(iter(self._binned))]
            return hit[1] if rows is None else hit[1].take(rows)
        return bins


class Scored:
    """`metric` on one sample of a split's rows (all, or `rows`) with `model`'s predictions,
    its statistic made once: any number of baselines are then paired against it (`interval`
    for one, the permutation attribution for one per feature group)."""

    def __init__(self, metric: str, arrays: PredictionArrays, model: np.ndarray,
                 rows: np.ndarray | None = None, grids: Grids | None = None) -> None:
        self.metric, self.arrays, self.rows, self.grids = metric, arrays, rows, grids
        sel = slice(None) if rows is None else rows
        self.y, self.dates = arrays.y[sel], arrays.dates[sel]
        if metric in SERIES_METRICS:
            self.series_dates, self.series = date_series(metric, model[sel], self.y, self.dates)
        else:
            self.sample = intervals.RowSample(metric, self.y, self.dates, None)
            self.model = self.sample.stat(model[sel], self._grid(model))

    def _grid(self, score: np.ndarray) -> Callable[[], ScoreBins] | None:
        return None if self.grids is None or self.metric != "auc" else \
            self.grids.of(score, self.rows)

    def interval(self, baseline: np.ndarray | None, boot: Mapping[str, Any], horizon: int,
                 small: bool = False) -> dict[str, Any]:
        """The model's interval and, paired on the same resampled dates, its favourable
        improvement over `baseline`'s predictions (of all the split's rows)."""
        options = {"horizon": horizon, "level": boot["level"], "reps": boot["reps"],
                   "seed": boot["seed"], "block": boot["block"], "method": boot["method"],
                   "small": small}
        sel = slice(None) if self.rows is None else self.rows
        if self.metric in SERIES_METRICS:
            base = None if baseline is None else \
                date_series(self.metric, baseline[sel], self.y, self.dates)[1]
            return intervals.series_interval(self.series, self.series_dates,
                                             baseline_values=base, **options)
        stat = None if baseline is None else \
            self.sample.stat(baseline[sel], self._grid(baseline))
        return intervals.stat_intervals(self.metric, self.model, stat, self.sample.n_dates,
                                        **options)


def interval(metric: str, arrays: PredictionArrays, model: np.ndarray,
              baseline: np.ndarray | None, boot: Mapping[str, Any], horizon: int,
              rows: np.ndarray | None = None, small: bool = False,
              grids: Grids | None = None) -> dict[str, Any]:
    """The interval of `metric` on `model`'s predictions and, paired on the same resampled
    dates, of its favourable improvement over `baseline`'s: one definition for a row metric
    and a per-date series metric, shared by the headline figures, the slices and the
    permutation attribution (`Scored`)."""
    return Scored(metric, arrays, model, rows, grids).interval(baseline, boot, horizon, small)


def split_intervals(arrays: PredictionArrays, report: Mapping[str, Any],
                    boot: Mapping[str, Any], horizon: int, grids: Grids | None = None
                    ) -> dict[str, Any]:
    """Intervals of the headline metrics and of their improvement over the best baseline
    (`grids`: shared with `slice_intervals` of the same split)."""
    grids = Grids() if grids is None else grids
    model_out: dict[str, Any] = {}
    improvement: dict[str, Any] = {}
    for metric, key in HEADLINE[report["metric_set"]].items():
        best = report["best_baseline"].get(metric)
        baseline = None if best is None else arrays.baselines[best][key]
        result = interval(metric, arrays, arrays.model[key], baseline, boot, horizon,
                          grids=grids)
        model_out[metric] = result["model"]
        if result["improvement"] is not None:
            improvement[metric] = {**result["improvement"], "baseline": best}
    return {"model": model_out, "improvement": improvement}


def slice_intervals(arrays: PredictionArrays, report: Mapping[str, Any],
                    boot: Mapping[str, Any], horizon: int, grids: Grids | None = None
                    ) -> dict[str, Any]:
    """Per slice of `INTERVAL_SLICES`: the primary metric's improvement over the slice's best
    baseline, with its interval (no claim of significance for a small slice). A slice is the
    rows whose value reads as its key (`str`), found by one hashing pass over the column."""
    grids = Grids() if grids is None else grids
    primary = report["primary_metric"]
    key = HEADLINE[report["metric_set"]][primary]
    out: dict[str, Any] = {}
    for column in INTERVAL_SLICES:
        if column not in arrays.context:
            continue
        codes, uniques = factorize(np.asarray(arrays.context[column]))
        labels = np.array([str(u) for u in uniques], dtype=object)  # missing: code -1
        for value, cell in report["slices"].get(column, {}).items():
            best = best_in_cell(cell, primary)
            if best is None:
                continue
            rows = np.flatnonzero(np.r_[labels == value, False][codes])  # -1: the False
            result = interval(primary, arrays, arrays.model[key],
                               arrays.baselines[best][key], boot, horizon, rows,
                               small=cell["small_slice"], grids=grids)
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


def _positions(preds: Mapping[str, np.ndarray], band: float) -> np.ndarray:
    """Each predictor trades its own call: a directional one its `pred` (with `band` on its
    P(up)), a return forecast its sign."""
    if "prob" in preds:
        return proxies.positions_from_call(preds["pred"], preds["prob"], band)
    return proxies.positions_from_forecast(preds["pred"], band)


def best_proxy_baseline(runs: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The baseline whose proxy has the best net Sharpe ratio (mean over offsets; the first on
    a tie). One that never trades earns 0 for certain and ranks at a Sharpe ratio of 0; one
    with no Sharpe ratio otherwise is left out. None when no baseline ranks."""
    ranked: dict[str, float] = {}
    for name, run in runs.items():
        sharpe = run["net"]["sharpe"]["mean"]
        if sharpe is not None:
            ranked[name] = sharpe
        elif run["trades_total"] == 0:
            ranked[name] = 0.0
    return max(ranked, key=ranked.__getitem__) if ranked else None


def _without_series(run: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if k != "series"}


def _strategies(arrays: PredictionArrays, panel: Panel, realised: np.ndarray, *,
                cost: Any, band: float, market_neutral: bool, series: bool
                ) -> dict[str, Any]:
    """The model's and each baseline's proxies, and the model's excess over the best
    baseline's (over a flat book when no baseline ranks); the per-date series of the model's
    and of the excess only with `series`."""

    def run(preds: Mapping[str, np.ndarray]) -> dict[str, Any]:
        return proxies.panel_proxies(panel, _positions(preds, band), realised, cost_bps=cost,
                                     market_neutral=market_neutral)

    model = run(arrays.model)
    baselines = {name: run(preds) for name, preds in arrays.baselines.items()}
    best = best_proxy_baseline(baselines)
    if best is None:
        flat = {**model, "series": {k: (v if k == "dates" else [0.0] * len(v))
                                    for k, v in model["series"].items()}}
        excess = proxies.excess_proxies(model, flat, "none: no baseline trades")
    else:
        excess = proxies.excess_proxies(model, baselines[best], best)
    keep = (lambda run: run) if series else _without_series
    return {"model": keep(model),
            "baselines": {name: _without_series(b) for name, b in baselines.items()},
            "excess": keep(excess)}


def trading(arrays: PredictionArrays, metric_set: str, *, horizon: int, cost_bps: float,
            band: float, series: bool = True) -> dict[str, Any] | None:
    """The trading proxies of the model and each baseline, and the model's excess over the
    best baseline's (None for families without a direction, or without a realised return to
    earn). Cross-sectional (return) models also get the quantile spread and the same proxies
    market-neutral (`market_neutral`: each name's return less its date's mean). `series`:
    keep the per-date series the deflated Sharpe ratio is computed from."""
    if metric_set in ("directional", "overlay"):
        realised = arrays.inputs.get("realised_return")
        if realised is None:
            return None
    elif metric_set == "return":
        realised = arrays.y
    else:
        return None
    cost = arrays.inputs.get("cost_bps", cost_bps)
    # The rows' codes and offset-sequence neighbours, shared by every predictor's proxies.
    panel = Panel.of(arrays.dates, arrays.symbols, horizon, len(arrays))
    options: dict[str, Any] = {"cost": cost, "band": band, "series": series}
    out: dict[str, Any] = {
        "cost_bps": cost_bps if np.ndim(cost) == 0 else "per row (cost model)",
        "band": band,
        **_strategies(arrays, panel, realised, market_neutral=False, **options),
    }
    if metric_set == "return":
        out["market_neutral"] = _strategies(arrays, panel, realised, market_neutral=True,
                                            **options)
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
