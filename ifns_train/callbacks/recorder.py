"""The recorder: the one place that writes what a run leaves behind.

When the test pass ends it writes, in this order, each step atomic: the artifact folder
`models/<family_id>/<model_id>/` (staged under a hidden name, then renamed), the experiment-log
entry, and the model record with status `candidate`. It is a Lightning callback rather than a
Hydra callback because Hydra turns exceptions in its callbacks into warnings, and a run that
cannot record itself must fail. `record_failure` turns any error of the run, including one in
the recorder itself after the log entry was written, into a `failed` entry and removes the
artifact folder, so a failure is never left looking like a success. Only global rank 0 writes.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
from lightning.fabric.utilities.rank_zero import rank_zero_only

from ifns_train.callbacks.curves import reliability_diagram
from ifns_train.data.resolve import ResolvedData
from ifns_train.errors import DegenerateRunError
from ifns_train.evaluation.report import key_metrics, split_report
from ifns_train.families.base import FamilyModule
from ifns_train.nets.backbones import parameter_count
from ifns_train.registry import ids
from ifns_train.registry.records import (
    ExperimentEntry,
    FamilyRecord,
    add_model,
    upsert_experiment,
)
from ifns_train.store import atomic_write_json

EVAL_SPLITS = ("val", "test")  # the order of the test dataloaders


@dataclass
class RunContext:
    """What the recorder knows of a run before it starts."""

    config: dict[str, Any]
    experiment_id: str
    model_id: str
    registry_dir: Path
    output_dir: Path
    started: Any
    code_version: dict[str, Any]
    config_hash: str
    data: ResolvedData | None = None
    # Baseline and family-specific evaluation inputs (family.baseline_params and the horizon).
    params: dict[str, Any] = field(default_factory=dict)
    # The training schedule as run (batch size used, steps taken), known once fit has ended.
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> dict[str, Any]:
        return self.config["family"]

    @property
    def artifact_rel(self) -> str:
        return f"models/{self.family['family_id']}/{self.model_id}"


class Recorder(pl.Callback):
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.recorded = False
        self.summary: dict[str, Any] = {}
        self._fit_started = 0.0
        self.train_seconds = 0.0

    # --- paths --------------------------------------------------------------------------------
    @property
    def artifact_dir(self) -> Path:
        return self.ctx.registry_dir / self.ctx.artifact_rel

    @property
    def staging_dir(self) -> Path:
        return self.artifact_dir.parent / f".staging-{self.ctx.model_id}"

    # --- Lightning hooks ----------------------------------------------------------------------
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._fit_started = time.perf_counter()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.train_seconds = time.perf_counter() - self._fit_started

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        assert isinstance(pl_module, FamilyModule)
        if self.artifact_dir.exists():
            raise FileExistsError(f"artifact folder {self.artifact_dir} exists; not overwriting")
        # Saving is collective under DDP; the strategy lets only rank 0 touch the file.
        trainer.save_checkpoint(self.staging_dir / "model.ckpt")
        if trainer.is_global_zero:
            self._record(trainer, pl_module)

    # --- writing ------------------------------------------------------------------------------
    def _evaluate(self, module: FamilyModule) -> dict[str, Any]:
        data = self.ctx.data
        assert data is not None
        ev, params = self.ctx.config["evaluation"], self.ctx.params
        train = data.splits["train"]
        reports = {}
        for idx, name in enumerate(EVAL_SPLITS):
            split = data.splits[name]
            preds = module.captured_predictions(idx)
            if len(next(iter(preds.values()))) != len(split.rows):
                raise RuntimeError(f"{name}: {len(split.rows)} rows but predictions differ")
            for key, values in preds.items():
                bad = int((~np.isfinite(values)).sum())
                if bad:
                    raise DegenerateRunError(
                        f"the model's predictions ({key}) are not finite on {bad} of "
                        f"{len(values)} {name} rows: the model diverged"
                    )
            baselines = module.baselines(train, split, params)
            context = split.context
            reports[name] = split_report(
                module.metric_set,
                y=split.label.astype("float64"),
                model=preds,
                baselines={b: baselines[b] for b in self.ctx.family["baselines"]},
                context={c: context[c] for c in ev["slice_by"]},
                inputs={"dates": split.dates, **module.evaluation_inputs(split, params)},
                min_rows=ev["min_slice_rows"],
                n_bins=ev["calibration_bins"],
                horizon_days=data.horizon_days,
                gate_threshold=float(params.get("gate_threshold", 0.5)),
            )
            primary = reports[name]["primary_metric"]
            if reports[name]["model"].get(primary) is None:
                raise DegenerateRunError(
                    f"the model's primary metric {primary} cannot be computed on the {name} "
                    f"split ({len(split.rows)} rows; e.g. its predictions are constant)"
                )
        return reports

    def _record(self, trainer: pl.Trainer, module: FamilyModule) -> None:
        ctx, data = self.ctx, self.ctx.data
        assert data is not None
        # The weights evaluated: the best checkpoint's, or the last epoch's without one.
        best_epoch, best_step = module.restored_from or (trainer.current_epoch,
                                                         trainer.global_step)
        ctx.training.update(best_epoch=best_epoch, best_step=best_step)
        reports = self._evaluate(module)
        datasets = self._datasets()
        stage = self.staging_dir
        metrics = {
            "schema_version": 1,
            "model_id": ctx.model_id,
            "experiment_id": ctx.experiment_id,
            "family_id": ctx.family["family_id"],
            "task": module.task,
            "metric_set": module.metric_set,
            "label_family": data.label_family,
            "splits": reports,
        }
        train_config = {
            "schema_version": 1,
            "experiment_id": ctx.experiment_id,
            "model_id": ctx.model_id,
            "family_id": ctx.family["family_id"],
            "roles": ctx.family["roles"],
            "datasets": datasets,
            "features_used": data.feature_families,
            "labels_used": {data.label_family: {"horizon_days": data.horizon_days,
                                                "kind": data.label_kind}},
            "hyperparameters": ctx.config["model"],
            "training": ctx.training,
            "trainer": ctx.config["trainer"],
            "seed": ctx.config["seed"],
            "config_hash": ctx.config_hash,
            "code_version": ctx.code_version,
            "resolved_config": ctx.config,
        }
        atomic_write_json(stage / "train_config.json", train_config)
        atomic_write_json(stage / "metrics.json", metrics)
        for name, report in reports.items():
            if "reliability" in report["model"]:
                curves = {"model": report["model"]["reliability"],
                          **{b: r["reliability"] for b, r in report["baselines"].items()}}
                atomic_write_json(stage / "curves" / f"reliability_{name}.json", curves)
                reliability_diagram(stage / "curves" / f"reliability_{name}.png",
                                    f"{ctx.model_id} {name}", curves)
        stage.rename(self.artifact_dir)

        now = ids.iso(ids.utc_now())
        key = {name: key_metrics(module.metric_set, reports[name]) for name in EVAL_SPLITS}
        entry = self._entry("completed", now, key)
        upsert_experiment(ctx.registry_dir, entry)

        family = ctx.family
        record = {
            "model_id": ctx.model_id,
            "model_family": family["family_id"],
            "status": "candidate",
            "created_ts": now,
            "last_updated_ts": now,
            "experiment_id": ctx.experiment_id,
            "roles": family["roles"],
            **{f"{s}_dataset_id": data.splits[s].table.dataset_id for s in
               ("train", "val", "test")},
            "dataset_windows": datasets["windows"],
            "dataset_fingerprints": data.fingerprints,
            "features_used": list(data.feature_families),
            "labels_used": [data.label_family],
            "prediction_type": family["prediction_type"],
            "horizons": [data.horizon_days],
            "metrics": key,
            "supported_environments": family["supported_environments"],
            "resources": {
                "parameter_count": parameter_count(module),
                "n_features": len(data.feature_columns),
                "lookback": data.lookback,
                "artifact_bytes": sum(
                    p.stat().st_size for p in self.artifact_dir.rglob("*") if p.is_file()
                ),
                "train_seconds": round(self.train_seconds, 3),
                "train_rows": len(data.splits["train"].rows),
                "accelerator": type(trainer.accelerator).__name__,
                "devices": trainer.num_devices,
            },
            "training": ctx.training,
            "artifact_path": ctx.artifact_rel,
            "code_version": ctx.code_version,
            "status_history": [
                {"status": "candidate", "ts": now, "by": "ifns_train.recorder",
                 "reason": f"trained by experiment {ctx.experiment_id}"}
            ],
        }
        add_model(ctx.registry_dir, self._family_record(module), record)
        self.recorded = True
        self.summary = {"experiment_id": ctx.experiment_id, "model_id": ctx.model_id,
                        "artifact_dir": str(self.artifact_dir), "metrics": key}

    def _datasets(self) -> dict[str, Any]:
        data = self.ctx.data
        if data is None:
            cfg = self.ctx.config["dataset"]
            return {"ids": {s: cfg.get(f"{s}_dataset_id") for s in ("train", "val", "test")},
                    "windows": cfg.get("windows"), "fingerprints": {}}
        return {
            "ids": data.dataset_ids,
            "windows": {s: r["window"] for s, r in data.report["splits"].items()},
            "fingerprints": data.fingerprints,
            "purge_gap_days": data.report["purge_gap_days"],
            "splits": data.report["splits"],
        }

    def _family_record(self, module: FamilyModule) -> FamilyRecord:
        cfg = self.ctx.config
        return FamilyRecord(
            **{k: v for k, v in cfg["family"].items() if k in FamilyRecord.model_fields},
            input_requirements={
                "dataset": "a Stage 02 dataset of datasets_index.json holding these families",
                "feature_families": cfg["family"]["feature_families"],
                "label_families": cfg["family"]["label_families"],
                "categorical_inputs": list(module.categorical_inputs),
                "baseline_columns": module.baseline_columns(self.ctx.params),
            },
        )

    def _entry(self, status: str, now: str, metrics: dict[str, Any],
               error: str | None = None) -> ExperimentEntry:
        ctx, cfg = self.ctx, self.ctx.config
        completed = status == "completed"
        return ExperimentEntry(
            experiment_id=ctx.experiment_id,
            experiment_name=cfg["experiment_name"],
            timestamp=ids.iso(ctx.started),
            finished_ts=now,
            model_family=ctx.family["family_id"],
            roles=ctx.family["roles"],
            proposed_model_id=ctx.model_id,
            status=status,
            datasets=self._datasets(),
            features_used=cfg["features"]["families"],
            labels_used=[cfg["labels"]["target"]],
            hyperparameters=cfg["model"],
            training=ctx.training,
            config_hash=ctx.config_hash,
            seed=cfg["seed"],
            metrics=metrics,
            artifacts={
                "artifact_path": ctx.artifact_rel if completed else None,
                "run_dir": str(ctx.output_dir),
                "train_config": f"{ctx.artifact_rel}/train_config.json" if completed else None,
                "metrics": f"{ctx.artifact_rel}/metrics.json" if completed else None,
            },
            code_version=ctx.code_version,
            error=error,
        )

    @rank_zero_only
    def record_failure(self, exc: BaseException) -> None:
        """Leave a `failed` entry with the error; remove what this run wrote as artifacts."""
        for path in (self.staging_dir, self.artifact_dir):
            shutil.rmtree(path, ignore_errors=True)
        message = f"{type(exc).__name__}: {exc}".strip()
        entry = self._entry("failed", ids.iso(ids.utc_now()), {}, error=message[:4000])
        upsert_experiment(self.ctx.registry_dir, entry)
        self.recorded = False

