"""Evidence current at the decision: the deflated Sharpe ratio of a recorded model is deflated
again by the trials the log holds when it is used, and a decision stores what it decided on."""

from __future__ import annotations

import math

import pytest

from ifns_train.core.calendar import TRADING_DAYS_PER_YEAR
from ifns_train.core.errors import RegistryError
from ifns_train.evaluation.selection import deflated_sharpe_ratio, per_period_sharpe
from ifns_train.registry import current, lifecycle, model_registry
from ifns_train.registry.database import Registry
from tests.registry.factory import HORIZON, add_model, edit_stored, set_status

# Trials of a search after the first: annualised Sharpe ratios of their excess.
LATER = [2.5, -1.0, 0.3, 1.8, -0.6, 2.2, 0.9, -1.5, 1.2, 0.1, 2.9, -0.2]


def test_the_first_trial_is_deflated_by_the_trials_after_it(reg: Registry) -> None:
    first = add_model(reg, n=0, sharpe=1.0)
    recorded = first.metrics["selection"]
    assert recorded["trials"] == 1
    before = current.evidence_now(reg, first)
    assert before["current"]["deflated_sharpe_ratio"] == pytest.approx(
        recorded["deflated_sharpe_ratio"])
    assert before["current"]["verdict"] == "eligible" and not before["changed"]
    for i, sharpe in enumerate(LATER, start=1):
        add_model(reg, n=i, sharpe=sharpe)
    now = current.evidence_now(reg, model_registry.get(reg, first.model_id))
    # By hand: N = 13, V = the sample variance of the 13 trials' Sharpe ratios, per period;
    # every offset of the factory's model has the same moments (SR per period, n = 100,
    # normal), so the mean over offsets is that one DSR.
    ppy = TRADING_DAYS_PER_YEAR / HORIZON
    trials = [1.0, *LATER]
    mean = sum(trials) / len(trials)
    var = sum((t - mean) ** 2 for t in trials) / (len(trials) - 1) / ppy
    sr = per_period_sharpe(1.0, ppy)
    by_hand = deflated_sharpe_ratio(sr, 100, 0.0, 3.0, 13, var)
    assert now["current"]["trials"] == 13
    assert now["current"]["deflated_sharpe_ratio"] == pytest.approx(by_hand, rel=1e-12)
    assert by_hand < 0.95 < recorded["deflated_sharpe_ratio"]
    assert now["recorded"]["deflated_sharpe_ratio"] == recorded["deflated_sharpe_ratio"]
    assert (now["recorded"]["verdict"], now["current"]["verdict"]) == ("eligible",
                                                                      "not_eligible")
    assert now["changed"] and now["recorded_ts"] == first.created_ts
    check = next(c for c in now["promotion"]["checks"] if c["name"] == "deflated_sharpe")
    assert check["passed"] is False and "over 13 trial(s)" in check["detail"]
    # The record itself keeps what was recorded.
    assert model_registry.get(reg, first.model_id).metrics["selection"] == recorded
    # The decision acts on the current figure.
    with pytest.raises(RegistryError, match=r"deflated Sharpe ratio 0\.\d+ .* over 13 trial"):
        lifecycle.decide(reg, first.model_id, "canary", "dra", "looked good when recorded")
    assert model_registry.get(reg, first.model_id).status == "candidate"


def test_a_decision_stores_the_figures_it_was_made_on(reg: Registry) -> None:
    model = add_model(reg, n=0, sharpe=1.0)
    add_model(reg, n=1, sharpe=1.1)
    done = lifecycle.decide(reg, model.model_id, "canary", "dra", "canary it")
    history = model_registry.get(reg, model.model_id).status_history
    assert history[0].figures is None  # the record's first row is no decision
    figures = history[-1].figures
    assert figures == done["figures"]
    assert figures["current"]["trials"] == 2 and figures["current"]["verdict"] == "eligible"
    assert figures["recorded"]["trials"] == 1 and figures["compliant"] is True
    assert math.isfinite(figures["current"]["deflated_sharpe_ratio"])
    # A retirement needs no evidence and records none.
    lifecycle.decide(reg, model.model_id, "retired", "dra", "done")
    assert model_registry.get(reg, model.model_id).status_history[-1].figures is None


def test_promotion_needs_the_controls_run_and_passed(reg: Registry) -> None:
    bare = add_model(reg, n=0, controls=False)
    assert current.evidence_now(reg, bare)["current"]["verdict"] == \
        "eligible_without_controls"
    lifecycle.decide(reg, bare.model_id, "canary", "dra", "a canary may go without")
    with pytest.raises(RegistryError) as refused:
        lifecycle.decide(reg, bare.model_id, "promoted", "dra", "promote")
    message = str(refused.value)
    assert "controls not run: walk_forward_dispersion (run a walk-forward evaluation " \
           "(experiment=walk_forward or evaluation.walk_forward.folds=N)); placebo (run a " \
           "placebo (evaluation.placebo=true))" in message
    assert model_registry.get(reg, bare.model_id).status == "canary"
    full = add_model(reg, n=1)
    set_status(reg, full.model_id, "canary")
    lifecycle.decide(reg, full.model_id, "promoted", "dra", "controls ran and passed")
    assert model_registry.get(reg, full.model_id).status == "promoted"


def test_evidence_that_cannot_be_made_current_fails_closed(reg: Registry) -> None:
    model = add_model(reg, n=0)
    # A record of an earlier metrics version kept no per-offset moments to deflate again.
    selection = {k: v for k, v in model.metrics["selection"].items() if k != "offsets"}
    edit_stored(reg, "model", model.model_id, metrics={**model.metrics, "selection": selection},
                metrics_version=2)
    now = current.evidence_now(reg, model_registry.get(reg, model.model_id))
    assert "re-evaluate it (ifns-evaluate model_id=" in now["stale"]
    with pytest.raises(RegistryError, match="stale evidence"):
        lifecycle.decide(reg, model.model_id, "canary", "dra", "go")
