"""`ifns-decide`: DRA's entry point, apart from Admin (Stage 03 grants no promotion power)."""

from __future__ import annotations

import json
from typing import Any

from ifns_train.cli import decide
from ifns_train.registry import lifecycle, model_registry
from ifns_train.registry.database import Registry
from tests.registry import factory
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


def test_a_promotion_over_a_holder_shows_and_keeps_the_comparison(reg: Registry, adm: Any,
                                                                  dra: Any) -> None:
    holder = factory.add_model(reg, "holder", n=1, predictions=factory.planted_test_table(0.1))
    factory.set_status(reg, holder.model_id, "canary")
    factory.set_status(reg, holder.model_id, "promoted")
    worse = factory.add_model(reg, "worse", n=2,
                              predictions=factory.planted_test_table(0.0, noise=3))
    better = factory.add_model(reg, "better", n=3,
                               predictions=factory.planted_test_table(0.3, noise=2))
    for model in (worse, better):
        factory.set_status(reg, model.model_id, "canary")
    line = _one_line_error(dra(worse.model_id, "--to", "promoted", "--actor", "dra",
                               "--reason", "r", code=1))
    assert f"challenger: auc improvement over holder {holder.model_id} -0." in line
    assert "below the non_inferior margin -0.0050" in line
    out = dra(better.model_id, "--to", "promoted", "--actor", "dra", "--reason", "r").out
    assert f"{holder.model_id}: promoted -> retired" in out
    assert f"challenger against holder {holder.model_id}: auc +0." in out
    assert "significantly better; non_inferior margin 0.005: passed" in out
    doc = json.loads(adm("models", "show", better.model_id, "--json").out)
    stored = doc["model"]["status_history"][-1]["figures"]["challenger"]
    assert stored["holder"] == holder.model_id and stored["passed"] is True
    assert stored["rows"] == 1440 and stored["interval"]["low"] > 0
