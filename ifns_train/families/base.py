"""The shared base of every family: normalisation, backbone, optimiser, prediction capture.

Feature standardisation is fitted on the training rows only and kept as buffers of the module, so
a saved model carries its own preprocessing and can never be fed statistics of other windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import lightning.pytorch as pl
import numpy as np
import torch

from ifns_train.data.resolve import Split
from ifns_train.errors import ConfigError
from ifns_train.nets.backbones import build_backbone


class FamilyModule(pl.LightningModule):
    family_name: ClassVar[str]
    task: ClassVar[str]
    n_outputs: ClassVar[int] = 1
    baseline_names: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *,
        n_features: int,
        backbone: str = "mlp",
        hidden_sizes: list[int] | tuple[int, ...] = (64, 32),
        dropout: float = 0.1,
        lookback: int = 1,
        optimizer: str = "AdamW",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        feature_mean: np.ndarray | None = None,
        feature_std: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["feature_mean", "feature_std"])
        mean = np.zeros(n_features) if feature_mean is None else feature_mean
        std = np.ones(n_features) if feature_std is None else feature_std
        self.register_buffer("feature_mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("feature_std", torch.as_tensor(std, dtype=torch.float32))
        self.backbone = build_backbone(
            backbone,
            n_features,
            self.n_outputs,
            lookback=lookback,
            hidden_sizes=list(hidden_sizes),
            dropout=dropout,
        )
        if not hasattr(torch.optim, optimizer):
            raise ConfigError(f"unknown model.optimizer {optimizer!r}: not a torch.optim class")
        self._captured: dict[int, list[torch.Tensor]] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone((x - self.feature_mean) / self.feature_std).squeeze(-1)

    # --- what a family defines -------------------------------------------------------------
    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def outputs_to_predictions(self, output: np.ndarray) -> dict[str, np.ndarray]:
        """Raw outputs -> the named prediction arrays the family's metrics take."""
        raise NotImplementedError

    @classmethod
    def baselines(
        cls, train: Split, split: Split, family: Mapping[str, Any]
    ) -> dict[str, dict[str, np.ndarray]]:
        """Naive predictions for `split`, fitted on `train` only, same arrays as the model's."""
        raise NotImplementedError

    # --- Lightning hooks -------------------------------------------------------------------
    def on_train_epoch_start(self) -> None:
        self._loss_sum, self._loss_rows = torch.zeros((), device=self.device), 0

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        # The epoch mean is kept here and logged once per epoch: `self.log` on every step
        # costs more than the step itself for a small tabular model.
        x, y = batch
        loss = self.loss(self(x), y)
        self._loss_sum += loss.detach() * len(y)
        self._loss_rows += len(y)
        return loss

    def on_train_epoch_end(self) -> None:
        if self._loss_rows:
            self.log("train_loss", self._loss_sum / self._loss_rows, sync_dist=True)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", self.loss(self(x), y), prog_bar=True, batch_size=len(y))

    def on_test_epoch_start(self) -> None:
        self._captured = {}

    def test_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        x, _ = batch
        self._captured.setdefault(dataloader_idx, []).append(self(x).detach().float().cpu())

    def captured_predictions(self, dataloader_idx: int) -> dict[str, np.ndarray]:
        """Predictions of the last test pass over one dataloader, in row order."""
        output = torch.cat(self._captured[dataloader_idx]).numpy().astype(np.float64)
        return self.outputs_to_predictions(output)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        opt = getattr(torch.optim, self.hparams.optimizer)
        return opt(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
