"""`train(cfg)`: one experiment from a composed config to a governed model.

Separate from the Hydra entry point so that tests and other code call it directly with a
config composed by `hydra.compose`. The fit itself is the learner's that `model.learner` names
(`learners.base`); everything around it is the same for every learner.

Two ways to start from earlier weights:

* `ckpt_path=<Lightning checkpoint>` resumes an interrupted run: the same experiment (same
  experiment and model ids, the same config), continued from the checkpoint's epoch and step.
  Every checkpoint a run writes names its experiment (`RunIdentity`), so the run is found in
  the registry; only one that was interrupted (killed and found stale, or failed by a signal or
  Ctrl+C) is resumed, and its log entry goes back from `failed` to `running`. A learner
  without checkpoints (lightgbm) refuses it.
* `init_from=<model_id>` starts a new experiment from a registered model (a fine-tune of a
  net's weights, continued boosting of a tree's): same family, learner and architecture, its
  files verified against their recorded hashes, the parent recorded in `training.init_from`
  and as the experiment's `parent_experiment_id`.
"""

from __future__ import annotations

import logging
import signal
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from ifns_train.core import faults
from ifns_train.core.errors import ConfigError, RunTerminated
from ifns_train.data.placebo import permute_labels
from ifns_train.families import family_class_of
from ifns_train.learners.base import FitRequest, learner_module
from ifns_train.registry import documents, ids
from ifns_train.registry.database import Registry
from ifns_train.run import provenance, timing
from ifns_train.run.build import resolve_data, vocabulary
from ifns_train.run.companions import companion_configs
from ifns_train.run.context import RunContext
from ifns_train.run.log_figures import RunNames
from ifns_train.run.plan import baseline_params, check_config, check_scorable, smoke_test_keys
from ifns_train.run.recorder import Recorder
from ifns_train.run.resume import InitFrom, Resume, RunIdentity, plan_init, plan_resume, reenter


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
    linked run that registers no model (`ifns_train.run.reproduce`). `ckpt_path` resumes an
    interrupted run, `init_from` starts from a registered model's weights (`ifns_train.run.resume`).
    """
    timing.CLOCK.enter()
    _quiet_lightning_console()
    config = _as_dict(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))
    check_config(config)
    registry_dir = Path(to_absolute_path(config["paths"]["registry_dir"]))
    output_dir = Path(to_absolute_path(config["paths"]["output_dir"]))
    config["paths"] = {"registry_dir": str(registry_dir), "output_dir": str(output_dir)}
    registry = open_run_registry(config)
    hashed = provenance.definition(_as_dict(OmegaConf.to_container(cfg, resolve=False)))
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
    config_hash = provenance.config_hash(provenance.definition(hashed))
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
                run = _recorder(variant,
                                provenance.config_hash(provenance.definition(variant)), registry,
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


def _as_dict(container: Any) -> dict[str, Any]:
    """A composed config as a plain dict (OmegaConf types any container's conversion as a union;
    a DictConfig's is a dict)."""
    if not isinstance(container, dict):
        raise ConfigError(f"the config is a {type(container).__name__}, not a mapping")
    return container


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
            code_version=provenance.code_version(),
            config_hash=config_hash,
            kind=kind,
            parent_experiment_id=parent,
        )
    )


def _run(config: dict[str, Any], recorder: Recorder, smoke: list[str] | None = None, *,
         resume: Resume | None = None, init: InitFrom | None = None) -> dict[str, Any]:
    timing.CLOCK.start()
    provenance.seed_everything(config["seed"])
    cls = family_class_of(config["family"])
    learner = learner_module(config["model"]["learner"])
    recorder.ctx.params = baseline_params(config)
    data = recorder.ctx.data = resolve_data(recorder.ctx.registry_dir, config, cls)
    check_scorable(data, cls.metric_set)
    faults.point("resolved")
    if recorder.ctx.kind == "placebo":
        data, recorder.ctx.placebo = permute_labels(data, config["seed"])
        recorder.ctx.data = data
    timing.CLOCK.mark("data")
    vocab = vocabulary(data, cls)
    if init is not None:
        init.check_data(recorder.ctx.registry, data, vocab)
    run_callbacks: list[pl.Callback] = [RunIdentity(recorder.ctx)]
    if not smoke:  # an MLflow run is named after the experiment it records
        ctx = recorder.ctx
        run_callbacks.append(RunNames(ctx.experiment_id,
                                      ctx.model_id if ctx.registers_model else None))
    fitted = learner.fit(FitRequest(
        config=config, family=cls, data=data, vocab=vocab, mark=timing.CLOCK.mark,
        callbacks=run_callbacks, smoke=smoke, init=None if init is None else init.scorer,
        resume=resume))
    if "fit" not in timing.CLOCK.seconds():  # a learner that does not mark its fit's end
        timing.CLOCK.mark("fit")
    if smoke:
        timing.CLOCK.finish()
        return {"smoke_test": smoke, "steps_taken": fitted.training["steps_taken"]}
    faults.point("trained")
    recorder.record(fitted)  # marks evaluation and recording (`timing`)
    timing.CLOCK.finish()
    if fitted.writes and not recorder.recorded:
        raise RuntimeError("the run finished but the recorder wrote no model record")
    return recorder.summary

