"""Metrics for continuous return forecasts (e.g. the 20-day forward return).

Pooled accuracy (R², RMSE, MAE, bias) says how close the numbers are; for a
cross-sectional stock-selection model what matters is whether, on each date, the names
it ranks higher do better. That is the information coefficient (IC): the correlation of
forecast and outcome across names on one date, averaged over dates.

Every figure is computed for all groups of a layout at once (``return_scores``, see
``grouped``): sums per group with ``np.bincount``, Pearson from centred moments, ranks by
one sort per grouping (``ranking``), and the per-date ICs of every slice from the layout
refined by date. ``return_metrics`` is the one-group case. Definitions kept from when
torchmetrics computed part of them:

* R² is 1 - SSE/SST by hand: torchmetrics' ``r2_score`` treats residual and total sums of
  squares below an *absolute* 1e-4 as zero (returning 1.0 or 0.0), which is the normal size
  of those sums for returns (a 20-day return of 2% squares to 4e-4), so it would be wrong.
* Pearson as torchmetrics' ``pearson_corrcoef`` (float64, two-pass; None where it gives NaN).
* Spearman is Pearson of average ranks (ties share their mean rank) in float64, exactly
  Spearman's rho; torchmetrics' ``spearman_corrcoef`` returns float32 and adds 1e-6 to its
  denominator.
* RMSE and MAE as torchmetrics' ``mean_squared_error`` / ``mean_absolute_error``.

The helpers ``as_forecast_arrays`` and ``average_ranks`` are shared with the other
continuous families (``risk``, ``cost``) and the tests.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ifns_train.core.calendar import TRADING_DAYS_PER_YEAR
from ifns_train.evaluation.grouped import (
    Layout,
    Scores,
    co_moments,
    correlation,
    moments,
    pearson,
    ratio,
    spread,
    tm_variance_ok,
)
from ifns_train.evaluation.ranking import Centred, Dense, centred_ranks, dense_rank, group_sums

# Fewest names on a date for a cross-sectional IC: fewer give noise, not a correlation.
IC_MIN_NAMES = 5

_IC_KEYS = (
    "ic_mean",
    "ic_std",
    "ic_ir",
    "ic_ir_annualised",
    "rank_ic_mean",
    "rank_ic_std",
    "rank_ic_ir",
    "ic_dates",
    "ic_hit_rate",
)


def return_metrics(
    pred: np.ndarray,
    y: np.ndarray,
    dates: np.ndarray | None = None,
    min_names: int = IC_MIN_NAMES,
    *,
    horizon_days: int,
) -> dict[str, Any]:
    """Score return forecasts ``pred`` against realised returns ``y``, pooled and per date.

    Pooled: ``r2`` (1 - SSE/SST, SST around the mean of ``y``; can be negative; None when
    ``y`` is constant), ``pearson``, ``spearman`` (average ranks for ties), ``rmse``,
    ``mae`` and ``bias`` = mean(pred - y).

    Cross-sectional (needs ``dates``; all None without): on every date with at least
    ``min_names`` rows and non-constant ``pred`` and ``y``, IC = Pearson and rank IC =
    Spearman across names. Other dates are skipped (too few names give noise; a constant
    side has no correlation); if none qualifies, ``ic_dates`` is 0 and the rest None.
    ``ic_std`` is the sample std (ddof=1), None with fewer than 2 dates. ``ic_ir`` =
    ic_mean / ic_std is *per date*, not annualised; it is None when the std is None or 0.
    ``ic_hit_rate`` is the fraction of used dates with IC > 0 (strictly).

    ``ic_ir_annualised`` = ic_ir * sqrt(252 / horizon_days): a ``horizon_days`` return
    gives 252 / horizon_days non-overlapping periods a year, and the IR of independent
    periods scales with the square root of their number. Evaluation dates are usually
    daily, so consecutive 20-day outcomes overlap and their ICs are correlated; the
    per-date ICs are then not independent and this is only an approximation (usually
    optimistic).

    Returns plain Python floats/ints, ``None`` where a metric is undefined.
    """
    rows = np.asarray(pred).shape[0] if np.ndim(pred) == 1 else 0
    return return_scores(Layout.single(rows), pred, y, dates, min_names,
                         horizon_days=horizon_days).overall()


def return_scores(
    layout: Layout,
    pred: np.ndarray,
    y: np.ndarray,
    dates: np.ndarray | None = None,
    min_names: int = IC_MIN_NAMES,
    *,
    horizon_days: int,
) -> Scores:
    """``return_metrics`` for every group of every grouping of ``layout`` (the per-date ICs
    of a group are taken over the group's names on each date)."""
    pred_a, y_a = as_forecast_arrays(pred, y)
    if isinstance(min_names, bool) or not isinstance(min_names, int) or min_names < 2:
        raise ValueError(f"min_names must be an int >= 2, got {min_names!r}")
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 1:
        raise ValueError(f"horizon_days must be a positive int, got {horizon_days!r}")
    if pred_a.size != layout.rows:
        raise ValueError(f"pred has {pred_a.size} rows, the layout {layout.rows}")
    err = pred_a - y_a
    sp = spread(layout, pred_a)
    sy = layout.memo(("spread",), y, lambda: spread(layout, y_a))
    mp = moments(layout, sp)
    my = layout.memo(("moments",), y, lambda: moments(layout, sy))
    # Dense ranks: pred's once in this call (pooled and per date), y's once per layout.
    pred_dense = functools.cache(lambda: dense_rank(pred_a))
    y_dense = functools.partial(layout.memo, ("dense",), y, lambda: dense_rank(y_a))
    ranks = _Ranks(layout, pred_dense, y_dense, y)
    figures = []
    for i, (xm, ym, sxy, se, ae, e) in enumerate(zip(
        mp, my, co_moments(layout, sp, sy, mp, my),
        layout.sums(err * err),
        layout.sums(np.abs(err)),
        layout.sums(err),
        strict=True,
    )):
        sst = np.where(ym.varies, ym.m2, 0.0)  # a constant y has no variance to explain
        figures.append({
            "rows": ym.n,
            "r2": np.where(sst > 0, 1.0 - ratio(se, sst), np.nan),
            "pearson": pearson(sxy, xm, ym),
            "spearman": ranks.correlation(i, xm.varies & ym.varies & (ym.n >= 2)),
            "rmse": np.sqrt(ratio(se, ym.n)),
            "mae": ratio(ae, ym.n),
            "bias": ratio(e, ym.n),
        })
    if dates is None:
        ics = [dict.fromkeys(_IC_KEYS, np.full(g.size, np.nan)) for g in layout.groupings]
    else:
        codes, n_dates = layout.memo(("dates",), dates, lambda: _date_codes(dates, y_a.shape))
        if codes.size != pred_a.size:
            raise ValueError(f"dates has {codes.size} rows, expected {pred_a.size}")
        by_date = layout.memo(("by date",), dates, lambda: layout.refine(codes, n_dates))
        ics = _ic_scores(layout, by_date, pred_a, y_a, _Ranks(by_date, pred_dense, y_dense, y),
                         n_dates, min_names, horizon_days)
    return Scores([{**f, **ic} for f, ic in zip(figures, ics, strict=True)],
                  ints=("rows", "ic_dates") if dates is not None else ("rows",))


class _Ranks:
    """Rank correlations of pred and y within the groups of a layout's groupings. y's ranks
    are kept on the layout, so the model and each baseline share them; pred's only here."""

    def __init__(self, layout: Layout, pred_dense: Callable[[], Dense],
                 y_dense: Callable[[], Dense], y_key: object) -> None:
        self.layout, self.pred_dense, self.y_dense, self.y_key = (
            layout, pred_dense, y_dense, y_key)
        self._overall: Centred | None = None

    def correlation(self, i: int, defined: np.ndarray) -> np.ndarray:
        """Pearson of the ranks within each group of grouping ``i`` (Spearman's rho), NaN
        where not ``defined`` (ranks are constant exactly when values are)."""
        if not defined.any():
            return np.full(defined.size, np.nan)
        n = self.layout.counts()[i]
        rp = self._pred_ranks(i)
        cy, sy = self._y_ranks(i)
        # The cross products in pred's group order: y's ranks gathered, not pred's scattered.
        sxy = group_sums(rp.values * cy[rp.order], n)
        defined = defined & tm_variance_ok(n, rp.sxx,
                                           lambda: _largest(np.abs(rp.values), n))
        defined &= tm_variance_ok(n, sy, lambda: _largest(np.abs(cy[rp.order]), n))
        return correlation(sxy, rp.sxx, sy, defined)

    def _pred_ranks(self, i: int) -> Centred:
        """pred's centred ranks within grouping ``i`` (grouping 0's kept for reuse)."""
        k = self._as_overall(i)
        if k:
            r = self._pred_ranks(0)
            return Centred(r.order, r.values, self._regroup(r.sxx, i, k))
        if i == 0 and self._overall is not None:
            return self._overall
        r = centred_ranks(self.layout, i, self.pred_dense())
        if i == 0:
            self._overall = r
        return r

    def _y_ranks(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """y's centred ranks by row and their sums of squares per group."""
        def compute() -> tuple[np.ndarray, np.ndarray]:
            k = self._as_overall(i)
            if k:
                by_row, sxx = self._y_ranks(0)
                return by_row, self._regroup(sxx, i, k)
            r = centred_ranks(self.layout, i, self.y_dense())
            return r.by_row(), r.sxx
        return self.layout.memo(("y ranks", i), self.y_key, compute)

    def _as_overall(self, i: int) -> int:
        """k > 0 if grouping ``i`` has the groups of grouping 0 (e.g. regime_tag, one value
        per date, refined by date): group r of grouping i is then group r // k of grouping
        0 (ids are code-major; k groups in the unrefined grouping i), and both list their
        rows in the same order, so grouping 0's ranks serve. 0 otherwise."""
        counts = self.layout.counts()
        if i == 0 or np.count_nonzero(counts[i]) != np.count_nonzero(counts[0]):
            return 0
        return self.layout.groupings[i].size // self.layout.groupings[0].size

    def _regroup(self, sxx: np.ndarray, i: int, k: int) -> np.ndarray:
        counts = self.layout.counts()[i]
        return np.where(counts > 0, sxx[np.arange(counts.size) // k], 0.0)


def _largest(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Largest value per group, of values in group order."""
    out = np.zeros(counts.size)
    nonempty = counts > 0
    out[nonempty] = np.maximum.reduceat(values, np.r_[0, np.cumsum(counts)[:-1]][nonempty])
    return out


def _ic_scores(layout: Layout, by_date: Layout, pred: np.ndarray, y: np.ndarray,
               ranks: _Ranks, n_dates: int, min_names: int,
               horizon_days: int) -> list[dict[str, np.ndarray]]:
    """Per grouping, the per-date IC and rank IC summaries of each group.

    ``by_date`` is ``layout`` refined by date: a group's dates are its refined groups. IC
    is the Pearson correlation of pred and y within one (two-pass, clipped to [-1, 1]),
    rank IC that of their ranks within it. Usable: at least ``min_names`` rows and both
    sides non-constant (ranks are constant exactly when values are, so IC and rank IC are
    defined on the same dates).
    """
    sp = spread(by_date, pred)
    sy = by_date.memo(("spread",), ranks.y_key, lambda: spread(by_date, y))
    mp = moments(by_date, sp)
    my = by_date.memo(("moments",), ranks.y_key, lambda: moments(by_date, sy))
    out = []
    for i, (xm, ym, sxy) in enumerate(zip(mp, my, co_moments(by_date, sp, sy, mp, my),
                                          strict=True)):
        usable = (ym.n >= min_names) & xm.varies & ym.varies
        ic = correlation(sxy, xm.m2, ym.m2, usable)
        rank_ic = ranks.correlation(i, usable)
        used = np.flatnonzero(usable)
        out.append(_ic_summary(ic[used], rank_ic[used], used % layout.groupings[i].size,
                               layout.groupings[i].size, horizon_days))
    return out


def _ic_summary(ic: np.ndarray, rank_ic: np.ndarray, group: np.ndarray, size: int,
                horizon_days: int) -> dict[str, np.ndarray]:
    """Mean / sample std / per-date IR of both IC series per group, plus the number of dates
    used and the hit rate; ``group`` is the group of each used date."""
    dates = np.bincount(group, minlength=size)
    ic_mean, ic_std, ic_ir = _mean_std_ir(ic, group, dates)
    rank_mean, rank_std, rank_ir = _mean_std_ir(rank_ic, group, dates)
    scale = math.sqrt(TRADING_DAYS_PER_YEAR / horizon_days)
    return {
        "ic_mean": ic_mean,
        "ic_std": ic_std,
        "ic_ir": ic_ir,
        "ic_ir_annualised": ic_ir * scale,
        "rank_ic_mean": rank_mean,
        "rank_ic_std": rank_std,
        "rank_ic_ir": rank_ir,
        "ic_dates": dates,
        "ic_hit_rate": ratio(np.bincount(group, ic > 0, size), dates),
    }


def _mean_std_ir(values: np.ndarray, group: np.ndarray, count: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, sample std with ddof=1, mean / std) per group; NaN where undefined."""
    size = count.size
    mean = ratio(np.bincount(group, values, size), count)
    dev = values - mean[group]
    std = np.sqrt(ratio(np.bincount(group, dev * dev, size), np.where(count >= 2, count - 1, 0)))
    return mean, std, np.where(std > 0.0, ratio(mean, std), np.nan)


def _date_codes(dates: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """(integer code per row, number of dates); a missing date would silently drop rows,
    so refuse it."""
    arr = np.asarray(dates)
    if arr.shape != shape:
        raise ValueError(f"dates has shape {arr.shape}, expected {shape} to match pred")
    codes, uniques = pd.factorize(arr)
    if np.any(codes < 0):
        raise ValueError("dates must not contain missing values (None, NaN, NaT)")
    return np.asarray(codes, dtype=np.intp), max(len(uniques), 1)


def as_forecast_arrays(
    pred: np.ndarray, y: np.ndarray, name: str = "pred"
) -> tuple[np.ndarray, np.ndarray]:
    """Both as contiguous float64 1-D arrays of the same shape, all finite, or ValueError."""
    pred_a = np.asarray(pred, dtype=np.float64)
    if pred_a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {pred_a.shape}")
    y_a = np.asarray(y, dtype=np.float64)
    if y_a.shape != pred_a.shape:
        raise ValueError(f"y has shape {y_a.shape}, expected {pred_a.shape} to match {name}")
    for label, arr in ((name, pred_a), ("y", y_a)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{label} must be finite (no NaN or inf)")
    return np.ascontiguousarray(pred_a), np.ascontiguousarray(y_a)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based float64 ranks, tied values sharing the mean of their ranks (e.g. 1, 2.5, 2.5, 4)."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    highest = np.cumsum(counts)  # highest rank within each group of equal values
    return (highest - (counts - 1) / 2.0)[inverse.reshape(-1)]
