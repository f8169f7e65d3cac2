"""MF_DIR_CORE_V1: probability that the forward 20-day return is positive.

Trained with binary cross-entropy on one logit, so the sigmoid output is a probability whose
calibration the evaluation measures. Baselines: the training class prior, and the sign of the
trailing 20-day return with the up-rate of each sign taken from the training rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ifns_train.data.resolve import Split
from ifns_train.families.base import FamilyModule, train_rates


class DirCoreModule(FamilyModule):
    family_name = "dir_core"
    task = "classification"
    metric_set = "directional"
    losses = ("cross_entropy",)
    baseline_names: ClassVar[tuple[str, ...]] = ("class_prior", "momentum_sign")

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(output, target)

    @classmethod
    def predictions_from(cls, output: np.ndarray, target_mean: float, target_std: float
                         ) -> dict[str, np.ndarray]:
        prob = 1.0 / (1.0 + np.exp(-output))
        return {"prob": prob, "pred": (prob >= 0.5).astype(np.float64)}

    @classmethod
    def baseline_columns(cls, params: Mapping[str, Any]) -> list[str]:
        return [params["momentum_column"]]

    @classmethod
    def baselines(
        cls, train: Split, split: Split, params: Mapping[str, Any]
    ) -> dict[str, dict[str, np.ndarray]]:
        y_train = train.label.astype(np.float64)
        n = len(split.rows)
        prior = float(y_train.mean())
        column = params["momentum_column"]
        rates, _ = train_rates(y_train, train.extras[column] > 0)
        up = split.extras[column] > 0
        return {
            "class_prior": {"prob": np.full(n, prior), "pred": np.full(n, float(prior >= 0.5))},
            "momentum_sign": {
                "prob": np.where(up, rates.get(True, prior), rates.get(False, prior)),
                "pred": up.astype(np.float64),
            },
        }
