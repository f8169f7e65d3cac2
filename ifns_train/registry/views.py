"""Whole-registry reads for what reads everything at once (the Mirror, doctor, export).

One query per table, however many models and experiments: the per-record reads of
`model_registry.search` would take one query per model. Each family, model and (for doctor
and export) experiment record is validated as `model_registry.get` and `log.get` validate it;
one that fails is an `Invalid` naming it and why, and the reading goes on, so one bad record
neither stops a whole-registry tool nor is shown unchecked.

The Mirror's timeline is the exception, for its cost: of an experiment it needs its columns
and a few fields of its record (key figures, artifacts), and those are decoded with msgspec
into typed fields, which skips the rest of the record (the resolved config, the split report:
most of its ~12 KiB) without building it: 2.5 s instead of 12 s for 100,000 entries. A record
those fields cannot be decoded from is shown as invalid with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import msgspec
from sqlalchemy import select

from ifns_train.core.errors import RegistryError
from ifns_train.registry import log, model_registry
from ifns_train.registry.database import Registry
from ifns_train.registry.records import (
    RECORD_SCHEMA,
    ExperimentEntry,
    FamilyRecord,
    ModelRecord,
    StatusChange,
    stored,
    validated,
)
from ifns_train.registry.schema import (
    as_tuples,
    experiment_tags,
    experiments,
    families,
    history,
    models,
)

EXPERIMENT_COLUMNS = ("experiment_id", "experiment_name", "model_family", "status", "kind",
                      "parent_experiment_id", "proposed_model_id", "label_family",
                      "train_dataset_id", "started_ts", "finished_ts", "host", "error")
# What of a model is known without its record: what an invalid one is shown by.
MODEL_COLUMNS = ("model_id", "model_family", "model_version", "status", "experiment_id",
                 "created_ts", "last_updated_ts", "artifact_path")


@dataclass(frozen=True)
class Invalid:
    """A stored record that fails validation, with its row's plain columns: a reader of every
    record lists it by id with the reason and reads on, rather than stopping at it."""

    subject: str  # family | experiment | model
    record_id: str
    reason: str  # one line, naming the record and what is wrong with it
    columns: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, str]:
        return {"subject": self.subject, "id": self.record_id, "reason": self.reason}


def histories(reg: Registry, subject: str) -> dict[str, list[dict[str, Any]]]:
    """subject id -> its status changes, oldest first (`subject`: model or experiment)."""
    query = select(history).where(history.c.subject == subject).order_by(history.c.seq)
    out: dict[str, list[dict[str, Any]]] = {}
    with reg.read() as conn:
        for r in conn.execute(query).mappings():
            out.setdefault(r["subject_id"], []).append({
                "status": r["to_status"], "from_status": r["from_status"], "ts": r["ts"],
                "by": r["actor"], "reason": r["reason"], "evidence": json.loads(r["evidence"]),
                "figures": json.loads(r["figures"]) if r["figures"] else None})
    return out


def checked_models(reg: Registry, newest_first: bool = False
                   ) -> list[Union[ModelRecord, Invalid]]:
    """Every model's record, oldest first (or newest), validated as `model_registry.get`
    validates it (its history read in one query for all, not one per model)."""
    changes = histories(reg, "model")
    order = (models.c.created_ts, models.c.model_id)
    query = select(models).order_by(*(c.desc() if newest_first else c for c in order))
    out: list[Union[ModelRecord, Invalid]] = []
    with reg.read() as conn:
        for row in conn.execute(query):
            try:
                record = model_registry._record(conn, row, with_history=False)
            except RegistryError as exc:
                out.append(Invalid("model", row.model_id, str(exc),
                                   {c: getattr(row, c) for c in MODEL_COLUMNS}))
                continue
            out.append(record.model_copy(update={"status_history": [
                StatusChange(**h) for h in changes.get(row.model_id, [])]}))
    return out


def checked_experiments(reg: Registry, batch: int = 5_000
                        ) -> Iterator[Union[ExperimentEntry, Invalid]]:
    """Every experiment's entry, oldest first, validated as `log.get` validates it; streamed
    in batches."""
    query = select(experiments).order_by(experiments.c.started_ts,
                                         experiments.c.experiment_id)
    with reg.read() as conn:
        for row in conn.execution_options(yield_per=batch).execute(query):
            try:
                yield log._entry(row)
            except RegistryError as exc:
                yield Invalid("experiment", row.experiment_id, str(exc),
                              {c: getattr(row, c) for c in EXPERIMENT_COLUMNS})


def checked_families(reg: Registry) -> list[Union[FamilyRecord, Invalid]]:
    """Every family's definition, validated as `model_registry.family_records` validates it."""
    with reg.read() as conn:
        rows = conn.execute(select(families).order_by(families.c.family_id)).all()
    out: list[Union[FamilyRecord, Invalid]] = []
    for row in rows:
        where = f"family {row.family_id}"
        try:
            try:
                raw = json.loads(row.record)
            except ValueError as exc:
                raise RegistryError(f"{where}: record is not valid JSON ({exc})") from None
            out.append(validated(FamilyRecord, raw, where))
        except RegistryError as exc:
            out.append(Invalid("family", row.family_id, str(exc)))
    return out


def invalid_of(items: list[Any]) -> list[Invalid]:
    return [item for item in items if isinstance(item, Invalid)]


def model_records(reg: Registry) -> list[dict[str, Any]]:
    """Every model's record as JSON values (status, version and history filled in), newest
    first, each with `invalid`: None, or for a record that fails validation the reason, with
    only its columns (its figures are not shown unchecked)."""
    return [{**item.columns, "invalid": item.reason} if isinstance(item, Invalid)
            else {**item.model_dump(mode="json"), "invalid": None}
            for item in checked_models(reg, newest_first=True)]


class _Windows(msgspec.Struct):
    test: Any = None


class _Datasets(msgspec.Struct):
    windows: Optional[_Windows] = None
    in_sample: Optional[dict[str, Any]] = None  # an in-sample evaluation's rows (new_data)


class _ExperimentSummary(msgspec.Struct):
    """The fields of an experiment record a view reads (present in every record schema)."""

    metrics: Optional[dict[str, Any]] = None
    artifacts: Optional[dict[str, Any]] = None
    hyperparameters: Optional[dict[str, Any]] = None  # the run's `model` config
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
    """Every experiment, newest first: its columns, tags, key figures, hyperparameters (the
    run's `model` config), the run folder it wrote and, of an in-sample evaluation, its
    in-sample rows (read from its record), streamed in batches; `invalid`: why its record
    could not be read (else None)."""
    tags: dict[str, list[str]] = {}
    with reg.read() as conn:
        for exp_id, tag in as_tuples(conn.execute(select(experiment_tags.c.experiment_id,
                                                         experiment_tags.c.tag))):
            tags.setdefault(exp_id, []).append(tag)
        query = select(*(experiments.c[c] for c in EXPERIMENT_COLUMNS),
                       experiments.c.record, experiments.c.record_schema).order_by(
            experiments.c.started_ts.desc(), experiments.c.experiment_id.desc())
        result = conn.execution_options(yield_per=batch).execute(query)
        for row in result:
            try:
                record, invalid = _summary(row), None
            except RegistryError as exc:  # shown as invalid, without its figures
                record, invalid = _ExperimentSummary(), str(exc)
            out = {c: getattr(row, c) for c in EXPERIMENT_COLUMNS}
            windows = record.datasets.windows if record.datasets else None
            out.update(tags=sorted(tags.get(row.experiment_id, [])),
                       metrics=record.metrics or {},
                       artifacts=record.artifacts or {},
                       backbone=(record.hyperparameters or {}).get("backbone"),
                       hyperparameters=record.hyperparameters or {},
                       test_window=windows.test if windows else None,
                       in_sample=record.datasets.in_sample if record.datasets else None,
                       invalid=invalid)
            yield out
