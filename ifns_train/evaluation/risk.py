"""Metrics for realised-volatility forecasts (annualised volatility, strictly positive).

QLIKE is the headline loss: with MSE on variances it is one of the few losses that rank
forecasts consistently when realised volatility is only a noisy proxy of the true one
(Patton 2011); unlike MSE its size does not depend on the volatility level, and it
punishes under-prediction (the costly error for risk sizing) more than over-prediction.
``log_rmse`` is scale-free too, so calm and stressed names weigh alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ifns_train.evaluation.grouped import Layout, Scores, correlate, ratio
from ifns_train.evaluation.regression import as_forecast_arrays


def volatility_metrics(pred: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Score volatility forecasts ``pred`` against realised volatility ``y`` (both > 0).

    ``qlike`` = mean(r - log(r) - 1) with r = y² / pred², the QLIKE loss on variances:
    0 for a perfect forecast, > 0 otherwise. ``rmse``/``mae`` are in volatility units,
    ``bias`` = mean(pred - y), ``corr`` is Pearson of pred and y (None if either is
    constant), ``log_rmse`` = sqrt(mean((log pred - log y)²)).

    Non-positive values are refused: QLIKE and the logs are undefined there, and a zero
    volatility forecast is a bug upstream rather than a forecast.
    """
    rows = np.asarray(pred).shape[0] if np.ndim(pred) == 1 else 0
    return volatility_scores(Layout.single(rows), pred, y).overall()


def volatility_scores(layout: Layout, pred: np.ndarray, y: np.ndarray) -> Scores:
    """``volatility_metrics`` for every group of every grouping of ``layout``."""
    pred_a, y_a = as_forecast_arrays(pred, y)
    for label, arr in (("pred", pred_a), ("y", y_a)):
        if np.any(arr <= 0.0):
            raise ValueError(f"{label} must be a strictly positive volatility")
    if pred_a.size != layout.rows:
        raise ValueError(f"pred has {pred_a.size} rows, the layout {layout.rows}")
    # log r = 2 (log y - log pred): exact for very small or large ratios, where y² / pred²
    # could under- or overflow.
    log_ratio = np.log(y_a) - np.log(pred_a)
    log_r = 2.0 * log_ratio
    err = pred_a - y_a
    figures = []
    for rows, corr, ql, se, ae, e, lr in zip(
        layout.counts(),
        correlate(layout, pred_a, y_a, y),
        layout.sums(np.exp(log_r) - log_r - 1.0),
        layout.sums(err * err),
        layout.sums(np.abs(err)),
        layout.sums(err),
        layout.sums(log_ratio**2),
        strict=True,
    ):
        figures.append({
            "rows": rows,
            "qlike": ratio(ql, rows),
            "rmse": np.sqrt(ratio(se, rows)),
            "mae": ratio(ae, rows),
            "bias": ratio(e, rows),
            "corr": corr,
            "log_rmse": np.sqrt(ratio(lr, rows)),
        })
    return Scores(figures)
