"""The pre-DRA promotion checks on hand-made reports: each check can fail, and says why."""

from __future__ import annotations

import copy

import pytest

from ifns_train.evaluation.promotion import (
    promotion_checks,
    verdict,
    verdict_words,
    with_check,
)

RULES = {"name": "dir_core", "min_improvement": 0.0, "require_significant": True,
         "regime_floor": 0.02, "max_calibration_error": 0.05, "max_walk_forward_std": 0.03,
         "min_deflated_sharpe": 0.95}


def _cell(model: float, base: float, small: bool = False) -> dict:
    return {"rows": 500, "small_slice": small, "model": {"auc": model},
            "baselines": {"momentum_sign": {"auc": base}, "class_prior": {"auc": 0.5}}}


def _report(**changes) -> dict:
    report = {
        "metric_set": "directional", "primary_metric": "auc",
        "model": {"auc": 0.58, "ece": 0.02},
        "best_baseline": {"auc": "momentum_sign"},
        "improvement_over_best": {"auc": 0.05},
        "intervals": {"improvement": {"auc": {"low": 0.02, "high": 0.08, "level": 0.95}}},
        "slices": {"regime_tag": {"bull": _cell(0.60, 0.55), "bear": _cell(0.56, 0.55),
                                  "crash": _cell(0.40, 0.60, small=True)}},
    }
    report.update(changes)
    return report


def _check(result: dict, name: str) -> dict:
    return next(c for c in result["checks"] if c["name"] == name)


def test_a_sound_model_is_eligible() -> None:
    result = promotion_checks(_report(), RULES)
    assert result["eligible"] and result["reasons"] == []
    # The small crash slice (0.40 against 0.60) is not judged; the weakest adequate one is.
    regime = _check(result, "regime_floor")
    assert regime["value"] == pytest.approx(0.01) and "bear" in regime["detail"]
    # Evidence that was not produced does not count either way.
    assert _check(result, "walk_forward_dispersion")["passed"] is None
    assert _check(result, "placebo")["passed"] is None


def test_an_improvement_within_noise_fails() -> None:
    report = _report(intervals={"improvement": {"auc": {"low": -0.01, "high": 0.08,
                                                        "level": 0.95}}})
    result = promotion_checks(report, RULES)
    assert not result["eligible"] and result["verdict"] == "not_eligible"
    assert result["reasons"] == ["improvement: auc improvement +0.0500 over momentum_sign "
                                 "(positive: the model is better), 95% interval -0.0100 to "
                                 "+0.0800: within noise: it includes 0"]


def test_a_significantly_worse_model_is_called_worse() -> None:
    # The walk-around: an interval wholly below 0 was worded "it includes 0".
    report = _report(improvement_over_best={"auc": -0.0486},
                     intervals={"improvement": {"auc": {"low": -0.0896, "high": -0.0034,
                                                        "level": 0.95}}})
    check = _check(promotion_checks(report, RULES), "improvement")
    assert check["passed"] is False and check["value"] == -0.0486
    assert check["detail"] == ("auc improvement -0.0486 over momentum_sign (positive: the "
                               "model is better), 95% interval -0.0896 to -0.0034: "
                               "significantly worse")
    better = _check(promotion_checks(_report(), RULES), "improvement")
    assert better["detail"].endswith("95% interval +0.0200 to +0.0800: significantly better")


def test_a_loss_metric_is_judged_in_its_favourable_direction() -> None:
    # QLIKE: lower is better; the evaluator records its improvement as baseline minus model,
    # so a model 0.01 below its baseline shows +0.01, with its interval the same way.
    report = _report(metric_set="risk", primary_metric="qlike", model={"qlike": 0.17},
                     best_baseline={"qlike": "ewma_vol"},
                     improvement_over_best={"qlike": 0.01},
                     intervals={"improvement": {"qlike": {"low": 0.004, "high": 0.02,
                                                          "level": 0.95}}},
                     slices={})
    check = _check(promotion_checks(report, RULES), "improvement")
    assert check["passed"] and check["value"] == pytest.approx(0.01)
    assert "+0.0040 to +0.0200: significantly better" in check["detail"]


def test_each_other_check_can_fail() -> None:
    weak_regime = _report()
    weak_regime["slices"]["regime_tag"]["bear"] = _cell(0.52, 0.55)
    assert "regime_floor: weakest regime_tag: bear, auc -0.0300 against momentum_sign" in \
        promotion_checks(weak_regime, RULES)["reasons"]
    badly_calibrated = _report(model={"auc": 0.58, "ece": 0.08})
    assert _check(promotion_checks(badly_calibrated, RULES), "calibration")["passed"] is False
    folds = {"walk_forward": {"metric": "auc",
                              "spread": {"n": 3, "std": 0.05, "min": 0.5, "max": 0.6}}}
    check = _check(promotion_checks(_report(), RULES, stability=folds), "walk_forward_dispersion")
    assert check["passed"] is False
    assert check["detail"] == "std of auc over 3 folds 0.0500 (from 0.5000 to 0.6000)"
    selection = {"deflated_sharpe_ratio": 0.6, "trials": 40, "baseline": "class_prior",
                 "deflated_sharpe_ratio_range": {"min": 0.41, "max": 0.82, "offsets": 20}}
    failed = promotion_checks(_report(), RULES, selection=selection)
    assert failed["reasons"] == ["deflated_sharpe: deflated Sharpe ratio 0.600 (mean of 20 "
                                 "start offsets, 0.410 to 0.820) of the net excess over "
                                 "class_prior, over 40 trial(s) in the experiment log"]


def test_no_excess_over_the_baseline_fails_the_sharpe_check() -> None:
    # An always-long model trades as the always-long class prior: its excess is 0 on every
    # date, so there is no Sharpe ratio to deflate, and that fails (closed), not "not run".
    selection = {"deflated_sharpe_ratio": None, "trials": 3, "baseline": "class_prior"}
    result = promotion_checks(_report(), RULES, selection=selection)
    check = _check(result, "deflated_sharpe")
    assert check["passed"] is False and result["verdict"] == "not_eligible"
    assert "trades as its baseline does" in check["detail"]
    # Without a proxy (no realised return) or without a threshold, the check is not run.
    assert _check(promotion_checks(_report(), RULES), "deflated_sharpe")["passed"] is None
    no_limit = {**RULES, "min_deflated_sharpe": None}
    assert _check(promotion_checks(_report(), no_limit, selection=selection),
                  "deflated_sharpe")["passed"] is None


def test_three_verdicts_and_the_controls_named() -> None:
    folds = {"walk_forward": {"metric": "auc",
                              "spread": {"n": 3, "std": 0.01, "min": 0.57, "max": 0.59}}}
    clean = {"placebo": {"experiment_id": "EXP_p", "metric": "auc", "improvement": 0.0,
                         "significantly_better": False}}
    bare = promotion_checks(_report(), RULES)
    assert (bare["eligible"], bare["verdict"]) == (True, "eligible_without_controls")
    assert bare["controls_not_run"] == ["walk_forward_dispersion", "placebo"]
    assert verdict_words(bare) == ("eligible, controls not run: walk_forward_dispersion, "
                                   "placebo")
    half = promotion_checks(_report(), RULES, stability=folds)
    assert half["controls_not_run"] == ["placebo"]
    full = promotion_checks(_report(), RULES, stability=folds, controls=clean)
    assert (full["verdict"], full["controls_not_run"]) == ("eligible", [])
    assert verdict_words(full) == "eligible"
    # A family without a walk-forward threshold does not owe one.
    no_wf = promotion_checks(_report(), {**RULES, "max_walk_forward_std": None},
                             controls=clean)
    assert no_wf["verdict"] == "eligible"
    # A failed check outranks missing controls.
    weak = promotion_checks(_report(model={"auc": 0.58, "ece": 0.08}), RULES)
    assert weak["verdict"] == "not_eligible" and verdict_words(weak) == "not eligible"
    # A record of an earlier version that kept only its flag shows no control run.
    assert verdict_words({"eligible": True}) == ("eligible, controls not run: "
                                                 "walk_forward_dispersion, placebo")
    assert verdict_words({"eligible": False, "reasons": ["x"]}) == "not eligible"
    # One whose placebo was not run recorded that check without a threshold: still owed.
    old = [{**c, "threshold": None} if c["name"] == "placebo" else c
           for c in half["checks"]]
    assert verdict(old)["controls_not_run"] == ["placebo"]
    assert verdict_words({}) == "no promotion checks recorded"


def test_a_recomputed_check_changes_the_verdict() -> None:
    result = promotion_checks(_report(), RULES)
    recomputed = {"name": "deflated_sharpe", "value": 0.9, "threshold": 0.95, "passed": False,
                  "detail": "now"}
    now = with_check(result, recomputed)
    assert now["verdict"] == "not_eligible" and now["reasons"] == ["deflated_sharpe: now"]
    assert result["verdict"] == "eligible_without_controls"  # the recorded one is untouched
    assert verdict(now["checks"]) == {k: now[k] for k in (
        "eligible", "verdict", "controls_not_run", "reasons")}


def test_a_placebo_with_an_edge_fails_promotion() -> None:
    controls = {"placebo": {"experiment_id": "EXP_p", "metric": "auc", "improvement": 0.04,
                            "significantly_better": True}}
    result = promotion_checks(_report(), RULES, controls=controls)
    assert not result["eligible"]
    assert "placebo: placebo EXP_p: auc improvement over its best baseline significantly " \
        "above 0" in result["reasons"][0]
    clean = copy.deepcopy(controls)
    clean["placebo"]["significantly_better"] = False
    assert promotion_checks(_report(), RULES, controls=clean)["eligible"]
