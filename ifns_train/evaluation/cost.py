"""Metrics for trading-cost forecasts (e.g. slippage or market impact) in basis points.

Cost errors are asymmetric in consequence and heavy-tailed, so besides the mean errors
the 90th percentile of the absolute error shows how wrong the bad forecasts are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torchmetrics.functional import mean_absolute_error, mean_squared_error

from ifns_train.evaluation.regression import as_forecast_arrays, pearson_or_none

_KEYS = ("mae_bps", "rmse_bps", "bias_bps", "p90_abs_error_bps", "corr")


def cost_metrics(pred: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Score cost forecasts ``pred`` against realised costs ``y``, both in bps.

    ``bias_bps`` = mean(pred - y) (> 0: costs over-estimated). ``p90_abs_error_bps`` is
    the 90th percentile of |pred - y| with numpy's default linear interpolation between
    order statistics (``np.percentile(..., 90)``, "linear" method). ``corr`` is Pearson of
    pred and y, None if either is constant. Values may be negative (price improvement).
    """
    pred_a, y_a = as_forecast_arrays(pred, y)
    rows = int(pred_a.size)
    if rows == 0:
        return {"rows": 0, **dict.fromkeys(_KEYS)}
    err = pred_a - y_a
    pred_t, y_t = torch.from_numpy(pred_a), torch.from_numpy(y_a)
    return {
        "rows": rows,
        "mae_bps": float(mean_absolute_error(pred_t, y_t)),
        "rmse_bps": float(mean_squared_error(pred_t, y_t, squared=False)),
        "bias_bps": float(err.mean()),
        "p90_abs_error_bps": float(np.percentile(np.abs(err), 90)),
        "corr": pearson_or_none(pred_a, y_a),
    }
