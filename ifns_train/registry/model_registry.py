"""The model registry (spec 4.1): model records, their versions, what they depend on.

`publish` is the one transaction that makes a run's model exist: the experiment's completion,
the model record (its version the next of its family) and its first history row are committed
together, after the artifact folder is in place, so no record can point at nothing and no
completed experiment can lack its model.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ifns_train.core import faults
from ifns_train.core.errors import RegistryError
from ifns_train.registry import ids
from ifns_train.registry.database import Registry, dumps
from ifns_train.registry.key_metrics import flat_metrics
from ifns_train.registry.log import append_history, history_of, write_entry
from ifns_train.registry.records import (
    ExperimentEntry,
    FamilyRecord,
    ModelDraft,
    ModelRecord,
    stored,
    validated,
)
from ifns_train.registry.schema import as_tuples, families, model_inputs, models


def _inputs(model: ModelDraft) -> list[dict[str, str]]:
    rows = {("dataset", getattr(model, f"{s}_dataset_id")) for s in ("train", "val", "test")}
    rows |= {("feature", f) for f in model.features_used}
    rows |= {("label", lab) for lab in model.labels_used}
    rows |= {("role", r) for r in model.roles}
    return [{"model_id": model.model_id, "kind": k, "name": n} for k, n in sorted(rows)]


def _upsert_family(conn: Connection, family: FamilyRecord) -> None:
    """Write the family's definition; on PostgreSQL the row stays locked to the transaction's
    end, which serialises the version numbers of one family."""
    # Imported here: loading the PostgreSQL dialect costs a SQLite run's start-up ~60 ms.

    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    record = dumps(family.model_dump(mode="json"))
    stmt = dialect.insert(families).values(family_id=family.family_id, record=record)
    conn.execute(stmt.on_conflict_do_update(index_elements=["family_id"],
                                            set_={"record": record}))


def publish(reg: Registry, family: FamilyRecord, entry: ExperimentEntry, draft: ModelDraft
            ) -> ModelRecord:
    """Complete the experiment and add its model, in one transaction."""
    if entry.status != "completed" or draft.experiment_id != entry.experiment_id:
        raise ValueError("publish takes a completed entry and the draft of its model")
    with reg.write() as conn:
        _upsert_family(conn, family)
        version = 1 + (conn.execute(select(func.max(models.c.model_version)).where(
            models.c.model_family == family.family_id)).scalar_one_or_none() or 0)
        model = ModelRecord(**draft.model_dump(exclude={"status_history"}),
                            model_version=version)
        write_entry(conn, entry, actor="ifns_train.recorder", reason="run completed")
        conn.execute(insert(models).values(
            model_id=model.model_id, model_family=model.model_family,
            model_version=version, status=model.status,
            experiment_id=model.experiment_id, created_ts=model.created_ts,
            last_updated_ts=model.last_updated_ts, artifact_path=model.artifact_path,
            key_metrics=dumps(flat_metrics(model.metrics, model.metrics_version)),
            record_schema=model.schema_version,
            record=dumps(model.model_dump(mode="json", exclude={"status", "status_history"})),
        ))
        conn.execute(insert(model_inputs), _inputs(model))
        append_history(conn, "model", model.model_id, None, model.status,
                       "ifns_train.recorder", f"trained by experiment {model.experiment_id}",
                       [model.experiment_id], ts=model.created_ts)
        faults.point("publish-before-commit")
    return model


def _record(conn: Connection, row: Any, with_history: bool = True) -> ModelRecord:
    where = f"model {row.model_id}"
    raw = stored("model", row.record, row.record_schema, where)
    raw.update(status=row.status, model_version=row.model_version,
               last_updated_ts=row.last_updated_ts)
    if with_history:
        raw["status_history"] = [h.model_dump() for h in history_of(conn, "model",
                                                                     row.model_id)]
    return validated(ModelRecord, raw, where)


def get(reg: Registry, model_id: str) -> ModelRecord:
    ids.check_id(model_id, "model_id")
    with reg.read() as conn:
        row = conn.execute(select(models).where(models.c.model_id == model_id)).first()
        if row is None:
            raise RegistryError(f"no model {model_id!r} in the registry {reg.shown_url()}")
        return _record(conn, row)


def search(reg: Registry, *, family: str | None = None, status: str | None = None,
           role: str | None = None, dataset: str | None = None, feature: str | None = None,
           label: str | None = None, since: str | None = None, until: str | None = None,
           sort: str | None = None, descending: bool = True, limit: int | None = 100,
           records: bool = True) -> list[dict[str, Any]]:
    """Models matching every filter given, newest first or by a flat key figure (`sort`,
    e.g. `test.auc`; models without it last). Each row: the columns, `key_metrics` and, with
    `records`, the validated record."""
    # The record (the large column) is read only for the rows returned.
    query = select(*(c for c in models.c if c.name != "record"))
    for column, value in ((models.c.model_family, family), (models.c.status, status)):
        if value:
            query = query.where(column == value)
    for kind, value in (("role", role), ("dataset", dataset), ("feature", feature),
                        ("label", label)):
        if value:
            query = query.where(models.c.model_id.in_(select(model_inputs.c.model_id).where(
                and_(model_inputs.c.kind == kind, model_inputs.c.name == value))))
    if since:
        query = query.where(models.c.created_ts >= since)
    if until:
        query = query.where(models.c.created_ts < until)
    query = query.order_by(models.c.created_ts.desc(), models.c.model_id.desc())
    if sort is None and limit is not None:
        query = query.limit(limit)
    with reg.read() as conn:
        rows = [dict(r._mapping, key_metrics=json.loads(r.key_metrics))
                for r in conn.execute(query)]
        if sort is not None:
            have = [r for r in rows if sort in r["key_metrics"]]
            have.sort(key=lambda r: r["key_metrics"][sort], reverse=descending)
            rows = have + [r for r in rows if sort not in r["key_metrics"]]
            rows = rows[:limit] if limit is not None else rows
        if records:
            for r in rows:
                full = conn.execute(select(models).where(
                    models.c.model_id == r["model_id"])).first()
                r["record"] = _record(conn, full)
    return rows


def family_records(reg: Registry) -> list[FamilyRecord]:
    with reg.read() as conn:
        rows = conn.execute(select(families).order_by(families.c.family_id)).all()
    return [validated(FamilyRecord, json.loads(r.record), f"family {r.family_id}")
            for r in rows]


def input_names(reg: Registry, kind: str) -> list[str]:
    """The datasets, feature families, label families or roles (`kind`) models depend on."""
    query = select(model_inputs.c.name).where(model_inputs.c.kind == kind).distinct()
    with reg.read() as conn:
        return sorted(conn.execute(query).scalars())


def status_counts(reg: Registry) -> dict[str, dict[str, int]]:
    """family -> status -> number of models."""
    query = select(models.c.model_family, models.c.status, func.count()).group_by(
        models.c.model_family, models.c.status)
    out: dict[str, dict[str, int]] = {}
    with reg.read() as conn:
        for family, status, count in as_tuples(conn.execute(query)):
            out.setdefault(family, {})[status] = count
    return out


def update_metrics(reg: Registry, model_id: str, metrics: dict[str, Any], version: int,
                   artifact_hashes: dict[str, str], now: str) -> ModelRecord:
    """Replace a model's key figures with those of a newer metrics version; the earlier ones
    are appended to its metrics_history, and the artifact hashes follow the rewritten files."""
    with reg.write() as conn:
        row = conn.execute(select(models).where(models.c.model_id == model_id)).first()
        if row is None:
            raise RegistryError(f"no model {model_id!r} in the registry {reg.shown_url()}")
        model = _record(conn, row, with_history=False)
        if version <= model.metrics_version:
            raise RegistryError(f"model {model_id}: metrics version {version} is not newer "
                                f"than its {model.metrics_version}")
        history = [*model.metrics_history, {"metrics_version": model.metrics_version,
                                            "metrics": model.metrics, "replaced_ts": now}]
        model = model.model_copy(update={"metrics": metrics, "metrics_version": version,
                                         "metrics_history": history, "last_updated_ts": now,
                                         "artifact_hashes": artifact_hashes})
        model = validated(ModelRecord, model.model_dump(), f"model {model_id}")
        conn.execute(update(models).where(models.c.model_id == model_id).values(
            last_updated_ts=now, key_metrics=dumps(flat_metrics(metrics, version)),
            record=dumps(model.model_dump(mode="json", exclude={"status", "status_history"}))))
    return model
