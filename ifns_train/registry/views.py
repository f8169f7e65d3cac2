"""Whole-registry reads for views that show everything at once (the Mirror).

One query per table, however many models and experiments: the per-record reads of
`model_registry.search` would take one query per model. Records are parsed and brought to the
current shape (`records.stored`) but not validated field by field: a view only displays them,
and at 100,000 entries validation would cost more than everything else. Of an experiment a
view needs its columns and a few fields of its record (key figures, artifacts); those
are decoded with msgspec, which skips the rest of the record (the resolved config, the split
report: most of its ~12 KiB) without building it: 2.5 s instead of 12 s for 100,000 entries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Optional

import msgspec
from sqlalchemy import select

from ifns_train.errors import RegistryError
from ifns_train.registry.database import Registry
from ifns_train.registry.records import RECORD_SCHEMA, stored
from ifns_train.registry.schema import experiment_tags, experiments, history, models

EXPERIMENT_COLUMNS = ("experiment_id", "experiment_name", "model_family", "status", "kind",
                      "parent_experiment_id", "proposed_model_id", "label_family",
                      "train_dataset_id", "started_ts", "finished_ts", "host", "error")


def histories(reg: Registry, subject: str) -> dict[str, list[dict[str, Any]]]:
    """subject id -> its status changes, oldest first (`subject`: model or experiment)."""
    query = select(history).where(history.c.subject == subject).order_by(history.c.seq)
    out: dict[str, list[dict[str, Any]]] = {}
    with reg.read() as conn:
        for r in conn.execute(query).mappings():
            out.setdefault(r["subject_id"], []).append({
                "status": r["to_status"], "from_status": r["from_status"], "ts": r["ts"],
                "by": r["actor"], "reason": r["reason"], "evidence": json.loads(r["evidence"])})
    return out


def model_records(reg: Registry) -> list[dict[str, Any]]:
    """Every model's record (status, version and history filled in), newest first."""
    changes = histories(reg, "model")
    query = select(models).order_by(models.c.created_ts.desc(), models.c.model_id.desc())
    out = []
    with reg.read() as conn:
        for row in conn.execute(query):
            raw = stored("model", row.record, row.record_schema, f"model {row.model_id}")
            raw.update(status=row.status, model_version=row.model_version,
                       last_updated_ts=row.last_updated_ts,
                       status_history=changes.get(row.model_id, []))
            out.append(raw)
    return out


class _Windows(msgspec.Struct):
    test: Any = None


class _Datasets(msgspec.Struct):
    windows: Optional[_Windows] = None


class _Hyperparameters(msgspec.Struct):
    backbone: Any = None


class _ExperimentSummary(msgspec.Struct):
    """The fields of an experiment record a view reads (present in every record schema)."""

    metrics: Optional[dict[str, Any]] = None
    artifacts: Optional[dict[str, Any]] = None
    hyperparameters: Optional[_Hyperparameters] = None
    datasets: Optional[_Datasets] = None


_SUMMARY = msgspec.json.Decoder(_ExperimentSummary)


def _summary(row: Any) -> _ExperimentSummary:
    where = f"experiment {row.experiment_id}"
    if row.record_schema > RECORD_SCHEMA:
        stored("experiment", row.record, row.record_schema, where)  # refuses, naming why
    try:
        return _SUMMARY.decode(row.record)
    except msgspec.DecodeError as exc:
        raise RegistryError(f"{where}: record is not valid JSON or has a field of the "
                            f"wrong type ({exc})") from None


def experiment_rows(reg: Registry, batch: int = 5_000) -> Iterator[dict[str, Any]]:
    """Every experiment, newest first: its columns, tags, key figures and the run
    folder it wrote (read from its record), streamed in batches."""
    tags: dict[str, list[str]] = {}
    with reg.read() as conn:
        for exp_id, tag in conn.execute(select(experiment_tags.c.experiment_id,
                                               experiment_tags.c.tag)):
            tags.setdefault(exp_id, []).append(tag)
        query = select(*(experiments.c[c] for c in EXPERIMENT_COLUMNS),
                       experiments.c.record, experiments.c.record_schema).order_by(
            experiments.c.started_ts.desc(), experiments.c.experiment_id.desc())
        result = conn.execution_options(yield_per=batch).execute(query)
        for row in result:
            record = _summary(row)
            out = {c: getattr(row, c) for c in EXPERIMENT_COLUMNS}
            windows = record.datasets.windows if record.datasets else None
            out.update(tags=sorted(tags.get(row.experiment_id, [])),
                       metrics=record.metrics or {},
                       artifacts=record.artifacts or {},
                       backbone=record.hyperparameters.backbone
                       if record.hyperparameters else None,
                       test_window=windows.test if windows else None)
            yield out
