"""The experiment log (spec 8.1): runs from their start to their outcome, and their links.

A run is entered as `running` (host, pid, start time) before any work, so a run that dies
leaves a trace that `doctor` can explain; its outcome replaces the entry's evidence fields once,
and every status change is an appended history row.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from ifns_train.core import faults
from ifns_train.core.errors import RegistryError
from ifns_train.registry import ids
from ifns_train.registry.database import Registry, dumps
from ifns_train.registry.records import (
    NO_MODEL_KINDS,
    ExperimentEntry,
    StatusChange,
    stored,
    validated,
)
from ifns_train.registry.schema import experiment_tags, experiments, history, links

EXPERIMENT_TRANSITIONS: dict[str | None, set[str]] = {
    None: {"running"},
    "running": {"completed", "failed"},
    "completed": {"selected", "discarded"},
    "selected": {"discarded"},
    "discarded": {"selected"},
    # An interrupted run resumed from its checkpoint (ifns-train ckpt_path=...): written by
    # train through write_entry, with the history row "resumed from <checkpoint>".
    "failed": {"running"},
}
LINK_KINDS = ("sel", "dra")


def _columns(entry: ExperimentEntry) -> dict[str, Any]:
    selection = entry.metrics.get("selection") or {}
    # Metrics version 3 on: `sharpe_annualised` is the excess the deflated Sharpe ratio is of
    # (the trial statistic), `model_sharpe_annualised` the model's own proxy Sharpe ratio.
    current = "statistic" in selection
    return {
        "experiment_name": entry.experiment_name,
        "model_family": entry.model_family,
        "status": entry.status,
        "kind": entry.kind,
        "parent_experiment_id": entry.parent_experiment_id,
        "proposed_model_id": entry.proposed_model_id,
        "label_family": entry.labels_used[0] if entry.labels_used else None,
        "train_dataset_id": (entry.datasets.get("ids") or {}).get("train"),
        "started_ts": entry.timestamp,
        "finished_ts": entry.finished_ts,
        "host": entry.host,
        "pid": entry.pid,
        "error": entry.error,
        "sharpe": selection.get("model_sharpe_annualised" if current else "sharpe_annualised"),
        "trial_sharpe": selection.get("sharpe_annualised") if current else None,
        "record_schema": entry.schema_version,
        "record": dumps(entry.model_dump(mode="json", exclude={"status"})),
    }


def append_history(conn: Connection, subject: str, subject_id: str, from_status: str | None,
                   to_status: str, actor: str, reason: str, evidence: list[str] | None = None,
                   ts: str | None = None, figures: dict[str, Any] | None = None) -> None:
    """One appended row of a status history; a decision's carries the `figures` it was made
    on (its checks as they stood then), so the decision can be audited against them."""
    conn.execute(insert(history).values(
        subject=subject, subject_id=subject_id, from_status=from_status, to_status=to_status,
        actor=actor, ts=ts or ids.iso(ids.utc_now()), reason=reason,
        evidence=dumps(list(evidence or [])),
        figures=None if figures is None else dumps(figures)))


def history_of(conn: Connection, subject: str, subject_id: str) -> list[StatusChange]:
    rows = conn.execute(select(history).where(and_(
        history.c.subject == subject, history.c.subject_id == subject_id)
    ).order_by(history.c.seq)).mappings()
    return [StatusChange(status=r["to_status"], from_status=r["from_status"], ts=r["ts"],
                         by=r["actor"], reason=r["reason"], evidence=json.loads(r["evidence"]),
                         figures=json.loads(r["figures"]) if r["figures"] else None)
            for r in rows]


def _status(conn: Connection, experiment_id: str) -> str | None:
    return conn.execute(select(experiments.c.status).where(
        experiments.c.experiment_id == experiment_id)).scalar_one_or_none()


def _check_transition(experiment_id: str, old: str | None, new: str) -> None:
    if new not in EXPERIMENT_TRANSITIONS.get(old, set()):
        raise RegistryError(f"experiment {experiment_id}: status {old or '(none)'} cannot "
                            f"become {new}")


def begin_run(reg: Registry, entry: ExperimentEntry) -> None:
    """Enter a run as `running`, before it does any work."""
    if entry.status != "running":
        raise ValueError("a run is entered as running")
    with reg.write() as conn:
        write_entry(conn, entry, actor="ifns_train.run.train", reason="run started")


def _guarded(conn: Connection, experiment_id: str, old: str, values: dict[str, Any]) -> None:
    """Update the experiment only if it is still `old` (a concurrent writer may have moved
    it since it was read: PostgreSQL reads what was committed before each statement)."""
    done = conn.execute(update(experiments).where(and_(
        experiments.c.experiment_id == experiment_id, experiments.c.status == old))
        .values(**values)).rowcount
    if done != 1:
        raise RegistryError(f"experiment {experiment_id} became {_status(conn, experiment_id)} "
                            f"meanwhile (it was {old}); try again")


def write_entry(conn: Connection, entry: ExperimentEntry, actor: str, reason: str) -> None:
    """Insert the entry or replace its evidence, with a history row for a status change."""
    old = _status(conn, entry.experiment_id)
    if old == entry.status:
        raise RegistryError(f"experiment {entry.experiment_id} is already {old}")
    _check_transition(entry.experiment_id, old, entry.status)
    if old is None:
        conn.execute(insert(experiments).values(experiment_id=entry.experiment_id,
                                                **_columns(entry)))
    else:
        _guarded(conn, entry.experiment_id, old, _columns(entry))
    write_tags(conn, entry, replace=old is not None)
    append_history(conn, "experiment", entry.experiment_id, old, entry.status, actor, reason,
                   ts=entry.finished_ts)


def write_tags(conn: Connection, entry: ExperimentEntry, replace: bool = False) -> None:
    """The entry's tags as rows of `experiment_tags` (each once); `replace` drops the rows
    an earlier write left first."""
    if replace:
        conn.execute(delete(experiment_tags).where(
            experiment_tags.c.experiment_id == entry.experiment_id))
    tags = list(dict.fromkeys(entry.tags))
    if tags:
        conn.execute(insert(experiment_tags), [
            {"experiment_id": entry.experiment_id, "tag": tag} for tag in tags])


def finish(reg: Registry, entry: ExperimentEntry, reason: str) -> None:
    """Record the outcome of a run that registers no model (a failure, a placebo)."""
    with reg.write() as conn:
        write_entry(conn, entry, actor="ifns_train.recorder", reason=reason)


def set_status(reg: Registry, experiment_id: str, status: str, actor: str, reason: str,
               evidence: list[str] | None = None, figures: dict[str, Any] | None = None
               ) -> None:
    """A reviewer's `selected` / `discarded`, or `doctor`'s `failed` for a dead run; `figures`:
    what the change rests on (a sweep's PBO with its selection)."""
    if status == "running":
        raise RegistryError(f"experiment {experiment_id}: only a resumed run becomes running "
                            "again (ifns-train ckpt_path=...)")
    with reg.write() as conn:
        row = conn.execute(select(experiments.c.status, experiments.c.record).where(
            experiments.c.experiment_id == experiment_id)).first()
        if row is None:
            raise RegistryError(f"no experiment {experiment_id!r} in {reg.shown_url()}")
        faults.point("status-read")
        _check_transition(experiment_id, row.status, status)
        values: dict[str, Any] = {"status": status}
        if row.status == "running":
            record = json.loads(row.record)
            record.update(finished_ts=ids.iso(ids.utc_now()), error=reason)
            values.update(record=dumps(record), finished_ts=record["finished_ts"],
                          error=reason)
        _guarded(conn, experiment_id, row.status, values)
        append_history(conn, "experiment", experiment_id, row.status, status, actor, reason,
                       evidence, figures=figures)


def _entry(row: Any) -> ExperimentEntry:
    where = f"experiment {row.experiment_id}"
    raw = stored("experiment", row.record, row.record_schema, where)
    return validated(ExperimentEntry, {**raw, "status": row.status}, where)


def get(reg: Registry, experiment_id: str) -> ExperimentEntry:
    ids.check_id(experiment_id, "experiment_id")
    with reg.read() as conn:
        row = conn.execute(select(experiments).where(
            experiments.c.experiment_id == experiment_id)).first()
    if row is None:
        raise RegistryError(f"no experiment {experiment_id!r} in {reg.shown_url()}")
    return _entry(row)


def search(reg: Registry, *, family: str | None = None, status: str | None = None,
           kind: str | None = None, since: str | None = None, until: str | None = None,
           text: str | None = None, parent: str | None = None, tag: str | None = None,
           limit: int | None = 100) -> list[ExperimentEntry]:
    """Experiments, newest first; dates compare with the start time's ISO text; `tag`: those
    carrying that tag (exactly)."""
    query = select(experiments)
    if family:
        query = query.where(experiments.c.model_family == family)
    if status:
        query = query.where(experiments.c.status == status)
    if kind:
        query = query.where(experiments.c.kind == kind)
    if since:
        query = query.where(experiments.c.started_ts >= since)
    if until:
        query = query.where(experiments.c.started_ts < until)
    if parent:
        query = query.where(experiments.c.parent_experiment_id == parent)
    if tag:
        query = query.where(experiments.c.experiment_id.in_(
            select(experiment_tags.c.experiment_id).where(experiment_tags.c.tag == tag)))
    if text:  # the text as typed: % and _ are not wildcards
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        query = query.where(or_(*(column.like(like, escape="\\") for column in (
            experiments.c.experiment_id, experiments.c.experiment_name,
            experiments.c.proposed_model_id, experiments.c.error))))
    query = query.order_by(experiments.c.started_ts.desc(), experiments.c.experiment_id.desc())
    if limit is not None:
        query = query.limit(limit)
    with reg.read() as conn:
        return [_entry(row) for row in conn.execute(query)]


def status_history(reg: Registry, experiment_id: str) -> list[StatusChange]:
    with reg.read() as conn:
        return history_of(conn, "experiment", experiment_id)


def trials(reg: Registry, family_id: str, label: str, train_dataset_id: str
           ) -> dict[str, Any]:
    """The completed trials of one family, label and training dataset (runs of NO_MODEL_KINDS,
    companions and checks, are no trials): what a deflated Sharpe ratio deflates by. `count`
    is every trial; `sharpes` the annualised Sharpe ratios of those that have the trial
    statistic (`trial_sharpe`: none recorded before metrics version 3, or no excess), in the
    order they started."""
    query = select(experiments.c.trial_sharpe).where(and_(
        experiments.c.model_family == family_id, experiments.c.label_family == label,
        experiments.c.train_dataset_id == train_dataset_id,
        experiments.c.status.in_(("completed", "selected", "discarded")),
        experiments.c.kind.notin_(NO_MODEL_KINDS),
    )).order_by(experiments.c.started_ts, experiments.c.experiment_id)
    with reg.read() as conn:
        values: list[float | None] = list(conn.execute(query).scalars())
    return {"count": len(values), "sharpes": [float(v) for v in values if v is not None]}


def link(reg: Registry, experiment_id: str, kind: str, ref: str, actor: str) -> None:
    """Link an experiment to a SEL recommendation or a DRA decision (spec 9.2)."""
    if kind not in LINK_KINDS:
        raise RegistryError(f"link kind {kind!r}: expected one of {', '.join(LINK_KINDS)}")
    ids.check_id(ref, f"{kind.upper()} reference")
    with reg.write() as conn:
        if _status(conn, experiment_id) is None:
            raise RegistryError(f"no experiment {experiment_id!r} in {reg.shown_url()}")
        conn.execute(insert(links).values(experiment_id=experiment_id, kind=kind, ref=ref,
                                          actor=actor, ts=ids.iso(ids.utc_now())))


def links_of(reg: Registry, experiment_id: str | None = None
             ) -> dict[str, list[dict[str, Any]]]:
    """SEL/DRA links by experiment id (of one experiment, or of all)."""
    query = select(links).order_by(links.c.seq)
    if experiment_id is not None:
        query = query.where(links.c.experiment_id == experiment_id)
    out: dict[str, list[dict[str, Any]]] = {}
    with reg.read() as conn:
        for r in conn.execute(query).mappings():
            out.setdefault(r["experiment_id"], []).append(
                {k: r[k] for k in ("kind", "ref", "actor", "ts")})
    return out
