"""`ifns-admin doctor`: what a crash, a kill or a hand edit left inconsistent, and its repair.

It finds runs entered as `running` whose process is gone (stale), staging folders and artifact
folders that no record claims, records whose folder is missing, and artifacts whose hashes no
longer match. It also finds what no crash can leave but a hand edit or a bug can: a stored
record that fails validation (listed by id with the reason, and the checking goes on), a
model whose status is not the one its appended history says, a completed experiment without
its model, an append-only guard of the history dropped or disabled, and a dataset table that
models depend on changed under its index entry (hashed as the audit hashes it, once each).

`repair` marks stale runs `failed` (saying why) and moves unclaimed folders under `orphans/`,
never deleting anything. Everything else stays reported, unrepaired: each is evidence of an
edit that a person must judge (re-creating a dropped guard, say, would be easy, but would hide
that the history went unguarded, and whether a row was changed meanwhile cannot be told).
Meanwhile the audit keeps a model with an invalid record, a status its history does not
explain or a changed dataset ineligible.

Only the artifact roots (`artifacts.ARTIFACT_ROOTS`) are searched for stray folders. The resolved
data cache (`cache/`, `ifns_train.data.cache`) is a known folder, never stray: it is reported
(entries, bytes, unfinished builds) but not repaired; it prunes itself, and may be deleted whole.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, text

from ifns_train.data import cache as data_cache
from ifns_train.registry import artifacts, ids, log, views
from ifns_train.registry.audit import (
    COMPLETED,
    SPLITS,
    DatasetChecks,
    history_problem,
    last_statuses,
)
from ifns_train.registry.database import Registry
from ifns_train.registry.records import NO_MODEL_KINDS, ModelRecord
from ifns_train.registry.schema import append_only_guards, as_tuples, experiments, models

ACTOR = "ifns-admin doctor"


@dataclass
class Report:
    stale_runs: list[dict[str, Any]] = field(default_factory=list)
    running: list[dict[str, Any]] = field(default_factory=list)  # alive, or on another host
    staging_folders: list[str] = field(default_factory=list)
    orphan_folders: list[str] = field(default_factory=list)
    missing_folders: list[dict[str, str]] = field(default_factory=list)
    hash_mismatches: list[dict[str, str]] = field(default_factory=list)
    # Not repaired (see the module docstring): reported for a person to resolve.
    invalid_records: list[dict[str, str]] = field(default_factory=list)
    status_disagreements: list[dict[str, Any]] = field(default_factory=list)
    experiments_without_model: list[dict[str, Any]] = field(default_factory=list)
    missing_guards: list[dict[str, str]] = field(default_factory=list)
    changed_datasets: list[dict[str, Any]] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)  # informative, never unclean

    @property
    def clean(self) -> bool:
        return not (self.stale_runs or self.staging_folders or self.orphan_folders
                    or self.missing_folders or self.hash_mismatches or self.invalid_records
                    or self.status_disagreements or self.experiments_without_model
                    or self.missing_guards or self.changed_datasets)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"clean": self.clean}


def _process_started(pid: int) -> float | None:
    """When process `pid` started (epoch seconds), from /proc; None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text()
                    .splitlines() if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def alive(host: str | None, pid: int | None, started_ts: str) -> bool | None:
    """Whether the run's process still runs: None where it cannot be told (another host)."""
    if host != socket.gethostname() or pid is None:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = _process_started(pid)
    if started is None:
        return True
    # A process that started after the run did is another one that got the same pid.
    run_started = datetime.fromisoformat(started_ts.replace("Z", "+00:00")).timestamp()
    return started <= run_started + 2.0


def diagnose(reg: Registry, check_hashes: bool = True) -> Report:
    """`check_hashes`: hash the artifacts and the dataset tables (the costly part)."""
    report = Report(cache=data_cache.summary(reg.dir / data_cache.DEFAULT_DIR))
    records = _records(reg, report)
    with reg.read() as conn:
        running = conn.execute(select(
            experiments.c.experiment_id, experiments.c.proposed_model_id, experiments.c.host,
            experiments.c.pid, experiments.c.started_ts).where(
            experiments.c.status == "running")).all()
        model_rows = conn.execute(select(models.c.model_id, models.c.artifact_path)).all()
        control_rows = conn.execute(select(experiments.c.experiment_id,
                                           experiments.c.proposed_model_id,
                                           experiments.c.record).where(
            experiments.c.kind.in_(NO_MODEL_KINDS))).all()
        report.status_disagreements = _status_disagreements(conn)
        report.experiments_without_model = _without_model(conn)
        report.missing_guards = _missing_guards(conn)
    report.changed_datasets = _changed_datasets(reg, records, check_hashes)
    live_ids = set()
    for row in running:
        state = alive(row.host, row.pid, row.started_ts)
        info = {"experiment_id": row.experiment_id, "host": row.host, "pid": row.pid,
                "started_ts": row.started_ts}
        if state is False:
            report.stale_runs.append(info)
        else:
            report.running.append({**info, "alive": state})
            live_ids |= {row.experiment_id, row.proposed_model_id}
    claimed = {r.artifact_path for r in model_rows}
    # Not stray: the folder of a record that cannot be read, or of a completed experiment
    # whose model row is gone (reported as that; a person restores it from the folder).
    held = {e["proposed_model_id"] for e in report.experiments_without_model}
    for row in control_rows:
        try:
            path = (json.loads(row.record).get("artifacts") or {}).get("artifact_path")
        except (ValueError, AttributeError):  # listed as invalid
            held |= {row.experiment_id, row.proposed_model_id}
            continue
        if path:
            claimed.add(path)
    for folder in artifacts.artifact_folders(reg.dir):
        rel = folder.relative_to(reg.dir).as_posix()
        if folder.name.startswith(artifacts.STAGING_PREFIX):
            if folder.name.removeprefix(artifacts.STAGING_PREFIX) not in live_ids:
                report.staging_folders.append(rel)
        elif rel not in claimed and folder.name not in live_ids | held:
            report.orphan_folders.append(rel)
    for row in model_rows:
        folder = reg.dir / row.artifact_path
        record = records.get(row.model_id)
        if not folder.is_dir():
            report.missing_folders.append({"model_id": row.model_id,
                                           "artifact_path": row.artifact_path})
        elif check_hashes and record is not None:  # an invalid record: listed as that
            for problem in artifacts.mismatches(folder, record.artifact_hashes):
                report.hash_mismatches.append({"model_id": row.model_id, "problem": problem})
    return report


def _records(reg: Registry, report: Report) -> dict[str, ModelRecord]:
    """Every valid model record by id; every stored record that fails validation (family,
    experiment, model) goes into the report instead."""
    models_read = views.checked_models(reg)
    for items in (views.checked_families(reg), views.checked_experiments(reg), models_read):
        report.invalid_records += [x.as_dict() for x in items if isinstance(x, views.Invalid)]
    return {m.model_id: m for m in models_read if isinstance(m, ModelRecord)}


def _status_disagreements(conn: Connection) -> list[dict[str, Any]]:
    last = last_statuses(conn)
    out = []
    for model_id, status in as_tuples(conn.execute(select(models.c.model_id, models.c.status)
                                                   .order_by(models.c.model_id))):
        problem = history_problem(status, last.get(model_id))
        if problem:
            out.append({"model_id": model_id, "status": status,
                        "history_status": last.get(model_id), "problem": problem})
    return out


def _without_model(conn: Connection) -> list[dict[str, Any]]:
    """Completed experiments of a kind that registers a model, with no model row: `publish`
    commits the two together, so only a hand edit or a bug leaves one."""
    query = select(experiments.c.experiment_id, experiments.c.status, experiments.c.kind,
                   experiments.c.proposed_model_id).where(
        experiments.c.status.in_(COMPLETED), experiments.c.kind.notin_(NO_MODEL_KINDS),
        experiments.c.experiment_id.notin_(select(models.c.experiment_id))).order_by(
        experiments.c.started_ts, experiments.c.experiment_id)
    return [dict(r._mapping) for r in conn.execute(query)]


def _triggers(conn: Connection) -> dict[str, tuple[str, bool]]:
    """The triggers of the database: name -> (table, enabled)."""
    if conn.dialect.name == "sqlite":
        rows = as_tuples(conn.execute(text("SELECT name, tbl_name FROM sqlite_master "
                                           "WHERE type = 'trigger'")))
        return {name: (table, True) for name, table in rows}
    rows = as_tuples(conn.execute(text(
        "SELECT t.tgname, c.relname, t.tgenabled FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE NOT t.tgisinternal AND pg_table_is_visible(c.oid)")))
    return {name: (table, enabled != "D") for name, table, enabled in rows}


def _missing_guards(conn: Connection) -> list[dict[str, str]]:
    """The append-only guards of `schema.append_only_guards` not in place as created."""
    present = _triggers(conn)
    out = []
    for name, (table, ops) in append_only_guards(conn.dialect.name).items():
        found = present.get(name)
        if found is None or found[0] != table:
            problem = f"trigger {name} on {table} is missing: {table} accepts {' and '.join(ops)}"
        elif not found[1]:
            problem = f"trigger {name} on {table} is disabled: {table} accepts {' and '.join(ops)}"
        else:
            continue
        out.append({"table": table, "guard": name, "problem": problem})
    return out


def _changed_datasets(reg: Registry, records: dict[str, ModelRecord], check_hashes: bool
                      ) -> list[dict[str, Any]]:
    """The datasets models depend on whose index entry is gone or whose table file is not
    the one it fingerprints (each hashed once, as the audit does)."""
    users: dict[str, list[str]] = {}
    for record in records.values():
        for dataset_id in {getattr(record, f"{s}_dataset_id") for s in SPLITS}:
            users.setdefault(dataset_id, []).append(record.model_id)
    if not users:
        return []
    checks = DatasetChecks(reg.dir, verify=check_hashes)
    entries = checks.entries()
    if isinstance(entries, str):
        return [{"dataset_id": None, "models": len(records), "problem": f"dataset index: "
                 f"{entries}"}]
    out = []
    for dataset_id in sorted(users):
        entry = entries.get(dataset_id)
        problem = f"dataset {dataset_id}: no longer in the dataset index" if entry is None \
            else checks.table_problem(dataset_id, entry)
        if problem:
            out.append({"dataset_id": dataset_id, "models": len(users[dataset_id]),
                        "problem": problem})
    return out


def repair(reg: Registry, report: Report) -> Report:
    """Mark stale runs failed and move unclaimed folders aside; returns the report with what
    was done under `repaired`."""
    for run in report.stale_runs:
        reason = (f"stale: its process {run['pid']} on {run['host']} is gone (killed or "
                  f"crashed); marked failed by {ACTOR}")
        log.set_status(reg, run["experiment_id"], "failed", ACTOR, reason)
        report.repaired.append(f"experiment {run['experiment_id']}: running -> failed")
    stamp = ids.utc_now().strftime("%Y%m%dT%H%M%S")
    for rel in [*report.staging_folders, *report.orphan_folders]:
        target = reg.dir / artifacts.ORPHANS_DIR / stamp / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(reg.dir / rel), str(target))
        report.repaired.append(f"{rel} moved to {target.relative_to(reg.dir).as_posix()}")
    return report
