"""The primary figure over time: per month or per quarter of the test window, with an
interval, so a decay is visible.

The rule: months while the window spans at most `MONTHS_UP_TO` calendar months (up to 24
points), quarters beyond (a ten-year window: 40 points), so the picture holds neither two
points nor hundreds.

The interval is the project's block bootstrap over dates (`intervals.date_weights`, the
run's `evaluation.bootstrap` settings, the block recorded for the split's headline interval
of the primary metric, else `block_length` on the whole window): one weight matrix over the
whole window, whose columns for a period's dates resample that period. Each period's
figure and replicates come from `weighted_stats` on the period's rows alone (the same
statistics as the headline intervals), so the cost is one matrix draw (shared with the
headline interval when its block is the same) and a small product per period. A period with
fewer than 2 dates, or more than half of its replicates undefined, has no interval. Dates a
label horizon apart share label days, so a month of 20-day labels holds about one
independent observation: its interval is honestly wide.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ifns_train.evaluation.compare import HIGHER_IS_BETTER
from ifns_train.evaluation.evidence import HEADLINE, SERIES_METRICS, date_series
from ifns_train.evaluation.intervals import block_length, date_codes, date_weights
from ifns_train.evaluation.predictions import PredictionArrays
from ifns_train.evaluation.weighted_stats import (
    ROW_METRICS,
    WeightedStat,
    as_pred,
    row_metric_stat,
    series_stat,
)

MONTHS_UP_TO = 24


def period_rule(dates: np.ndarray) -> str:
    """"M" (months) or "Q" (quarters) for a window of `dates` (see the module docstring)."""
    days = pd.to_datetime(pd.Series(np.asarray(dates)))
    if days.empty:
        return "M"
    span = (days.max().year - days.min().year) * 12 + days.max().month - days.min().month + 1
    return "M" if span <= MONTHS_UP_TO else "Q"


def _stat(metric: str, y: np.ndarray, pred: np.ndarray, dates: np.ndarray) -> WeightedStat:
    """The metric's weighted statistic over these rows, its dates in time order."""
    if metric in SERIES_METRICS:
        return series_stat(date_series(metric, np.asarray(pred, np.float64), y, dates)[1])
    if metric not in ROW_METRICS:
        raise ValueError(f"no per-date statistic for {metric}")
    codes, n = date_codes(dates)
    return row_metric_stat(metric, y, as_pred(metric, pred, y.shape), codes, n)


def _num(value: Any) -> float | None:
    f = None if value is None else float(value)
    return f if f is not None and np.isfinite(f) else None


def period_figures_data(arrays: PredictionArrays, report: Mapping[str, Any],
                        boot: Mapping[str, Any], horizon: int) -> dict[str, Any]:
    """Per period: its dates and rows, the model's primary figure with its interval, and the
    best baseline's figure on the same rows."""
    primary = report["primary_metric"]
    key = HEADLINE[report["metric_set"]][primary]
    best = (report.get("best_baseline") or {}).get(primary)
    y = np.asarray(arrays.y, np.float64)
    day = pd.to_datetime(pd.Series(np.asarray(arrays.dates)))
    rule = period_rule(arrays.dates)
    label = day.dt.to_period(rule).astype(str).to_numpy()
    codes, n_dates = date_codes(arrays.dates)
    recorded = ((report.get("intervals") or {}).get("model") or {}).get(primary) or {}
    block = recorded.get("block") or boot["block"]
    if block == "auto":
        whole = _stat(primary, y, arrays.model[key], arrays.dates)
        block = block_length(whole.per_date, horizon, method=boot["method"])[0]
    weights = date_weights(arrays.dates, block=int(block), reps=int(boot["reps"]),
                           seed=int(boot["seed"]), method=boot["method"])[1] \
        if n_dates >= 2 else None
    level = float(boot["level"])
    periods = []
    for name in sorted(set(label)):
        rows = np.flatnonzero(label == name)
        cols = np.unique(codes[rows])  # the period's dates: contiguous, in time order
        d = arrays.dates[rows]
        entry: dict[str, Any] = {"period": name, "start": str(day.iloc[rows[0]].date()),
                                 "end": str(day.iloc[rows[-1]].date()), "dates": int(cols.size),
                                 "rows": int(rows.size), "model": None, "low": None,
                                 "high": None, "baseline": None}
        try:
            stat = _stat(primary, y[rows], arrays.model[key][rows], d)
        except ValueError:  # e.g. one class in the period: the figure is undefined
            periods.append(entry)
            continue
        entry["model"] = _num(stat.estimate)
        if best is not None:
            try:
                entry["baseline"] = _num(_stat(primary, y[rows], arrays.baselines[best][key][rows],
                                               d).estimate)
            except ValueError:
                pass
        if weights is not None and cols.size >= 2 and entry["model"] is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                reps = stat.replicates(np.ascontiguousarray(weights[:, cols]))
            ok = reps[np.isfinite(reps)]
            if ok.size * 2 >= reps.size:
                low, high = np.quantile(ok, [(1 - level) / 2, (1 + level) / 2])
                entry["low"], entry["high"] = float(low), float(high)
        periods.append(entry)
    return {"metric": primary, "higher_is_better": HIGHER_IS_BETTER.get(primary),
            "baseline": best, "period": {"M": "month", "Q": "quarter"}[rule],
            "level": level, "block": int(block), "reps": int(boot["reps"]), "periods": periods}
