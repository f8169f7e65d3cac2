"""The Admin console (spec 9.2), run in-process on factory registries (no training)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from ifns_train.registry import lifecycle, log, records
from ifns_train.registry.database import Registry
from ifns_train.registry.publish import experiment_entry
from ifns_train.sxe import common
from tests.conftest import REPO, run_process
from tests.registry import factory
from tests.sxe.helpers import RISK, add_model

# The PostgreSQL fixtures (skipped where no server can be had).
pytest_plugins = ["tests.pg"]

MID_FAMILY = factory.FAMILY.family_id


def _json(result: Any) -> Any:
    return json.loads(result.out)


def _one_line_error(result: Any, prog: str = "ifns-admin") -> str:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"{prog}: ") and "Traceback" not in result.err
    return lines[0]


def _to_canary(reg: Registry, model_id: str) -> None:
    lifecycle.decide(reg, model_id, "canary", "dra-test", "test set-up")


# --- vocabularies ----------------------------------------------------------------------------
def test_filter_vocabularies_are_the_registry_ones() -> None:
    assert common.MODEL_STATUSES == lifecycle.STATUSES
    assert set(common.EXPERIMENT_STATUSES) == {s for s in log.EXPERIMENT_TRANSITIONS if s}
    assert common.EXPERIMENT_KINDS == ("model", "fold", "seed", "placebo", "reproduction",
                                       "evaluation")
    assert set(records.NO_MODEL_KINDS) < set(common.EXPERIMENT_KINDS)


# --- families --------------------------------------------------------------------------------
def test_families_count_models_per_status(reg: Registry, adm: Any) -> None:
    a, b, _ = (add_model(reg, n=i) for i in range(3))
    add_model(reg, family=RISK, n=3)
    _to_canary(reg, a.model_id)
    lifecycle.decide(reg, b.model_id, "retired", "dra-test", "superseded")
    doc = _json(adm("--json", "families"))
    counts = {f["family_id"]: f["counts"] for f in doc["families"]}
    assert counts[MID_FAMILY] == {"candidate": 1, "canary": 1, "promoted": 0, "retired": 1}
    assert counts[RISK.family_id] == {"candidate": 1, "canary": 0, "promoted": 0,
                                      "retired": 0}
    fam = next(f for f in doc["families"] if f["family_id"] == MID_FAMILY)
    assert fam["roles"] == ["primary_directional"] and fam["prediction_type"] == "probabilities"
    out = adm("families").out
    assert "MF_DIR_CORE_V1" in out and "primary_directional" in out and "risk_overlay" in out
    for status in lifecycle.STATUSES:
        assert status in out


def test_families_on_an_empty_registry(adm: Any) -> None:
    assert "no families yet" in adm("families").out
    assert _json(adm("families", "--json")) == {"families": []}


# --- models list -----------------------------------------------------------------------------
def _listed(adm: Any, *args: str) -> list[str]:
    return [m["model_id"] for m in _json(adm("models", "list", "--json", *args))["models"]]


def test_models_list_filters(reg: Registry, adm: Any) -> None:
    base = add_model(reg, n=1)
    other_data = add_model(reg, dataset="DS_OTHER_V1", n=2)
    vol_features = add_model(reg, features=("Feature_VOL_LIQ_V1",),
                             label="Label_Direction_Horizon_5d_V1", n=3)
    risk = add_model(reg, family=RISK, n=4)
    _to_canary(reg, base.model_id)
    everyone = {base.model_id, other_data.model_id, vol_features.model_id, risk.model_id}

    assert set(_listed(adm)) == everyone
    assert set(_listed(adm, "--family", MID_FAMILY)) == everyone - {risk.model_id}
    assert _listed(adm, "--status", "canary") == [base.model_id]
    assert _listed(adm, "--role", "risk_overlay") == [risk.model_id]
    assert _listed(adm, "--dataset", "DS_OTHER_V1") == [other_data.model_id]
    assert _listed(adm, "--feature", "Feature_VOL_LIQ_V1") == [vol_features.model_id]
    assert _listed(adm, "--label", "Label_Direction_Horizon_5d_V1") == [vol_features.model_id]
    assert set(_listed(adm, "--dataset", "DS_DEMO_CORE_V1", "--status", "candidate")) == {
        vol_features.model_id, risk.model_id}
    assert set(_listed(adm, "--since", "2000-01-01")) == everyone
    assert _listed(adm, "--until", "2000-01-01") == []
    assert len(_listed(adm, "--limit", "2")) == 2
    # "which models depend on which data definitions?" in the human table
    out = adm("models", "list", "--dataset", "DS_OTHER_V1").out
    assert other_data.model_id in out and base.model_id not in out
    # a dataset no model uses is an answer (none), with a note naming those in use
    result = adm("models", "list", "--dataset", "DS_NOBODY_V1")
    assert "no models match" in result.out
    assert "no model uses dataset 'DS_NOBODY_V1'" in result.err and "DS_OTHER_V1" in result.err


def test_models_list_sorted_by_a_metric(reg: Registry, adm: Any) -> None:
    aucs = {add_model(reg, auc=auc, n=i).model_id: auc
            for i, auc in enumerate((0.55, 0.61, 0.58, 0.60))}
    by_auc = sorted(aucs, key=aucs.get, reverse=True)
    assert _listed(adm, "--sort", "test.auc") == by_auc
    assert _listed(adm, "--sort", "test.auc", "--asc") == by_auc[::-1]
    assert _listed(adm, "--sort", "test.improvement.auc", "--limit", "2") == by_auc[:2]
    rows = _json(adm("models", "list", "--json", "--sort", "test.auc"))["models"]
    assert [r["key_metrics"]["test.auc"] for r in rows] == sorted(aucs.values(), reverse=True)
    assert rows[0]["primary_metric"] == "auc" and rows[0]["test_primary"] == 0.61
    assert rows[0]["test_improvement"] == pytest.approx(0.08) and rows[0]["eligible"] is True
    assert rows[0]["verdict"] == "eligible" and rows[0]["verdict_words"] == "eligible"
    out = adm("models", "list", "--sort", "test.auc").out
    positions = [out.index(mid) for mid in by_auc]
    assert positions == sorted(positions)
    assert "auc 0.6100" in out and "+0.0800" in out


def test_models_list_gives_the_three_verdicts_as_they_stand_now(reg: Registry,
                                                                adm: Any) -> None:
    from tests.registry.factory import add_model as add_trial

    full = add_trial(reg, n=0, sharpe=1.0)
    bare = add_trial(reg, n=1, sharpe=1.0, controls=False)
    failed = add_trial(reg, n=2, sharpe=1.0, eligible=False)
    rows = {r["model_id"]: r for r in _json(adm("models", "list", "--json"))["models"]}
    assert rows[full.model_id]["verdict_words"] == "eligible"
    assert rows[bare.model_id]["verdict_words"] == \
        "eligible, controls not run: walk_forward_dispersion, placebo"
    assert rows[failed.model_id]["verdict"] == "not_eligible"
    for i, sharpe in enumerate((3.0, -1.0, 2.5, -0.5, 2.0, -1.5, 2.8), start=3):
        add_trial(reg, n=i, sharpe=sharpe)
    rows = {r["model_id"]: r for r in _json(adm("models", "list", "--json"))["models"]}
    assert rows[full.model_id]["verdict"] == "not_eligible"  # deflated by the later trials
    assert rows[full.model_id]["eligible"] is True  # the flag as recorded
    assert "not eligible" in adm("models", "list").out


def test_models_list_marks_an_invalid_record(reg: Registry, adm: Any) -> None:
    good, bad = add_model(reg, n=1), add_model(reg, n=2)
    factory.edit_stored(reg, "model", bad.model_id, metrics="not figures")
    result = adm("models", "list")
    assert "2 model(s)" in result.out and "invalid" in result.out
    assert f"model {bad.model_id}: invalid record" in result.out.replace("\n", "")
    assert "1 invalid record(s) listed" in result.err
    rows = {m["model_id"]: m for m in _json(adm("models", "list", "--json"))["models"]}
    assert rows[good.model_id]["invalid"] is None and rows[good.model_id]["test_primary"]
    assert "field 'metrics'" in rows[bad.model_id]["invalid"]
    assert rows[bad.model_id]["test_primary"] is None and rows[bad.model_id]["key_metrics"] == {}


def test_models_list_unknown_values_are_one_line_usage_errors(reg: Registry, adm: Any) -> None:
    add_model(reg)
    for args, words in (
        (("--status", "live"), "unknown status 'live'"),
        (("--family", "MF_NOPE"), "unknown family 'MF_NOPE'"),
        (("--role", "oracle"), "unknown role 'oracle'"),
        (("--sort", "test.nope"), "unknown metric 'test.nope'"),
        (("--since", "2026-13-01"), "invalid date '2026-13-01'"),
        (("--until", "yesterday"), "invalid date 'yesterday'"),
        (("--limit", "0"), "at least 1"),
    ):
        line = _one_line_error(adm("models", "list", *args, code=2))
        assert words in line, line


def test_dates_compare_as_registry_timestamps() -> None:
    assert common.parse_when("2026-01-31") == "2026-01-31"
    assert common.parse_when("2026-01-31", upper=True) == "2026-02-01"
    assert common.parse_when("2026-01-31T12:00:00Z") == "2026-01-31T12:00:00.000000Z"
    assert common.parse_when("2026-01-31T14:00:00+02:00") == "2026-01-31T12:00:00.000000Z"
    assert common.parse_when("2026-01-31T12:00") == "2026-01-31T12:00:00.000000Z"


# --- models show / compare -------------------------------------------------------------------
def test_models_show_has_the_evidence(reg: Registry, adm: Any) -> None:
    model = add_model(reg, auc=0.61, full_metrics=True)
    out = adm("models", "show", model.model_id).out
    for text in (model.model_id, model.experiment_id, "MF_DIR_CORE_V1", "candidate",
                 "DS_DEMO_CORE_V1", "2021-09-24 to 2023-08-30", model.dataset_fingerprints[
                     "DS_DEMO_CORE_V1"], "Feature_TREND_MTF_V1", "Label_Direction_Horizon_20d_V1",
                 "auc (primary)", "0.6100", "momentum_sign", "0.5300", "+0.0800",
                 "Regime breakdown (test, auc)", "bear_calm", "+0.0201", "-0.0123 to +0.0456",
                 "small slice", "regime_floor", "-0.0200", "Promotion: eligible",
                 "within noise", "improvement (+: model better)",
                 "Status history", "ifns_train.recorder", "Proposals to DRA: none",
                 "Audit: compliant"):
        assert text in out, text
    doc = _json(adm("models", "show", model.model_id, "--json"))
    assert doc["model"]["model_id"] == model.model_id and doc["audit"]["compliant"] is True
    assert [c["name"] for c in doc["promotion"]["checks"]] == [
        "improvement", "regime_floor", "calibration", "walk_forward_dispersion",
        "deflated_sharpe", "pbo", "placebo"]
    assert doc["promotion"]["verdict"] == "eligible"
    assert doc["evidence_now"]["current"]["trials"] == 1 and not doc["evidence_now"]["changed"]
    bear = next(g for g in doc["regimes"] if g["split"] == "test" and g["slice"] == "bear_calm")
    assert bear["improvement"] == 0.0201 and bear["low"] == -0.0123
    assert bear["evidence"] == "within noise"
    val = next(g for g in doc["regimes"] if g["split"] == "val" and g["slice"] == "bear_calm")
    assert val["improvement"] == 0.0201 and val["baseline_value"] == 0.551


def test_models_show_the_checks_as_they_stand_now(reg: Registry, adm: Any) -> None:
    first = factory.add_model(reg, n=0)
    for i, sharpe in enumerate((3.0, -1.0, 2.5, -0.5, 2.0, 0.0, 1.5, -1.5, 2.8), start=1):
        factory.add_model(reg, n=i, sharpe=sharpe)
    out = adm("models", "show", first.model_id).out
    assert "Promotion: not eligible" in out and "over 10 trial(s) in the experiment log" in out
    assert "recorded " in out and "eligible, deflated Sharpe ratio 0.997 over 1 trials; now: " \
        "not eligible, deflated Sharpe ratio" in out
    doc = _json(adm("models", "show", first.model_id, "--json"))
    now = doc["evidence_now"]
    assert (now["recorded"]["verdict"], now["current"]["verdict"]) == ("eligible",
                                                                      "not_eligible")
    assert now["current"]["trials"] == 10 and now["changed"] is True
    assert doc["model"]["metrics"]["selection"]["trials"] == 1  # the record is as recorded


def test_models_show_without_a_regime_breakdown(reg: Registry, adm: Any) -> None:
    model = add_model(reg)
    out = adm("models", "show", model.model_id).out
    assert "Regime breakdown: none recorded" in out and "Promotion: eligible" in out


def test_models_compare_side_by_side(reg: Registry, adm: Any) -> None:
    a, b = add_model(reg, auc=0.61, n=1), add_model(reg, auc=0.55, eligible=False, n=2)
    out = adm("models", "compare", a.model_id, b.model_id).out
    assert a.model_id in out and b.model_id in out
    row = next(line for line in out.splitlines() if " test.auc " in line)
    assert row.index("0.6100") < row.index("0.5500")
    assert "auc improvement -0.0100 over momentum_sign" in out
    doc = _json(adm("models", "compare", a.model_id, b.model_id, "--json"))
    figures = {f["figure"]: f["values"] for f in doc["figures"]}
    assert figures["test.auc"] == {a.model_id: 0.61, b.model_id: 0.55}
    assert figures["eligible"] == {a.model_id: 1.0, b.model_id: 0.0}
    assert figures["compliant"] == {a.model_id: True, b.model_id: True}
    line = _one_line_error(adm("models", "compare", a.model_id, code=2))
    assert "at least two" in line


def test_models_compare_two_sets_the_challenger_against_the_champion(reg: Registry,
                                                                      adm: Any) -> None:
    table = factory.planted_test_table
    a = factory.add_model(reg, "champion", n=1, predictions=table(0.1))
    b = factory.add_model(reg, "challenger", n=2, predictions=table(0.3, noise=2))
    out = adm("models", "compare", a.model_id, b.model_id).out
    assert f"Challenger {b.model_id} against champion {a.model_id}, on the rows both scored" \
        in out
    assert "1440 on 120 dates, 2021-09-24 to 2022-03-10 (only the champion's: 0" in out
    assert "(> 0: the challenger is better), 95% interval +0." in out
    assert "significantly better" in out and "stationary_bootstrap over dates" in out
    paired = _json(adm("models", "compare", a.model_id, b.model_id, "--json"))["paired"]
    assert paired["available"] is True and paired["reason"] is None
    assert (paired["champion_id"], paired["challenger_id"], paired["rows"]) == (
        a.model_id, b.model_id, 1440)
    assert paired["difference"] > 0 and paired["interval"]["evidence"] == "better"
    # No shared rows: the side-by-side table still, and why the paired part is absent (exit
    # 0: comparing models of other windows side by side is a fair question).
    c = factory.add_model(reg, "elsewhere", n=3, predictions=table(0.3, start="2024-01-02"))
    out = adm("models", "compare", a.model_id, c.model_id).out
    assert "Models compared" in out and "on the rows both scored: none: " in out
    assert "share no scored rows" in out
    paired = _json(adm("models", "compare", a.model_id, c.model_id, "--json"))["paired"]
    assert paired["available"] is False and "share no scored rows" in paired["reason"]
    assert _json(adm("models", "compare", a.model_id, b.model_id, c.model_id,
                     "--json"))["paired"] is None


# --- proposals -------------------------------------------------------------------------------
def test_propose_records_without_changing(reg: Registry, adm: Any) -> None:
    model = add_model(reg)
    result = adm("models", "propose", model.model_id, "--to", "canary", "--reason",
                 "strong test auc", "--actor", "alice", "--evidence", model.experiment_id)
    proposal_id = result.out.splitlines()[0].strip()
    assert proposal_id.startswith("PRP_") and "nothing changed" in result.out
    (prop,) = lifecycle.proposals_of(reg, model.model_id)
    assert prop["proposal_id"] == proposal_id and prop["state"] == "open"
    assert prop["actor"] == "alice" and prop["evidence"] == [model.experiment_id]
    assert adm("models", "show", model.model_id, "--json").out.count('"canary"') == 1
    out = adm("models", "show", model.model_id).out
    assert proposal_id in out and "strong test auc" in out and "open" in out
    # the actor defaults to the login name; a transition the lifecycle forbids is refused
    doc = _json(adm("models", "propose", model.model_id, "--to", "retired", "--reason", "old",
                    "--json"))
    assert doc["action"] == "rollback" and doc["actor"] == common.default_actor()
    line = _one_line_error(adm("models", "propose", model.model_id, "--to", "promoted",
                               "--reason", "skip canary", code=1))
    assert "candidate cannot become promoted" in line
    _one_line_error(adm("models", "propose", model.model_id, "--to", "canary", "--reason",
                        "  ", code=2))


# --- experiments -----------------------------------------------------------------------------
def test_experiments_search(reg: Registry, adm: Any) -> None:
    model = add_model(reg, "alpha", n=1)
    failed = factory.add_failed(reg, "beta", error="[bold]boom[/bold] <s>")

    def found(*args: str) -> list[str]:
        doc = _json(adm("experiments", "search", "--json", *args))
        return [e["experiment_id"] for e in doc["experiments"]]

    assert found("--status", "failed") == [failed]
    assert found("--status", "completed") == [model.experiment_id]
    assert found("--text", "alpha") == [model.experiment_id]
    assert found("--text", "boom") == [failed]
    assert found("--family", MID_FAMILY, "--kind", "model") == [failed, model.experiment_id]
    assert found("--since", "2000-01-01") == [failed, model.experiment_id]
    assert found("--until", "2000-01-01") == []
    assert found("--since", "2999-01-01T00:00:00Z") == []
    out = adm("experiments", "search").out
    assert "[bold]boom[/bold] <s>" in out and "auc 0.5800" in out
    assert "Error: [bold]boom[/bold] <s>" in adm("experiments", "show", failed).out
    for args, words in ((("--status", "done"), "unknown status 'done'"),
                        (("--kind", "sweep"), "unknown kind 'sweep'"),
                        (("--since", "2026-02-30"), "invalid date")):
        assert words in _one_line_error(adm("experiments", "search", *args, code=2))


def test_experiments_search_by_tag_and_show_tags(reg: Registry, adm: Any) -> None:
    run = factory.new_run(reg, "tagged", n=1)
    run.config["tags"] = ["sweep:lr", "v2"]
    log.begin_run(reg, experiment_entry(run, "running", None, {}))
    add_model(reg, "plain", n=2)
    doc = _json(adm("experiments", "search", "--json", "--tag", "v2"))
    assert doc["filters"]["tag"] == "v2"
    assert [(e["experiment_id"], e["tags"]) for e in doc["experiments"]] == [
        (run.experiment_id, ["sweep:lr", "v2"])]
    assert _json(adm("experiments", "search", "--json", "--tag", "v3"))["count"] == 0
    assert "no experiments match" in adm("experiments", "search", "--tag", "v3").out
    out = adm("experiments", "show", run.experiment_id).out
    assert "tags" in out and "sweep:lr, v2" in out


def test_experiments_show_link_and_mark(reg: Registry, adm: Any) -> None:
    model = add_model(reg, auc=0.61)
    exp = model.experiment_id
    assert "linked" in adm("experiments", "link", exp, "--sel", "SEL_REC_0042",
                           "--actor", "sel-bot").out
    adm("experiments", "link", exp, "--dra", "DRA_DEC_7")
    adm("experiments", "mark", exp, "--selected", "--reason", "best of the sweep")
    out = adm("experiments", "show", exp).out
    for text in (exp, model.model_id, "SEL", "SEL_REC_0042", "sel-bot", "DRA", "DRA_DEC_7",
                 "selected", "best of the sweep", "DS_DEMO_CORE_V1", "2014-01-02 to 2019-10-18",
                 "0.6100", "Hyperparameters", '"lr": 0.001', "Config", "Companion runs: none"):
        assert text in out, text
    doc = _json(adm("experiments", "show", exp, "--json"))
    assert [(x["kind"], x["ref"]) for x in doc["decision_links"]] == [
        ("sel", "SEL_REC_0042"), ("dra", "DRA_DEC_7")]
    assert [h["status"] for h in doc["status_history"]] == ["running", "completed", "selected"]
    assert doc["experiment"]["status"] == "selected" and doc["model"]["status"] == "candidate"
    # both or neither of --sel/--dra, a bad reference, a failed run cannot be selected
    _one_line_error(adm("experiments", "link", exp, code=2))
    _one_line_error(adm("experiments", "link", exp, "--sel", "A", "--dra", "B", code=2))
    assert "invalid SEL reference" in _one_line_error(
        adm("experiments", "link", exp, "--sel", "../x", code=1))
    failed = factory.add_failed(reg)
    assert "failed cannot become discarded" in _one_line_error(
        adm("experiments", "mark", failed, "--discarded", "--reason", "x", code=1))


def test_experiments_show_lists_companions(reg: Registry, adm: Any) -> None:
    parent = add_model(reg, n=1)
    run = factory.new_run(reg, "seed2", n=2)
    run.kind, run.parent_experiment_id = "seed", parent.experiment_id
    from ifns_train.registry.publish import experiment_entry

    log.begin_run(reg, experiment_entry(run, "running", None, {}))
    out = adm("experiments", "show", parent.experiment_id).out
    assert run.experiment_id in out and "seed" in out and "running" in out
    child = _json(adm("experiments", "show", run.experiment_id, "--json"))
    assert child["experiment"]["parent_experiment_id"] == parent.experiment_id


# --- audit -----------------------------------------------------------------------------------
def test_audit_flags_a_modified_artifact(reg: Registry, registry: Path, adm: Any) -> None:
    good, bad = add_model(reg, n=1), add_model(reg, n=2)
    assert "2 of 2 model(s) compliant" in adm("audit").out
    (registry / bad.artifact_path / "model.ckpt").write_bytes(b"tampered")
    result = adm("audit", code=1)
    assert bad.model_id in result.out and "sha256 differs from the record" in result.out
    assert "1 of 2 model(s) compliant" in result.out
    doc = _json(adm("audit", "--json", code=1))
    verdicts = {f["model_id"]: f["compliant"] for f in doc["findings"]}
    assert verdicts == {good.model_id: True, bad.model_id: False}
    adm("audit", "--model", good.model_id)
    adm("audit", "--model", bad.model_id, code=1)


def test_audit_lists_an_invalid_record_and_goes_on(reg: Registry, adm: Any) -> None:
    good, bad = add_model(reg, n=1), add_model(reg, n=2)
    factory.edit_stored(reg, "model", bad.model_id, roles="not a list")
    result = adm("audit", code=1)
    assert "1 of 2 model(s) compliant" in result.out and "invalid record" in result.out
    doc = _json(adm("audit", "--json", code=1))
    found = {f["model_id"]: f for f in doc["findings"]}
    assert found[good.model_id]["compliant"] is True
    assert found[bad.model_id]["reasons"][0].startswith(
        f"model {bad.model_id}: invalid record: field 'roles'")
    assert found[bad.model_id]["status"] == "candidate"
    adm("audit", "--model", bad.model_id, code=1)


def test_audit_names_a_changed_dataset_table(reg: Registry, registry: Path, adm: Any) -> None:
    add_model(reg, n=1)
    add_model(reg, n=2)
    path = factory.change_table_value(registry)
    doc = _json(adm("audit", "--json", code=1))
    assert doc["non_compliant"] == 2
    for finding in doc["findings"]:
        assert finding["reasons"] == [
            f"dataset {factory.DATASET}: column 'trend_ret_20d' of {path} does not match the "
            "fingerprint recorded in the dataset index (the table changed after it was "
            "registered)"]


# --- doctor ----------------------------------------------------------------------------------
def test_doctor_names_what_hand_edits_left(reg: Registry, registry: Path, adm: Any) -> None:
    forged, invalid, lost, _ = (add_model(reg, n=i) for i in range(4))
    factory.raw_sql(reg, "UPDATE models SET status = 'promoted' WHERE model_id = :m",
                    m=forged.model_id)
    factory.edit_stored(reg, "model", invalid.model_id, metrics="not figures")
    for table in ("model_inputs", "proposals", "models"):
        factory.raw_sql(reg, f"DELETE FROM {table} WHERE model_id = :m", m=lost.model_id)
    factory.raw_sql(reg, "DROP TRIGGER history_no_delete")
    factory.change_table_value(registry)
    doc = _json(adm("doctor", "--json", code=1))["report"]
    assert [x["model_id"] for x in doc["status_disagreements"]] == [forged.model_id]
    assert [x["id"] for x in doc["invalid_records"]] == [invalid.model_id]
    assert [x["experiment_id"] for x in doc["experiments_without_model"]] == [lost.experiment_id]
    assert [x["guard"] for x in doc["missing_guards"]] == ["history_no_delete"]
    assert [x["dataset_id"] for x in doc["changed_datasets"]] == [factory.DATASET]
    result = adm("doctor", "--repair", code=1)
    for text in ("Model status not the one its history says: 1",
                 "Invalid records (fail validation): 1",
                 "Completed experiments without their model: 1",
                 "Append-only guards missing: 1", "history_no_delete",
                 "Datasets changed under their index entry: 1", "nothing to repair",
                 "Remaining after repair"):
        assert text in result.out, text


def test_doctor_finds_and_repairs(reg: Registry, registry: Path, adm: Any) -> None:
    add_model(reg)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = factory.add_running(reg, "killed", host=socket.gethostname(), pid=gone.pid)
    orphan = registry / "models" / MID_FAMILY / "MDL_DIR_CORE_V1_orphan"
    orphan.mkdir(parents=True)
    (orphan / "model.ckpt").write_bytes(b"x")
    result = adm("doctor", code=1)
    for text in ("Stale runs (process gone): 1", stale.experiment_id, str(gone.pid),
                 socket.gethostname(), "Orphan folders", "MDL_DIR_CORE_V1_orphan",
                 "Staging folders (left by a run that died): none", "not clean"):
        assert text in result.out, text
    doc = _json(adm("doctor", "--json", code=1))
    assert doc["clean"] is False and doc["report"]["stale_runs"][0]["pid"] == gone.pid

    result = adm("doctor", "--repair")
    assert "running -> failed" in result.out and "moved to orphans/" in result.out
    assert "clean after repair" in result.out
    assert log.get(reg, stale.experiment_id).status == "failed"
    assert not orphan.exists() and list((registry / "orphans").rglob("MDL_DIR_CORE_V1_orphan"))
    assert _json(adm("doctor", "--json"))["clean"] is True


def test_doctor_repair_leaves_what_it_cannot_repair(reg: Registry, registry: Path,
                                                    adm: Any) -> None:
    model = add_model(reg)
    (registry / model.artifact_path / "model.ckpt").write_bytes(b"tampered")
    result = adm("doctor", "--repair", code=1)
    assert "nothing to repair" in result.out and "Remaining after repair" in result.out
    assert "Hash mismatches: 1" in result.out and model.model_id in result.out


# --- export, migrate -------------------------------------------------------------------------
def test_export_writes_the_spec_documents(reg: Registry, tmp_path: Path, adm: Any) -> None:
    model = add_model(reg)
    adm("experiments", "link", model.experiment_id, "--dra", "DRA_DEC_1")
    out_dir = tmp_path / "export"
    written = _json(adm("export", "--out", str(out_dir), "--json"))["written"]
    assert sorted(Path(p).name for p in written) == ["experiments_log.json",
                                                      "model_registry.json"]
    models = json.loads((out_dir / "model_registry.json").read_text())
    (record,) = models["models"]
    for name in ("model_id", "model_family", "model_version", "status", "created_ts",
                 "last_updated_ts", "experiment_id", "train_dataset_id", "features_used",
                 "labels_used", "prediction_type", "horizons", "metrics",
                 "supported_environments", "resources", "artifact_path"):
        assert name in record, name
    assert record["model_id"] == model.model_id and MID_FAMILY in models["families"]
    experiments = json.loads((out_dir / "experiments_log.json").read_text())
    (entry,) = experiments["experiments"]
    for name in ("experiment_id", "timestamp", "model_family", "proposed_model_id",
                 "datasets", "features_used", "labels_used", "hyperparameters", "metrics",
                 "status", "artifacts"):
        assert name in entry, name
    assert entry["decision_links"][0]["ref"] == "DRA_DEC_1"
    assert "wrote" in adm("export", "--out", str(tmp_path / "again")).out


def test_export_refuses_an_invalid_record_in_one_line(reg: Registry, tmp_path: Path,
                                                      adm: Any) -> None:
    add_model(reg, n=1)
    bad = add_model(reg, n=2)
    factory.edit_stored(reg, "experiment", bad.experiment_id, bogus=1)
    line = _one_line_error(adm("export", "--out", str(tmp_path / "out"), code=1))
    assert "export refused: 1 invalid record(s)" in line
    assert f"experiment {bad.experiment_id}: invalid record: field 'bogus'" in line
    assert not (tmp_path / "out").exists()


def test_migrate_without_old_documents_is_one_line(adm: Any, tmp_path: Path) -> None:
    line = _one_line_error(adm("migrate", "--from", str(tmp_path), code=1))
    assert "no registry of an earlier version" in line


# --- reproduce (against the contract of ifns_train.run.reproduce) --------------------------------
@pytest.mark.parametrize("matches", [True, False])
def test_reproduce_reports_each_figure(reg: Registry, adm: Any, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch, matches: bool) -> None:
    model = add_model(reg)
    calls = []

    def reproduce(registry: Registry, experiment_id: str, output_dir: Path) -> dict[str, Any]:
        calls.append((experiment_id, output_dir))
        print("Epoch 1/1 ━━━━ training noise")  # a run's progress must not reach stdout
        return {"experiment_id": experiment_id, "reproduction_id": "EXP_repro_1",
                "status": "matches" if matches else "differs",
                "figures": [{"name": "test.auc", "recorded": 0.58, "reproduced": 0.58,
                             "match": True},
                            {"name": "test.brier", "recorded": 0.2437,
                             "reproduced": 0.2437 if matches else 0.2501,
                             "match": matches}]}

    monkeypatch.setitem(sys.modules, "ifns_train.run.reproduce",
                        types.SimpleNamespace(reproduce=reproduce))
    result = adm("reproduce", model.experiment_id, "--out", str(tmp_path / "r"),
                 code=0 if matches else 1)
    assert calls == [(model.experiment_id, tmp_path / "r")]
    assert "test.brier" in result.out and "0.243700" in result.out
    assert ("every figure matches" if matches else "1 of 2 figure(s) differ") in result.out
    doc = _json(adm("reproduce", model.experiment_id, "--json", code=0 if matches else 1))
    assert doc["status"] == ("matches" if matches else "differs")
    assert calls[1][1].parent == Path("outputs") / "reproduce"


def test_reproduce_unknown_experiment_fails_before_importing(adm: Any) -> None:
    line = _one_line_error(adm("reproduce", "EXP_nope", code=1))
    assert "no experiment 'EXP_nope'" in line


# --- errors, escaping, JSON ------------------------------------------------------------------
def test_unknown_ids_and_missing_registry_are_one_line(reg: Registry, adm: Any,
                                                       tmp_path: Path, capsys: Any) -> None:
    assert "no model 'MDL_nope'" in _one_line_error(adm("models", "show", "MDL_nope", code=1))
    assert "no experiment 'EXP_nope'" in _one_line_error(
        adm("experiments", "show", "EXP_nope", code=1))
    assert "invalid model_id" in _one_line_error(
        adm("models", "show", "../../etc/passwd", code=1))
    assert "no model 'MDL_nope'" in _one_line_error(
        adm("audit", "--model", "MDL_nope", code=1))
    _one_line_error(adm("nonsense", code=2))
    _one_line_error(adm("models", code=2))
    from ifns_train.sxe.admin import main

    assert main(["--registry-dir", str(tmp_path / "nowhere"), "families"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ifns-admin: no registry at ") and err.count("\n") == 1
    assert not (tmp_path / "nowhere").exists()


def test_registry_text_prints_literally(reg: Registry, adm: Any) -> None:
    evil = factory.FAMILY.model_copy(update={
        "family_id": "MF_EVIL_V1", "description": "[red]evil[/red] <script>alert(1)</script> "
                                                  ":smile: \x1b[31mred"})
    model = add_model(reg, family=evil)
    reason = "[bold]why[/bold] <b>not</b> \x1b[2J"
    adm("models", "propose", model.model_id, "--to", "canary", "--reason", reason)
    out = adm("families").out
    assert "[red]evil[/red] <script>alert(1)</script> :smile:" in out
    assert "\x1b" not in out and "\\x1b[31mred" in out
    out = adm("models", "show", model.model_id).out
    assert "[bold]why[/bold] <b>not</b> \\x1b[2J" in out and "\x1b" not in out


def test_json_documents_parse(reg: Registry, adm: Any) -> None:
    model = add_model(reg)
    for args in (("families",), ("models", "list"), ("models", "show", model.model_id),
                 ("experiments", "search"), ("experiments", "show", model.experiment_id),
                 ("audit",), ("doctor",)):
        doc = _json(adm(*args, "--json"))
        assert isinstance(doc, dict), args
    # the global options are accepted before the subcommand too
    assert _json(adm("--json", "models", "list"))["count"] == 1


def test_env_names_the_registry(reg: Registry, registry: Path, capsys: Any,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from ifns_train.sxe.admin import main

    add_model(reg)
    monkeypatch.setenv("IFNS_REGISTRY_DIR", str(registry))
    assert main(["models", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 1


def test_module_entry_point_exit_codes(reg: Registry, registry: Path, tmp_path: Path) -> None:
    model = add_model(reg)
    env = {"IFNS_REGISTRY_DIR": str(registry)}
    # New processes: the exit code is what `python -m ifns_train.sxe.admin` gives the shell.
    ok = run_process("families", cwd=tmp_path, env=env, module="ifns_train.sxe.admin")
    assert ok.returncode == 0 and "MF_DIR_CORE_V1" in ok.stdout and ok.stderr == ""
    shown = run_process("models", "show", model.model_id, "--json", cwd=tmp_path, env=env,
                    module="ifns_train.sxe.admin")
    assert shown.returncode == 0 and json.loads(shown.stdout)["model"]["model_id"]
    for args, code in ((("models", "show", "MDL_nope"), 1),
                       (("models", "list", "--status", "live"), 2),
                       (("experiments", "search", "--since", "2026-13-01"), 2)):
        bad = run_process(*args, cwd=tmp_path, env=env, module="ifns_train.sxe.admin")
        assert bad.returncode == code, bad
        assert bad.stderr.startswith("ifns-admin: ") and bad.stderr.count("\n") == 1
        assert "Traceback" not in bad.stderr and bad.stdout == ""
    # The installed console script runs the same main.
    assert 'ifns-admin = "ifns_train.sxe.admin:main"' in (REPO / "pyproject.toml").read_text()


def test_admin_on_postgresql(postgres_url: str, tmp_path: Path, capsys: Any) -> None:
    from ifns_train.sxe.admin import main

    reg = Registry(tmp_path / "pgreg", url=postgres_url)
    try:
        model = add_model(reg)
    finally:
        reg.close()
    base = ["--registry-dir", str(tmp_path / "pgreg"), "--registry-url", postgres_url]
    assert main([*base, "models", "list", "--json", "--sort", "test.auc"]) == 0
    assert json.loads(capsys.readouterr().out)["models"][0]["model_id"] == model.model_id
    assert main([*base, "families"]) == 0
    assert "MF_DIR_CORE_V1" in capsys.readouterr().out


def test_a_file_that_is_not_a_database_is_one_line(tmp_path: Path, capsys: Any) -> None:
    from ifns_train.sxe.admin import main

    (tmp_path / "registry.db").write_bytes(b"not a database" * 400)
    assert main(["--registry-dir", str(tmp_path), "families"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ifns-admin: registry sqlite:///") and err.count("\n") == 1
    assert err.endswith("registry.db: file is not a database\n")


def test_the_console_starts_without_the_training_stack(reg: Registry, registry: Path) -> None:
    """Admin must start fast: no torch, lightning or pandas for a listing."""
    add_model(reg)
    code = ("import sys; from ifns_train.sxe.admin import main; "
            f"rc = main(['--registry-dir', {str(registry)!r}, 'models', 'list']); "
            "print(sorted(m for m in ('torch', 'lightning', 'pandas') if m in sys.modules), rc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "[] 0", done.stderr


@pytest.mark.slow
def test_a_trained_model_shown_and_reproduced(make_cfg: Any, reg: Registry, adm: Any,
                                              tmp_path: Path) -> None:
    """On a real run: the regime breakdown and promotion checks of its metrics.json, then a
    reproduction that matches, its JSON on a stdout free of the training's progress."""
    from ifns_train.run.train import train

    summary = train(make_cfg())
    out = adm("models", "show", summary["model_id"]).out
    for text in ("Regime breakdown (test, auc)", "Regime breakdown (val, auc)", "regime_tag",
                 "vol_band", "Promotion checks", "regime_floor", "deflated_sharpe",
                 "Audit: compliant"):
        assert text in out, text
    result = adm("reproduce", summary["experiment_id"], "--out", str(tmp_path / "again"),
                 "--json")
    doc = json.loads(result.out)
    assert doc["status"] == "matches" and all(f["match"] for f in doc["figures"])
    shown = _json(adm("experiments", "show", summary["experiment_id"], "--json"))
    assert [c["experiment_id"] for c in shown["companions"]] == [doc["reproduction_id"]]
