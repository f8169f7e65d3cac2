"""Registry records made without training: runs and models with real artifact folders, built
through the same record builders and writes as a run, for tests of the registry and its
consoles (and the scale benchmark)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ifns_train.data.index import load_index
from ifns_train.registry import artifacts, ids, log, model_registry
from ifns_train.registry.database import Registry
from ifns_train.registry.publish import Run, experiment_entry, model_draft
from ifns_train.registry.records import FamilyRecord, ModelRecord

FAMILY = FamilyRecord(
    family_id="MF_DIR_CORE_V1", name="dir_core", description="directional core",
    roles=["primary_directional"], task="classification", prediction_type="probabilities",
    input_requirements={}, supported_environments=["offline"], baselines=["momentum_sign"])
DATASET = "DS_DEMO_CORE_V1"


def key_metrics(auc: float = 0.58, eligible: bool = True, sharpe: float = 1.0
                ) -> dict[str, Any]:
    split = {"rows": 1000, "primary_metric": "auc", "model": {"auc": auc, "hit_rate": 0.55},
             "best_baseline": {"auc": "momentum_sign"}, "baseline": {"auc": 0.53},
             "improvement": {"auc": auc - 0.53}, "intervals": {}}
    return {"val": split, "test": split,
            "selection": {"sharpe_annualised": sharpe, "probabilistic_sharpe_ratio": 0.9,
                          "deflated_sharpe_ratio": 0.96, "trials": 1},
            "promotion": {"eligible": eligible,
                          "reasons": [] if eligible else ["improvement not significant"]}}


def new_run(reg: Registry, name: str = "t", family: FamilyRecord = FAMILY,
            dataset: str = DATASET, n: int | None = None) -> Run:
    now = ids.utc_now()
    exp_id, model_id = ids.new_ids(name, family.family_id, now)
    if n is not None:  # unique and ordered without waiting for the clock
        exp_id, model_id = f"{exp_id}_{n:06d}", f"{model_id}_{n:06d}"
    index = load_index(reg.dir)["datasets"] if (reg.dir / "datasets_index.json").exists() \
        else {}
    fingerprint = (index.get(dataset) or {}).get("fingerprint", "sha256:none")
    config = {"experiment_name": name, "seed": 1, "model": {"lr": 0.001},
              "features": {"families": ["Feature_TREND_MTF_V1"]},
              "labels": {"target": "Label_Direction_Horizon_20d_V1"},
              "family": {"prediction_type": family.prediction_type,
                         "supported_environments": family.supported_environments}}
    return Run(
        experiment_id=exp_id, model_id=model_id, experiment_name=name,
        family_id=family.family_id, roles=list(family.roles), started_ts=ids.iso(now),
        config=config, config_hash="sha256:test", code_version={}, run_dir="/tmp/run",
        artifact_path=f"models/{family.family_id}/{model_id}",
        datasets={"ids": {s: dataset for s in ("train", "val", "test")},
                  "windows": {"train": ["2014-01-02", "2019-10-18"],
                              "val": ["2019-10-21", "2021-09-23"],
                              "test": ["2021-09-24", "2023-08-30"]},
                  "fingerprints": {dataset: fingerprint}},
        training={}, host="testhost", pid=1)


def add_model(reg: Registry, name: str = "t", *, auc: float = 0.58, eligible: bool = True,
              family: FamilyRecord = FAMILY, dataset: str = DATASET, n: int | None = None,
              sharpe: float = 1.0) -> ModelRecord:
    """A completed run and its `candidate` model, with an artifact folder of two files."""
    run = new_run(reg, name, family, dataset, n)
    log.begin_run(reg, experiment_entry(run, "running", None, {}))
    folder = reg.dir / run.artifact_path
    folder.mkdir(parents=True)
    (folder / "model.ckpt").write_bytes(b"weights" * 100)
    (folder / "metrics.json").write_text(json.dumps({"model_id": run.model_id}))
    metrics = key_metrics(auc, eligible, sharpe)
    now = ids.iso(ids.utc_now())
    draft = model_draft(run, now=now, metrics=metrics, metrics_version=2,
                        features_used=["Feature_TREND_MTF_V1"],
                        labels_used=["Label_Direction_Horizon_20d_V1"], horizons=[20],
                        feature_columns=["trend_20d"],
                        resources={}, artifact_hashes=artifacts.folder_hashes(folder))
    return model_registry.publish(reg, family, experiment_entry(run, "completed", now, metrics),
                                  draft)


def add_failed(reg: Registry, name: str = "t", error: str = "ValueError: boom",
               n: int | None = None) -> str:
    run = new_run(reg, name, n=n)
    log.begin_run(reg, experiment_entry(run, "running", None, {}))
    log.finish(reg, experiment_entry(run, "failed", ids.iso(ids.utc_now()), {}, error=error),
               "run failed")
    return run.experiment_id


def add_running(reg: Registry, name: str = "t", host: str = "testhost", pid: int = 1) -> Run:
    run = new_run(reg, name)
    run.host, run.pid = host, pid
    log.begin_run(reg, experiment_entry(run, "running", None, {}))
    return run


def open_registry(path: Path, url: str | None = None) -> Registry:
    return Registry(path, url)


def edit_stored(reg: Registry, subject: str, subject_id: str, **changes: Any) -> None:
    """Change fields of a stored record behind the registry's back (a hand edit, a bug of
    another tool): `subject` is "model" or "experiment"."""
    from sqlalchemy import update

    from ifns_train.registry.database import dumps
    from ifns_train.registry.schema import experiments, models

    table, key = (models, models.c.model_id) if subject == "model" else \
        (experiments, experiments.c.experiment_id)
    with reg.read() as conn:
        raw = json.loads(conn.execute(table.select().where(key == subject_id)).first().record)
    raw.update(changes)
    with reg.write() as conn:
        conn.execute(update(table).where(key == subject_id).values(record=dumps(raw)))
