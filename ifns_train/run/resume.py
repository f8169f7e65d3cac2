"""Resume an interrupted run (`ckpt_path=`) as the same experiment, or start a new one from a
registered model's weights (`init_from=`): what each may continue, checked before any work.

Every checkpoint a run writes carries its identity (`RunIdentity`), so a checkpoint names the
experiment it continues; a resume is refused unless that experiment was interrupted (not failed
by its own error, not recorded), its config and data are the same, and nothing of the killed run
is left in the way. A fine-tune is refused unless the parent's architecture, features and
category values match and it learnt from no label of this run's test window.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from hydra.utils import to_absolute_path
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import ModelCheckpoint

from ifns_train.core import faults
from ifns_train.core.errors import (
    ConfigError,
    RegistryError,
    shown,
)
from ifns_train.data.index import load_index
from ifns_train.data.resolve import ResolvedData
from ifns_train.learners.base import Scorer, learner_module
from ifns_train.learners.registered import column_mismatch, learner_of, load_registered
from ifns_train.registry import doctor, ids, log, model_registry
from ifns_train.registry.artifacts import STAGING_PREFIX
from ifns_train.registry.database import Registry
from ifns_train.registry.publish import experiment_entry
from ifns_train.registry.records import ExperimentEntry, ModelRecord
from ifns_train.run import provenance
from ifns_train.run.companions import relocated
from ifns_train.run.context import RunContext
from ifns_train.run.recorder import Recorder

LOG = logging.getLogger(__name__)
ACTOR = "ifns_train.run.train"
# Where a run's identity is kept in each Lightning checkpoint it writes (`RunIdentity`).
CHECKPOINT_KEY = "ifns"
# How the error of an interrupted run begins (the recorder writes `<type>: <message>`): a
# SIGTERM, Ctrl+C outside fit or inside it (Lightning turns that into SystemExit), or a killed
# run that `ifns-admin doctor --repair` (or a resume) marked stale. Any other failure is the
# run's own, and resuming it is refused.
INTERRUPTIONS = ("RunTerminated", "KeyboardInterrupt", "SystemExit", "stale:")


class RunIdentity(pl.Callback):
    """Writes the run's identity into every checkpoint Lightning saves (`checkpoint["ifns"]`),
    so that `ckpt_path=` finds the experiment a checkpoint belongs to, and the data it was
    trained on (the fingerprints) to refuse continuing on other data."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        ctx = self.ctx
        checkpoint[CHECKPOINT_KEY] = {
            "experiment_id": ctx.experiment_id,
            "model_id": ctx.model_id,
            "config_hash": ctx.config_hash,
            "kind": ctx.kind,
            "fingerprints": dict(ctx.data.fingerprints) if ctx.data is not None else {},
        }


@dataclass
class Resume:
    """An interrupted run to continue, and the checkpoint to continue it from."""

    path: str  # absolute
    entry: ExperimentEntry  # its log entry before the resume
    epochs: int  # epochs completed when the checkpoint was written (the one under way counts)
    global_step: int  # optimiser steps taken by then
    # The folder each ModelCheckpoint (by its Lightning state key) wrote to.
    checkpoint_dirs: dict[str, str]

    def provenance(self) -> dict[str, Any]:
        """What the run's `training` record keeps of how it started: a fine-tune's parent,
        and every resume, in order."""
        kept = {k: v for k, v in self.entry.training.items()
                if k in ("init_from", "init_from_experiment_id")}
        resumed = [*self.entry.training.get("resumed", []),
                   {"checkpoint": self.path, "epochs": self.epochs,
                    "global_step": self.global_step, "ts": ids.iso(ids.utc_now())}]
        return {**kept, "resumed": resumed}

    def continue_checkpoints(self, callbacks: list[Any]) -> None:
        """Each ModelCheckpoint keeps writing to the folder the interrupted run's did, so the
        best checkpoint of the whole run is kept (Lightning restores a checkpoint callback's
        best score only in the folder it was saved from) and `last.ckpt` resumes again."""
        for callback in callbacks:
            if not isinstance(callback, ModelCheckpoint):
                continue
            folder = self.checkpoint_dirs.get(callback.state_key)
            if folder and folder != callback.dirpath:
                LOG.info("resuming %s: checkpoints continue in %s", self.entry.experiment_id,
                         folder)
                callback.dirpath = folder
        warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not "
                                "empty")


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A Lightning checkpoint written by an ifns-train run (weights only: nothing in it is
    executed); one line naming the path when it is not one."""
    where = f"ckpt_path: {path}"
    if not path.exists():
        raise ConfigError(f"{where} does not exist")
    if not path.is_file():
        raise ConfigError(f"{where} is not a file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch's own errors: not a zip or pickle, a disallowed type
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"{where} is not a readable checkpoint ({detail[:160]})") from None
    identity = checkpoint.get(CHECKPOINT_KEY) if isinstance(checkpoint, dict) else None
    if not isinstance(identity, dict) or not all(
            isinstance(identity.get(k), str) for k in ("experiment_id", "model_id",
                                                       "config_hash")):
        raise ConfigError(f"{where} is not a checkpoint of an ifns-train run: it names no "
                          "experiment")
    return checkpoint


def plan_resume(config: dict[str, Any], hashed: dict[str, Any], registry: Registry) -> Resume:
    """Everything `ckpt_path` needs checked before any work: the checkpoint is one of this
    project's, its experiment is in the registry and was interrupted, this config is the one
    it started with, its data has not changed, and nothing of it waits for `doctor`.

    Only global rank 0 checks the experiment's state: under DDP the other ranks start once rank
    0 has already entered the run as running again."""
    path = Path(to_absolute_path(config["ckpt_path"])).resolve()
    checkpoint = read_checkpoint(path)
    identity = checkpoint[CHECKPOINT_KEY]
    experiment_id = identity["experiment_id"]
    where = f"ckpt_path: {path} (experiment {experiment_id})"
    try:
        entry = log.get(registry, experiment_id)
    except RegistryError as exc:
        raise ConfigError(f"ckpt_path: {path}: {exc}") from None
    if (entry.proposed_model_id, entry.config_hash) != (identity["model_id"],
                                                        identity["config_hash"]):
        raise ConfigError(f"{where}: its model id and config hash are not the experiment's "
                          "recorded ones; it is not a checkpoint of that run")
    if entry.kind != "model":
        raise ConfigError(f"{where} is a {entry.kind} run; only a model run is resumed")
    if rank_zero_only.rank == 0:  # type: ignore[attr-defined]  # set by Lightning, undeclared
        _check_resumable(where, entry)
    # An interrupted fine-tune keeps its parent: init_from is part of what it computes.
    config["init_from"] = (entry.config or {}).get("init_from")
    config_hash = provenance.config_hash(
        provenance.definition({**hashed, "init_from": config["init_from"]}))
    if config_hash != entry.config_hash:
        differences = config_differences(entry.config or {}, config)
        raise ConfigError(
            f"{where}: this config is not the one the run started with ("
            + ("; ".join(differences) or "same values, but written differently before "
               "interpolation") + "); resume with the same config and overrides")
    index = load_index(registry.dir)["datasets"]
    for dataset_id, fingerprint in sorted((identity.get("fingerprints") or {}).items()):
        now = (index.get(dataset_id) or {}).get("fingerprint")
        if now != fingerprint:
            raise ConfigError(f"{where}: dataset {dataset_id} changed since the checkpoint was "
                              f"written (fingerprint {now}, not {fingerprint}); a run cannot "
                              "continue on other data")
    folder = registry.dir / "models" / config["family"]["family_id"] / entry.proposed_model_id
    if rank_zero_only.rank == 0:  # type: ignore[attr-defined]
        for leftover in (folder.parent / f"{STAGING_PREFIX}{folder.name}", folder):
            if leftover.exists():
                raise ConfigError(f"{where}: the interrupted run left {leftover}; "
                                  "`ifns-admin doctor --repair` moves it under orphans/, then "
                                  "resume")
    dirs = {}
    for key, state in (checkpoint.get("callbacks") or {}).items():
        if isinstance(state, dict) and {"dirpath", "best_model_path"} <= state.keys():
            best = state["best_model_path"]
            if best and not Path(best).is_file():
                raise ConfigError(f"{where}: its best checkpoint {best} is missing; the best "
                                  "weights of the whole run are the ones it evaluates")
            dirs[key] = state["dirpath"]
    return Resume(path=str(path), entry=entry, epochs=int(checkpoint.get("epoch", -1)) + 1,
                  global_step=int(checkpoint.get("global_step", 0)), checkpoint_dirs=dirs)


def _check_resumable(where: str, entry: ExperimentEntry) -> None:
    """Resumable: a run still entered as running whose process is gone (killed, crashed), or
    one failed by an interruption (`INTERRUPTIONS`). A completed run is a recorded model (start
    from it with init_from); a run failed by its own error would only fail again."""
    status = entry.status
    if status in ("completed", "selected", "discarded"):
        raise ConfigError(f"{where} is already recorded ({status}, model "
                          f"{entry.proposed_model_id}); use init_from={entry.proposed_model_id} "
                          "to train a new model from its weights")
    if status == "running":
        alive = doctor.alive(entry.host, entry.pid, entry.timestamp)
        if alive is None:
            raise ConfigError(f"{where} is running on {entry.host} (pid {entry.pid}), which "
                              f"cannot be checked from here; if that process is gone, "
                              f"`ifns-admin doctor --repair` on {entry.host} marks it failed")
        if alive:
            raise ConfigError(f"{where} is still running (pid {entry.pid} on {entry.host})")
    elif status == "failed" and not (entry.error or "").startswith(INTERRUPTIONS):
        raise ConfigError(f"{where} failed by its own error ({shown(entry.error, 120)}), not "
                          "by an interruption; only an interrupted run is resumed: start a new "
                          "run")


def config_differences(stored: dict[str, Any], config: dict[str, Any], most: int = 8
                       ) -> list[str]:
    """The keys (dotted) whose resolved values differ between a stored config and this one,
    with both values; paths, registry, loggers and `RUN_ONLY_KEYS` left out (not hashed)."""
    old_dir = (stored.get("paths") or {}).get("output_dir")
    if old_dir:  # values under the old run folder (e.g. the checkpoint folder) compare moved
        stored = relocated(stored, old_dir, config["paths"]["output_dir"])
    skip = {"paths", "registry", "logger", *provenance.RUN_ONLY_KEYS}
    old, new = ({k: v for k, v in c.items() if k not in skip} for c in (stored, config))
    a, b = provenance.leaves(old), provenance.leaves(new)
    absent = object()
    run_only = {f"dataset.{k}" for k in provenance.RUN_ONLY_DATASET_KEYS}
    keys = sorted(k for k in a.keys() | b.keys()
                  if k not in run_only and a.get(k, absent) != b.get(k, absent))

    def value(leaf: dict[str, Any], key: str) -> str:
        return shown(leaf[key]) if key in leaf else "(absent)"

    out = [f"{k}: {value(a, k)} then, {value(b, k)} now" for k in keys[:most]]
    return out + ([f"{len(keys) - most} more"] if len(keys) > most else [])


@rank_zero_only
def reenter(recorder: Recorder, resume: Resume) -> None:
    """Enter the interrupted experiment as `running` again, before any work; a run still
    entered as running (its process gone, checked) is first marked failed, as doctor would."""
    reg, entry = recorder.ctx.registry, resume.entry
    if entry.status == "running":
        log.set_status(reg, entry.experiment_id, "failed", ACTOR,
                       f"stale: its process {entry.pid} on {entry.host} is gone (killed or "
                       f"crashed); marked failed to resume it from {resume.path}")
    running = experiment_entry(recorder.ctx.run(), "running", None, {})
    with reg.write() as conn:
        log.write_entry(conn, running, actor=ACTOR, reason=f"resumed from {resume.path}")
    recorder.registered = True
    faults.point("run-registered")


@dataclass
class InitFrom:
    """A registered model that starts a new run (a net's weights, a tree's boosting)."""

    record: ModelRecord
    scorer: Scorer  # loaded by its learner from its verified files

    @property
    def where(self) -> str:
        return f"init_from: model {self.record.model_id}"

    def provenance(self) -> dict[str, Any]:
        return {"init_from": self.record.model_id,
                "init_from_experiment_id": self.record.experiment_id}

    def check_columns(self, columns: list[str]) -> None:
        """The feature columns, in order, are the ones the model reads."""
        theirs = list(self.record.feature_columns)
        if not theirs:  # recorded before models kept their columns: the count at least
            n = self.scorer.n_features
            if n != len(columns):
                raise ConfigError(f"{self.where} reads {n} feature columns; this run has "
                                  f"{len(columns)}")
            return
        mismatch = column_mismatch(columns, theirs)
        if mismatch:
            raise ConfigError(f"{self.where}: this run's data {mismatch}")

    def check_data(self, registry: Registry, data: ResolvedData,
                   vocab: dict[str, list[str]]) -> None:
        """Once the data is resolved: the columns, the embedded categories, and that nothing
        the model (or a model it started from) learnt from reaches this run's test window."""
        self.check_columns(list(data.feature_columns))
        theirs = self.scorer.vocab
        for column in sorted(set(theirs) | set(vocab)):
            if list(theirs.get(column, [])) != list(vocab.get(column, [])):
                raise ConfigError(
                    f"{self.where} embeds {column} values {shown(theirs.get(column, []), 80)}; "
                    f"this run's training rows have {shown(vocab.get(column, []), 80)}")
        test_start = data.report["splits"]["test"]["window"][0]
        for record in _lineage(registry, self.record):
            learnt_until, split = _learnt_until(registry, record)
            if learnt_until is not None and learnt_until >= test_start:
                raise ConfigError(
                    f"init_from: model {record.model_id} learnt from labels up to "
                    f"{learnt_until} (its {split} split), on or after the start of this run's "
                    f"test window ({test_start}): the test figures would not be out of sample")


def plan_init(config: dict[str, Any], registry: Registry) -> InitFrom:
    """Everything `init_from` needs checked before any work: the model is registered, its
    checkpoint matches its hash, and its family, features and architecture are this run's."""
    model_id = config["init_from"]
    try:
        record = model_registry.get(registry, model_id)
    except RegistryError as exc:
        raise ConfigError(f"init_from: {exc}") from None
    where = f"init_from: model {model_id}"
    family_id = config["family"]["family_id"]
    if record.model_family != family_id:
        raise ConfigError(f"{where} is a {record.model_family} model; this run trains "
                          f"{family_id} (family.family_id)")
    families = list(config["features"]["families"])
    if list(record.features_used) != families:
        raise ConfigError(f"{where} reads features.families {record.features_used}; this run "
                          f"reads {families}")
    try:
        scorer = load_registered(registry, model_id)
    except RegistryError as exc:
        raise ConfigError(f"init_from: {exc}") from None
    learner = learner_of(record)
    if learner != config["model"]["learner"]:
        raise ConfigError(f"{where} was fitted by {learner}; this run's model.learner is "
                          f"{config['model']['learner']}: it cannot start from that model")
    try:
        learner_module(learner).check_init(scorer, config)
    except ConfigError as exc:
        raise ConfigError(f"{where} {exc}") from None
    init = InitFrom(record=record, scorer=scorer)
    columns = _index_feature_columns(registry, config)
    if columns is not None:
        init.check_columns(columns)
    return init


def _index_feature_columns(registry: Registry, config: dict[str, Any]) -> list[str] | None:
    """The feature columns the run will read, from the dataset index, where it already lists
    them (the data resolver checks them again)."""
    entry = load_index(registry.dir)["datasets"].get(config["dataset"]["train_dataset_id"])
    families = (entry or {}).get("feature_families") or {}
    wanted = config["features"]["families"]
    if not all(f in families for f in wanted):
        return None
    return [c for f in wanted for c in families[f]]


def _lineage(registry: Registry, record: ModelRecord) -> Iterator[ModelRecord]:
    """The model, the model it started from, and so on."""
    seen = set()
    while record.model_id not in seen:
        seen.add(record.model_id)
        yield record
        parent = record.training.get("init_from")
        if not parent:
            return
        try:
            record = model_registry.get(registry, parent)
        except RegistryError as exc:
            raise ConfigError(f"init_from: model {record.model_id} started from {parent}, "
                              f"which cannot be checked: {exc}") from None


def _learnt_until(registry: Registry, record: ModelRecord) -> tuple[str | None, str]:
    """The last label end date of a model's training and validation rows (validation chose its
    weights), from its experiment's split report, else its recorded windows' end."""
    try:
        splits = log.get(registry, record.experiment_id).datasets.get("splits") or {}
    except RegistryError:
        splits = {}
    ends = []
    for split in ("train", "val"):
        end = (splits.get(split) or {}).get("last_label_end")
        window = record.dataset_windows.get(split)
        end = end or (window[1] if isinstance(window, (list, tuple)) and window else None)
        if end:
            ends.append((str(end), split))
    return max(ends) if ends else (None, "")
