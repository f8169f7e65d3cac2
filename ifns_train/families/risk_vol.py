"""MF_RISK_VOL_V1: realised volatility over the next 20 trading days (annualised).

The network outputs a log variance, so forecasts are positive by construction. Losses: QLIKE
(the loss under which the conditional variance is the optimal forecast and which is robust to
noise in the realised-volatility proxy), or squared error of the log variance. Baselines: the
trailing 20-day realised volatility and the RiskMetrics EWMA (lambda 0.94) volatility, each as
it is and scaled by the factor that minimises QLIKE on the training rows: a trailing estimate
is biased (volatility mean-reverts, realised volatility is skewed), and a model that only
learns that bias must not look better than the naive forecast corrected for it.
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
    baseline_names = ("trailing_vol", "ewma_vol", "trailing_vol_scaled", "ewma_vol_scaled")

    @classmethod
    def target_scaling(cls, y_train: np.ndarray) -> tuple[float, float]:
        """Mean and std of the log variance y**2 of the training rows."""
        log_var = np.log(np.maximum(y_train, 1e-8) ** 2)
        std = float(log_var.std())
        return float(log_var.mean()), (std if std > 0 else 1.0)

    def _log_var(self, output: torch.Tensor) -> torch.Tensor:
        return output.clamp(-LOG_VAR_CLAMP, LOG_VAR_CLAMP) * self.target_std + self.target_mean

    @classmethod
    def predictions_from(cls, output: np.ndarray, target_mean: float, target_std: float
                         ) -> dict[str, np.ndarray]:
        log_var = np.clip(output, -LOG_VAR_CLAMP, LOG_VAR_CLAMP) * target_std + target_mean
        return {"pred": np.exp(0.5 * log_var)}

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        realised_var = target.clamp_min(1e-8) ** 2
        log_var = self._log_var(output)
        if self.hparams["loss"] == "qlike":
            # y²/σ² - log(y²/σ²) - 1: zero at σ² = y², up to noise in the proxy.
            ratio = realised_var * torch.exp(-log_var)
            return (ratio - torch.log(ratio) - 1.0).mean()
        return torch.nn.functional.mse_loss(
            (log_var - self.target_mean) / self.target_std,
            (torch.log(realised_var) - self.target_mean) / self.target_std,
        )

    @classmethod
    def baseline_columns(cls, params: Mapping[str, Any]) -> list[str]:
        return [params["trailing_vol_column"], params["ewma_vol_column"]]

    @classmethod
    def baselines(
        cls, train: Split, split: Split, params: Mapping[str, Any]
    ) -> dict[str, dict[str, np.ndarray]]:
        out = {}
        y_train = train.label.astype(np.float64)
        for name, column in (("trailing_vol", params["trailing_vol_column"]),
                             ("ewma_vol", params["ewma_vol_column"])):
            forecast = split.extras[column].astype(np.float64)
            out[name] = {"pred": forecast}
            scale = qlike_scale(y_train, train.extras[column].astype(np.float64))
            out[f"{name}_scaled"] = {"pred": scale * forecast}
        return out


def qlike_scale(realised: np.ndarray, forecast: np.ndarray) -> float:
    """The factor c minimising QLIKE of c * forecast: c² = mean(realised² / forecast²).

    QLIKE(v) = mean(a / v + log v) + const in v = c² with a = realised² / forecast², whose
    derivative -mean(a) / v² + 1 / v is zero at v = mean(a). Rows with a non-positive side
    have no QLIKE and are left out.
    """
    ok = (realised > 0) & (forecast > 0)
    return float(np.sqrt(np.mean((realised[ok] / forecast[ok]) ** 2))) if ok.any() else 1.0
