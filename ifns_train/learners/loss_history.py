"""The per-epoch losses of a run, kept in memory for its learning curves.

A callback rather than the logger's files: every run has it whatever `logger=` says (none,
csv, MLflow), nothing is read back from disk, and its `state_dict` travels in the checkpoint,
so a resumed run (`ckpt_path=`) draws its curves from the first epoch (a checkpoint is saved
after the epoch's losses are logged, and `state_dict` takes them first). The family module logs
`train_loss` in its own `on_train_epoch_end`, which Lightning calls after the callbacks' hook
of that name, so an epoch's figures are taken at the next hook that follows them (the next
epoch's start, or the end of the fit), from `trainer.callback_metrics`. Epochs are numbered
from 1, as `training.best_epoch` counts them.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl

LOSSES = ("train_loss", "val_loss")


class LossHistory(pl.Callback):
    def __init__(self) -> None:
        self.epochs: dict[int, dict[str, float]] = {}
        self._ended: int | None = None  # the epoch (from 1) that ended, not yet taken
        self._trainer: pl.Trainer | None = None

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._ended, self._trainer = trainer.current_epoch + 1, trainer

    def _take(self, trainer: pl.Trainer | None) -> None:
        if self._ended is None or trainer is None:
            return
        metrics = trainer.callback_metrics
        self.epochs[self._ended] = {k: float(metrics[k]) for k in LOSSES if k in metrics}
        self._ended = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._take(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._take(trainer)

    def state_dict(self) -> dict[str, Any]:
        # A checkpoint is saved after the module logged the epoch's train_loss: take it now.
        self._take(self._trainer)
        return {"epochs": {str(k): v for k, v in self.epochs.items()}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # Merged, not replaced: the predict pass restores the best checkpoint's callback states
        # too, which hold only the epochs up to the best one.
        for k, v in state_dict.get("epochs", {}).items():
            self.epochs.setdefault(int(k), dict(v))
