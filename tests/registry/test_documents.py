"""The spec's JSON documents: exported from the database with the same field names, and a
registry of the earlier JSON format imported once with nothing lost."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ifns_train.core.errors import RegistryError
from ifns_train.registry import documents, lifecycle, log, model_registry
from ifns_train.registry.database import DB_FILE, Registry
from tests.registry.factory import add_failed, add_model, edit_stored

SPEC_MODEL_FIELDS = {"model_id", "model_family", "model_version", "status", "created_ts",
                     "last_updated_ts", "experiment_id", "roles", "train_dataset_id",
                     "val_dataset_id", "test_dataset_id", "features_used", "labels_used",
                     "prediction_type", "horizons", "metrics", "supported_environments",
                     "resources", "artifact_path", "status_history"}
SPEC_LOG_FIELDS = {"experiment_id", "timestamp", "model_family", "proposed_model_id",
                   "datasets", "features_used", "labels_used", "hyperparameters", "config_hash",
                   "metrics", "status", "artifacts"}


def test_export_writes_both_documents(reg: Registry, tmp_path: Path) -> None:
    model = add_model(reg)
    failed = add_failed(reg)
    lifecycle.propose(reg, model.model_id, "canary", "alice", "good")
    log.link(reg, model.experiment_id, "dra", "DRA_2026_7", "bob")
    paths = documents.export(reg, tmp_path / "out")
    models_doc, log_doc = (json.loads(p.read_text()) for p in paths)
    assert [p.name for p in paths] == ["model_registry.json", "experiments_log.json"]
    (record,) = models_doc["models"]
    assert SPEC_MODEL_FIELDS <= set(record) and record["model_version"] == 1
    assert record["status_history"][0]["status"] == "candidate"
    assert models_doc["proposals"][0]["actor"] == "alice"
    assert set(models_doc["families"]) == {"MF_DIR_CORE_V1"}
    entries = {e["experiment_id"]: e for e in log_doc["experiments"]}
    assert all(SPEC_LOG_FIELDS <= set(e) for e in entries.values())
    assert entries[failed]["status"] == "failed" and entries[failed]["error"]
    assert entries[model.experiment_id]["decision_links"][0]["ref"] == "DRA_2026_7"
    with pytest.raises(RegistryError, match="is a file"):
        documents.export(reg, paths[0])


def test_export_refuses_naming_every_invalid_record(reg: Registry, tmp_path: Path) -> None:
    """A document of record that silently left a record out would pass for the whole registry:
    nothing is written, and every invalid record is named at once, not only the first."""
    good, bad_model, bad_entry = (add_model(reg, n=i) for i in range(3))
    lifecycle.decide(reg, good.model_id, "canary", "dra", "fine")
    edit_stored(reg, "model", bad_model.model_id, metrics="not figures")
    edit_stored(reg, "experiment", bad_entry.experiment_id, seed="not a number")
    out = tmp_path / "out"
    with pytest.raises(RegistryError) as refused:
        documents.export(reg, out)
    message = str(refused.value)
    assert message.startswith("export refused: 2 invalid record(s)") and "\n" not in message
    assert f"model {bad_model.model_id}: invalid record: field 'metrics'" in message
    assert f"experiment {bad_entry.experiment_id}: invalid record: field 'seed'" in message
    assert not out.exists()
    edit_stored(reg, "model", bad_model.model_id, metrics=bad_model.metrics)
    edit_stored(reg, "experiment", bad_entry.experiment_id, seed=1)
    models_doc, log_doc = (json.loads(p.read_text()) for p in documents.export(reg, out))
    assert [m["model_id"] for m in models_doc["models"]] == [
        good.model_id, bad_model.model_id, bad_entry.model_id]
    for exported in models_doc["models"]:  # each as the registry's own reader gives it
        assert exported == model_registry.get(reg, exported["model_id"]).model_dump(
            mode="json")
    assert len(log_doc["experiments"]) == 3


def _legacy_registry(source: Registry, target: Path) -> Path:
    """`source`'s records written the way the JSON registry of schema 1 held them."""
    target.mkdir()
    shutil.copy(source.dir / "datasets_index.json", target)
    rows = model_registry.search(source, limit=None)
    models = []
    for row in reversed(rows):
        raw = row["record"].model_dump(mode="json")
        for key in ("artifact_hashes", "schema_version"):
            raw.pop(key)
        models.append(raw)
        shutil.copytree(source.dir / raw["artifact_path"], target / raw["artifact_path"])
    entries = []
    for entry in reversed(log.search(source, limit=None)):
        raw = entry.model_dump(mode="json")
        for key in ("config", "host", "pid", "schema_version"):
            raw.pop(key)
        entries.append(raw)
    families = {f.family_id: f.model_dump(mode="json")
                for f in model_registry.family_records(source)}
    (target / "model_registry.json").write_text(json.dumps(
        {"schema_version": 1, "families": families, "models": models}))
    (target / "experiments_log.json").write_text(json.dumps(
        {"schema_version": 1, "experiments": entries}))
    return target


def test_migrate_imports_a_legacy_registry_once(registry: Path, backend_url: str | None,
                                                tmp_path: Path) -> None:
    reg = Registry(registry)  # the source: SQLite; the target: each backend
    first, second = add_model(reg, n=1), add_model(reg, n=2)
    add_failed(reg, n=3)
    lifecycle.decide(reg, second.model_id, "retired", "dra", "superseded")
    legacy = _legacy_registry(reg, tmp_path / "legacy")
    target = Registry(legacy, backend_url)
    counts = documents.migrate(target)
    assert counts == {"experiments": 3, "models": 2, "families": 1}
    for model in (first, second):
        now = model_registry.get(target, model.model_id)
        before = model_registry.get(reg, model.model_id)
        assert now.model_dump(exclude={"status_history"}) == before.model_dump(
            exclude={"status_history"})  # hashes taken at import equal the recorded ones
        assert [h.status for h in now.status_history] == [h.status for h in
                                                          before.status_history]
    assert {e.experiment_id: e.status for e in log.search(target)} == \
        {e.experiment_id: e.status for e in log.search(reg)}
    assert not (legacy / "model_registry.json").exists()
    assert len(list(legacy.glob("model_registry.json.migrated-*"))) == 1
    # The next model of the family continues the versions.
    assert add_model(target, n=4).model_version == 3
    shutil.copy(next(legacy.glob("experiments_log.json.migrated-*")),
                legacy / "experiments_log.json")
    with pytest.raises(RegistryError, match="was imported before"):
        documents.migrate(target)


def test_migrate_refuses_an_invalid_record_and_writes_nothing(reg: Registry,
                                                              tmp_path: Path) -> None:
    add_model(reg)
    legacy = _legacy_registry(reg, tmp_path / "legacy")
    doc = json.loads((legacy / "model_registry.json").read_text())
    del doc["models"][0]["model_version"]
    (legacy / "model_registry.json").write_text(json.dumps(doc))
    target = Registry(legacy)
    with pytest.raises(RegistryError, match=r"model_registry.json, model 0 \(MDL_.*\): invalid "
                                            r"record: field 'model_version': Field required"):
        documents.migrate(target)
    assert log.search(target) == [] and (legacy / "model_registry.json").exists()


def test_training_refuses_an_unmigrated_registry(make_cfg, registry: Path) -> None:
    from ifns_train.run.train import train

    (registry / "model_registry.json").write_text(json.dumps(
        {"schema_version": 1, "families": {}, "models": []}))
    with pytest.raises(RegistryError, match=r"ifns-admin --registry-dir .* migrate"):
        train(make_cfg())
    assert not (registry / DB_FILE).exists() or log.search(Registry(registry)) == []


def test_an_export_in_the_registry_folder_is_not_taken_for_a_legacy_registry(
        reg: Registry) -> None:
    add_model(reg)
    documents.export(reg)  # into the registry folder, where the legacy files used to live
    documents.check_migrated(reg.dir)
    (reg.dir / "model_registry.json").write_text('{"models": [], "schema_version": 1}')
    with pytest.raises(RegistryError, match="registry of an earlier version"):
        documents.check_migrated(reg.dir)
