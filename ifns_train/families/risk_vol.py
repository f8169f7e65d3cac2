"""MF_RISK_VOL_V1: realised volatility over the next 20 trading days (annualised).

The network outputs a log variance, so forecasts are positive by construction. Losses: QLIKE
(the loss under which the conditional variance is the optimal forecast and which is robust to
noise in the realised-volatility proxy), or squared error of the log variance. Baselines: the
trailing 20-day realised volatility and the RiskMetrics EWMA (lambda 0.94) volatility.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ifns_train.data.resolve import Split
from ifns_train.families.base import RegressionFamily

# Bound on the standardised log variance: keeps exp() finite early in training.
LOG_VAR_CLAMP = 8.0


class RiskVolModule(RegressionFamily):
    family_name = "risk_vol"
    metric_set = "risk"
    losses = ("qlike", "log_variance")
    baseline_names = ("trailing_vol", "ewma_vol")

    @classmethod
    def target_scaling(cls, y_train: np.ndarray) -> tuple[float, float]:
        """Mean and std of the log variance y**2 of the training rows."""
        log_var = np.log(np.maximum(y_train, 1e-8) ** 2)
        std = float(log_var.std())
        return float(log_var.mean()), (std if std > 0 else 1.0)

    def _log_var(self, output: torch.Tensor) -> torch.Tensor:
        return output.clamp(-LOG_VAR_CLAMP, LOG_VAR_CLAMP) * self.target_std + self.target_mean

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        realised_var = target.clamp_min(1e-8) ** 2
        log_var = self._log_var(output)
        if self.hparams.loss == "qlike":
            # y²/σ² - log(y²/σ²) - 1: zero at σ² = y², up to noise in the proxy.
            ratio = realised_var * torch.exp(-log_var)
            return (ratio - torch.log(ratio) - 1.0).mean()
        return torch.nn.functional.mse_loss(
            (log_var - self.target_mean) / self.target_std,
            (torch.log(realised_var) - self.target_mean) / self.target_std,
        )

    def outputs_to_predictions(self, output: np.ndarray) -> dict[str, np.ndarray]:
        # The outputs arrive as numpy; the buffers may live on a GPU.
        log_var = self._log_var(torch.from_numpy(output).to(self.target_std.device)).cpu().numpy()
        return {"pred": np.exp(0.5 * log_var)}

    @classmethod
    def baseline_columns(cls, params: Mapping[str, Any]) -> list[str]:
        return [params["trailing_vol_column"], params["ewma_vol_column"]]

    @classmethod
    def baselines(
        cls, train: Split, split: Split, params: Mapping[str, Any]
    ) -> dict[str, dict[str, np.ndarray]]:
        return {
            "trailing_vol": {"pred": split.extras[params["trailing_vol_column"]].astype(float)},
            "ewma_vol": {"pred": split.extras[params["ewma_vol_column"]].astype(float)},
        }
