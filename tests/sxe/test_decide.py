"""`ifns-decide`: DRA's entry point, apart from Admin (Stage 03 grants no promotion power)."""

from __future__ import annotations

import json
from typing import Any

from ifns_train.cli import decide
from ifns_train.registry import lifecycle, model_registry
from ifns_train.registry.database import Registry
from tests.sxe.helpers import add_model


def _one_line_error(result: Any) -> str:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ifns-decide: "), result.err
    assert "Traceback" not in result.err
    return lines[0]


def test_docstring_says_it_is_dra_s_tool() -> None:
    assert "DRA" in decide.__doc__ and "grants no promotion" in decide.__doc__


def test_a_proposal_applied_by_dra_shows_in_the_history(reg: Registry, adm: Any,
                                                         dra: Any) -> None:
    model = add_model(reg)
    proposal = adm("models", "propose", model.model_id, "--to", "canary", "--reason",
                   "beats momentum", "--actor", "alice").out.splitlines()[0].strip()
    result = dra(model.model_id, "--to", "canary", "--actor", "dra-board", "--reason",
                 "approved at review 12", "--proposal", proposal, "--evidence", "DRA_DEC_12")
    assert f"{model.model_id}: candidate -> canary" in result.out
    assert model_registry.get(reg, model.model_id).status == "canary"
    (prop,) = lifecycle.proposals_of(reg, model.model_id)
    assert prop["state"] == "applied"
    doc = json.loads(adm("models", "show", model.model_id, "--json").out)
    last = doc["model"]["status_history"][-1]
    assert (last["from_status"], last["status"], last["by"]) == ("candidate", "canary",
                                                                "dra-board")
    assert last["evidence"] == [proposal, "DRA_DEC_12"]
    out = adm("models", "show", model.model_id).out
    assert "approved at review 12" in out and "dra-board" in out and "applied" in out
    # and on to promoted, as JSON
    doc = json.loads(dra(model.model_id, "--to", "promoted", "--actor", "dra-board",
                         "--reason", "canary held", "--json").out)
    assert doc["changes"] == [{"model_id": model.model_id, "from": "canary",
                               "to": "promoted"}]


def test_refused_for_a_model_that_fails_its_checks(reg: Registry, adm: Any, dra: Any) -> None:
    model = add_model(reg, eligible=False)
    proposal = adm("models", "propose", model.model_id, "--to", "canary", "--reason",
                   "try").out.splitlines()[0].strip()
    result = dra(model.model_id, "--to", "canary", "--actor", "dra", "--reason", "r",
                 "--proposal", proposal, code=1)
    line = _one_line_error(result)
    assert "cannot become canary" in line
    assert "promotion check failed: improvement: auc improvement -0.0100" in line
    assert model_registry.get(reg, model.model_id).status == "candidate"
    assert lifecycle.proposals_of(reg, model.model_id)[0]["state"] == "refused"
    assert "refused" in adm("models", "show", model.model_id).out


def test_refused_transition(reg: Registry, dra: Any) -> None:
    model = add_model(reg)
    line = _one_line_error(dra(model.model_id, "--to", "promoted", "--actor", "dra",
                               "--reason", "skip canary", code=1))
    assert "candidate cannot become promoted" in line and "allowed: canary, retired" in line
    assert model_registry.get(reg, model.model_id).status == "candidate"


def test_usage_errors(reg: Registry, dra: Any) -> None:
    model = add_model(reg)
    assert "unknown status 'live'" in _one_line_error(
        dra(model.model_id, "--to", "live", "--actor", "a", "--reason", "r", code=2))
    assert "--actor" in _one_line_error(dra(model.model_id, "--to", "canary", "--reason", "r",
                                            code=2))
    assert "--reason must not be empty" in _one_line_error(
        dra(model.model_id, "--to", "canary", "--actor", "a", "--reason", " ", code=2))
    assert "no model 'MDL_nope'" in _one_line_error(
        dra("MDL_nope", "--to", "canary", "--actor", "a", "--reason", "r", code=1))
    assert "not an open proposal" in _one_line_error(
        dra(model.model_id, "--to", "canary", "--actor", "a", "--reason", "r", "--proposal",
            "PRP_nope", code=1))
