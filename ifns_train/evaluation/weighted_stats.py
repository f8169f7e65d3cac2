"""Statistics of a sample as functions of date weights: the engine of ``intervals``.

A bootstrap replicate over dates is a vector ``w`` of date weights (how many times each
date was drawn); all replicates a ``(reps, n_dates)`` matrix ``W``. Each statistic here
is precomputed once per sample into a few per-date arrays, after which every replicate
is a small matrix product:

* a mean of per-row values (hit rate, Brier, log loss, MAE, MSE, QLIKE) is
  ``(W @ S) / (W @ n)``, ``S`` and ``n`` each date's sum and row count (RMSE: its root);
* a mean of a per-date series (IC, rank IC) is ``(W @ v) / (W @ 1)`` over defined dates;
* AUC, not a mean, is a weighted Mann-Whitney statistic ``w' C w / ((w . P)(w . N))``,
  ``C`` the date-by-date matrix of correctly ordered (up, down) pairs (``auc_pairs``), or
  beyond ``weighted_auc.EXACT_CELLS`` a sum over a score grid with a stated error bound
  (``weighted_auc``);
* the calibration error (ECE) is ``sum_b |W @ G[:, b]| / (W @ n)``, ``G[d, b]`` the sum of
  ``prob - y`` over the rows of date d in calibration bin b (binned as ``classification``).

Those equal the metric on the rows of the resampled dates (each date's rows repeated
``w_d`` times), which the tests check against the metric functions themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ifns_train.evaluation.weighted_auc import (
    ScoreBins,
    exact_auc,
    grid_auc,
    on_grid,
    score_bins,
)

ROW_METRICS = ("hit_rate", "auc", "brier", "log_loss", "mae", "rmse", "qlike", "mae_bps",
               "ece")
_PROBABILITY_METRICS = ("auc", "brier", "log_loss", "ece")


@dataclass(frozen=True)
class WeightedStat:
    """A statistic of the sample: its full-sample value, its per-date contribution series
    (for the block length; NaN on dates without one) and its value per row of ``W``.

    ``error``, for an AUC on a score grid (``weighted_auc``): a bound on each replicate's
    error, and ``bins`` the grid's; None for a statistic computed exactly."""

    estimate: float | None
    per_date: np.ndarray
    replicates: Callable[[np.ndarray], np.ndarray]  # W (reps, n_dates) -> (reps,), NaN undefined
    error: Callable[[np.ndarray], np.ndarray] | None = None
    bins: int | None = None

    def minus(self, other: WeightedStat) -> WeightedStat:
        """Paired difference: both sides see the same resampled dates (the same ``W``); the
        error bounds of the two sides add up."""
        est = None
        if self.estimate is not None and other.estimate is not None:
            est = self.estimate - other.estimate

        def replicates(w: np.ndarray) -> np.ndarray:
            return self.replicates(w) - other.replicates(w)

        sides = [s for s in (self, other) if s.error is not None]

        def error(w: np.ndarray) -> np.ndarray:
            return sum((s.error(w) for s in sides if s.error is not None),
                       np.zeros(w.shape[0]))

        bins = max((s.bins for s in sides if s.bins is not None), default=None)
        return WeightedStat(est, self.per_date - other.per_date, replicates,
                            error if sides else None, bins)


def row_metric_stat(
    metric: str, y: np.ndarray, pred: np.ndarray, codes: np.ndarray, n_dates: int,
    n_bins: int | None = None, grid: Callable[[], ScoreBins] | None = None,
) -> WeightedStat:
    """The ``WeightedStat`` of one row metric (AUC, ECE in ``n_bins`` calibration bins, or a
    mean of per-row values). ``n_bins`` (``evaluation.calibration_bins``) is required for the
    ECE and unused otherwise. ``grid``: the score grid bins of ``pred``'s rows, for an AUC
    on the score grid (called only then; by default ``pred`` is binned here)."""
    if metric == "auc":
        return _auc_stat(pred, y, codes, n_dates, grid)
    if metric == "ece":
        return _ece_stat(pred, y, codes, n_dates, n_bins)
    values = _row_values(metric, y, pred)
    counts = np.bincount(codes, minlength=n_dates).astype(np.float64)
    sums = np.bincount(codes, values, minlength=n_dates)
    root = metric == "rmse"
    if values.size == 0:
        return WeightedStat(None, np.empty(0), lambda w: np.full(w.shape[0], np.nan))
    # The full-sample figure is np.mean of the row values, as the metric functions take it.
    mean = float(np.mean(values))
    estimate = math.sqrt(mean) if root else mean

    both = np.column_stack([sums, counts])

    def replicates(w: np.ndarray) -> np.ndarray:
        num_den = w @ both  # one (reps, 2) product: BLAS gemm, far faster than two gemv
        m = num_den[:, 0] / num_den[:, 1]
        return np.sqrt(m) if root else m

    with np.errstate(invalid="ignore"):
        per_date = sums / counts
    return WeightedStat(estimate, per_date, replicates)


def _row_values(metric: str, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-row quantity whose mean is the metric (squared error for RMSE)."""
    if metric == "hit_rate":
        return (pred == y).astype(np.float64)
    if metric == "brier":
        return (pred - y) ** 2
    if metric == "log_loss":
        from ifns_train.evaluation.classification import LOG_LOSS_EPS  # torch: see cli/lazy.py

        p = np.clip(pred, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
        return -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
    if metric in ("mae", "mae_bps"):
        return np.abs(pred - y)
    if metric == "rmse":
        return (pred - y) ** 2
    if metric == "qlike":
        log_r = 2.0 * (np.log(y) - np.log(pred))  # as risk.volatility_metrics: no over/underflow
        return np.exp(log_r) - log_r - 1.0
    raise ValueError(f"no per-row values for metric {metric!r}")


def _auc_stat(score: np.ndarray, y: np.ndarray, codes: np.ndarray, n_dates: int,
              grid: Callable[[], ScoreBins] | None) -> WeightedStat:
    """AUC as a weighted Mann-Whitney statistic, every row weighted by its date's weight:
    from the exact pair matrix, or on the score grid for a large sample (``weighted_auc``:
    the rule, and the grid's error bound)."""
    up = (y == 1.0).astype(np.float64)
    if not on_grid(score.size, n_dates):
        return WeightedStat(*exact_auc(score, up, codes, n_dates))
    bins = score_bins(score) if grid is None else grid()
    auc = grid_auc(bins, score, up, codes, n_dates)
    return WeightedStat(auc.estimate, auc.per_date, auc.replicates, auc.error, auc.bins)


def _ece_stat(prob: np.ndarray, y: np.ndarray, codes: np.ndarray, n_dates: int,
              n_bins: int | None) -> WeightedStat:
    """The expected calibration error (L1) as ``classification.binary_metrics`` bins it.

    ``G[d, b]`` sums ``prob - y`` over the rows of date d in bin b (bin ``n_bins`` holds
    ``prob == 1.0`` alone); a replicate's ECE is ``sum_b |W @ G[:, b]| / (W @ n)``, the ECE of
    the resampled rows. The estimate sums the differences in row order, as
    ``binary_metrics`` does, so the two agree to the last digit. The per-date series for the
    block length is the date's gap signed by its bin's overall gap, ``(G @ sign(g)) / n``,
    which averages (weighted by rows) to the ECE.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    if prob.size == 0:
        return WeightedStat(None, np.full(n_dates, np.nan), lambda w: np.full(w.shape[0], np.nan))
    width = n_bins + 1
    from ifns_train.evaluation.classification import calibration_bins, calibration_edges

    bins = calibration_bins(prob, calibration_edges(n_bins))
    diff = prob - y
    gaps = np.bincount(bins, diff, minlength=width)
    estimate = float(np.abs(gaps).sum() / prob.size)
    g = np.bincount(codes * width + bins, diff, minlength=n_dates * width).reshape(n_dates, width)
    counts = np.bincount(codes, minlength=n_dates).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_date = (g @ np.sign(gaps)) / counts

    both = np.column_stack([g, counts])

    def replicates(w: np.ndarray) -> np.ndarray:
        out = w @ both
        return np.abs(out[:, :width]).sum(axis=1) / out[:, width]

    return WeightedStat(estimate, per_date, replicates)


def series_stat(v: np.ndarray) -> WeightedStat:
    """Mean of a per-date series (in date order) over its defined (non-NaN) dates."""
    defined = np.isfinite(v).astype(np.float64)
    filled = np.where(defined > 0, v, 0.0)
    estimate = float(np.mean(v[defined > 0])) if defined.any() else None

    both = np.column_stack([filled, defined])

    def replicates(w: np.ndarray) -> np.ndarray:
        num_den = w @ both
        return num_den[:, 0] / num_den[:, 1]

    return WeightedStat(estimate, v, replicates)


# --- validation --------------------------------------------------------------------------------


def check_target(metric: str, y: np.ndarray) -> None:
    """Outcomes as the metric needs them: finite; 0/1 for the directional ones; > 0 for QLIKE."""
    if not np.all(np.isfinite(y)):
        raise ValueError("y must be finite (no NaN or inf)")
    binary = ("hit_rate", *_PROBABILITY_METRICS)
    if metric in binary and not np.all(np.isin(y, (0.0, 1.0))):
        raise ValueError(f"y must contain only 0 and 1 for {metric}")
    if metric == "qlike" and np.any(y <= 0.0):
        raise ValueError("y must be a strictly positive volatility for qlike")


def as_pred(metric: str, pred: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Predictions as a float64 array of ``shape``, checked for what ``metric`` scores."""
    p = np.asarray(pred, dtype=np.float64)
    if p.shape != shape:
        raise ValueError(f"predictions have shape {p.shape}, expected {shape} to match y")
    if not np.all(np.isfinite(p)):
        raise ValueError("predictions must be finite (no NaN or inf)")
    if metric == "hit_rate" and not np.all(np.isin(p, (0.0, 1.0))):
        raise ValueError("hit_rate takes a predicted class (0 or 1)")
    if metric in _PROBABILITY_METRICS and not np.all((p >= 0.0) & (p <= 1.0)):
        raise ValueError(f"{metric} takes probabilities in [0, 1]")
    if metric == "qlike" and np.any(p <= 0.0):
        raise ValueError("qlike takes strictly positive volatility forecasts")
    return np.ascontiguousarray(p)
