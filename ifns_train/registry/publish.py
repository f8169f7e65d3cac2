"""Publishing a run: the experiment-log entry and the model record, built as typed records.

Why here and not in the recorder: the registry owns its records' shape (the spec's field names
of sections 4.1 and 8.1), so the recorder hands over what it knows of a run (`Run`) and its
figures, and gets back records that were checked before anything is written. The writes
themselves are `log` (a run's start and a failure) and `model_registry.publish` (a completed
run and its model, in one transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from ifns_train.registry.records import (
    ExperimentEntry,
    ExperimentKind,
    ExperimentStatus,
    ModelDraft,
)


@dataclass
class Run:
    """One run, as the registry records it."""

    experiment_id: str
    model_id: str
    experiment_name: str
    family_id: str
    roles: list[str]
    started_ts: str
    config: dict[str, Any]  # the resolved config
    config_hash: str
    code_version: dict[str, Any]
    run_dir: str
    artifact_path: str  # relative to the registry root
    datasets: dict[str, Any]  # ids, windows, fingerprints and the split report
    training: dict[str, Any]
    kind: str = "model"  # or a companion run: fold, seed, placebo
    parent_experiment_id: str | None = None
    links: dict[str, list[str]] | None = None  # companion experiment ids, by kind
    host: str | None = None
    pid: int | None = None
    sweep_dir: str | None = None  # the Hydra multirun folder of a sweep's job


def experiment_entry(run: Run, status: ExperimentStatus, finished_ts: str | None,
                     metrics: dict[str, Any], error: str | None = None) -> ExperimentEntry:
    """The log entry of a run: `running` at its start, then its outcome; only a completed run
    links artifacts, a failed one has an error."""
    completed = status == "completed"
    cfg = run.config

    def link(name: str) -> str | None:
        return f"{run.artifact_path}/{name}" if completed else None

    return ExperimentEntry(
        experiment_id=run.experiment_id,
        experiment_name=run.experiment_name,
        timestamp=run.started_ts,
        finished_ts=finished_ts,
        host=run.host,
        pid=run.pid,
        model_family=run.family_id,
        roles=run.roles,
        proposed_model_id=run.model_id,
        status=status,
        datasets=run.datasets,
        features_used=cfg["features"]["families"],
        labels_used=[cfg["labels"]["target"]],
        hyperparameters=cfg["model"],
        config=cfg,
        training=run.training,
        config_hash=run.config_hash,
        seed=cfg["seed"],
        metrics=metrics,
        artifacts={
            "artifact_path": run.artifact_path if completed else None,
            "run_dir": run.run_dir,
            "sweep_dir": run.sweep_dir,
            "train_config": link("train_config.json"),
            "metrics": link("metrics.json"),
            "predictions": link("predictions_test.parquet"),
        },
        code_version=run.code_version,
        error=error,
        kind=cast(ExperimentKind, run.kind),  # a plain str upstream; the record validates it
        parent_experiment_id=run.parent_experiment_id,
        links=run.links or {},
        tags=list(cfg.get("tags") or []),
    )


def model_draft(
    run: Run,
    *,
    now: str,
    metrics: dict[str, Any],
    metrics_version: int,
    features_used: list[str],
    labels_used: list[str],
    feature_columns: list[str],
    horizons: list[int],
    resources: dict[str, Any],
    artifact_hashes: dict[str, str],
) -> ModelDraft:
    """A `candidate` record of the run's model; the registry gives its version on `publish`."""
    family = run.config["family"]
    ds = run.datasets
    return ModelDraft(
        model_id=run.model_id,
        model_family=run.family_id,
        status="candidate",
        created_ts=now,
        last_updated_ts=now,
        experiment_id=run.experiment_id,
        roles=run.roles,
        **{f"{s}_dataset_id": ds["ids"][s] for s in ("train", "val", "test")},
        dataset_windows=ds["windows"],
        dataset_fingerprints=ds["fingerprints"],
        features_used=features_used,
        feature_columns=feature_columns,
        labels_used=labels_used,
        prediction_type=family["prediction_type"],
        horizons=horizons,
        metrics=metrics,
        metrics_version=metrics_version,
        supported_environments=family["supported_environments"],
        resources=resources,
        training=run.training,
        artifact_path=run.artifact_path,
        artifact_hashes=artifact_hashes,
        code_version=run.code_version,
    )

