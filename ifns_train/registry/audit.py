"""The compliance audit (spec 8.2): what a model must have to be eligible for production use.

A model is compliant when it is linked to exactly one experiment of the log, that experiment
has its config, dataset ids and time ranges and versioned feature and label families, the
dataset fingerprints still match the Stage 02 index, and the artifacts are present and match
their hashes. Anything missing is a reason; a non-compliant model cannot become canary or
promoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from ifns_train.data.index import load_index
from ifns_train.errors import IfnsError
from ifns_train.registry import artifacts, log
from ifns_train.registry.database import Registry
from ifns_train.registry.records import ModelRecord
from ifns_train.registry.schema import models

VERSIONED = re.compile(r".+_V\d+$")
SPLITS = ("train", "val", "test")


@dataclass
class Finding:
    model_id: str
    compliant: bool
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "compliant": self.compliant, "reasons": self.reasons}


def audit_model(reg: Registry, model: ModelRecord, index: dict[str, Any] | None = None,
                check_hashes: bool = True) -> Finding:
    reasons: list[str] = []
    mid = model.model_id
    with reg.read() as conn:
        n = conn.execute(select(func.count()).select_from(models).where(
            models.c.experiment_id == model.experiment_id)).scalar_one()
    if n != 1:
        reasons.append(f"experiment {model.experiment_id} has {n} models, not exactly one")
    try:
        entry = log.get(reg, model.experiment_id)
    except IfnsError as exc:
        reasons.append(f"experiment {model.experiment_id}: {exc}")
        entry = None
    if entry is not None:
        if entry.proposed_model_id != mid:
            reasons.append(f"experiment {entry.experiment_id} proposed "
                           f"{entry.proposed_model_id}, not {mid}")
        if entry.status not in ("completed", "selected", "discarded"):
            reasons.append(f"experiment {entry.experiment_id} is {entry.status}")
        if not entry.config:
            reasons.append(f"experiment {entry.experiment_id} has no config")
        ds = entry.datasets
        for split in SPLITS:
            if not (ds.get("ids") or {}).get(split):
                reasons.append(f"experiment {entry.experiment_id}: no {split} dataset id")
            window = (ds.get("windows") or {}).get(split)
            if not window or len(window) != 2 or not all(window):
                reasons.append(f"experiment {entry.experiment_id}: no {split} time range")
        for what, names in (("feature", entry.features_used), ("label", entry.labels_used)):
            if not names:
                reasons.append(f"experiment {entry.experiment_id}: no {what} families")
            reasons += [f"experiment {entry.experiment_id}: {what} family {n!r} has no version "
                        "(expected a _V<n> suffix)" for n in names if not VERSIONED.match(n)]
    reasons += _fingerprints(reg, model, index)
    folder = reg.dir / model.artifact_path
    if not folder.is_dir():
        reasons.append(f"artifact folder {folder} is missing")
    elif not model.artifact_hashes:
        reasons.append("no artifact hashes recorded")
    elif check_hashes:
        reasons += artifacts.mismatches(folder, model.artifact_hashes)
    return Finding(mid, not reasons, reasons)


def _fingerprints(reg: Registry, model: ModelRecord, index: dict[str, Any] | None
                  ) -> list[str]:
    try:
        datasets = (index if index is not None else load_index(reg.dir))["datasets"]
    except IfnsError as exc:
        return [f"dataset index: {exc}"]
    reasons = []
    used = {getattr(model, f"{s}_dataset_id") for s in SPLITS}
    for dataset_id in sorted(used):
        recorded = model.dataset_fingerprints.get(dataset_id)
        entry = datasets.get(dataset_id)
        if recorded is None:
            reasons.append(f"dataset {dataset_id}: no fingerprint recorded")
        elif entry is None:
            reasons.append(f"dataset {dataset_id}: no longer in the dataset index")
        elif entry.get("fingerprint") != recorded:
            reasons.append(f"dataset {dataset_id}: fingerprint {entry.get('fingerprint')} in "
                           f"the index differs from the recorded {recorded}")
    return reasons
