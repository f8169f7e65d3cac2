"""Pre-DRA promotion checks (spec 7.3): is a model good enough to be *considered* for promotion?

Evidence only: the checks never change a model's status (that is DRA's decision); they are
recorded with the model as a list of `{name, value, threshold, passed, detail}` and a verdict
(`verdict`). A check whose evidence was not produced is listed with `passed: None`.

All figures are on the test split and in the primary metric's units, improvements in the one
favourable convention of `compare` (> 0 is better for the model):

* `improvement`: the improvement over the best baseline exceeds `min_improvement` and, with
  `require_significant`, its bootstrap interval lies wholly above 0;
* `regime_floor`: no regime slice of adequate size (not `small_slice`) has the model behind
  that slice's best baseline by more than `regime_floor` (the weakest regime is named);
* `calibration`: the calibration error is at most `max_calibration_error` (directional);
* `walk_forward_dispersion` (a control): the standard deviation of the primary metric over the
  walk-forward folds is at most `max_walk_forward_std`;
* `deflated_sharpe`: the deflated Sharpe ratio of what the model's trading proxy adds over its
  best baseline's (`selection`) is at least `min_deflated_sharpe`. Where a proxy exists but
  that ratio does not (the excess is constant: the model trades as its baseline does), the
  check fails: there is no skill to deflate;
* `pbo`: the probability of backtest overfitting of the search the model was selected from
  (`pbo.cscv` over its trials' per-date test figures) is at most `max_pbo`. A run does not
  know its search's outcome when it is recorded, so the check is recorded not run, with its
  threshold and blocks, and computed at each use from the search's trials then in the log
  (`registry.current`); a model from no search is not checked (and owes nothing);
* `placebo` (a control): the placebo's improvement over its best baseline is not
  significantly above 0.

**Verdict** (`VERDICTS`): `eligible` when no check failed and every control was run;
`eligible_without_controls` when no check failed but a control (`CONTROL_CHECKS`) was not run
(named in `controls_not_run`): enough for a canary, not for promotion; `not_eligible` when a
check failed. `eligible` stays a plain flag (no check failed) for sorting and old readers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ifns_train.evaluation.compare import HIGHER_IS_BETTER, evidence_of, favourable

DECISION_SPLIT = "test"  # the split whose evidence the promotion checks and decisions read
CONTROL_CHECKS = ("walk_forward_dispersion", "placebo")
VERDICTS = ("eligible", "eligible_without_controls", "not_eligible")
# How to run each control, for a refusal that says what to do.
CONTROL_REMEDIES = {
    "walk_forward_dispersion": "a walk-forward evaluation (experiment=walk_forward or "
                               "evaluation.walk_forward.folds=N)",
    "placebo": "a placebo (evaluation.placebo=true)",
}
EVIDENCE_WORDS = {"better": "significantly better", "worse": "significantly worse",
                  "within noise": "within noise: it includes 0"}


def _check(name: str, value: float | None, threshold: float | None, passed: bool | None,
           detail: str) -> dict[str, Any]:
    return {"name": name, "value": value, "threshold": threshold, "passed": passed,
            "detail": detail}


def _not_run(name: str, threshold: float | None, why: str) -> dict[str, Any]:
    return _check(name, None, threshold, None, why)


def interval_words(interval: Mapping[str, Any] | None) -> str:
    """', 95% interval -0.0896 to -0.0034: significantly worse': an improvement's interval and
    what it says, from the interval's own fields (the one wording of an improvement)."""
    if not interval or interval.get("low") is None or interval.get("high") is None:
        return "; no interval to judge it by"
    low, high = interval["low"], interval["high"]
    word = evidence_of(low, high)
    assert word is not None
    return (f", {interval.get('level') or 0.95:.0%} interval {low:+.4f} to {high:+.4f}: "
            f"{EVIDENCE_WORDS[word]}")


def improvement_check(report: Mapping[str, Any], rules: Mapping[str, Any]) -> dict[str, Any]:
    primary = report["primary_metric"]
    best = report["best_baseline"].get(primary)
    if best is None:
        return _not_run("improvement", rules["min_improvement"],
                        f"no baseline has a {primary}")
    value = report["improvement_over_best"].get(primary)
    interval = report.get("intervals", {}).get("improvement", {}).get(primary)
    if value is None:
        return _check("improvement", None, rules["min_improvement"], False,
                      f"the improvement of {primary} over {best} is undefined")
    passed = value > rules["min_improvement"]
    detail = (f"{primary} improvement {value:+.4f} over {best} (positive: the model is "
              f"better)")
    if rules["require_significant"]:
        low = (interval or {}).get("low")
        passed = passed and low is not None and low > 0
        detail += interval_words(interval)
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
        assert gap is not None  # a difference of two present values
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
    if limit is None:
        return _not_run("deflated_sharpe", limit, "no threshold for this family")
    if selection is None:
        return _not_run("deflated_sharpe", limit, "no trading proxy for this family or data "
                                                  "(no realised return)")
    dsr = selection.get("deflated_sharpe_ratio")
    baseline = selection.get("baseline")
    trials = f"over {selection['trials']} trial(s) in the experiment log"
    if dsr is None:
        return _check("deflated_sharpe", None, limit, False,
                      f"no deflated Sharpe ratio: the net excess of the model's trades over "
                      f"{baseline}'s is constant on every offset (the model trades as its "
                      f"baseline does: no skill to deflate), {trials}")
    spread = selection.get("deflated_sharpe_ratio_range") or {}
    across = (f" (mean of {spread['offsets']} start offsets, {spread['min']:.3f} to "
              f"{spread['max']:.3f})" if spread.get("offsets") else "")
    return _check("deflated_sharpe", dsr, limit, dsr >= limit,
                  f"deflated Sharpe ratio {dsr:.3f}{across} of the net excess over {baseline}, "
                  f"{trials}")


PBO_CHECK = "pbo"
PBO_AT_USE = "computed at each use from the search's trials"


def pbo_check(pbo: Mapping[str, Any] | None, rules: Mapping[str, Any],
              why_not: str = PBO_AT_USE) -> dict[str, Any]:
    """The `pbo` check of a search's PBO figures (`pbo.cscv`), or not run (`why_not`) when
    there are none. The threshold and blocks come from the rules; a record evaluated before
    they existed has neither (not checked)."""
    limit = rules.get("max_pbo")
    check = {**_not_run(PBO_CHECK, limit, why_not), "blocks": rules.get("pbo_blocks")}
    if limit is None:
        return {**check, "detail": "no threshold for this family"}
    if pbo is None:
        return check
    value = pbo["pbo"]
    return {**check, "value": value, "passed": value <= limit,
            "detail": f"PBO {value:.3f} over {pbo['trials']} trials of the search "
                      f"({pbo['combinations']} halvings of {pbo['dates']} test dates in "
                      f"{pbo['blocks']} blocks)"}


def placebo_check(controls: Mapping[str, Any]) -> dict[str, Any]:
    placebo = controls.get("placebo")
    if not placebo:
        return _not_run("placebo", 0.0, "no placebo was run")
    better = placebo.get("significantly_better")
    return _check("placebo", placebo.get("improvement"), 0.0, better is False,
                  f"placebo {placebo['experiment_id']}: {placebo['metric']} improvement over "
                  f"its best baseline " + (
                      "significantly above 0: a leak, or an evaluation that overstates noise"
                      if better else "not significantly above 0" if better is False
                      else "undefined"))


def _owed(check: Mapping[str, Any]) -> bool:
    """A control not run that the model owes: a placebo always; a walk-forward where the
    family sets a dispersion threshold (a family without one owes none)."""
    return check["name"] in CONTROL_CHECKS and check["passed"] is None and (
        check["name"] == "placebo" or check["threshold"] is not None)


def verdict(checks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The verdict of a list of checks (see the module docstring): what the record, Admin,
    the Mirror and `ifns-decide` all read, computed the same way at record time and when a
    check is recomputed at a decision."""
    failed = [c for c in checks if c["passed"] is False]
    missing = [c["name"] for c in checks if _owed(c)]
    return {
        "eligible": not failed,
        "verdict": "not_eligible" if failed else
                   "eligible_without_controls" if missing else "eligible",
        "controls_not_run": missing,
        "reasons": [f"{c['name']}: {c['detail']}" for c in failed],
    }


def verdict_of(promotion: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict fields of a recorded `promotion`: as recorded, or derived for a record of an
    earlier metrics version (from its checks; a record that kept only its flag ran no control
    that can be shown, so it is at best eligible without controls)."""
    if "verdict" in promotion:
        return {k: promotion.get(k) for k in ("eligible", "verdict", "controls_not_run",
                                               "reasons")}
    if promotion.get("checks"):
        return verdict(promotion["checks"])
    eligible = bool(promotion.get("eligible"))
    return {"eligible": eligible,
            "verdict": "eligible_without_controls" if eligible else "not_eligible",
            "controls_not_run": list(CONTROL_CHECKS) if eligible else [],
            "reasons": list(promotion.get("reasons") or [])}


def verdict_words(promotion: Mapping[str, Any]) -> str:
    """'eligible', 'eligible, controls not run: placebo', 'not eligible' (`verdict_of`)."""
    if not promotion:
        return "no promotion checks recorded"
    fields = verdict_of(promotion)
    if fields["verdict"] == "eligible_without_controls":
        return "eligible, controls not run: " + ", ".join(fields["controls_not_run"] or [])
    return {"eligible": "eligible", "not_eligible": "not eligible"}[fields["verdict"]]


def promotion_checks(
    report: Mapping[str, Any],
    rules: Mapping[str, Any],
    *,
    stability: Mapping[str, Any] | None = None,
    selection: Mapping[str, Any] | None = None,
    controls: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The checks of one (test) split's report, and the verdict."""
    checks = [
        improvement_check(report, rules),
        regime_check(report, rules),
        calibration_check(report, rules),
        walk_forward_check(stability or {}, rules),
        sharpe_check(selection, rules),
        pbo_check(None, rules),
        placebo_check(controls or {}),
    ]
    return {"rules": rules.get("name"), "checks": checks, **verdict(checks)}


def with_check(promotion: Mapping[str, Any], check: Mapping[str, Any]) -> dict[str, Any]:
    """`promotion` with one check replaced by a recomputed one, and its verdict again."""
    checks = [dict(check) if c["name"] == check["name"] else c for c in promotion["checks"]]
    return {**promotion, "checks": checks, **verdict(checks)}
