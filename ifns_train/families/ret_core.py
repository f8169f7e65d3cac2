"""MF_RET_CORE_V1: the continuous forward 20-day log return.

MSE or Huber on the standardised target. Baselines: zero (no view), and the trailing mean
return: the symbol's trailing `trailing_days` log return scaled to the label horizon.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ifns_train.data.resolve import Split
from ifns_train.families.base import RegressionFamily


class RetCoreModule(RegressionFamily):
    family_name = "ret_core"
    metric_set = "return"
    baseline_names = ("zero", "trailing_mean")

    @classmethod
    def baseline_columns(cls, params: Mapping[str, Any]) -> list[str]:
        return [params["trailing_column"]]

    @classmethod
    def baselines(
        cls, train: Split, split: Split, params: Mapping[str, Any]
    ) -> dict[str, dict[str, np.ndarray]]:
        scale = params["horizon_days"] / params["trailing_days"]
        trailing = split.extras[params["trailing_column"]].astype(np.float64) * scale
        return {
            "zero": {"pred": np.zeros(len(split.rows))},
            "trailing_mean": {"pred": trailing},
        }
