"""The lifecycle: allowed and refused transitions, their appended history, proposals, and the
decision entry point that refuses a non-compliant or ineligible model."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from ifns_train.core.errors import RegistryError
from ifns_train.registry import lifecycle, model_registry
from ifns_train.registry.database import Registry
from tests.registry.factory import add_model, planted_test_table


def _history(reg: Registry, model_id: str) -> list[tuple[str | None, str, str]]:
    return [(h.from_status, h.status, h.by) for h in
            model_registry.get(reg, model_id).status_history]


def test_allowed_transitions_append_history(reg: Registry) -> None:
    model = add_model(reg)
    lifecycle.decide(reg, model.model_id, "canary", "dra-board", "canary for a month",
                     evidence=["DRA_2026_0042"])
    lifecycle.decide(reg, model.model_id, "promoted", "dra-board", "canary held up")
    lifecycle.decide(reg, model.model_id, "canary", "dra-board", "rolled back: drift")
    assert model_registry.get(reg, model.model_id).status == "canary"
    assert _history(reg, model.model_id) == [
        (None, "candidate", "ifns_train.recorder"), ("candidate", "canary", "dra-board"),
        ("canary", "promoted", "dra-board"), ("promoted", "canary", "dra-board")]
    first_decision = model_registry.get(reg, model.model_id).status_history[1]
    assert first_decision.evidence == ["DRA_2026_0042"]
    assert first_decision.reason == "canary for a month"


@pytest.mark.parametrize(("path", "refused"), [
    ((), "promoted"),  # candidate -> promoted skips canary
    (("retired",), "candidate"),  # retired is final
    ((), "archived"),  # not a status
])
def test_refused_transitions_change_nothing(reg: Registry, path: tuple[str, ...],
                                            refused: str) -> None:
    model = add_model(reg)
    for status in path:
        lifecycle.decide(reg, model.model_id, status, "dra", "step")
    before = _history(reg, model.model_id)
    with pytest.raises(RegistryError, match=r"cannot become|unknown status"):
        lifecycle.decide(reg, model.model_id, refused, "dra", "try")
    assert _history(reg, model.model_id) == before


def test_history_is_append_only_in_the_database(reg: Registry) -> None:
    add_model(reg)
    for statement in ("UPDATE history SET actor = 'someone else'", "DELETE FROM history"):
        with pytest.raises(Exception, match="append-only"), reg.write() as conn:
            conn.execute(text(statement))


def test_a_proposal_changes_nothing_until_a_decision_applies_it(reg: Registry) -> None:
    model = add_model(reg)
    proposal = lifecycle.propose(reg, model.model_id, "canary", "alice", "beats momentum",
                                 evidence=[model.experiment_id])
    assert proposal["action"] == "promote" and proposal["state"] == "open"
    assert model_registry.get(reg, model.model_id).status == "candidate"
    lifecycle.decide(reg, model.model_id, "canary", "dra", "approved",
                     proposal_id=proposal["proposal_id"])
    (applied,) = lifecycle.proposals_of(reg, model.model_id)
    assert applied["state"] == "applied" and applied["decision"] == "dra: approved"
    change = model_registry.get(reg, model.model_id).status_history[-1]
    assert change.evidence[0] == proposal["proposal_id"]
    rollback = lifecycle.propose(reg, model.model_id, "retired", "bob", "drifted")
    assert rollback["action"] == "rollback"
    with pytest.raises(RegistryError, match="not an open proposal"):
        lifecycle.decide(reg, model.model_id, "retired", "dra", "again",
                         proposal_id=proposal["proposal_id"])
    with pytest.raises(RegistryError, match="proposes retired, not candidate"):
        lifecycle.decide(reg, model.model_id, "candidate", "dra", "other",
                         proposal_id=rollback["proposal_id"])
    with pytest.raises(RegistryError, match="cannot become promoted"):
        lifecycle.propose(reg, add_model(reg).model_id, "promoted", "alice", "skip canary")


def test_ineligible_model_is_refused_and_the_proposal_records_why(reg: Registry) -> None:
    model = add_model(reg, eligible=False)
    proposal = lifecycle.propose(reg, model.model_id, "canary", "alice", "try it")
    with pytest.raises(RegistryError, match=r"promotion check failed: improvement: auc "
                                            r"improvement -0\.0100 over momentum_sign"):
        lifecycle.decide(reg, model.model_id, "canary", "dra", "ok",
                         proposal_id=proposal["proposal_id"])
    assert model_registry.get(reg, model.model_id).status == "candidate"
    (refused,) = lifecycle.proposals_of(reg, model.model_id)
    assert refused["state"] == "refused" and "-0.0100" in refused["decision"]
    # Retiring needs no evidence of quality.
    lifecycle.decide(reg, model.model_id, "retired", "dra", "not useful")


def test_non_compliant_model_is_refused_naming_the_missing_piece(reg: Registry) -> None:
    model = add_model(reg)
    (reg.dir / model.artifact_path / "model.ckpt").write_bytes(b"swapped")
    with pytest.raises(RegistryError, match=r"non-compliant: .*model\.ckpt: sha256 differs"):
        lifecycle.decide(reg, model.model_id, "canary", "dra", "ok")


def test_promoting_retires_the_previous_holder_of_the_role(reg: Registry) -> None:
    # The same planted scores: the challenger is no worse than the holder (`champion`).
    old, new = (add_model(reg, name, predictions=planted_test_table()) for name in ("old", "new"))
    for model in (old, new):
        lifecycle.decide(reg, model.model_id, "canary", "dra", "canary")
    lifecycle.decide(reg, old.model_id, "promoted", "dra", "first")
    result = lifecycle.decide(reg, new.model_id, "promoted", "dra", "better")
    assert result["changes"] == [
        {"model_id": new.model_id, "from": "canary", "to": "promoted"},
        {"model_id": old.model_id, "from": "promoted", "to": "retired"}]
    retired = model_registry.get(reg, old.model_id).status_history[-1]
    assert retired.reason == f"replaced as primary_directional by {new.model_id}"
    assert model_registry.status_counts(reg) == {"MF_DIR_CORE_V1": {"promoted": 1,
                                                                     "retired": 1}}


def test_decisions_need_an_actor_and_a_reason(reg: Registry) -> None:
    model = add_model(reg)
    with pytest.raises(RegistryError, match="actor must be non-empty"):
        lifecycle.decide(reg, model.model_id, "retired", " ", "x")
    with pytest.raises(RegistryError, match="invalid evidence id"):
        lifecycle.propose(reg, model.model_id, "retired", "a", "b", evidence=["x\n"])
    assert json.loads(json.dumps(lifecycle.proposals_of(reg))) == []
