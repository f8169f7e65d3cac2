"""`ifns-admin doctor`: what a crash, a kill or a hand edit left inconsistent, and its repair.

It finds runs entered as `running` whose process is gone (stale), staging folders and artifact
folders that no record claims, records whose folder is missing, and artifacts whose hashes no
longer match. `repair` marks stale runs `failed` (saying why) and moves unclaimed folders under
`orphans/`, never deleting anything: what it cannot repair (a missing or changed artifact) stays
reported, and the audit keeps that model ineligible.

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

from sqlalchemy import select

from ifns_train.registry import artifacts, ids, log
from ifns_train.registry.database import Registry
from ifns_train.registry.model_registry import get as get_model
from ifns_train.registry.records import NO_MODEL_KINDS
from ifns_train.registry.schema import experiments, models

ACTOR = "ifns-admin doctor"


@dataclass
class Report:
    stale_runs: list[dict[str, Any]] = field(default_factory=list)
    running: list[dict[str, Any]] = field(default_factory=list)  # alive, or on another host
    staging_folders: list[str] = field(default_factory=list)
    orphan_folders: list[str] = field(default_factory=list)
    missing_folders: list[dict[str, str]] = field(default_factory=list)
    hash_mismatches: list[dict[str, str]] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)  # informative, never unclean

    @property
    def clean(self) -> bool:
        return not (self.stale_runs or self.staging_folders or self.orphan_folders
                    or self.missing_folders or self.hash_mismatches)

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
    from ifns_train.data import cache as data_cache  # numpy/pyarrow: only when diagnosing

    report = Report(cache=data_cache.summary(reg.dir / data_cache.DEFAULT_DIR))
    with reg.read() as conn:
        running = conn.execute(select(
            experiments.c.experiment_id, experiments.c.proposed_model_id, experiments.c.host,
            experiments.c.pid, experiments.c.started_ts).where(
            experiments.c.status == "running")).all()
        model_rows = conn.execute(select(models.c.model_id, models.c.artifact_path)).all()
        control_rows = conn.execute(select(experiments.c.experiment_id,
                                           experiments.c.record).where(
            experiments.c.kind.in_(NO_MODEL_KINDS))).all()
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
    for row in control_rows:
        path = (json.loads(row.record).get("artifacts") or {}).get("artifact_path")
        if path:
            claimed.add(path)
    for folder in artifacts.artifact_folders(reg.dir):
        rel = folder.relative_to(reg.dir).as_posix()
        if folder.name.startswith(artifacts.STAGING_PREFIX):
            if folder.name.removeprefix(artifacts.STAGING_PREFIX) not in live_ids:
                report.staging_folders.append(rel)
        elif rel not in claimed and folder.name not in live_ids:
            report.orphan_folders.append(rel)
    for row in model_rows:
        folder = reg.dir / row.artifact_path
        if not folder.is_dir():
            report.missing_folders.append({"model_id": row.model_id,
                                           "artifact_path": row.artifact_path})
        elif check_hashes:
            record = get_model(reg, row.model_id)
            for problem in artifacts.mismatches(folder, record.artifact_hashes):
                report.hash_mismatches.append({"model_id": row.model_id, "problem": problem})
    return report


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
