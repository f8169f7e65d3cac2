"""The shared base of every family: normalisation, backbone, loss choice, predictions.

Feature standardisation (and, for regression families, target standardisation) is fitted on the
training rows only and kept as buffers of the module, so a saved model carries its own
preprocessing and can never be fed statistics of other windows. Categorical inputs (context
columns a family embeds) are encoded with a vocabulary taken from the training rows; a value
unseen in training maps to index 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch

from ifns_train.config.schema import FamilyConfig, ModelConfig
from ifns_train.core.errors import ConfigError, DegenerateRunError
from ifns_train.data.module import Batch
from ifns_train.data.resolve import Split
from ifns_train.nets.backbones import build_backbone


class FamilyModule(pl.LightningModule):
    family_name: ClassVar[str]
    task: ClassVar[str]  # classification | regression
    metric_set: ClassVar[str]  # the evaluation metric set: directional | return | risk | cost
    baseline_names: ClassVar[tuple[str, ...]] = ()
    losses: ClassVar[tuple[str, ...]]  # the first is the default
    categorical_inputs: ClassVar[tuple[str, ...]] = ()
    # The standardisation, registered as buffers in __init__ (saved with the weights).
    feature_mean: torch.Tensor
    feature_std: torch.Tensor
    target_mean: torch.Tensor
    target_std: torch.Tensor

    def __init__(
        self,
        *,
        n_features: int,
        # The `model` group's keys: no default here, the values live in the config only
        # (conf/model/*.yaml); a run passes them all, a checkpoint holds them all.
        backbone: str,
        hidden_sizes: list[int] | tuple[int, ...],
        dropout: float,
        lookback: int,
        optimizer: str,
        lr: float,
        weight_decay: float,
        # Keys newer than the first checkpoints: a checkpoint saved before a key existed is
        # loaded with the key's one default, the schema's (None: the family's first loss).
        loss: str | None = FamilyConfig.loss,
        huber_delta: float = FamilyConfig.huber_delta,
        vocab: Mapping[str, list[str]] | None = None,
        feature_mean: np.ndarray | None = None,
        feature_std: np.ndarray | None = None,
        target_mean: float = 0.0,
        target_std: float = 1.0,
        compile: bool = ModelConfig.compile,
    ) -> None:
        super().__init__()
        loss = loss or self.losses[0]
        if loss not in self.losses:
            raise ConfigError(
                f"family.loss {loss!r} is not one of {self.family_name}'s: {', '.join(self.losses)}"
            )
        if not hasattr(torch.optim, optimizer):
            raise ConfigError(f"unknown model.optimizer {optimizer!r}: not a torch.optim class")
        self.save_hyperparameters(
            ignore=["feature_mean", "feature_std", "target_mean", "target_std"]
        )
        # The resolved choices, so a reloaded checkpoint does not depend on today's defaults.
        self.hparams["loss"] = loss
        self.hparams["vocab"] = {k: list(v) for k, v in (vocab or {}).items()}
        mean = np.zeros(n_features) if feature_mean is None else feature_mean
        std = np.ones(n_features) if feature_std is None else feature_std
        self.register_buffer("feature_mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("feature_std", torch.as_tensor(std, dtype=torch.float32))
        self.register_buffer("target_mean", torch.tensor(float(target_mean)))
        self.register_buffer("target_std", torch.tensor(float(target_std)))
        self.backbone = build_backbone(
            backbone,
            n_features + self.extra_input_width(),
            1,
            lookback=lookback,
            hidden_sizes=list(hidden_sizes),
            dropout=dropout,
        )
        # (epochs, optimiser steps) of the checkpoint last loaded into this module, if any.
        self.restored_from: tuple[int, int] | None = None

    # --- what a family may change ----------------------------------------------------------
    def extra_input_width(self) -> int:
        """Width the family adds to each input row (e.g. embeddings)."""
        return 0

    def forward(self, x: torch.Tensor, cat: torch.Tensor | None = None) -> torch.Tensor:
        """Raw output in the family's training scale."""
        return self.backbone((x - self.feature_mean) / self.feature_std).squeeze(-1)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def outputs_to_predictions(self, output: np.ndarray) -> dict[str, np.ndarray]:
        """Raw outputs -> the named prediction arrays the family's metric set takes."""
        return self.predictions_from(output, float(self.target_mean), float(self.target_std))

    @classmethod
    def predictions_from(cls, output: np.ndarray, target_mean: float, target_std: float
                         ) -> dict[str, np.ndarray]:
        """Raw outputs in the family's training scale (the target standardised with
        `target_scaling`) -> the named prediction arrays: one definition for every learner
        (a net's outputs, a tree's raw scores)."""
        raise NotImplementedError

    @classmethod
    def target_scaling(cls, y_train: np.ndarray) -> tuple[float, float]:
        """(mean, std) the target is standardised with; identity unless a family needs it."""
        return 0.0, 1.0

    @classmethod
    def baseline_columns(cls, params: Mapping[str, Any]) -> list[str]:
        """Numeric columns (past-only features) the baselines read."""
        return []

    @classmethod
    def baselines(
        cls, train: Split, split: Split, params: Mapping[str, Any]
    ) -> dict[str, dict[str, np.ndarray]]:
        """Naive predictions for `split`, fitted on `train` only, same arrays as the model's."""
        raise NotImplementedError

    @classmethod
    def evaluation_columns(cls, params: Mapping[str, Any]) -> list[str]:
        """Columns the evaluation reads besides the label (NaN allowed where it is unknown):
        the forward return a directional family's trading proxies earn."""
        column = params.get("realised_return_column")
        return [column] if column else []

    @classmethod
    def evaluation_inputs(cls, split: Split, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Arrays the family's evaluation needs beyond predictions, labels and dates."""
        columns = cls.evaluation_columns(params)
        return {"realised_return": split.extras[columns[0]].astype(np.float64)} if columns else {}

    # --- Lightning hooks -------------------------------------------------------------------
    # What Lightning does around each step is a fixed cost in Python; on a small tabular model it
    # is a few percent of the step, so the per-step path below avoids what it can.

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning sets `_current_fx_name` around every hook, dozens of times per step, and
        # `nn.Module.__setattr__` checks each value against parameters, buffers and modules.
        # A string is none of those.
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def configure_model(self) -> None:
        # `model.compile`: compiled for training only, in place (`nn.Module.compile`), so the
        # state dict keeps its keys and a checkpoint loads into an eager module; the predict pass
        # after fit reuses it. Loading a model for predictions (no Trainer) stays eager.
        if self.hparams.get("compile") and self.trainer.state.fn == "fit" \
                and getattr(self.backbone, "_compiled_call_impl", None) is None:
            self.backbone.compile()

    def on_train_epoch_start(self) -> None:
        self._step_losses: list[tuple[torch.Tensor, int]] = []

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        # The epoch mean is kept here and logged once per epoch: `self.log` on every step
        # costs more than the step itself for a small tabular model.
        x, cat, y = batch
        loss = self.loss(self(x, cat), y)
        self._step_losses.append((loss.detach(), len(y)))
        return loss

    def on_train_epoch_end(self) -> None:
        if self._step_losses:
            losses, rows = zip(*self._step_losses, strict=True)
            weights = torch.tensor(rows, dtype=losses[0].dtype, device=losses[0].device)
            epoch_loss = (torch.stack(losses) * weights).sum() / weights.sum()
            if not torch.isfinite(epoch_loss):  # one check per epoch, not one sync per step
                raise DegenerateRunError(
                    f"the training loss is not finite ({float(epoch_loss)}) in epoch "
                    f"{self.current_epoch + 1}: the model diverged; lower model.lr "
                    f"(now {self.hparams['lr']:g})"
                )
            self.log("train_loss", epoch_loss, sync_dist=True)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Saved during epoch index `epoch` (0-based), after `global_step` optimiser steps.
        self.restored_from = (int(checkpoint["epoch"]) + 1, int(checkpoint["global_step"]))

    def on_validation_epoch_start(self) -> None:
        self._val_sums: list[tuple[torch.Tensor, int]] = []

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        x, cat, y = batch
        self._val_sums.append((self.loss(self(x, cat), y).detach() * len(y), len(y)))

    def on_validation_epoch_end(self) -> None:
        # The mean over all validation rows: under DDP each rank holds a block of them, so sums
        # and row counts are added over ranks and every rank logs the same value (sync_dist
        # averages equal numbers), which early stopping and checkpointing rely on.
        dtype = torch.float32 if self.device.type == "mps" else torch.float64
        local = torch.zeros(2, dtype=dtype, device=self.device)
        for loss_sum, rows in self._val_sums:
            local += torch.stack([loss_sum.to(dtype), loss_sum.new_tensor(rows, dtype=dtype)])
        total, rows = self.trainer.strategy.reduce(local, reduce_op="sum")
        self.log("val_loss", (total / rows).float(), prog_bar=True, sync_dist=True)

    def predict_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0
                     ) -> torch.Tensor:
        x, cat, _ = batch
        return self(x, cat).detach().float().cpu()

    def predictions(self, outputs: list[torch.Tensor]) -> dict[str, np.ndarray]:
        """The named prediction arrays of a predict pass over one split, in row order."""
        output = torch.cat(outputs).numpy().astype(np.float64)
        return self.outputs_to_predictions(output)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        opt = getattr(torch.optim, self.hparams["optimizer"])
        return opt(self.parameters(), lr=self.hparams["lr"],
                   weight_decay=self.hparams["weight_decay"])


class RegressionFamily(FamilyModule):
    """A continuous target, learnt in standardised units (train mean and std)."""

    task = "regression"
    losses: ClassVar[tuple[str, ...]] = ("huber", "mse")

    @classmethod
    def target_scaling(cls, y_train: np.ndarray) -> tuple[float, float]:
        std = float(np.std(y_train))
        return float(np.mean(y_train)), (std if std > 0 else 1.0)

    def _scaled(self, target: torch.Tensor) -> torch.Tensor:
        return (target - self.target_mean) / self.target_std

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.hparams["loss"] == "mse":
            return torch.nn.functional.mse_loss(output, self._scaled(target))
        return torch.nn.functional.huber_loss(
            output, self._scaled(target), delta=self.hparams["huber_delta"]
        )

    @classmethod
    def predictions_from(cls, output: np.ndarray, target_mean: float, target_std: float
                         ) -> dict[str, np.ndarray]:
        return {"pred": output * target_std + target_mean}


def train_rates(labels: np.ndarray, groups: np.ndarray) -> tuple[dict[Any, float], float]:
    """Up-rate of each group among training rows, and the overall rate for unseen groups."""
    prior = float(labels.mean())
    return {g: float(labels[groups == g].mean()) for g in np.unique(groups)}, prior


def trailing_label_stat(split: Split, window: int, horizon: int, stat: str) -> np.ndarray:
    """The mean or median of the symbol's own labels already realised at each row's date.

    A label of date t-k is known at t only once its horizon has passed (k >= horizon), so the
    statistic runs over the known labels of rows t-horizon-window+1 .. t-horizon of the same
    symbol; rows with no such label get NaN, which callers fill from the training rows.
    """
    table = split.table
    symbol_run = np.cumsum(table.history == 0)
    realised = pd.Series(table.label, dtype=np.float64).groupby(symbol_run).shift(horizon)
    rolled = realised.groupby(symbol_run).rolling(window, min_periods=1).agg(stat)
    return rolled.to_numpy()[split.rows]
