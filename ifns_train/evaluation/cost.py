"""Metrics for trading-cost forecasts (e.g. slippage or market impact) in basis points.

Cost errors are asymmetric in consequence and heavy-tailed, so besides the mean errors
the 90th percentile of the absolute error shows how wrong the bad forecasts are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ifns_train.evaluation.grouped import Layout, Scores, correlate, ratio
from ifns_train.evaluation.ranking import grouped_percentile
from ifns_train.evaluation.regression import as_forecast_arrays


def cost_metrics(pred: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Score cost forecasts ``pred`` against realised costs ``y``, both in bps.

    ``bias_bps`` = mean(pred - y) (> 0: costs over-estimated). ``p90_abs_error_bps`` is
    the 90th percentile of |pred - y| with numpy's default linear interpolation between
    order statistics (``np.percentile(..., 90)``, "linear" method). ``corr`` is Pearson of
    pred and y, None if either is constant. Values may be negative (price improvement).
    """
    rows = np.asarray(pred).shape[0] if np.ndim(pred) == 1 else 0
    return cost_scores(Layout.single(rows), pred, y).overall()


def cost_scores(layout: Layout, pred: np.ndarray, y: np.ndarray) -> Scores:
    """``cost_metrics`` for every group of every grouping of ``layout``."""
    pred_a, y_a = as_forecast_arrays(pred, y)
    if pred_a.size != layout.rows:
        raise ValueError(f"pred has {pred_a.size} rows, the layout {layout.rows}")
    err = pred_a - y_a
    abs_err = np.abs(err)
    figures = []
    for rows, corr, ae, se, e, p90 in zip(
        layout.counts(),
        correlate(layout, pred_a, y_a, y),
        layout.sums(abs_err),
        layout.sums(err * err),
        layout.sums(err),
        grouped_percentile(layout, abs_err, 90),
        strict=True,
    ):
        figures.append({
            "rows": rows,
            "mae_bps": ratio(ae, rows),
            "rmse_bps": np.sqrt(ratio(se, rows)),
            "bias_bps": ratio(e, rows),
            "p90_abs_error_bps": p90,
            "corr": corr,
        })
    return Scores(figures)
