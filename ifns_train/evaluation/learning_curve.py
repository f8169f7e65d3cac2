"""The learning curves of a run: the training and validation loss per epoch, and the epoch
whose weights were kept (the checkpoint of the best validation loss, or the last epoch
without one), so a reviewer sees whether the kept weights were still learning or already
overfitting.

Pure: the per-epoch losses the run kept (`learners.loss_history.LossHistory`) in, a JSON-ready
dict out; epochs are numbered from 1, as `training.best_epoch` counts them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def learning_curve_data(history: Mapping[int, Mapping[str, float]], chosen_epoch: int | None
                        ) -> dict[str, Any]:
    """`history`: epoch (from 1) -> {"train_loss", "val_loss"} as logged; `chosen_epoch`: the
    epoch of the weights kept. A loss not logged in an epoch (validation skipped) is None."""
    epochs = sorted(int(e) for e in history)

    def loss(epoch: int, key: str) -> float | None:
        value = history[epoch].get(key)
        return float(value) if value is not None and math.isfinite(value) else None

    val = [loss(e, "val_loss") for e in epochs]
    chosen_val = val[epochs.index(chosen_epoch)] if chosen_epoch in epochs else None
    notes = []
    if not epochs:
        notes.append("no epoch was logged")
    elif chosen_epoch not in epochs:
        notes.append(f"the kept epoch {chosen_epoch} is not among the epochs logged")
    return {"epochs": epochs, "train_loss": [loss(e, "train_loss") for e in epochs],
            "val_loss": val, "chosen_epoch": chosen_epoch, "chosen_val_loss": chosen_val,
            "note": "; ".join(notes) or None}
