"""Models built like tests/registry/factory.add_model, with the inputs and the metrics.json
a console test needs to vary (features, labels, a full evaluation document)."""

from __future__ import annotations

import json
from typing import Any

from ifns_train.evaluation.standard import METRICS_VERSION
from ifns_train.registry import artifacts, ids, log, model_registry
from ifns_train.registry.database import Registry
from ifns_train.registry.publish import experiment_entry, model_draft
from ifns_train.registry.records import FamilyRecord, ModelRecord
from tests.registry.factory import DATASET, FAMILY, key_metrics, new_run

RISK = FamilyRecord(
    family_id="MF_RISK_VOL_V1", name="risk_vol", description="volatility forecaster",
    roles=["risk_overlay"], task="regression", prediction_type="regression",
    input_requirements={}, supported_environments=["offline"], baselines=["ewma_vol"])


def metrics_document(model_id: str) -> dict[str, Any]:
    """A metrics.json shaped like a real run's: per-split slices, slice intervals on the
    test split and the promotion checks with values and thresholds."""
    def split(with_intervals: bool) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "rows": 1000, "primary_metric": "auc", "model": {"auc": 0.6},
            "best_baseline": {"auc": "momentum_sign"},
            "slices": {"regime_tag": {
                "bear_calm": {"rows": 400, "small_slice": False,
                              "model": {"auc": 0.571},
                              "baselines": {"momentum_sign": {"auc": 0.551}},
                              "improvement": {"momentum_sign": {"auc": 0.0201}}},
                "bull_volatile": {"rows": 90, "small_slice": True,
                                  "model": {"auc": 0.633},
                                  "baselines": {"momentum_sign": {"auc": 0.541}},
                                  "improvement": {"momentum_sign": {"auc": 0.0921}}}}}}
        if with_intervals:
            doc["slice_intervals"] = {"regime_tag": {"bear_calm": {
                "estimate": 0.0201, "low": -0.0123, "high": 0.0456, "significant": False,
                "baseline": "momentum_sign"}}}
        return doc

    return {"model_id": model_id, "splits": {"val": split(False), "test": split(True)},
            "promotion": {"rules": "dir_core", "eligible": True, "reasons": [], "checks": [
                {"name": "regime_floor", "value": 0.0201, "threshold": -0.02, "passed": True,
                 "detail": "weakest regime_tag: bear_calm"},
                {"name": "placebo", "value": None, "threshold": None, "passed": None,
                 "detail": "no placebo was run"}]}}


def add_model(reg: Registry, name: str = "t", *, auc: float = 0.58, eligible: bool = True,
              family: FamilyRecord = FAMILY, dataset: str = DATASET,
              features: tuple[str, ...] = ("Feature_TREND_MTF_V1",),
              label: str = "Label_Direction_Horizon_20d_V1", full_metrics: bool = False,
              n: int | None = None) -> ModelRecord:
    run = new_run(reg, name, family, dataset, n)
    run.config["features"]["families"] = list(features)
    run.config["labels"]["target"] = label
    log.begin_run(reg, experiment_entry(run, "running", None, {}))
    folder = reg.dir / run.artifact_path
    folder.mkdir(parents=True)
    (folder / "model.ckpt").write_bytes(b"weights" * 100)
    doc = metrics_document(run.model_id) if full_metrics else {"model_id": run.model_id}
    (folder / "metrics.json").write_text(json.dumps(doc))
    metrics = key_metrics(auc, eligible)
    now = ids.iso(ids.utc_now())
    draft = model_draft(run, now=now, metrics=metrics, metrics_version=METRICS_VERSION,
                        features_used=list(features), labels_used=[label], horizons=[20],
                        feature_columns=["trend_20d"],
                        resources={}, artifact_hashes=artifacts.folder_hashes(folder))
    return model_registry.publish(reg, family, experiment_entry(run, "completed", now, metrics),
                                  draft)
