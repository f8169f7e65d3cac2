"""MF_EXEC_COST_V1: realised trading cost, in basis points, of executing an order next day.

Huber loss measured in basis points (`family.huber_delta` is in bps here), so a few extreme
fills do not dominate. The primary metric is MAE, for which the best constant forecast is a
median, not a mean; costs are skewed (a spread estimate is 0 on many days), so the two differ.
Baselines: the training median cost; the symbol's trailing median and trailing mean realised
cost (only costs already realised at the forecast date); and the square-root impact formula
cost = a + b * sigma_daily_bps * sqrt(order notional / dollar volume), with a and b fitted by
least squares on the training rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ifns_train.core.calendar import TRADING_DAYS_PER_YEAR
from ifns_train.data.resolve import Split
from ifns_train.families.base import RegressionFamily, trailing_label_stat


def sqrt_impact_term(split: Split, params: Mapping[str, Any]) -> np.ndarray:
    """sigma_daily_bps * sqrt(participation) from past-only features."""
    annual = split.extras[params["vol_column"]].astype(float)
    sigma_bps = annual / np.sqrt(TRADING_DAYS_PER_YEAR) * 1e4
    dollar_volume = np.exp(split.extras[params["log_dollar_volume_column"]].astype(float))
    return sigma_bps * np.sqrt(float(params["order_notional_usd"]) / dollar_volume)


class ExecCostModule(RegressionFamily):
    family_name = "exec_cost"
    metric_set = "cost"
    losses = ("huber",)
    baseline_names = ("median_cost", "trailing_median_cost", "trailing_mean_cost",
                      "sqrt_impact")

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred_bps = output * self.target_std + self.target_mean
        return torch.nn.functional.huber_loss(pred_bps, target, delta=self.hparams["huber_delta"])

    @classmethod
    def baseline_columns(cls, params: Mapping[str, Any]) -> list[str]:
        return [params["vol_column"], params["log_dollar_volume_column"]]

    @classmethod
    def baselines(
        cls, train: Split, split: Split, params: Mapping[str, Any]
    ) -> dict[str, dict[str, np.ndarray]]:
        y_train = train.label.astype(np.float64)
        window, horizon = int(params["trailing_window"]), int(params["horizon_days"])
        median, mean = float(np.median(y_train)), float(y_train.mean())
        trailing = {stat: trailing_label_stat(split, window, horizon, stat)
                    for stat in ("median", "mean")}
        design = np.column_stack([np.ones(len(y_train)), sqrt_impact_term(train, params)])
        (a, b), *_ = np.linalg.lstsq(design, y_train, rcond=None)
        return {
            "median_cost": {"pred": np.full(len(split.rows), median)},
            "trailing_median_cost": {"pred": np.where(np.isnan(trailing["median"]), median,
                                                      trailing["median"])},
            "trailing_mean_cost": {"pred": np.where(np.isnan(trailing["mean"]), mean,
                                                    trailing["mean"])},
            "sqrt_impact": {"pred": a + b * sqrt_impact_term(split, params)},
        }
