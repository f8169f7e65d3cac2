"""The spec's JSON documents (`model_registry.json`, `experiments_log.json`): exported from the
database for readers that want files, and imported once from a registry that predates it.

Export writes each document whole and atomically, or nothing: a stored record that fails
validation makes it refuse, naming every invalid record at once, since a document of record
that silently left one out would be taken for the whole registry (doctor lists them too).
`migrate` reads the old documents, upgrades
and validates every record (an invalid one stops it, naming the record and field, with nothing
written), and imports them in one transaction with their status history; the artifact hashes
are taken at import, since the old registry kept none. The old files are then renamed, so no
one mistakes them for the current registry.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from ifns_train.core.errors import RegistryError
from ifns_train.core.files import atomic_write_json
from ifns_train.registry import artifacts, ids, lifecycle, log, model_registry, views
from ifns_train.registry.database import Registry, dumps
from ifns_train.registry.key_metrics import flat_metrics
from ifns_train.registry.records import (
    RECORD_SCHEMA,
    ExperimentEntry,
    FamilyRecord,
    ModelRecord,
    upgrade,
    validated,
)
from ifns_train.registry.schema import experiments, families, history, model_inputs, models

MODELS_FILE = "model_registry.json"
EXPERIMENTS_FILE = "experiments_log.json"
LEGACY_SCHEMA = 1


def export(reg: Registry, out_dir: Path | None = None) -> list[Path]:
    """Write both documents into `out_dir` (default: the registry folder); records oldest
    first, as the log was appended."""
    out_dir = Path(out_dir) if out_dir is not None else reg.dir
    if out_dir.exists() and not out_dir.is_dir():
        raise RegistryError(f"export folder {out_dir} is a file")
    checked_fams = views.checked_families(reg)
    checked_entries = list(views.checked_experiments(reg))
    checked_records = views.checked_models(reg)
    invalid = views.invalid_of([*checked_fams, *checked_entries, *checked_records])
    if invalid:
        raise RegistryError(
            f"export refused: {len(invalid)} invalid record(s) the documents would leave out "
            f"(see ifns-admin doctor): " + " | ".join(x.reason for x in invalid))
    # Every record is valid from here: the same lists, typed as such.
    fams = [f for f in checked_fams if isinstance(f, FamilyRecord)]
    entries = [e for e in checked_entries if isinstance(e, ExperimentEntry)]
    records = [r for r in checked_records if isinstance(r, ModelRecord)]
    exported = {"exported_ts": ids.iso(ids.utc_now()), "exported_from": reg.shown_url()}
    links = log.links_of(reg)
    models_doc = {
        "schema_version": RECORD_SCHEMA, **exported,
        "families": {f.family_id: f.model_dump(mode="json") for f in fams},
        "models": [r.model_dump(mode="json") for r in records],
        "proposals": lifecycle.proposals_of(reg),
    }
    log_doc = {
        "schema_version": RECORD_SCHEMA, **exported,
        "experiments": [{**e.model_dump(mode="json"),
                         **({"decision_links": links[e.experiment_id]}
                            if e.experiment_id in links else {})} for e in entries],
    }
    paths = [out_dir / MODELS_FILE, out_dir / EXPERIMENTS_FILE]
    atomic_write_json(paths[0], models_doc)
    atomic_write_json(paths[1], log_doc)
    return paths


def _legacy(path: Path) -> dict[str, Any] | None:
    """The document at `path` if it is of the JSON registry (schema 1), else None. An export
    (schema 2) says so in its first line or two, so it is not parsed whole."""
    if not path.exists():
        return None
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).decode("utf-8", "replace")
    except OSError as exc:
        raise RegistryError(f"{path} is not readable: {exc}") from None
    found = re.search(r'"schema_version"\s*:\s*(\d+)', head)
    if found and int(found.group(1)) != LEGACY_SCHEMA:
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise RegistryError(f"{path}: expected a JSON object at the top")
    return doc if doc.get("schema_version", LEGACY_SCHEMA) == LEGACY_SCHEMA else None


def check_migrated(registry_dir: Path) -> None:
    """Refuse to record into a folder whose JSON registry was never imported: its model
    versions would start again at 1."""
    for name in (MODELS_FILE, EXPERIMENTS_FILE):
        if _legacy(registry_dir / name) is not None:
            raise RegistryError(f"{registry_dir / name} is a registry of an earlier version; "
                                f"import it once with: ifns-admin --registry-dir "
                                f"{registry_dir} migrate")


def migrate(reg: Registry, src_dir: Path | None = None) -> dict[str, int]:
    """Import the legacy documents of `src_dir` (default: the registry folder) once."""
    src_dir = Path(src_dir) if src_dir is not None else reg.dir
    models_doc = _legacy(src_dir / MODELS_FILE) or {}
    log_doc = _legacy(src_dir / EXPERIMENTS_FILE) or {}
    if not models_doc and not log_doc:
        raise RegistryError(f"{src_dir}: no registry of an earlier version to import "
                            f"({MODELS_FILE} / {EXPERIMENTS_FILE} with schema_version 1)")
    entries = []
    for i, raw in enumerate(log_doc.get("experiments", [])):
        where = f"{src_dir / EXPERIMENTS_FILE}, experiment {i} ({raw.get('experiment_id')})"
        entries.append(validated(ExperimentEntry, upgrade("experiment", raw, where), where))
    fams = [validated(FamilyRecord, raw, f"{src_dir / MODELS_FILE}, family {fid}")
            for fid, raw in (models_doc.get("families") or {}).items()]
    records = []
    for i, raw in enumerate(models_doc.get("models", [])):
        where = f"{src_dir / MODELS_FILE}, model {i} ({raw.get('model_id')})"
        old_history = raw.get("status_history") or []
        record = validated(ModelRecord, upgrade("model", raw, where), where)
        folder = reg.dir / record.artifact_path
        hashes = artifacts.folder_hashes(folder) if folder.is_dir() else {}
        records.append((record.model_copy(update={"artifact_hashes": hashes}), old_history))
    now = ids.iso(ids.utc_now())
    reason = f"imported from {src_dir} by ifns-admin migrate"
    with reg.write() as conn:
        known: set[str] = set(conn.execute(select(experiments.c.experiment_id)).scalars())
        clash = [e.experiment_id for e in entries if e.experiment_id in known]
        if clash:
            raise RegistryError(f"experiment {clash[0]} is already in the registry: "
                                f"{src_dir} was imported before")
        for family in fams:
            conn.execute(insert(families).values(family_id=family.family_id,
                                                 record=dumps(family.model_dump(mode="json"))))
        for entry in entries:
            conn.execute(insert(experiments).values(experiment_id=entry.experiment_id,
                                                    **log._columns(entry)))
            log.write_tags(conn, entry)
            log.append_history(conn, "experiment", entry.experiment_id, None, entry.status,
                               "ifns-admin migrate", reason, ts=now)
        for record, old_history in records:
            conn.execute(insert(models).values(
                model_id=record.model_id, model_family=record.model_family,
                model_version=record.model_version, status=record.status,
                experiment_id=record.experiment_id, created_ts=record.created_ts,
                last_updated_ts=record.last_updated_ts, artifact_path=record.artifact_path,
                key_metrics=dumps(flat_metrics(record.metrics, record.metrics_version)),
                record_schema=RECORD_SCHEMA,
                record=dumps(record.model_dump(mode="json",
                                               exclude={"status", "status_history"}))))
            conn.execute(insert(model_inputs), model_registry._inputs(record))
            previous = None
            for change in old_history:
                conn.execute(insert(history).values(
                    subject="model", subject_id=record.model_id, from_status=previous,
                    to_status=change.get("status"), actor=change.get("by", "unknown"),
                    ts=change.get("ts", now), reason=change.get("reason", ""),
                    evidence=dumps([])))
                previous = change.get("status")
            if previous != record.status:
                log.append_history(conn, "model", record.model_id, previous, record.status,
                                   "ifns-admin migrate", reason, ts=now)
    for name in (MODELS_FILE, EXPERIMENTS_FILE):
        path = src_dir / name
        if path.exists():
            path.rename(path.with_name(f"{name}.migrated-{now[:19].replace(':', '')}"))
    return {"experiments": len(entries), "models": len(records), "families": len(fams)}
