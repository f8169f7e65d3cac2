"""The nets' learner: a family's LightningModule fitted by Lightning's Trainer.

The fit builds the module (standardised on the training rows), the Trainer with the config's
callbacks and loggers and the run's own (`FitRequest.callbacks`), and the datamodule; fits,
resuming an interrupted run's checkpoint or starting from a registered model's weights; then
runs Lightning's predict loop with the best checkpoint over the evaluation splits. Under DDP
every rank predicts its own block of each split and the blocks are gathered in row order
(`gather_rows`); saving the checkpoint is collective, and only global rank 0 records.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
import torch.distributed as dist

from ifns_train.config.schema import ModelConfig
from ifns_train.core.errors import ConfigError, DegenerateRunError
from ifns_train.data.module import EVAL_SPLITS
from ifns_train.families.base import FamilyModule
from ifns_train.learners.base import NET_KEYS, FitRequest, Fitted, Scorer
from ifns_train.learners.lightning_build import (
    build_datamodule,
    build_module,
    build_trainer,
    config_callbacks,
    rows_per_process,
)
from ifns_train.learners.loss_history import LossHistory
from ifns_train.nets.backbones import parameter_count
from ifns_train.registry.records import ModelRecord

CHECKPOINT = "model.ckpt"
FILES = (CHECKPOINT,)
# Model keys that shape the network's weights: a model's weights start a run only if they match.
ARCHITECTURE_KEYS = ("backbone", "hidden_sizes", "lookback")


class NetScorer:
    """A family module as a `Scorer`: batches go to the module's device, outputs come back."""

    def __init__(self, module: FamilyModule) -> None:
        # Scored as the predict pass scores (dropout off): Lightning hands the module back in
        # the training mode it had before `trainer.predict`.
        self.module = module.eval()
        self.family = type(module)
        self.lookback = int(module.hparams.get("lookback", 1))
        self.vocab = module.hparams.get("vocab") or {}
        self.n_features = int(module.feature_mean.shape[0])

    def outputs(self, x: torch.Tensor, cat: torch.Tensor | None) -> np.ndarray:
        device = self.module.device
        with torch.inference_mode():
            out = self.module(x.to(device), None if cat is None else cat.to(device))
        return out.float().cpu().numpy().astype(np.float64)

    def predictions(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        return self.module.outputs_to_predictions(outputs)


def check_config(config: dict[str, Any]) -> None:
    unset = [k for k in NET_KEYS if config["model"].get(k) is None]
    if unset:
        raise ConfigError(f"model.{unset[0]} is null: backbone {config['model']['backbone']} is "
                          "a net, fitted by Lightning, which needs it")
    if config["model"].get("params"):
        raise ConfigError("model.params holds another learner's settings; a net "
                          f"({config['model']['backbone']}) takes its own keys under model")


def check_init(parent: Scorer, config: dict[str, Any]) -> None:
    assert isinstance(parent, NetScorer)  # the caller checked the parent's learner is this one
    for key in ARCHITECTURE_KEYS:
        theirs, ours = parent.module.hparams.get(key), config["model"][key]
        if isinstance(theirs, (list, tuple)):
            theirs, ours = list(theirs), list(ours)
        if theirs != ours:
            raise ConfigError(f"has model.{key}={theirs!r}; this run has {ours!r}: its "
                              "weights do not fit this network")


def load(folder: Path, family: type[FamilyModule], record: ModelRecord) -> NetScorer:
    module = family.load_from_checkpoint(folder / CHECKPOINT, map_location="cpu",
                                         weights_only=True)
    module.eval()
    return NetScorer(module)


class FitTimer(pl.Callback):
    """Seconds from the start of `fit` to its end (0 until it has ended)."""

    def __init__(self) -> None:
        self._started = 0.0
        self.seconds = 0.0

    def on_fit_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self._started = time.perf_counter()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self.seconds = time.perf_counter() - self._started


def fit(request: FitRequest) -> Fitted:
    config, data, model_cfg = request.config, request.data, request.config["model"]
    module = build_module(config, request.family, data, request.vocab)
    if request.init is not None:
        assert isinstance(request.init, NetScorer)  # check_init said so
        module.load_state_dict(request.init.module.state_dict())
    callbacks = config_callbacks(config)
    if request.resume is not None:
        request.resume.continue_checkpoints(callbacks)
    timer, history = FitTimer(), LossHistory()
    trainer = build_trainer(config, [*callbacks, *request.callbacks, timer, history])
    datamodule = build_datamodule(config, data, trainer, request.vocab)
    batch_size, rows = datamodule.batch_size, rows_per_process(data, trainer)
    request.mark("setup")
    if request.resume is not None:  # epochs, steps, optimiser and callback states continue
        trainer.fit(module, datamodule=datamodule, ckpt_path=request.resume.path,
                    weights_only=True)
    else:
        trainer.fit(module, datamodule=datamodule)
    request.mark("fit")  # what follows, the predict pass, is the evaluation's
    training = {
        "learner": config["model"]["learner"],
        "batch_size": batch_size,
        "batch_size_configured": model_cfg["batch_size"],
        "min_steps_per_epoch": model_cfg["min_steps_per_epoch"],
        "min_steps": model_cfg["min_steps"],
        "train_rows_per_process": rows,
        "steps_per_epoch": int(min(trainer.num_training_batches, math.ceil(rows / batch_size))),
        "epochs_run": trainer.current_epoch,
        "steps_taken": trainer.global_step,
        "stopped_by": _stopped_by(trainer),
        # How it ran: precision, compiled or not, where each split lived (the host: "cpu") and
        # how its batches were drawn (the same dicts, completed by the predict pass).
        "precision": str(trainer.precision),
        "compile": bool(model_cfg.get("compile", ModelConfig.compile)),
        "data_device": datamodule.placement,
        "batching": datamodule.batching,
    }
    if trainer.global_step == 0 and not request.smoke:
        raise DegenerateRunError(
            "the model took no optimiser step ("
            + ", ".join(f"trainer.{k}={config['trainer'].get(k)}" for k in
                        ("max_epochs", "max_steps", "limit_train_batches")
                        if k in config["trainer"])
            + "): nothing to register"
        )
    outputs = _predict(trainer, module, datamodule)
    # The weights evaluated: the best checkpoint's, or the last epoch's without one.
    best_epoch, best_step = module.restored_from or (trainer.current_epoch, trainer.global_step)
    training.update(best_epoch=best_epoch, best_step=best_step)

    def save(folder: Path) -> None:
        # Collective under DDP; the strategy lets only rank 0 touch the file.
        trainer.save_checkpoint(folder / CHECKPOINT, weights_only=False)

    return Fitted(
        outputs={} if request.smoke or not trainer.is_global_zero else
        {name: torch.cat(batches).numpy().astype(np.float64)
         for name, batches in zip(EVAL_SPLITS, outputs, strict=True)},
        scorer=NetScorer(module), save=save, training=training, history=history.epochs,
        parameter_count=parameter_count(module), fit_seconds=timer.seconds,
        resources={"accelerator": type(trainer.accelerator).__name__,
                   "devices": trainer.num_devices},
        loggers=list(trainer.loggers), log_step=trainer.global_step,
        writes=trainer.is_global_zero)


def _predict(trainer: pl.Trainer, module: FamilyModule, datamodule: pl.LightningDataModule
             ) -> list[list[torch.Tensor]]:
    """The evaluated weights' raw outputs per evaluation split: the best checkpoint's, or
    the last epoch's without one."""
    best = getattr(trainer.checkpoint_callback, "best_model_path", "")
    outputs = trainer.predict(module, datamodule=datamodule,
                              ckpt_path="best" if best else None, weights_only=True)
    outputs = outputs if outputs and isinstance(outputs[0], list) else [outputs or []]
    if trainer.world_size == 1:
        return outputs
    # Under DDP each rank predicted its contiguous block of every split: put them together.
    return [[gather_rows(trainer, torch.cat(batches))] for batches in outputs]


def gather_rows(trainer: pl.Trainer, local: torch.Tensor) -> torch.Tensor:
    """The rows of all ranks, in rank order, from each rank's block (`shard_bounds`): blocks
    may differ in length, so each is padded to the longest for `all_gather` and cut back to
    its own count; every rank gets the whole, on the host."""
    device, world = trainer.strategy.root_device, trainer.world_size
    counts = [torch.zeros(1, dtype=torch.int64, device=device) for _ in range(world)]
    dist.all_gather(counts, torch.tensor([len(local)], device=device))
    sizes = [int(c) for c in counts]
    padded = local.new_zeros((max(sizes), *local.shape[1:]), device=device)
    padded[: len(local)] = local
    gathered = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(gathered, padded)
    return torch.cat([part[:n] for part, n in zip(gathered, sizes, strict=True)]).cpu()


def _stopped_by(trainer: pl.Trainer) -> str:
    """Why fit ended: early stopping, or the epoch or step limit."""
    if any(getattr(c, "stopped_epoch", 0) for c in trainer.callbacks):  # type: ignore[attr-defined]
        return "early_stopping"
    max_steps = trainer.fit_loop.max_steps
    if max_steps not in (None, -1) and trainer.global_step >= max_steps:
        return "max_steps"
    return "max_epochs"
