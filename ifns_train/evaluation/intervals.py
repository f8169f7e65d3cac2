"""Confidence intervals from a block bootstrap over dates, and a HAC t-statistic.

Why dates, in blocks: 20-day labels overlap (consecutive dates share 19 of 20 days of
outcome) and the rows of one date share that date's market move, so an i.i.d. bootstrap of
rows treats 25,000 correlated rows as independent and gives intervals far too narrow. Here
the unit resampled is the date (all its rows travel together) and dates are drawn in blocks
of consecutive dates: the stationary bootstrap (Politis and Romano 1994; blocks of random,
geometric length with mean ``block``) by default, or the circular block bootstrap (blocks of
exactly ``block`` dates, wrapping around). ``arch.bootstrap`` draws the date indices, seeded.

How it stays fast: a replicate is a vector of date weights (how many times each date was
drawn), all replicates one ``(reps, n_dates)`` matrix, and each statistic a small matrix
product of it (``weighted_stats``); a paired improvement applies the same matrix to the
model and the baseline. The AUC of a sample beyond ``weighted_auc.EXACT_CELLS`` (rows x
dates) is taken on a score grid, whose bound on the ends' error the interval records as
``auc_grid``: ``{"bins", "max_error"}`` (0 where each bin holds one distinct score).

Block length: ``"auto"`` is the Politis and White (2004; Patton, Politis and White 2009)
estimate (``arch.bootstrap.optimal_block_length``) on the per-date series of the
statistic's contribution (the date's mean loss, its IC, the model-minus-baseline
difference of those for an improvement), rounded up and never shorter than the label
horizon, since dates closer than the horizon share label days. Rules
recorded in ``block_rule``: ``"politis_white>=horizon"``; ``"horizon"`` when the series is
too short (< ``PW_MIN_DATES``) or constant for that estimate; ``"fixed"`` for an int.

Intervals are *percentile* intervals: the (1 - level)/2 and (1 + level)/2 quantiles
(numpy's default linear interpolation) of the replicate statistics. ``arch`` is imported
inside the functions that use it: importing ``arch.bootstrap`` alone takes ~2.5 s.

The bootstrap settings (``level``, ``reps``, ``seed``, ``block``, ``method``) and ``n_bins``
have no default here: their values are the config's ``evaluation.bootstrap`` and
``evaluation.calibration_bins`` (ifns_train/conf/evaluation/default.yaml, the one place),
passed by the evaluator.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ifns_train.evaluation.compare import HIGHER_IS_BETTER, evidence_of
from ifns_train.evaluation.weighted_auc import ScoreBins
from ifns_train.evaluation.weighted_stats import (
    ROW_METRICS,
    WeightedStat,
    as_pred,
    check_target,
    row_metric_stat,
    series_stat,
)

HEADLINE_ROW_METRICS = ROW_METRICS
"""Metrics of rows that ``metric_interval`` knows (each a figure of an existing metric function)."""

METHODS = {"stationary": "stationary_bootstrap", "circular": "circular_block_bootstrap"}
"""``method=`` argument -> the name recorded in each interval."""

PW_MIN_DATES = 16
"""Fewest dates for a Politis-White estimate (arch's needs ~sqrt(n) + 5 autocorrelations)."""

_WEIGHTS_CACHE = 4  # weight matrices memoised: 4 x reps x n_dates x 8 bytes (15 MB at 1,000 x 480)

Interval = dict[str, Any]


def date_codes(dates: np.ndarray) -> tuple[np.ndarray, int]:
    """(code per row, number of dates); codes number the distinct dates in time order.

    Blocks are runs of consecutive codes, so the order must be chronological: dates are
    sorted (datetime64, ``pd.Timestamp``, ISO strings and ints all sort correctly).
    Missing dates are refused: they would silently leave rows out of every replicate.
    """
    arr = np.asarray(dates)
    if arr.ndim != 1:
        raise ValueError(f"dates must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind in "iuM" and arr.size and bool(np.all(arr[1:] >= arr[:-1])):
        # Rows in date order (a split's are): the codes count the changes, no hashing. NaT
        # compares false, so dates with one take the general path and are refused there.
        change = np.r_[False, arr[1:] != arr[:-1]]
        return np.cumsum(change, dtype=np.int64), int(change.sum()) + 1
    codes, uniques = pd.factorize(arr, sort=True)
    if np.any(codes < 0):
        raise ValueError("dates must not contain missing values (None, NaN, NaT)")
    return np.asarray(codes, dtype=np.int64), len(uniques)


def block_length(series: np.ndarray, horizon: int, *, method: str) -> tuple[int, str]:
    """(block length, rule) for ``block="auto"``: ceil(Politis-White) but at least ``horizon``.

    ``series`` is the statistic's per-date contribution in date order (NaNs are dropped).
    The stationary or circular estimate is taken to match ``method``. Falls back to
    ``horizon`` (rule ``"horizon"``) below ``PW_MIN_DATES`` dates, for a constant series, or
    when the estimate is not finite.
    """
    _check_method(method)
    _check_positive_int(horizon, "horizon")
    x = np.asarray(series, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < PW_MIN_DATES or np.all(x == x[0]):
        return horizon, "horizon"
    from arch.bootstrap import optimal_block_length

    with np.errstate(all="ignore"):
        estimate = float(optimal_block_length(x)[method].iloc[0])
    if not math.isfinite(estimate):
        return horizon, "horizon"
    return max(horizon, math.ceil(estimate), 1), "politis_white>=horizon"


def date_weights(
    dates: np.ndarray, *, block: int, reps: int, seed: int, method: str
) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, weights): ``weights[r, d]`` = how often replicate ``r`` drew date ``d``.

    Each replicate draws ``n_dates`` dates in blocks with ``arch.bootstrap``'s
    ``StationaryBootstrap`` (mean block length ``block``) or ``CircularBlockBootstrap``,
    seeded with ``seed``, so every row of ``weights`` sums to ``n_dates``. Apply the same
    weights to a model and its baseline for a paired comparison. ``weights`` is read-only
    (memoised; copy it to change it).
    """
    codes, n_dates = date_codes(dates)
    _check_positive_int(block, "block")
    _check_positive_int(reps, "reps")
    return codes, _weights(n_dates, int(block), int(reps), int(seed), method)


def metric_interval(
    metric: str,
    y: np.ndarray,
    model_pred: np.ndarray,
    dates: np.ndarray,
    *,
    baseline_pred: np.ndarray | None = None,
    horizon: int,
    level: float,
    reps: int,
    seed: int,
    block: int | str,
    method: str,
    small: bool = False,
    n_bins: int | None = None,
) -> dict[str, Interval | None]:
    """Bootstrap interval of a row metric, and of the paired improvement over a baseline.

    ``metric`` is one of ``HEADLINE_ROW_METRICS``; the predictions are what the metric
    function scores: the predicted class (0/1) for ``hit_rate``, P(up) for ``auc``,
    ``brier``, ``log_loss`` and ``ece`` (``y`` 0/1; the ECE in ``n_bins`` calibration bins, as
    ``classification.binary_metrics``; ``n_bins`` is required for ``ece`` only), forecast
    volatility for ``qlike`` (``y`` the realised volatility, both > 0;
    QLIKE = mean(r - log r - 1), r = y² / pred²), any forecast for ``mae``/``rmse``/``mae_bps``
    (``mae_bps`` is MAE on figures in bps).

    Returns ``{"model": interval, "improvement": interval | None}``; an interval is
    ``{"estimate", "low", "high", "level", "method", "block", "block_rule", "reps", "seed",
    "skipped"}`` (``estimate`` = the full-sample figure, as the metric functions give it).
    The improvement is the model's favourable advantage (``compare.improvement``: model minus
    baseline, baseline minus model for a loss), both scored on the same resampled dates so
    common date noise cancels, and adds ``evidence`` (``compare.evidence_of``: better, worse,
    within noise) and ``significant`` (the interval lies wholly above 0: the model is
    significantly better); both None when ``small`` (pass the slice's ``small_slice`` flag: a
    small slice earns no claim) or undefined.

    ``skipped`` counts replicates where the figure is undefined (AUC of a replicate with
    one class); ``low``/``high`` are None when more than half are, when the sample has
    fewer than 2 dates (nothing to resample), or when the figure itself is undefined.
    """
    sample = RowSample(metric, y, dates, n_bins)
    model = sample.stat(model_pred)
    baseline = None if baseline_pred is None else sample.stat(baseline_pred)
    return stat_intervals(metric, model, baseline, sample.n_dates, horizon=horizon, level=level,
                          reps=reps, seed=seed, block=block, method=method, small=small)


class RowSample:
    """The outcomes and dates of one sample of rows, checked and coded once, whose
    predictions (a model's, a baseline's, a permuted copy's) become ``WeightedStat``s of
    ``metric`` (one of ``HEADLINE_ROW_METRICS``; ``n_bins`` for the ECE only)."""

    def __init__(self, metric: str, y: np.ndarray, dates: np.ndarray, n_bins: int | None
                 ) -> None:
        if metric not in HEADLINE_ROW_METRICS:
            raise ValueError(f"metric must be one of {HEADLINE_ROW_METRICS}, got {metric!r}")
        y_a = np.asarray(y, dtype=np.float64)
        if y_a.ndim != 1:
            raise ValueError(f"y must be 1-D, got shape {y_a.shape}")
        codes, n_dates = date_codes(dates)
        if codes.shape != y_a.shape:
            raise ValueError(f"dates has shape {codes.shape}, expected {y_a.shape} to match y")
        check_target(metric, y_a)
        self.metric, self.y, self.codes, self.n_dates, self.n_bins = \
            metric, y_a, codes, n_dates, n_bins

    def stat(self, pred: np.ndarray, grid: Callable[[], ScoreBins] | None = None
             ) -> WeightedStat:
        """``metric`` of ``pred`` (``grid``: its score grid bins, for an AUC on the grid,
        where a caller has them: the slices of one split share its sort)."""
        return row_metric_stat(self.metric, self.y, as_pred(self.metric, pred, self.y.shape),
                               self.codes, self.n_dates, self.n_bins, grid)


def stat_intervals(
    metric: str,
    model: WeightedStat,
    baseline: WeightedStat | None,
    n_dates: int,
    *,
    horizon: int,
    level: float,
    reps: int,
    seed: int,
    block: int | str,
    method: str,
    small: bool,
) -> dict[str, Interval | None]:
    """``metric_interval``'s result from statistics already made (``RowSample.stat``): a
    model's, paired with many baselines (the permutation attribution's permuted copies),
    costs its statistic once."""
    return _intervals(model, baseline, n_dates, horizon, level, reps, seed, block, method, small,
                      HIGHER_IS_BETTER[metric])


def series_interval(
    values: np.ndarray,
    series_dates: np.ndarray,
    *,
    baseline_values: np.ndarray | None = None,
    horizon: int,
    level: float,
    reps: int,
    seed: int,
    block: int | str,
    method: str,
    small: bool = False,
) -> dict[str, Interval | None]:
    """Bootstrap interval of the mean of a per-date series (the IC or rank IC), and paired.

    ``values[i]`` is the figure on ``series_dates[i]`` (distinct dates, any order); NaN
    marks a date where it is undefined (e.g. too few names), which is left out of that
    side's mean, so the estimate equals the mean over the defined dates, as ``ic_mean`` in
    ``regression.return_metrics``. ``baseline_values`` is aligned with ``values``; the
    improvement is the difference of the two means on the same resampled dates (the series is
    a figure where higher is better, such as an IC). Output
    and ``small``, ``skipped`` (replicates without a defined date on a side) as in
    ``metric_interval``.
    """
    v = _as_series(values, "values")
    codes, n_dates = date_codes(series_dates)
    if codes.shape != v.shape:
        raise ValueError(f"series_dates has shape {codes.shape}, expected {v.shape}")
    if n_dates != codes.size:
        raise ValueError("series_dates must be distinct: one value per date")
    order = np.argsort(codes)  # codes are the date ranks: put the series in date order
    model = series_stat(v[order])
    baseline = None
    if baseline_values is not None:
        b = _as_series(baseline_values, "baseline_values")
        if b.shape != v.shape:
            raise ValueError(f"baseline_values has shape {b.shape}, expected {v.shape}")
        baseline = series_stat(b[order])
    return _intervals(model, baseline, n_dates, horizon, level, reps, seed, block, method, small)


def hac_tstat(values: np.ndarray, lags: int) -> dict[str, Any]:
    """t-statistic of the mean of a series with a Newey-West (Bartlett) HAC standard error.

    For the per-date IC series, whose neighbours share most of their 20-day outcome:
    ``lags`` should be at least the label horizon (the caller passes it; < 1 is refused).
    With e_t = x_t - mean and autocovariances g_j = (1/n) sum_{t>j} e_t e_{t-j},
    S = g_0 + 2 sum_{j=1..lags} (1 - j/(lags + 1)) g_j (Newey and West 1987), se =
    sqrt(S / n), t = mean / se; no small-sample correction (statsmodels' OLS on a constant
    with ``cov_type="HAC"``, ``use_correction=False`` gives the same se). Lags beyond
    n - 1 add nothing. Returns ``{"mean", "se", "t", "lags", "n"}``; ``se`` is None with
    fewer than 2 values, ``t`` None also when se is 0 (a constant series).
    """
    _check_positive_int(lags, "lags")
    lags = int(lags)
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise ValueError("values must be a 1-D series of finite numbers (drop undefined dates)")
    n = int(x.size)
    if n == 0:
        return {"mean": None, "se": None, "t": None, "lags": lags, "n": 0}
    mean = float(x.mean())
    if n < 2:
        return {"mean": mean, "se": None, "t": None, "lags": lags, "n": n}
    # An exactly constant series has se 0; x - mean would leave float noise (a huge t).
    e = np.zeros(n) if np.all(x == x[0]) else x - mean
    s = float(e @ e) / n
    for j in range(1, min(lags, n - 1) + 1):
        s += 2.0 * (1.0 - j / (lags + 1)) * float(e[j:] @ e[:-j]) / n
    se = math.sqrt(max(s, 0.0) / n)
    return {"mean": mean, "se": se, "t": mean / se if se > 0.0 else None, "lags": lags, "n": n}


# --- the bootstrap -------------------------------------------------------------------------


def _intervals(
    model: WeightedStat,
    baseline: WeightedStat | None,
    n_dates: int,
    horizon: int,
    level: float,
    reps: int,
    seed: int,
    block: int | str,
    method: str,
    small: bool,
    higher_is_better: bool = True,
) -> dict[str, Interval | None]:
    """Model interval and, with a baseline, the paired improvement (same weights per block),
    in the favourable direction."""
    _check_method(method)
    _check_positive_int(horizon, "horizon")
    _check_positive_int(reps, "reps")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if block != "auto":
        _check_positive_int(block, "block")

    def interval(stat: WeightedStat) -> Interval:
        if block == "auto":
            size, rule = block_length(stat.per_date, horizon, method=method)
        else:
            size, rule = int(block), "fixed"
        out: Interval = {
            "estimate": stat.estimate,
            "low": None,
            "high": None,
            "level": float(level),
            "method": METHODS[method],
            "block": int(size),
            "block_rule": rule,
            "reps": int(reps),
            "seed": int(seed),
            "skipped": 0,
        }
        if stat.estimate is None or n_dates < 2:
            return out
        weights = _weights(n_dates, int(size), int(reps), int(seed), method)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = stat.replicates(weights)
        finite = np.isfinite(values)
        ok = values[finite]
        out["skipped"] = reps - int(ok.size)
        if ok.size * 2 >= reps:
            low, high = np.quantile(ok, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
            out["low"], out["high"] = float(low), float(high)
        if stat.error is not None:  # a quantile moves by at most the largest error bound
            with np.errstate(divide="ignore", invalid="ignore"):
                bound = stat.error(weights)[finite]
            out["auc_grid"] = {"bins": stat.bins,
                               "max_error": float(bound.max()) if bound.size else None}
        return out

    result: dict[str, Interval | None] = {"model": interval(model), "improvement": None}
    if baseline is not None:
        imp = interval(model.minus(baseline) if higher_is_better else baseline.minus(model))
        imp["evidence"] = evidence_of(imp["low"], imp["high"], small)
        imp["significant"] = None if imp["evidence"] is None else imp["evidence"] == "better"
        result["improvement"] = imp
    return result


@functools.lru_cache(maxsize=_WEIGHTS_CACHE)
def _weights(n_dates: int, block: int, reps: int, seed: int, method: str) -> np.ndarray:
    """(reps, n_dates) float64 draw counts from arch's seeded block bootstrap of date indices.

    Drawing costs ~45 ms for 1,000 x 480 (one arch call per replicate), so the last few
    matrices are memoised (read-only): the metrics of one sample, and slices spanning the
    same number of dates, share them. A deterministic function of its arguments, so the
    cache changes no result.
    """
    _check_method(method)
    _check_positive_int(block, "block")
    _check_positive_int(reps, "reps")
    from arch.bootstrap import CircularBlockBootstrap, StationaryBootstrap

    cls = StationaryBootstrap if method == "stationary" else CircularBlockBootstrap
    bs = cls(block, np.arange(n_dates), seed=seed)
    out = np.empty((reps, n_dates), dtype=np.float64)
    for r in range(reps):
        out[r] = np.bincount(bs.update_indices(), minlength=n_dates)
    out.flags.writeable = False
    return out


# --- validation --------------------------------------------------------------------------------


def _as_series(values: np.ndarray, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {v.shape}")
    if np.any(np.isinf(v)):
        raise ValueError(f"{name} must not hold inf (NaN marks an undefined date)")
    return v


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {tuple(METHODS)}, got {method!r}")


def _check_positive_int(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
