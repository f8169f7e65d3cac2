"""Pre-DRA promotion checks (spec 7.3): is a model good enough to be *considered* for promotion?

Evidence only: the checks never change a model's status (that is DRA's decision); they are
recorded with the model as a list of `{name, value, threshold, passed, detail}` and an overall
`eligible` flag with the reasons. A check whose evidence was not produced (no walk-forward run,
no Sharpe proxy for the family, no placebo) is listed with `passed: None` and does not count.

All figures are on the test split and in the primary metric's units; "favourable" turns a
lower-is-better metric's improvement (model minus baseline) around, so that > 0 is better:

* `improvement`: the favourable improvement over the best baseline exceeds `min_improvement`
  and, with `require_significant`, its bootstrap interval lies wholly above 0;
* `regime_floor`: no regime slice of adequate size (not `small_slice`) has the model behind
  that slice's best baseline by more than `regime_floor` (the weakest regime is named);
* `calibration`: the calibration error is at most `max_calibration_error` (directional);
* `walk_forward_dispersion`: the standard deviation of the primary metric over the walk-forward
  folds is at most `max_walk_forward_std`;
* `deflated_sharpe`: the deflated Sharpe ratio of the trading proxy is at least
  `min_deflated_sharpe`;
* `placebo`: the placebo's favourable improvement over its best baseline is not significantly
  above 0 (its interval is not wholly above 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ifns_train.evaluation.compare import HIGHER_IS_BETTER


def favourable(metric: str, improvement: float | None) -> float | None:
    """Model minus baseline, sign-turned so that > 0 is better whatever the metric's direction."""
    if improvement is None:
        return None
    return improvement if HIGHER_IS_BETTER[metric] else -improvement


def _check(name: str, value: float | None, threshold: float | None, passed: bool | None,
           detail: str) -> dict[str, Any]:
    return {"name": name, "value": value, "threshold": threshold, "passed": passed,
            "detail": detail}


def _not_run(name: str, threshold: float | None, why: str) -> dict[str, Any]:
    return _check(name, None, threshold, None, why)


def improvement_check(report: Mapping[str, Any], rules: Mapping[str, Any]) -> dict[str, Any]:
    primary = report["primary_metric"]
    best = report["best_baseline"].get(primary)
    if best is None:
        return _not_run("improvement", rules["min_improvement"],
                        f"no baseline has a {primary}")
    value = favourable(primary, report["improvement_over_best"].get(primary))
    interval = report.get("intervals", {}).get("improvement", {}).get(primary)
    if value is None:
        return _check("improvement", None, rules["min_improvement"], False,
                      f"the improvement of {primary} over {best} is undefined")
    passed = value > rules["min_improvement"]
    detail = f"{primary} {value:+.4f} over {best} (favourable direction)"
    if rules["require_significant"]:
        if interval is None or interval.get("low") is None:
            passed, detail = False, detail + "; no interval to judge it by"
        else:
            low, high = (favourable(primary, interval["low"]),
                         favourable(primary, interval["high"]))
            lo = min(low, high)
            passed = passed and lo > 0
            detail += (f", {interval['level']:.0%} interval {min(low, high):+.4f} to "
                       f"{max(low, high):+.4f}" + ("" if lo > 0 else ": it includes 0"))
    return _check("improvement", value, rules["min_improvement"], passed, detail)


def best_in_cell(cell: Mapping[str, Any], metric: str) -> str | None:
    """The baseline strongest on `metric` in one slice cell (None if none has it)."""
    scored = {b: m.get(metric) for b, m in cell["baselines"].items() if m.get(metric) is not None}
    if not scored:
        return None
    pick = max if HIGHER_IS_BETTER[metric] else min
    return pick(scored, key=scored.__getitem__)


def regime_check(report: Mapping[str, Any], rules: Mapping[str, Any],
                 column: str = "regime_tag") -> dict[str, Any]:
    primary = report["primary_metric"]
    floor = rules["regime_floor"]
    cells = report.get("slices", {}).get(column, {})
    worst: tuple[float, str, str] | None = None
    for value, cell in cells.items():
        best = best_in_cell(cell, primary)
        model = cell["model"].get(primary)
        if cell["small_slice"] or best is None or model is None:
            continue
        gap = favourable(primary, model - cell["baselines"][best][primary])
        if worst is None or gap < worst[0]:
            worst = (gap, value, best)
    if worst is None:
        return _not_run("regime_floor", -floor, f"no {column} slice of adequate size")
    gap, value, best = worst
    return _check("regime_floor", gap, -floor, gap >= -floor,
                  f"weakest {column}: {value}, {primary} {gap:+.4f} against {best}")


def calibration_check(report: Mapping[str, Any], rules: Mapping[str, Any]) -> dict[str, Any]:
    limit = rules["max_calibration_error"]
    ece = report["model"].get("ece")
    if limit is None or ece is None:
        return _not_run("calibration", limit, "no calibration threshold for this family"
                        if limit is None else "no calibration error for this family")
    return _check("calibration", ece, limit, ece <= limit, f"calibration error {ece:.4f}")


def walk_forward_check(stability: Mapping[str, Any], rules: Mapping[str, Any]
                       ) -> dict[str, Any]:
    limit = rules["max_walk_forward_std"]
    folds = stability.get("walk_forward")
    if limit is None or not folds:
        return _not_run("walk_forward_dispersion", limit, "no walk-forward evaluation was run"
                        if not folds else "no threshold for this family")
    std = folds["spread"]["std"]
    if std is None:
        return _check("walk_forward_dispersion", None, limit, False,
                      "fewer than two folds have the primary metric")
    return _check("walk_forward_dispersion", std, limit, std <= limit,
                  f"std of {folds['metric']} over {folds['spread']['n']} folds {std:.4f} "
                  f"(from {folds['spread']['min']:.4f} to {folds['spread']['max']:.4f})")


def sharpe_check(selection: Mapping[str, Any] | None, rules: Mapping[str, Any]
                 ) -> dict[str, Any]:
    limit = rules["min_deflated_sharpe"]
    dsr = None if selection is None else selection.get("deflated_sharpe_ratio")
    if limit is None or dsr is None:
        return _not_run("deflated_sharpe", limit, "no Sharpe proxy for this family"
                        if selection is None else "no threshold for this family"
                        if limit is None else "the deflated Sharpe ratio is undefined")
    return _check("deflated_sharpe", dsr, limit, dsr >= limit,
                  f"deflated Sharpe ratio {dsr:.3f} over {selection['trials']} trial(s) in the "
                  "experiment log")


def placebo_check(controls: Mapping[str, Any]) -> dict[str, Any]:
    placebo = controls.get("placebo")
    if not placebo:
        return _not_run("placebo", None, "no placebo was run")
    better = placebo.get("significantly_better")
    return _check("placebo", placebo.get("improvement"), 0.0, better is False,
                  f"placebo {placebo['experiment_id']}: {placebo['metric']} improvement over "
                  f"its best baseline " + (
                      "significantly above 0: a leak, or an evaluation that overstates noise"
                      if better else "not significantly above 0" if better is False
                      else "undefined"))


def promotion_checks(
    report: Mapping[str, Any],
    rules: Mapping[str, Any],
    *,
    stability: Mapping[str, Any] | None = None,
    selection: Mapping[str, Any] | None = None,
    controls: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The checks of one (test) split's report, and whether the model is eligible."""
    checks = [
        improvement_check(report, rules),
        regime_check(report, rules),
        calibration_check(report, rules),
        walk_forward_check(stability or {}, rules),
        sharpe_check(selection, rules),
        placebo_check(controls or {}),
    ]
    failed = [c for c in checks if c["passed"] is False]
    return {
        "rules": rules.get("name"),
        "checks": checks,
        "eligible": not failed,
        "reasons": [f"{c['name']}: {c['detail']}" for c in failed],
    }
