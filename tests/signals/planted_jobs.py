"""Prediction jobs planted in the log (no training): a drift report computed for real on
synthetic features, one feature's volatility doubled."""

from __future__ import annotations

from typing import Any

import numpy as np

from ifns_train.evaluation import drift
from ifns_train.registry.database import Registry
from ifns_train.registry.jobs import record_job
from ifns_train.signals.drift_gate import assess
from tests.signals.drift_data import limits

NAMES = ["calm_feature", "vol_feature"]


def drift_details(scale: float, model_ids: list[str], reference: bool = True
                  ) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    tags = np.array(["bull_calm", "bear_volatile"] * 1_000)
    train = rng.standard_normal((2_000, 2)).astype(np.float32)
    new = rng.standard_normal((2_000, 2)).astype(np.float32) * np.float32([1.0, scale])
    ref = drift.reference(train, NAMES, {"regime_tag": tags}, 250) if reference else None
    report = assess(ref, new, NAMES, {"regime_tag": tags}, limits())
    return {"allow_drift": False, "models": {
        m: {"status": "candidate", "in_sample_rows": 0, "drift": {**report, "overridden": False}}
        for m in model_ids}}


def plant_job(reg: Registry, job_id: str, model_ids: list[str], started: str, scale: float,
              reference: bool = True) -> None:
    record_job(reg, {"job_id": job_id, "actor": "test", "started_ts": started,
                     "finished_ts": started, "model_ids": model_ids,
                     "dataset_id": "DS_DEMO_CORE_V1", "dataset_fingerprint": "sha256:" + "0" * 64,
                     "window": [None, None], "env": "offline", "rows": 2_000,
                     "output": "/tmp/signals.parquet",
                     "details": drift_details(scale, model_ids, reference)})
