"""The compliance audit finds each missing piece of spec 8.2, and a reproduction matches the
record or refuses a changed dataset."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ifns_train.core.errors import ContractError, RegistryError
from ifns_train.data import reader
from ifns_train.data.index import INDEX_FILE
from ifns_train.registry import lifecycle, log, model_registry
from ifns_train.registry.audit import audit_all, audit_model
from ifns_train.registry.database import URL_ENV, Registry
from tests.registry.factory import (
    DATASET,
    add_model,
    change_table_value,
    edit_stored,
    raw_sql,
)

WINDOWS = {"train": ["2014-01-02", "2019-10-18"], "val": ["2019-10-21", "2021-09-23"],
           "test": ["2021-09-24", "2023-08-30"]}


def _reasons(reg: Registry, model_id: str) -> list[str]:
    finding = audit_model(reg, model_registry.get(reg, model_id))
    assert finding.compliant is (not finding.reasons)
    return finding.reasons


def test_a_complete_model_is_compliant(reg: Registry) -> None:
    assert _reasons(reg, add_model(reg).model_id) == []


@pytest.mark.parametrize(("changes", "reason"), [
    ({"config": {}}, "has no config"),
    ({"datasets": {"ids": {"train": "DS_DEMO_CORE_V1", "val": "DS_DEMO_CORE_V1"},
                   "windows": WINDOWS}}, "no test dataset id"),
    ({"datasets": {"ids": {s: "DS_DEMO_CORE_V1" for s in WINDOWS},
                   "windows": {**WINDOWS, "train": ["2014-01-02", None]}}},
     "no train time range"),
    ({"features_used": ["Feature_TREND"]}, "feature family 'Feature_TREND' has no version"),
    ({"labels_used": []}, "no label families"),
    ({"proposed_model_id": "MDL_SOMEONE_ELSE"}, "proposed MDL_SOMEONE_ELSE, not"),
])
def test_each_missing_piece_of_the_experiment_is_found(reg: Registry, changes: dict,
                                                       reason: str) -> None:
    model = add_model(reg)
    edit_stored(reg, "experiment", model.experiment_id, **changes)
    reasons = _reasons(reg, model.model_id)
    assert len(reasons) == 1 and reason in reasons[0], reasons


def test_artifacts_and_fingerprints_are_checked(reg: Registry) -> None:
    changed, missing, extra, moved = (add_model(reg, n=i) for i in range(4))
    (reg.dir / changed.artifact_path / "metrics.json").write_text("{}")
    (reg.dir / missing.artifact_path / "model.ckpt").unlink()
    (reg.dir / extra.artifact_path / "notes.txt").write_text("added later")
    shutil.rmtree(reg.dir / moved.artifact_path)
    assert _reasons(reg, changed.model_id)[0].endswith("metrics.json: sha256 differs from "
                                                       "the record")
    assert _reasons(reg, missing.model_id)[0].endswith("model.ckpt: missing")
    assert _reasons(reg, extra.model_id)[0].endswith("notes.txt: not in the record")
    assert _reasons(reg, moved.model_id)[0].startswith("artifact folder")
    index = reg.dir / INDEX_FILE
    doc = json.loads(index.read_text())
    doc["datasets"]["DS_DEMO_CORE_V1"]["fingerprint"] = "sha256:other"
    index.write_text(json.dumps(doc))
    assert "fingerprint sha256:other in the index differs" in _reasons(reg, changed.model_id)[0]
    del doc["datasets"]["DS_DEMO_CORE_V1"]
    index.write_text(json.dumps(doc))
    assert "no longer in the dataset index" in _reasons(reg, changed.model_id)[0]


def test_a_value_changed_inside_a_dataset_table_is_found(reg: Registry) -> None:
    model = add_model(reg, n=1)
    other = add_model(reg, n=2, dataset="DS_OTHER_V1")
    assert _reasons(reg, model.model_id) == []
    path = change_table_value(reg.dir)  # the index entry untouched
    (reason,) = _reasons(reg, model.model_id)
    assert reason.startswith(f"dataset {DATASET}: column 'trend_ret_20d' of {path} ")
    assert "does not match the fingerprint" in reason
    with pytest.raises(ContractError, match="column 'trend_ret_20d'"):  # as a run refuses it
        _load(reg)
    with pytest.raises(RegistryError, match=f"cannot become canary: non-compliant: dataset "
                                            f"{DATASET}: column 'trend_ret_20d'"):
        lifecycle.decide(reg, model.model_id, "canary", "dra", "looks good")
    assert model_registry.get(reg, model.model_id).status == "candidate"
    lifecycle.decide(reg, other.model_id, "canary", "dra", "its data is intact")


def _load(reg: Registry) -> None:
    from ifns_train.data.resolve import load_table

    load_table(reg.dir, DATASET, feature_families=["Feature_TREND_MTF_V1"], label_family=None,
               horizon_days=None, context_columns=[], extra_columns=[], evaluation_columns=[],
               verify=True, generate_demo=False)


def test_one_pass_hashes_each_dataset_once(reg: Registry, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    for n in range(3):
        add_model(reg, n=n)
    add_model(reg, n=3, dataset="DS_OTHER_V1")
    hashed: list[str] = []
    verify = reader.verify_table
    monkeypatch.setattr(reader, "verify_table",
                        lambda dataset_id, *a: hashed.append(dataset_id) or verify(dataset_id, *a))
    findings = audit_all(reg)
    assert [f.compliant for f in findings] == [True] * 4
    assert sorted(hashed) == [DATASET, "DS_OTHER_V1"]
    audit_all(reg)  # another pass proves the tables again: a file may change between passes
    assert len(hashed) == 4


def test_a_status_set_by_hand_is_a_reason(reg: Registry) -> None:
    model = add_model(reg)
    raw_sql(reg, "UPDATE models SET status = 'promoted' WHERE model_id = :m", m=model.model_id)
    (reason,) = _reasons(reg, model.model_id)
    assert reason.startswith("status promoted disagrees with its history, whose last change "
                             "is to candidate")


def test_an_invalid_record_is_a_finding_and_the_others_are_audited(reg: Registry) -> None:
    good, bad = add_model(reg, n=1), add_model(reg, n=2)
    edit_stored(reg, "model", bad.model_id, metrics="not figures")
    with pytest.raises(RegistryError, match="invalid record"):  # what stopped every reader
        model_registry.get(reg, bad.model_id)
    findings = {f.model_id: f for f in audit_all(reg)}
    assert findings[good.model_id].compliant
    (reason,) = findings[bad.model_id].reasons
    assert reason.startswith(f"model {bad.model_id}: invalid record: field 'metrics'")
    assert findings[bad.model_id].status == "candidate"
    assert [f.model_id for f in audit_all(reg, bad.model_id)] == [bad.model_id]


@pytest.mark.slow
def test_reproduce_matches_and_refuses_a_changed_dataset(
        make_cfg, registry: Path, backend_url: str | None, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from ifns_train.run.reproduce import reproduce
    from ifns_train.run.train import train

    if backend_url is not None:
        monkeypatch.setenv(URL_ENV, backend_url)
    summary = train(make_cfg("evaluation.placebo=true"))
    reg = Registry(registry, backend_url, create=False)
    result = reproduce(reg, summary["experiment_id"], tmp_path / "again")
    assert result["status"] == "matches" and result["mismatches"] == 0
    names = {f["name"] for f in result["figures"]}
    assert {"test.model.auc", "test.improvement.auc", "selection.deflated_sharpe_ratio",
            "promotion.eligible"} <= names
    again = model_registry.search(reg, limit=None)
    assert len(again) == 1  # a reproduction registers no model
    index = registry / INDEX_FILE
    doc = json.loads(index.read_text())
    doc["datasets"]["DS_DEMO_CORE_V1"]["fingerprint"] = "sha256:changed"
    index.write_text(json.dumps(doc))
    with pytest.raises(RegistryError, match="dataset DS_DEMO_CORE_V1 has fingerprint "
                                            "sha256:changed in the index, not the recorded"):
        reproduce(reg, summary["experiment_id"], tmp_path / "third")


@pytest.mark.slow
def test_a_config_stored_before_later_keys_is_reproduced(
        make_cfg, registry: Path, tmp_path: Path) -> None:
    from ifns_train.run.reproduce import ADDED_KEYS, reproduce
    from ifns_train.run.train import train

    summary = train(make_cfg())
    reg = Registry(registry, None, create=False)
    config = log.get(reg, summary["experiment_id"]).config
    for path in ADDED_KEYS:  # as an older version stored it: the key or its whole group absent
        config[path[0]].pop(path[1], None)
    edit_stored(reg, "experiment", summary["experiment_id"], config=config)
    result = reproduce(reg, summary["experiment_id"], tmp_path / "again")
    assert result["status"] == "matches" and result["mismatches"] == 0
