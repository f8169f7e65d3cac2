"""The compliance audit (spec 8.2): what a model must have to be eligible for production use.

A model is compliant when it is linked to exactly one experiment of the log, that experiment
has its config, dataset ids and time ranges and versioned feature and label families, the
dataset fingerprints still match the Stage 02 index and the index still matches the table files
themselves (every column hashed, as a run verifies what it reads), the model's status is the
one its appended history says, and the artifacts are present and match their hashes. Anything
missing is a reason; a non-compliant model cannot become canary or promoted.

Hashing a dataset's table is most of an audit's cost, and many models share few datasets, so
one pass (`audit_all`, or one `DatasetChecks` handed to each `audit_model`) hashes each table
file once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from ifns_train.core.errors import ContractError, IfnsError, RegistryError
from ifns_train.data.index import load_index, table_path
from ifns_train.registry import artifacts, log
from ifns_train.registry.database import Registry
from ifns_train.registry.model_registry import get as get_model
from ifns_train.registry.records import ModelRecord
from ifns_train.registry.schema import as_tuples, history, models

VERSIONED = re.compile(r".+_V\d+$")
SPLITS = ("train", "val", "test")
# An experiment that ran to its end: it has its model, unless it is of NO_MODEL_KINDS.
COMPLETED = ("completed", "selected", "discarded")


@dataclass
class Finding:
    model_id: str
    compliant: bool
    reasons: list[str] = field(default_factory=list)
    status: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "compliant": self.compliant, "reasons": self.reasons,
                "status": self.status}


class DatasetChecks:
    """The dataset index, read once, and the verdict on each dataset's table file, hashed once
    per dataset id and file identity (path, inode, size, mtime) however many models use it.
    `verify=False` checks the index entries only."""

    def __init__(self, registry_dir: Path, index: dict[str, Any] | None = None,
                 verify: bool = True) -> None:
        self.dir = Path(registry_dir)
        self.verify = verify
        self._index: dict[str, Any] | str | None = index
        self._verdicts: dict[tuple[Any, ...], str | None] = {}

    def entries(self) -> dict[str, Any] | str:
        """The index's entries by dataset id, or why the index cannot be read."""
        if self._index is None:
            try:
                self._index = load_index(self.dir)
            except IfnsError as exc:
                self._index = str(exc)
        return self._index if isinstance(self._index, str) else self._index["datasets"]

    def table_problem(self, dataset_id: str, entry: dict[str, Any]) -> str | None:
        """Why the dataset's table file is not the table its index entry fingerprints (None:
        it is, or `verify` is off)."""
        if not self.verify:
            return None
        try:
            path = table_path(self.dir, entry)
        except ContractError as exc:
            return str(exc)
        try:
            stat = path.stat()
        except OSError as exc:
            return f"dataset {dataset_id}: table file {path}: {exc.strerror}"
        key = (dataset_id, str(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if key not in self._verdicts:
            self._verdicts[key] = self._prove(dataset_id, entry, path)
        return self._verdicts[key]

    def _prove(self, dataset_id: str, entry: dict[str, Any], path: Path) -> str | None:
        from ifns_train.data.reader import verify_table  # pandas, pyarrow: only to hash

        try:
            verify_table(dataset_id, entry, path)
        except ContractError as exc:
            return str(exc)
        return None


def last_statuses(conn: Connection, model_id: str | None = None) -> dict[str, str]:
    """Model id -> the status its last history row moved it to (of every model, or one)."""
    query = select(history.c.subject_id, history.c.to_status).where(
        history.c.subject == "model").order_by(history.c.seq)
    if model_id is not None:
        query = query.where(history.c.subject_id == model_id)
    return {mid: status for mid, status in as_tuples(conn.execute(query))}  # the last row's wins


def history_problem(status: str, last: str | None) -> str | None:
    """Why a model's status is not the one its history says (None: it is). Every change
    through the lifecycle appends its row, so a disagreement is a change made around it (by
    hand in the database, or a bug)."""
    if last is None:
        return f"status {status} has no history row"
    if last != status:
        return (f"status {status} disagrees with its history, whose last change is to {last} "
                "(changed outside the lifecycle)")
    return None


def audit_all(reg: Registry, model_id: str | None = None, check_hashes: bool = True
              ) -> list[Finding]:
    """The finding of every model (or of `model_id`), newest first. A model whose stored
    record fails validation is a finding naming why, and the others are still audited; the
    datasets are checked once for all (`DatasetChecks`)."""
    query = select(models.c.model_id, models.c.status).order_by(
        models.c.created_ts.desc(), models.c.model_id.desc())
    if model_id is not None:
        query = query.where(models.c.model_id == model_id)
    with reg.read() as conn:
        rows = conn.execute(query).all()
    if model_id is not None and not rows:
        get_model(reg, model_id)  # raises, naming the id and the registry
    checks = DatasetChecks(reg.dir, verify=check_hashes)
    findings = []
    for row in rows:
        try:
            record = get_model(reg, row.model_id)
        except RegistryError as exc:
            findings.append(Finding(row.model_id, False, [str(exc)], row.status))
            continue
        findings.append(audit_model(reg, record, check_hashes=check_hashes, datasets=checks))
    return findings


def audit_model(reg: Registry, model: ModelRecord, index: dict[str, Any] | None = None,
                check_hashes: bool = True, datasets: DatasetChecks | None = None) -> Finding:
    """`check_hashes`: hash the artifact files and the dataset tables (the costly part);
    `datasets`: the checks of a pass over many models, so each table is hashed once."""
    reasons: list[str] = []
    mid = model.model_id
    checks = datasets if datasets is not None else DatasetChecks(reg.dir, index,
                                                                 verify=check_hashes)
    with reg.read() as conn:
        n = conn.execute(select(func.count()).select_from(models).where(
            models.c.experiment_id == model.experiment_id)).scalar_one()
        status = conn.execute(select(models.c.status).where(
            models.c.model_id == mid)).scalar_one_or_none() or model.status
        last = last_statuses(conn, mid).get(mid)
    problem = history_problem(status, last)
    if problem:
        reasons.append(problem)
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
        if entry.status not in COMPLETED:
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
    reasons += _fingerprints(model, checks)
    folder = reg.dir / model.artifact_path
    if not folder.is_dir():
        reasons.append(f"artifact folder {folder} is missing")
    elif not model.artifact_hashes:
        reasons.append("no artifact hashes recorded")
    elif check_hashes:
        reasons += artifacts.mismatches(folder, model.artifact_hashes)
    return Finding(mid, not reasons, reasons, status)


def _fingerprints(model: ModelRecord, checks: DatasetChecks) -> list[str]:
    datasets = checks.entries()
    if isinstance(datasets, str):
        return [f"dataset index: {datasets}"]
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
        else:
            problem = checks.table_problem(dataset_id, entry)
            if problem:
                reasons.append(problem)
    return reasons
