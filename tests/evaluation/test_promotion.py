"""The pre-DRA promotion checks on hand-made reports: each check can fail, and says why."""

from __future__ import annotations

import copy

import pytest

from ifns_train.evaluation.promotion import favourable, promotion_checks

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
    assert not result["eligible"]
    assert result["reasons"] == ["improvement: auc +0.0500 over momentum_sign (favourable "
                                 "direction), 95% interval -0.0100 to +0.0800: it includes 0"]


def test_a_loss_metric_is_judged_in_its_favourable_direction() -> None:
    # QLIKE: lower is better, so an improvement (model - baseline) of -0.01 is a gain.
    assert favourable("qlike", -0.01) == 0.01
    report = _report(metric_set="risk", primary_metric="qlike", model={"qlike": 0.17},
                     best_baseline={"qlike": "ewma_vol"},
                     improvement_over_best={"qlike": -0.01},
                     intervals={"improvement": {"qlike": {"low": -0.02, "high": -0.004,
                                                          "level": 0.95}}},
                     slices={})
    check = _check(promotion_checks(report, RULES), "improvement")
    assert check["passed"] and check["value"] == pytest.approx(0.01)
    assert "+0.0040 to +0.0200" in check["detail"]


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
    selection = {"deflated_sharpe_ratio": 0.6, "trials": 40}
    failed = promotion_checks(_report(), RULES, selection=selection)
    assert failed["reasons"] == ["deflated_sharpe: deflated Sharpe ratio 0.600 over 40 trial(s) "
                                 "in the experiment log"]


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
