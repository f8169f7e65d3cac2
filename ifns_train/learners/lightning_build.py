"""The nets' pieces, from the config: the family's module standardised on the training rows,
the Trainer with the config's callbacks and loggers, and the datamodule with the batch the data
allows (`learners.lightning` fits with them; the benchmarks build the same)."""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
import numpy as np
from hydra.utils import instantiate

from ifns_train.config.schema import DEVICE_RESIDENT, SHUFFLE_BUFFER_MB
from ifns_train.data.module import PanelDataModule
from ifns_train.data.resolve import ResolvedData
from ifns_train.families.base import FamilyModule

# Model keys that set the training schedule rather than the network.
SCHEDULE_KEYS = ("batch_size", "min_steps_per_epoch", "min_steps")
# Model keys no net takes: what fits it, and another learner's settings.
LEARNER_KEYS = ("learner", "params")
# The float64 rows `standardisation` holds at a time, in bytes: the train split is read in chunks.
STATS_CHUNK_BYTES = 32 * 2**20


def build_module(config: dict[str, Any], cls: type[FamilyModule], data: ResolvedData,
                 vocab: dict[str, list[Any]]) -> FamilyModule:
    """The family's module: standardised on the training rows, its hyperparameters from the
    config's model group (less the schedule keys, which the Trainer and datamodule take)."""
    train = data.splits["train"]
    mean, std = standardisation(data)
    target_mean, target_std = cls.target_scaling(train.label.astype(np.float64))
    family = config["family"]
    return cls(
        n_features=len(data.feature_columns),
        feature_mean=mean,
        feature_std=std,
        target_mean=target_mean,
        target_std=target_std,
        vocab=vocab,
        loss=family["loss"],
        huber_delta=family["huber_delta"],
        **hyperparameters(config),
    )


def hyperparameters(config: dict[str, Any]) -> dict[str, Any]:
    """The model group's network settings: all but the schedule keys."""
    return {k: v for k, v in config["model"].items()
            if k not in SCHEDULE_KEYS and k not in LEARNER_KEYS}


def config_callbacks(config: dict[str, Any]) -> list[pl.Callback]:
    """The callbacks group, each instantiated from its `_target_`."""
    return [instantiate(spec) for spec in config["callbacks"].values()]


def build_trainer(config: dict[str, Any], callbacks: list[pl.Callback]) -> pl.Trainer:
    """The Trainer of the config's trainer group, with `callbacks` and the logger group."""
    loggers = [instantiate(spec) for spec in config["logger"].values()]
    return pl.Trainer(
        **config["trainer"],
        min_steps=config["model"]["min_steps"],
        callbacks=callbacks,
        logger=loggers or False,
        default_root_dir=config["paths"]["output_dir"],
    )


def build_datamodule(config: dict[str, Any], data: ResolvedData, trainer: pl.Trainer,
                     vocab: dict[str, list[Any]]) -> PanelDataModule:
    """The datamodule with the training batch the rows of one process allow; the Trainer then
    logs training metrics at least once an epoch (its length is known only now)."""
    model_cfg, ds = config["model"], config["dataset"]
    rows = rows_per_process(data, trainer)
    batch_size = batch_size_for(rows, model_cfg["batch_size"], model_cfg["min_steps_per_epoch"])
    # Lightning sets `log_every_n_steps` (and `callbacks`) on the Trainer without declaring them.
    if trainer.log_every_n_steps > 0:  # type: ignore[attr-defined]
        steps = math.ceil(rows / batch_size)
        limit = trainer.limit_train_batches
        steps = min(steps, limit) if isinstance(limit, int) else max(1, int(steps * limit))
        trainer.log_every_n_steps = min(trainer.log_every_n_steps, steps)  # type: ignore[attr-defined]
    return PanelDataModule(data, batch_size=batch_size, seed=config["seed"], vocab=vocab,
                           device_resident=ds.get("device_resident", DEVICE_RESIDENT),
                           shuffle_buffer_mb=ds.get("shuffle_buffer_mb", SHUFFLE_BUFFER_MB))


def rows_per_process(data: ResolvedData, trainer: pl.Trainer) -> int:
    """The training rows each process of the Trainer sees."""
    return len(data.splits["train"].rows) // trainer.world_size


def batch_size_for(rows: int, largest: int, min_steps_per_epoch: int) -> int:
    """The training batch: `largest`, capped so that an epoch over `rows` rows (of one process)
    takes at least `min_steps_per_epoch` optimiser steps."""
    return max(1, min(largest, rows // min_steps_per_epoch))


def standardisation(data: ResolvedData, chunk_bytes: int = STATS_CHUNK_BYTES
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of each feature over the training rows only, read `chunk_bytes` of float64
    at a time (the split need not fit in memory), equal to the last bit to numpy's mean and
    std of the whole split as float64: the same sums in the same order, the same formulas."""
    train = data.splits["train"]
    features, rows = train.table.features, train.rows
    if features.shape[1] == 1:
        # numpy sums a single column pairwise, which no chunking reproduces; a float64 copy of
        # one column is 8 bytes a row.
        x = features[rows].astype(np.float64)
        mean, std = x.mean(axis=0), x.std(axis=0)
    else:
        chunk = max(1, chunk_bytes // (8 * features.shape[1]))
        mean = _column_sums(features, rows, chunk) / len(rows)
        std = np.sqrt(_column_sums(features, rows, chunk, mean) / len(rows))
    return mean, np.where(std > 1e-12, std, 1.0)


def _column_sums(features: np.ndarray, rows: np.ndarray, chunk: int,
                 mean: np.ndarray | None = None) -> np.ndarray:
    """Per column, the float64 sum over `rows` of the features (or of their squared deviations
    from `mean`), `chunk` rows at a time. numpy reduces axis 0 of a C-contiguous array of two
    or more columns row by row, so a reduction over [running sum; next chunk] continues it
    exactly. The running sum starts at -0.0, which adding leaves any value as it is: the first
    chunk sums as numpy sums, whether its reduction starts from the identity or the first row
    (the sign of a sum of zeros tells)."""
    buffer = np.empty((min(chunk, len(rows)) + 1, features.shape[1]))
    buffer[0] = -0.0
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        block = buffer[1:len(part) + 1]
        block[...] = features[part]
        if mean is not None:
            np.square(np.subtract(block, mean, out=block), out=block)
        buffer[0] = np.add.reduce(buffer[:len(part) + 1], axis=0)
    return buffer[0].copy()
