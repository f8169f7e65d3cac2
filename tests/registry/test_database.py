"""The database of record: versioned schema, records validated on read, refused when newer,
migrated when older, and a registry that cannot be written refused before any work."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from ifns_train.core.errors import RegistryError
from ifns_train.registry import log, model_registry
from ifns_train.registry.database import DB_FILE, Registry, resolve_url
from ifns_train.registry.schema import SCHEMA_VERSION, experiments, models, schema_info
from tests.registry.factory import add_model


def test_schema_is_versioned_and_a_newer_one_refused(reg: Registry, registry: Path,
                                                     backend_url: str | None) -> None:
    with reg.read() as conn:
        versions = [r.version for r in conn.execute(schema_info.select())]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    with reg.write() as conn:
        conn.execute(insert(schema_info).values(version=SCHEMA_VERSION + 1, applied_ts="x"))
    with pytest.raises(RegistryError, match=f"schema version {SCHEMA_VERSION + 1}, newer than "
                                            f"this code's {SCHEMA_VERSION}"):
        Registry(registry, backend_url)


def _set_record(reg: Registry, table, key, value, record: dict, schema: int) -> None:
    with reg.write() as conn:
        conn.execute(update(table).where(key == value).values(record=json.dumps(record),
                                                              record_schema=schema))


def test_records_are_validated_on_read_naming_record_and_field(reg: Registry) -> None:
    model = add_model(reg)
    with reg.read() as conn:
        raw = json.loads(conn.execute(models.select()).first().record)
    broken = {k: v for k, v in raw.items() if k != "artifact_path"} | {"horizons": "twenty"}
    _set_record(reg, models, models.c.model_id, model.model_id, broken, 2)
    with pytest.raises(RegistryError, match=rf"model {model.model_id}: invalid record: field "
                                            r"'horizons': Input should be a valid list; "
                                            r"field 'artifact_path': Field required"):
        model_registry.get(reg, model.model_id)
    _set_record(reg, models, models.c.model_id, model.model_id, raw, 3)
    with pytest.raises(RegistryError, match="record schema_version 3 is newer than this "
                                            "code's 2"):
        model_registry.get(reg, model.model_id)


def test_an_older_record_is_migrated_on_read(reg: Registry) -> None:
    model = add_model(reg)
    with reg.read() as conn:
        raw = json.loads(conn.execute(experiments.select()).first().record)
    for key in ("config", "host", "pid"):  # schema 1 had none of these
        raw.pop(key)
    raw["schema_version"] = 1
    _set_record(reg, experiments, experiments.c.experiment_id, model.experiment_id, raw, 1)
    entry = log.get(reg, model.experiment_id)
    assert entry.schema_version == 2 and entry.config == {} and entry.host is None


def test_ids_are_checked_before_any_lookup(reg: Registry) -> None:
    for bad in ("MDL_x\n", "../etc", "x" * 5000):
        with pytest.raises(RegistryError, match="invalid model_id"):
            model_registry.get(reg, bad)


def test_an_unusable_registry_folder_is_refused(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    a_file = tmp_path / "registry"
    a_file.write_text("not a folder")
    with pytest.raises(RegistryError, match="is a file, not a folder"):
        Registry(a_file)
    with pytest.raises(RegistryError, match="no registry at"):
        Registry(tmp_path / "nowhere", create=False)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: ask as another user would be answered
        monkeypatch.setattr(os, "access", lambda path, mode: not mode & os.W_OK)
    with pytest.raises(RegistryError, match="read-only for this user"):
        Registry(ro)
    assert not (ro / DB_FILE).exists()


def test_urls() -> None:
    folder = Path("/srv/registry")
    assert resolve_url(folder) == f"sqlite:///{folder / DB_FILE}"
    assert resolve_url(folder, "postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(RegistryError, match="only sqlite:// and postgresql://"):
        Registry(folder, "mysql://u@h/db")
