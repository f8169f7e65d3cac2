"""`doctor` finds what a hand edit or a bug leaves and no crash can: a dropped append-only
guard, a completed experiment without its model, a status its history does not explain, an
invalid record (listed, and the rest still checked), a dataset table changed under its index
entry. Each is tampered with as a person would, behind the registry's back."""

from __future__ import annotations

import pytest

from ifns_train.core.errors import RegistryError
from ifns_train.registry import doctor, ids, log
from ifns_train.registry.database import Registry
from ifns_train.registry.publish import experiment_entry
from tests.registry.factory import (
    DATASET,
    add_model,
    change_table_value,
    edit_stored,
    new_run,
    raw_sql,
)

CHANGES = {"UPDATE": "UPDATE history SET reason = 'rewritten' WHERE seq = 1",
           "DELETE": "DELETE FROM history WHERE seq = 1"}


def test_a_registry_as_runs_leave_it_is_clean(reg: Registry) -> None:
    add_model(reg, n=1)
    add_model(reg, n=2)
    report = doctor.diagnose(reg)
    assert report.clean, report.as_dict()


@pytest.mark.parametrize("operation", ["UPDATE", "DELETE"])
def test_a_dropped_append_only_guard_is_named(reg: Registry, operation: str) -> None:
    add_model(reg)
    with pytest.raises(RegistryError, match="append-only"):  # guarded as created
        raw_sql(reg, CHANGES[operation])
    trigger = f"history_no_{operation.lower()}" if reg.backend == "sqlite" \
        else "history_append_only"
    raw_sql(reg, f"DROP TRIGGER {trigger}" if reg.backend == "sqlite"
            else f"DROP TRIGGER {trigger} ON history")
    assert raw_sql(reg, CHANGES[operation]) == 1  # really unguarded now
    report = doctor.diagnose(reg)
    assert not report.clean
    assert [(g["table"], g["guard"]) for g in report.missing_guards] == [("history", trigger)]
    assert "missing" in report.missing_guards[0]["problem"]
    assert doctor.repair(reg, report).repaired == []  # reported, not repaired
    assert doctor.diagnose(reg).missing_guards == report.missing_guards


def test_a_disabled_guard_on_postgresql_is_named(reg: Registry) -> None:
    if reg.backend != "postgresql":
        pytest.skip("SQLite has no disabled triggers")
    add_model(reg)
    raw_sql(reg, "ALTER TABLE history DISABLE TRIGGER history_append_only")
    assert raw_sql(reg, CHANGES["UPDATE"]) == 1
    (guard,) = doctor.diagnose(reg).missing_guards
    assert guard["guard"] == "history_append_only" and "disabled" in guard["problem"]


def test_a_completed_experiment_without_its_model_is_named(reg: Registry) -> None:
    kept, lost = add_model(reg, n=1), add_model(reg, n=2)
    placebo = new_run(reg, "placebo", n=3)  # completed, but of a kind that registers no model
    placebo.kind = "placebo"
    log.begin_run(reg, experiment_entry(placebo, "running", None, {}))
    log.finish(reg, experiment_entry(placebo, "completed", ids.iso(ids.utc_now()), {}),
               "placebo done")
    for table in ("model_inputs", "proposals", "models"):
        raw_sql(reg, f"DELETE FROM {table} WHERE model_id = :m", m=lost.model_id)
    report = doctor.diagnose(reg)
    found = report.experiments_without_model
    assert [e["experiment_id"] for e in found] == [lost.experiment_id], found
    assert found[0]["status"] == "completed" and found[0]["proposed_model_id"] == lost.model_id
    assert kept.experiment_id not in str(report.as_dict()) and not report.clean
    assert report.orphan_folders == []  # its folder is evidence, held in place
    doctor.repair(reg, report)
    assert (reg.dir / lost.artifact_path / "model.ckpt").is_file()


def test_a_status_set_by_hand_is_named(reg: Registry) -> None:
    honest, forged = add_model(reg, n=1), add_model(reg, n=2)
    assert raw_sql(reg, "UPDATE models SET status = 'promoted' WHERE model_id = :m",
                   m=forged.model_id) == 1
    (found,) = doctor.diagnose(reg).status_disagreements
    assert found["model_id"] == forged.model_id
    assert (found["status"], found["history_status"]) == ("promoted", "candidate")
    assert honest.model_id != found["model_id"]


def test_invalid_records_are_listed_and_the_rest_still_checked(reg: Registry) -> None:
    bad_model, bad_experiment, changed = (add_model(reg, n=i) for i in range(3))
    edit_stored(reg, "model", bad_model.model_id, metrics="not figures")
    edit_stored(reg, "experiment", bad_experiment.experiment_id, seed="not a number")
    (reg.dir / changed.artifact_path / "model.ckpt").write_bytes(b"tampered")
    report = doctor.diagnose(reg)
    invalid = {(x["subject"], x["id"]): x["reason"] for x in report.invalid_records}
    assert set(invalid) == {("model", bad_model.model_id),
                            ("experiment", bad_experiment.experiment_id)}
    assert "field 'metrics'" in invalid[("model", bad_model.model_id)]
    assert "field 'seed'" in invalid[("experiment", bad_experiment.experiment_id)]
    # it went on: the other model's changed artifact is still found
    assert [m["model_id"] for m in report.hash_mismatches] == [changed.model_id]
    doctor.repair(reg, report)  # the invalid model's folder is claimed, never moved
    assert (reg.dir / bad_model.artifact_path / "model.ckpt").is_file()


def test_a_changed_dataset_table_is_named(reg: Registry) -> None:
    add_model(reg, n=1)
    add_model(reg, n=2)
    assert doctor.diagnose(reg).changed_datasets == []
    path = change_table_value(reg.dir)
    (found,) = doctor.diagnose(reg).changed_datasets
    assert found["dataset_id"] == DATASET and found["models"] == 2
    assert str(path) in found["problem"] and "'trend_ret_20d'" in found["problem"]
