"""The recorder: the one place that writes what a run leaves behind, in three steps.

1. **Predict**: the learner's raw outputs of the validation and test splits (`learners.base`
   `Fitted`: for a net, Lightning's predict loop with the best checkpoint) become, through the
   family, the model's predictions; with each baseline's and the context, one prediction
   table per split (`evaluation.predictions`).
2. **Evaluate**: the evaluation standard turns the tables into the figures of `metrics.json`
   (`evaluation.standard`), so anything recorded can be recomputed from the saved tables;
   the figures, the config and the reliability diagrams also go to the run's Lightning loggers
   (`run.log_figures`), before anything is published: a logger's error is a warning. Which
   inputs the model leans on (`run.attribution`) is measured on the test split beside them.
3. **Publish**: the artifact folder `models/<family_id>/<model_id>/` (model.ckpt,
   predictions_{val,test}.parquet, metrics.json, train_config.json, curves/: the pictures'
   numbers of `run.curves`, their images drawn outside the run; a tree's
   `model.lightgbm.txt` in place of the checkpoint: the learner's `FILES`) is staged under
   a hidden name, hashed and renamed into place; then one registry transaction completes
   the experiment (entered as `running` when the run began) and adds the model record with
   the hashes. A kill at any instant leaves either no record
   or a complete one, and whatever else it leaves (a stale `running` entry, an unclaimed
   folder) `ifns-admin doctor` reports.

It is a plain publisher that `train` calls after the fit (MLflow runs are named by
`log_figures.RunNames`), not a Hydra callback, because Hydra turns
exceptions in its callbacks into warnings, and a run that cannot record itself must fail.
`record_failure` turns any error of the run before the registry transaction into a `failed`
entry and removes the folder it staged, so a failure is never left looking like a success; an
error after the commit (a logger's final flush) leaves the complete record as it is. Under DDP
every rank saves (the checkpoint is collective); only global rank 0 evaluates and writes.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from lightning.fabric.utilities.rank_zero import rank_zero_only

from ifns_train.core import faults
from ifns_train.core.errors import ConfigError, DegenerateRunError
from ifns_train.core.files import atomic_write_json, sync_entries, sync_folder
from ifns_train.data.module import EVAL_SPLITS
from ifns_train.evaluation.predictions import (
    TABLE_VERSION,
    PredictionArrays,
    non_finite,
    prediction_table,
)
from ifns_train.evaluation.standard import evaluate, key_figures
from ifns_train.families.base import FamilyModule
from ifns_train.learners.base import Fitted
from ifns_train.registry import ids, log, model_registry
from ifns_train.registry.artifacts import STAGING_PREFIX, folder_hashes
from ifns_train.registry.publish import experiment_entry, model_draft
from ifns_train.registry.records import FamilyRecord
from ifns_train.run import log_figures, timing
from ifns_train.run.attribution import feature_attribution
from ifns_train.run.context import RunContext
from ifns_train.run.drift_reference import write_reference


class Recorder:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.registered = False  # entered in the log as running
        self.recorded = False
        self.summary: dict[str, Any] = {}

    # --- paths --------------------------------------------------------------------------------
    @property
    def artifact_dir(self) -> Path:
        return self.ctx.registry_dir / self.ctx.artifact_rel

    @property
    def staging_dir(self) -> Path:
        return self.artifact_dir.parent / f"{STAGING_PREFIX}{self.ctx.model_id}"

    @rank_zero_only
    def begin(self) -> None:
        """Enter the run in the log as `running`, before it does any work."""
        log.begin_run(self.ctx.registry, experiment_entry(self.ctx.run(), "running", None, {}))
        self.registered = True
        faults.point("run-registered")

    # --- 1. predict ---------------------------------------------------------------------------
    def record(self, fitted: Fitted) -> None:
        """Save the model's files, then (rank 0) evaluate and publish."""
        if self.artifact_dir.exists():
            raise FileExistsError(f"artifact folder {self.artifact_dir} exists; not overwriting")
        if fitted.writes:  # the one process that records (DDP's others only join the save)
            self.staging_dir.mkdir(parents=True, exist_ok=True)
        fitted.save(self.staging_dir)
        if fitted.writes:
            self._record(fitted)

    def _tables(self, fitted: Fitted) -> dict[str, PredictionArrays]:
        data, params, cls = self.ctx.data, self.ctx.params, fitted.scorer.family
        assert data is not None
        train = data.splits["train"]
        keep = list(dict.fromkeys([*self.ctx.config["evaluation"]["slice_by"],
                                   *cls.categorical_inputs]))
        tables = {}
        for name in EVAL_SPLITS:
            split = data.splits[name]
            preds = fitted.scorer.predictions(fitted.outputs[name])
            if len(next(iter(preds.values()))) != len(split.rows):
                raise RuntimeError(f"{name}: {len(split.rows)} rows but predictions differ")
            for key, bad in non_finite(preds).items():
                raise DegenerateRunError(
                    f"the model's predictions ({key}) are not finite on {bad} of "
                    f"{len(split.rows)} {name} rows: the model diverged"
                )
            context = split.context
            symbols = split.table.symbols[split.rows]
            inputs = cls.evaluation_inputs(split, params)
            cost_model = self.ctx.config["evaluation"]["cost_model_id"]
            if cost_model and "realised_return" in inputs:
                inputs["cost_bps"] = self._cost_bps(cost_model, name, split.dates, symbols)
            tables[name] = PredictionArrays(
                dates=split.dates,
                symbols=symbols,
                y=split.label.astype("float64"),
                model=preds,
                baselines=cls.baselines(train, split, params),
                inputs=inputs,
                context={c: context[c] for c in keep},
            )
        return tables

    def _cost_bps(self, model_id: str, split: str, dates: np.ndarray, symbols: np.ndarray
                  ) -> np.ndarray:
        """Per row, the cost a registered exec_cost model predicted (its saved predictions of
        the same split, matched on date and symbol; negative forecasts count as 0)."""
        record = model_registry.get(self.ctx.registry, model_id)
        if record.model_family != "MF_EXEC_COST_V1":
            raise ConfigError(f"evaluation.cost_model_id {model_id} is a {record.model_family} "
                              "model, not MF_EXEC_COST_V1")
        path = self.ctx.registry_dir / record.artifact_path / f"predictions_{split}.parquet"
        costs = pd.read_parquet(path, columns=["date", "symbol", "model:pred"])
        rows = pd.DataFrame({"date": dates, "symbol": symbols})
        joined = rows.merge(costs, on=["date", "symbol"], how="left")["model:pred"]
        missing = int(joined.isna().sum())
        if missing:
            raise ConfigError(
                f"evaluation.cost_model_id {model_id}: its saved {split} predictions ({path}) "
                f"lack {missing} of the {len(rows)} rows of this run's {split} split; use a "
                "cost model trained on the same dataset and windows"
            )
        return np.maximum(joined.to_numpy(np.float64), 0.0)

    # --- 2. evaluate and 3. publish -----------------------------------------------------------
    def _record(self, fitted: Fitted) -> None:
        ctx, data, cls = self.ctx, self.ctx.data, fitted.scorer.family
        assert data is not None
        ctx.training.update(fitted.training)
        tables = self._tables(fitted)
        complexity = {"parameter_count": fitted.parameter_count,
                      "feature_count": len(data.feature_columns), "lookback": data.lookback}
        evaluation = evaluate(tables, ctx.evaluation_spec(cls.metric_set),
                              ctx.evidence_inputs(complexity))
        # Beside the figures (not recomputed from the tables: it needs the model and the data).
        attribution = feature_attribution(fitted.scorer, data, ctx.config["evaluation"])
        if attribution is not None:
            evaluation["attribution"] = {**attribution, **({"gain": fitted.gain}
                                                           if fitted.gain is not None else {})}
        timing.CLOCK.mark("evaluation")  # the predict pass, the evaluation standard, attribution
        for name, report in evaluation["splits"].items():
            primary = report["primary_metric"]
            if report["model"].get(primary) is None:
                raise DegenerateRunError(
                    f"the model's primary metric {primary} cannot be computed on the {name} "
                    f"split ({report['rows']} rows; e.g. its predictions are constant)"
                )
        stage = self.staging_dir
        for name, arrays in tables.items():
            prediction_table(arrays).to_parquet(stage / f"predictions_{name}.parquet",
                                                index=False)
        metrics = {
            "schema_version": 1,
            "model_id": ctx.model_id,
            "experiment_id": ctx.experiment_id,
            "family_id": ctx.family["family_id"],
            "task": cls.task,
            "metric_set": cls.metric_set,
            "label_family": data.label_family,
            "prediction_tables": {"version": TABLE_VERSION,
                                  **{n: f"predictions_{n}.parquet" for n in tables}},
            **evaluation,
        }
        # No sync per file: the staged folder is synced whole before its rename (`sync_folder`).
        atomic_write_json(stage / "metrics.json", metrics, sync=False)
        write_reference(stage, data, sync=False)  # the training rows' features, hashed too
        # Imported only now: the pictures' numbers are needed after training alone.
        from ifns_train.run.curves import write_curves, write_learning_curves

        images = ctx.config["evaluation"]["curves"]["images"]  # else the JSON alone
        write_curves(stage / "curves", evaluation, tables, images=images, sync=False)
        write_learning_curves(stage / "curves", fitted.history, fitted.training["best_epoch"],
                              images=images, sync=False)
        # The figures to the run's loggers, before the registry transaction; a logger's error
        # is a warning, never the run's failure.
        # MLflow runs named after the experiment (a net's were at its fit's start, by
        # `log_figures.RunNames`; naming again sets the same tags).
        log_figures.name_runs(fitted.loggers, ctx.experiment_id,
                              ctx.model_id if ctx.registers_model else None)
        log_figures.log_run(fitted.loggers, evaluation, ctx.config, self._ids(),
                            stage / "curves", fitted.log_step)
        # Last, as it holds the phases up to here (`timing`); hashing and the transaction follow.
        timing.CLOCK.mark("recording")
        ctx.training["phase_seconds"] = timing.CLOCK.seconds()
        atomic_write_json(stage / "train_config.json", self._train_config(), sync=False)
        sync_folder(stage)  # every file durable before the record names it
        hashes = folder_hashes(stage)
        faults.point("staged")
        stage.rename(self.artifact_dir)
        sync_entries(self.artifact_dir.parent)  # and the rename
        faults.point("artifact-in-place")

        now = ids.iso(ids.utc_now())
        key = key_figures(evaluation)
        run = ctx.run()
        self.summary = {"experiment_id": ctx.experiment_id, "kind": ctx.kind,
                        "model_id": ctx.model_id if ctx.registers_model else None,
                        "artifact_dir": str(self.artifact_dir), "metrics": key,
                        "placebo": ctx.placebo,
                        "phase_seconds": ctx.training["phase_seconds"]}
        if not ctx.registers_model:
            log.finish(ctx.registry, experiment_entry(run, "completed", now, key),
                       f"{ctx.kind} run completed")
            self.recorded = True
            faults.point("published")
            return
        draft = model_draft(
            run,
            now=now,
            metrics=key,
            metrics_version=evaluation["metrics_version"],
            features_used=list(data.feature_families),
            labels_used=[data.label_family],
            feature_columns=list(data.feature_columns),
            horizons=[data.horizon_days],
            resources=self._resources(fitted),
            artifact_hashes=hashes,
        )
        model_registry.publish(ctx.registry, self._family_record(cls),
                               experiment_entry(run, "completed", now, key), draft)
        self.recorded = True
        faults.point("published")

    def _ids(self) -> dict[str, Any]:
        """What identifies the run to the loggers (next to its config)."""
        ctx = self.ctx
        return {"experiment_id": ctx.experiment_id,
                "model_id": ctx.model_id if ctx.registers_model else None,
                "kind": ctx.kind, "parent_experiment_id": ctx.parent_experiment_id,
                "config_hash": ctx.config_hash}

    def _train_config(self) -> dict[str, Any]:
        ctx, data = self.ctx, self.ctx.data
        assert data is not None
        return {
            "schema_version": 1,
            "experiment_id": ctx.experiment_id,
            "model_id": ctx.model_id,
            "family_id": ctx.family["family_id"],
            "roles": ctx.family["roles"],
            "datasets": ctx.datasets(),
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

    def _resources(self, fitted: Fitted) -> dict[str, Any]:
        data = self.ctx.data
        assert data is not None
        return {
            "parameter_count": fitted.parameter_count,
            "n_features": len(data.feature_columns),
            "lookback": data.lookback,
            "artifact_bytes": sum(
                p.stat().st_size for p in self.artifact_dir.rglob("*") if p.is_file()
            ),
            "train_seconds": round(fitted.fit_seconds, 3),
            "train_rows": len(data.splits["train"].rows),
            **fitted.resources,
        }

    def _family_record(self, cls: type[FamilyModule]) -> FamilyRecord:
        cfg = self.ctx.config
        return FamilyRecord(
            **{k: v for k, v in cfg["family"].items() if k in FamilyRecord.model_fields},
            input_requirements={
                "dataset": "a Stage 02 dataset of datasets_index.json holding these families",
                "feature_families": cfg["family"]["feature_families"],
                "label_families": cfg["family"]["label_families"],
                "categorical_inputs": list(cls.categorical_inputs),
                "baseline_columns": cls.baseline_columns(self.ctx.params),
            },
        )

    @rank_zero_only
    def record_failure(self, exc: BaseException) -> None:
        """Turn the run's `running` entry into a `failed` one with the error, and remove the
        folder it staged; a run already recorded keeps its complete record."""
        if self.recorded or not self.registered:
            return
        for path in (self.staging_dir, self.artifact_dir):
            shutil.rmtree(path, ignore_errors=True)
        message = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        entry = experiment_entry(self.ctx.run(), "failed", ids.iso(ids.utc_now()), {},
                                 error=message[:4000])
        log.finish(self.ctx.registry, entry, "run failed")
        self.registered = False
