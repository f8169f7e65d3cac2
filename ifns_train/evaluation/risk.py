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
import torch
from torchmetrics.functional import mean_absolute_error, mean_squared_error

from ifns_train.evaluation.regression import as_forecast_arrays, pearson_or_none

_KEYS = ("qlike", "rmse", "mae", "bias", "corr", "log_rmse")


def volatility_metrics(pred: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Score volatility forecasts ``pred`` against realised volatility ``y`` (both > 0).

    ``qlike`` = mean(r - log(r) - 1) with r = y² / pred², the QLIKE loss on variances:
    0 for a perfect forecast, > 0 otherwise. ``rmse``/``mae`` are in volatility units,
    ``bias`` = mean(pred - y), ``corr`` is Pearson of pred and y (None if either is
    constant), ``log_rmse`` = sqrt(mean((log pred - log y)²)).

    Non-positive values are refused: QLIKE and the logs are undefined there, and a zero
    volatility forecast is a bug upstream rather than a forecast.
    """
    pred_a, y_a = as_forecast_arrays(pred, y)
    for label, arr in (("pred", pred_a), ("y", y_a)):
        if np.any(arr <= 0.0):
            raise ValueError(f"{label} must be a strictly positive volatility")
    rows = int(pred_a.size)
    if rows == 0:
        return {"rows": 0, **dict.fromkeys(_KEYS)}

    # log r = 2 (log y - log pred): exact for very small or large ratios, where y² / pred²
    # could under- or overflow.
    log_ratio = np.log(y_a) - np.log(pred_a)
    log_r = 2.0 * log_ratio
    pred_t, y_t = torch.from_numpy(pred_a), torch.from_numpy(y_a)
    return {
        "rows": rows,
        "qlike": float(np.mean(np.exp(log_r) - log_r - 1.0)),
        "rmse": float(mean_squared_error(pred_t, y_t, squared=False)),
        "mae": float(mean_absolute_error(pred_t, y_t)),
        "bias": float(np.mean(pred_a - y_a)),
        "corr": pearson_or_none(pred_a, y_a),
        "log_rmse": float(np.sqrt(np.mean(log_ratio**2))),
    }
