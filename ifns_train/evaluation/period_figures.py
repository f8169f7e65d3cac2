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
statistics as the headline intervals; an AUC's pair matrix counted densely, `dense_pairs`,
the same counts as `weighted_auc.auc_pairs` at a fraction of its fixed cost on a period's
few rows), so the cost is one matrix draw (shared with the
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
from ifns_train.evaluation.weighted_auc import auc_of_pairs, on_grid
from ifns_train.evaluation.weighted_stats import (
    ROW_METRICS,
    WeightedStat,
    as_pred,
    row_metric_stat,
    series_stat,
)

MONTHS_UP_TO = 24
DENSE_CELLS = 1 << 22  # rows x dates of a period up to which its AUC pairs are counted densely


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
    pred = as_pred(metric, pred, y.shape)
    if metric == "auc" and 0 < y.size * n <= DENSE_CELLS and not on_grid(y.size, n):
        return WeightedStat(*auc_of_pairs(dense_pairs(pred, y == 1.0, codes, n),
                                          (y == 1.0).astype(np.float64), codes, n))
    return row_metric_stat(metric, y, pred, codes, n)


def dense_pairs(score: np.ndarray, up: np.ndarray, codes: np.ndarray, n_dates: int
                ) -> np.ndarray:
    """`weighted_auc.auc_pairs`'s matrix (up rows of date d against down rows of date e: 1
    when the up row scores higher, 1/2 on a tie) for a period's few rows and dates, counted
    densely: one sort, and each row's running count of down rows per date below its tie
    group and within it. Exact counts, so the same matrix to the last bit; a period's rows
    by its ~20 dates cost less than the general method's sparse products."""
    order = np.argsort(score, kind="stable")
    s, d, u = score[order], codes[order], up[order]
    new = np.r_[True, s[1:] != s[:-1]]
    first = np.flatnonzero(new)  # each tie group's first sorted row
    last = np.r_[first[1:], s.size]  # ... and the one after its last
    group = np.cumsum(new) - 1
    down = np.zeros((s.size + 1, n_dates))
    down[np.flatnonzero(~u) + 1, d[~u]] = 1.0
    np.cumsum(down, axis=0, out=down)  # down[i]: the down rows per date among the first i
    below = down[first[group[u]]]
    tied = down[last[group[u]]] - below
    return np.eye(n_dates)[d[u]].T @ (below + 0.5 * tied)  # per up row's date: exact sums


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
    codes, n_dates = date_codes(arrays.dates)
    # Dates, not rows, are converted and labelled (each date by its first row): the periods'
    # rows are then one stable sort of the rows by their date's period.
    day = pd.to_datetime(pd.Series(np.asarray(arrays.dates)[
        np.unique(codes, return_index=True)[1]]))
    rule = period_rule(day.to_numpy())
    period_of, names = pd.factorize(day.dt.to_period(rule).astype(str).to_numpy(), sort=True)
    by_period = np.argsort(period_of[codes], kind="stable")
    counts = np.bincount(period_of[codes], minlength=len(names))
    ends = np.cumsum(counts)
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
    for p, name in enumerate(names):
        rows = by_period[ends[p] - counts[p]:ends[p]]  # in row order, as the sort is stable
        cols = np.unique(codes[rows])  # the period's dates: contiguous, in time order
        d = arrays.dates[rows]
        entry: dict[str, Any] = {"period": str(name),
                                 "start": str(day.iloc[codes[rows[0]]].date()),
                                 "end": str(day.iloc[codes[rows[-1]]].date()),
                                 "dates": int(cols.size),
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
