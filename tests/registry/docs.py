"""The registry's documents as the tests read them: the records in the database, in the shape
of the spec's JSON documents (what `ifns-admin export` writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ifns_train.registry import log, model_registry
from ifns_train.registry.database import DB_FILE, Registry


def _registry(registry_dir: Path) -> Registry | None:
    return Registry(registry_dir, create=False) if (registry_dir / DB_FILE).exists() else None


def models_doc(registry_dir: Path) -> dict[str, Any]:
    """{"families": {...}, "models": [records, oldest first]}; empty without a database."""
    reg = _registry(registry_dir)
    if reg is None:
        return {"families": {}, "models": []}
    rows = model_registry.search(reg, limit=None)
    return {"families": {f.family_id: f.model_dump(mode="json")
                         for f in model_registry.family_records(reg)},
            "models": [r["record"].model_dump(mode="json") for r in reversed(rows)]}


def log_doc(registry_dir: Path) -> dict[str, Any]:
    """{"experiments": [entries, oldest first]}; empty without a database."""
    reg = _registry(registry_dir)
    if reg is None:
        return {"experiments": []}
    return {"experiments": [e.model_dump(mode="json")
                            for e in reversed(log.search(reg, limit=None))]}
