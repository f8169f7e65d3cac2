"""`train(cfg)`: one experiment from a composed config to a governed model.

Separate from the Hydra entry point so that tests and other code call it directly with a
config composed by `hydra.compose`.

Two ways to start from earlier weights:

* `ckpt_path=<Lightning checkpoint>` resumes an interrupted run: the same experiment (same
  experiment and model ids, the same config), continued from the checkpoint's epoch and step.
  Every checkpoint a run writes names its experiment (`RunIdentity`), so the run is found in
  the registry; only one that was interrupted (killed and found stale, or failed by a signal or
  Ctrl+C) is resumed, and its log entry goes back from `failed` to `running`.
* `init_from=<model_id>` starts a new experiment from a registered model's weights (a
  fine-tune): same family and architecture, weights verified against their recorded hash, the
  parent recorded in `training.init_from` and as the experiment's `parent_experiment_id`.
"""

from __future__ import annotations

import inspect
import logging
import math
import signal
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
from hydra.utils import instantiate, to_absolute_path
from omegaconf import DictConfig, OmegaConf

from ifns_train import repro, timing
from ifns_train.callbacks.recorder import Recorder
from ifns_train.callbacks.run_context import RunContext
from ifns_train.companions import companion_configs
from ifns_train.config.checks import check_ranges
from ifns_train.config.schema import SHUFFLE_BUFFER_MB
from ifns_train.data.cache import CacheOptions
from ifns_train.data.module import PanelDataModule
from ifns_train.data.placebo import permute_labels
from ifns_train.data.resolve import ResolvedData, resolve
from ifns_train.data.splits import parse_windows, purge_gap
from ifns_train.errors import (
    ConfigError,
    ContractError,
    DegenerateRunError,
    RunTerminated,
)
from ifns_train.evaluation.report import unscorable
from ifns_train.families import family_class
from ifns_train.registry import documents, faults, ids
from ifns_train.registry.database import Registry
from ifns_train.resume import InitFrom, Resume, RunIdentity, plan_init, plan_resume, reenter

# Trainer arguments other config keys own; setting them under `trainer` would be ambiguous.
RESERVED_TRAINER_KEYS = {
    "callbacks": "the callbacks group",
    "logger": "the logger group",
    "default_root_dir": "paths.output_dir",
    "min_steps": "model.min_steps",
}
# Model keys that set the training schedule rather than the network.
SCHEDULE_KEYS = ("batch_size", "min_steps_per_epoch", "min_steps")
# Trainer settings that evaluate or train on part of the data only: such a run is a smoke test
# of the pipeline, which records nothing (its figures would not be evidence).
SMOKE_TEST_KEYS = ("fast_dev_run", "overfit_batches", "limit_val_batches", "limit_test_batches",
                   "limit_predict_batches")
# The float64 rows `standardisation` holds at a time, in bytes: the train split is read in chunks.
STATS_CHUNK_BYTES = 32 * 2**20


def check_config(cfg: dict[str, Any]) -> None:
    """Checks the schema cannot express; all run before any work."""
    check_ranges(cfg)
    trainer_keys = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    for key in cfg["trainer"]:
        if key in RESERVED_TRAINER_KEYS:
            raise ConfigError(f"trainer.{key} is set by {RESERVED_TRAINER_KEYS[key]}, not under "
                              "trainer")
        if key not in trainer_keys:
            raise ConfigError(f"trainer.{key} is not an argument of lightning.pytorch.Trainer")
    if cfg["trainer"].get("max_epochs") == -1:
        raise ConfigError("trainer.max_epochs=-1 would train forever; give a number of epochs "
                          "(early stopping still ends training sooner)")
    family = cfg["family"]
    cls = family_class(family["name"])
    if family["task"] != cls.task:
        raise ConfigError(f"family.task {family['task']!r} does not match family {cls.task!r}")
    target = cfg["labels"]["target"]
    if target not in family["label_families"]:
        raise ConfigError(
            f"labels.target {target} is not a label family of {family['name']} "
            f"(family.label_families: {', '.join(family['label_families'])})"
        )
    missing = set(family["feature_families"]) - set(cfg["features"]["families"])
    if missing:
        raise ConfigError(
            f"features.families lacks {', '.join(sorted(missing))}, required by {family['name']}"
        )
    if family["loss"] is not None and family["loss"] not in cls.losses:
        raise ConfigError(
            f"family.loss {family['loss']!r} is not one of {family['name']}'s: "
            f"{', '.join(cls.losses)}"
        )
    try:
        cls.baseline_columns(baseline_params(cfg))
    except KeyError as exc:
        raise ConfigError(
            f"family.baseline_params.{exc.args[0]} is required by family {family['name']}"
        ) from None
    for name in family["baselines"]:
        if name not in cls.baseline_names:
            raise ConfigError(
                f"family.baselines: unknown baseline {name!r} for {family['name']} "
                f"(known: {', '.join(cls.baseline_names)})"
            )
    if not family["roles"]:
        raise ConfigError("family.roles must name at least one role")
    ds = cfg["dataset"]
    if ds.get("device_resident", "auto") not in ("auto", True, False):
        raise ConfigError(f"dataset.device_resident is auto, true or false, not "
                          f"{ds['device_resident']!r}")
    buffer_mb = ds.get("shuffle_buffer_mb", SHUFFLE_BUFFER_MB)
    if type(buffer_mb) is not int or buffer_mb < 1:
        raise ConfigError(f"dataset.shuffle_buffer_mb is a positive number of MiB, not "
                          f"{buffer_mb!r}")
    purge_gap(cfg["labels"]["horizon_days"], ds["purge_days"], ds["embargo_days"])
    if ds["windows"] is not None:
        parse_windows(ds["windows"], "dataset.windows")
    for name, spec in {**cfg["callbacks"], **cfg["logger"]}.items():
        if not isinstance(spec, dict) or "_target_" not in spec:
            raise ConfigError(f"callbacks/logger entry {name!r} needs a _target_")
    check_start(cfg)


def check_start(cfg: dict[str, Any]) -> None:
    """`ckpt_path` and `init_from`: exclusive, and not with what they cannot continue."""
    ckpt_path, init_from = cfg.get("ckpt_path"), cfg.get("init_from")
    for key, value in (("ckpt_path", ckpt_path), ("init_from", init_from)):
        if value is not None and not str(value).strip():
            what = "a checkpoint path" if key == "ckpt_path" else "a model_id"
            raise ConfigError(f"{key} is empty: give {what} or leave it unset")
    if ckpt_path is not None and init_from is not None:
        raise ConfigError("ckpt_path and init_from are exclusive: ckpt_path continues an "
                          "interrupted run (a fine-tune keeps the init_from it started with), "
                          "init_from starts a new experiment from a registered model")
    key = "ckpt_path" if ckpt_path is not None else "init_from" if init_from is not None else None
    if key is None:
        return
    ev = cfg["evaluation"]
    companions = [name for name, on in (
        ("evaluation.walk_forward.folds", ev["walk_forward"]["folds"] > 0),
        ("evaluation.seeds", any(s != cfg["seed"] for s in ev["seeds"])),
        ("evaluation.placebo", ev["placebo"])) if on]
    if companions:
        why = ("its companion runs are experiments of their own, already recorded or not"
               if key == "ckpt_path" else
               "a placebo or an earlier walk-forward fold started from weights learnt on real "
               "labels or later dates would not be a clean control")
        raise ConfigError(f"{key} cannot be combined with companion runs "
                          f"({', '.join(companions)}): {why}")
    smoke = smoke_test_keys(cfg["trainer"])
    if key == "ckpt_path" and smoke:
        raise ConfigError(f"ckpt_path resumes a recorded run, but {', '.join(smoke)} makes this "
                          "a smoke test, which records nothing")


def baseline_params(cfg: dict[str, Any]) -> dict[str, Any]:
    """What baselines and family-specific evaluation read: the family's baseline_params plus
    the label horizon (a trailing baseline may use only labels realised by then)."""
    return {**cfg["family"]["baseline_params"], "horizon_days": cfg["labels"]["horizon_days"]}


def smoke_test_keys(trainer: dict[str, Any]) -> list[str]:
    """The trainer settings (if any) that make this run a smoke test."""
    def partial(key: str, value: Any) -> bool:
        if key in ("fast_dev_run", "overfit_batches"):
            return value not in (None, False, 0)
        # A limit is a fraction (1.0: all batches) or, as an int, a number of batches.
        return value is not None and (type(value) is int or value != 1.0)

    return [f"trainer.{k}={trainer[k]}" for k in SMOKE_TEST_KEYS
            if k in trainer and partial(k, trainer[k])]


def batch_size_for(rows: int, largest: int, min_steps_per_epoch: int) -> int:
    """The training batch: `largest`, capped so that an epoch over `rows` rows (of one process)
    takes at least `min_steps_per_epoch` optimiser steps."""
    return max(1, min(largest, rows // min_steps_per_epoch))


def check_scorable(data: ResolvedData, metric_set: str) -> None:
    """Refuse, before training, data on which the family's primary metric cannot be computed
    (labels of one class, too few symbols per date for a cross-sectional IC)."""
    for name, split in data.splits.items():
        problem = unscorable(metric_set, split.label, split.dates)
        if problem:
            raise ContractError(
                f"dataset {split.table.dataset_id}, {name} split ({len(split.rows)} rows), label "
                f"{data.label_family}: {problem}"
            )


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


def _quiet_lightning_console() -> None:
    """Lightning adds its own console handler even when the root logger (Hydra's) has one,
    which prints every message twice; keep only the root's, which also writes the run's log.
    Drop its advertising tip and a deprecation warning it raises against newer torch."""
    lightning_logger = logging.getLogger("lightning")
    if logging.getLogger().handlers:
        for handler in list(lightning_logger.handlers):
            lightning_logger.removeHandler(handler)
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropTips) for f in rank_zero.filters):
        rank_zero.addFilter(_DropTips())
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


class _DropTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in record.getMessage()


def open_run_registry(config: dict[str, Any]) -> Registry:
    """The run's registry, checked before any work: its folder exists (or the demo dataset
    will create it), is a folder and is writable, its database opens, and it holds no JSON
    registry of an earlier version still to be imported."""
    registry_dir = Path(config["paths"]["registry_dir"])
    if not registry_dir.exists() and not config["dataset"]["generate_demo_if_missing"]:
        raise ConfigError(f"paths.registry_dir: registry folder {registry_dir} does not exist")
    registry = Registry(registry_dir, config["registry"]["url"])
    documents.check_migrated(registry_dir)
    return registry


@contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """A SIGTERM (a scheduler's cancel, `kill`) becomes `RunTerminated` in the run, so the run
    is recorded as terminated and exits non-zero, rather than vanishing or exiting 0."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, _frame: Any) -> None:
        raise RunTerminated(f"terminated by signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def train(cfg: DictConfig, reproduction: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train, evaluate and record one model, after its companion runs (a placebo, extra seeds,
    earlier walk-forward folds) when the config asks for them; returns the recorder's summary.

    `reproduction` (`parent_experiment_id`, `evidence`) re-runs a recorded experiment as a
    linked run that registers no model (`ifns_train.reproduce`). `ckpt_path` resumes an
    interrupted run, `init_from` starts from a registered model's weights (`ifns_train.resume`).
    """
    _quiet_lightning_console()
    config: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    check_config(config)
    registry_dir = Path(to_absolute_path(config["paths"]["registry_dir"]))
    output_dir = Path(to_absolute_path(config["paths"]["output_dir"]))
    config["paths"] = {"registry_dir": str(registry_dir), "output_dir": str(output_dir)}
    registry = open_run_registry(config)
    hashed = repro.definition(OmegaConf.to_container(cfg, resolve=False))
    kind, parent = ("reproduction", reproduction["parent_experiment_id"]) if reproduction \
        else ("model", None)
    resume = init = None
    if config.get("ckpt_path") is not None:
        if reproduction:
            raise ConfigError("ckpt_path: a reproduction trains from scratch, not from a "
                              "checkpoint")
        resume = plan_resume(config, hashed, registry)
        hashed["init_from"] = config["init_from"]  # an interrupted fine-tune keeps its parent
        config["ckpt_path"] = None  # the config the experiment computes, as it started
    elif config.get("init_from") is not None:
        init = plan_init(config, registry)
        parent = parent or init.record.experiment_id
    config_hash = repro.config_hash(repro.definition(hashed))
    if resume is not None:
        main = _recorder(config, config_hash, registry, parent=resume.entry.parent_experiment_id,
                         run_ids=(resume.entry.experiment_id, resume.entry.proposed_model_id))
        main.ctx.training = resume.provenance()
    else:
        main = _recorder(config, config_hash, registry, kind=kind, parent=parent)
        if init is not None:
            main.ctx.training = init.provenance()
    if reproduction:
        main.ctx.evidence = reproduction["evidence"]
    smoke = smoke_test_keys(config["trainer"])
    if smoke:
        return _run(config, main, smoke, init=init)
    with terminate_on_sigterm():
        if resume is not None:
            reenter(main, resume)
        else:
            main.begin()
        try:
            plan = companion_configs(config) if not reproduction else None
            if plan is not None and plan.main_windows is not None:
                config["dataset"]["windows"] = plan.main_windows
            for kind, variant in plan.runs if plan is not None else []:
                run = _recorder(variant, repro.config_hash(repro.definition(variant)), registry,
                                kind=kind, parent=main.ctx.experiment_id)
                run.begin()
                try:
                    summary = _run(variant, run)
                except BaseException as exc:
                    run.record_failure(exc)
                    raise
                main.ctx.companions.setdefault(kind, []).append(summary)
            return _run(config, main, resume=resume, init=init)
        except BaseException as exc:
            main.record_failure(exc)
            raise


def _recorder(config: dict[str, Any], config_hash: str, registry: Registry,
              kind: str = "model", parent: str | None = None,
              run_ids: tuple[str, str] | None = None) -> Recorder:
    started = ids.utc_now()
    experiment_id, model_id = run_ids or ids.new_ids(
        config["experiment_name"], config["family"]["family_id"], started
    )
    return Recorder(
        RunContext(
            config=config,
            experiment_id=experiment_id,
            model_id=model_id,
            registry=registry,
            output_dir=Path(config["paths"]["output_dir"]),
            started=started,
            code_version=repro.code_version(),
            config_hash=config_hash,
            kind=kind,
            parent_experiment_id=parent,
        )
    )


def _run(config: dict[str, Any], recorder: Recorder, smoke: list[str] | None = None, *,
         resume: Resume | None = None, init: InitFrom | None = None) -> dict[str, Any]:
    timing.CLOCK.start()
    repro.seed_everything(config["seed"])
    ds, model_cfg, family = config["dataset"], config["model"], config["family"]
    cls = family_class(family["name"])
    params = recorder.ctx.params = baseline_params(config)
    slice_by = config["evaluation"]["slice_by"]
    data = resolve(
        recorder.ctx.registry_dir,
        dataset_ids={s: ds[f"{s}_dataset_id"] for s in ("train", "val", "test")},
        windows=ds["windows"],
        feature_families=config["features"]["families"],
        label_family=config["labels"]["target"],
        horizon_days=config["labels"]["horizon_days"],
        context_columns=list(dict.fromkeys([*slice_by, *cls.categorical_inputs])),
        extra_columns=cls.baseline_columns(params),
        evaluation_columns=cls.evaluation_columns(params),
        purge_days=ds["purge_days"],
        embargo_days=ds["embargo_days"],
        lookback=model_cfg["lookback"],
        verify=ds["verify_fingerprint"],
        generate_demo=ds["generate_demo_if_missing"],
        cache=CacheOptions.from_config(ds),
    )
    recorder.ctx.data = data
    check_scorable(data, cls.metric_set)
    faults.point("resolved")
    if recorder.ctx.kind == "placebo":
        data, recorder.ctx.placebo = permute_labels(data, config["seed"])
        recorder.ctx.data = data
    timing.CLOCK.mark("data")
    train = data.splits["train"]
    vocab = {c: sorted(set(train.context[c].tolist())) for c in cls.categorical_inputs}
    mean, std = standardisation(data)
    target_mean, target_std = cls.target_scaling(train.label.astype(np.float64))
    hyperparameters = {k: v for k, v in model_cfg.items() if k not in SCHEDULE_KEYS}
    module = cls(
        n_features=len(data.feature_columns),
        feature_mean=mean,
        feature_std=std,
        target_mean=target_mean,
        target_std=target_std,
        vocab=vocab,
        loss=family["loss"],
        huber_delta=family["huber_delta"],
        **hyperparameters,
    )
    if init is not None:
        init.check_data(recorder.ctx.registry, data, vocab)
        module.load_state_dict(init.module.state_dict())
    callbacks = [instantiate(spec) for spec in config["callbacks"].values()]
    if resume is not None:
        resume.continue_checkpoints(callbacks)
    loggers = [instantiate(spec) for spec in config["logger"].values()]
    trainer = pl.Trainer(
        **config["trainer"],
        min_steps=model_cfg["min_steps"],
        callbacks=[*callbacks, RunIdentity(recorder.ctx), *([] if smoke else [recorder])],
        logger=loggers or False,
        default_root_dir=config["paths"]["output_dir"],
    )
    rows_per_process = len(train.rows) // trainer.world_size
    batch_size = batch_size_for(rows_per_process, model_cfg["batch_size"],
                                model_cfg["min_steps_per_epoch"])
    # Log training metrics at least once an epoch: the epoch's length is known only now.
    if trainer.log_every_n_steps > 0:
        steps = math.ceil(rows_per_process / batch_size)
        limit = trainer.limit_train_batches
        steps = min(steps, limit) if isinstance(limit, int) else max(1, int(steps * limit))
        trainer.log_every_n_steps = min(trainer.log_every_n_steps, steps)
    datamodule = PanelDataModule(data, batch_size=batch_size, seed=config["seed"], vocab=vocab,
                                 device_resident=ds.get("device_resident", "auto"),
                                 shuffle_buffer_mb=ds.get("shuffle_buffer_mb", SHUFFLE_BUFFER_MB))
    timing.CLOCK.mark("setup")
    if resume is not None:  # epochs, steps, optimiser and callback states continue
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume.path, weights_only=True)
    else:
        trainer.fit(module, datamodule=datamodule)
    timing.CLOCK.mark("training")
    recorder.ctx.training.update({
        "batch_size": batch_size,
        "batch_size_configured": model_cfg["batch_size"],
        "min_steps_per_epoch": model_cfg["min_steps_per_epoch"],
        "min_steps": model_cfg["min_steps"],
        "train_rows_per_process": rows_per_process,
        "steps_per_epoch": int(min(trainer.num_training_batches,
                                   math.ceil(rows_per_process / batch_size))),
        "epochs_run": trainer.current_epoch,
        "steps_taken": trainer.global_step,
        "stopped_by": _stopped_by(trainer),
        # How it ran: precision, compiled or not, where each split lived (the host: "cpu") and
        # how its batches were drawn (the same dicts, completed by the predict pass).
        "precision": str(trainer.precision),
        "compile": bool(model_cfg.get("compile", False)),
        "data_device": datamodule.placement,
        "batching": datamodule.batching,
    })
    if trainer.global_step == 0 and not smoke:
        raise DegenerateRunError(
            "the model took no optimiser step ("
            + ", ".join(f"trainer.{k}={config['trainer'].get(k)}" for k in
                        ("max_epochs", "max_steps", "limit_train_batches")
                        if k in config["trainer"])
            + "): nothing to register"
        )
    if smoke:
        recorder.predict(trainer, module, datamodule)
        return {"smoke_test": smoke, "steps_taken": trainer.global_step}
    faults.point("trained")
    recorder.record(trainer, module, datamodule)
    timing.CLOCK.mark("recording")
    if trainer.is_global_zero and not recorder.recorded:
        raise RuntimeError("the run finished but the recorder wrote no model record")
    return recorder.summary


def _stopped_by(trainer: pl.Trainer) -> str:
    """Why fit ended: early stopping, or the epoch or step limit."""
    if any(getattr(c, "stopped_epoch", 0) for c in trainer.callbacks):
        return "early_stopping"
    max_steps = trainer.fit_loop.max_steps
    if max_steps not in (None, -1) and trainer.global_step >= max_steps:
        return "max_steps"
    return "max_epochs"


# --- resume (`ckpt_path`) and fine-tune (`init_from`) ------------------------------------------
