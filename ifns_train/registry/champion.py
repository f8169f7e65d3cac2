"""Champion against challenger at a promotion: is the model about to take a role at least as
good as the model that holds it, on the rows both scored?

Why: the promotion checks compare a model with naive baselines; they say nothing about the
promoted holder it would replace, whose test window, symbols or dataset may differ. Before a
model is promoted to a role that a model of its family already holds (`holder_ids`: the role as
`lifecycle.decide` picks it), both models' test prediction tables are read from their registry
folders (hash-checked), joined on (date, symbol) and compared by `evaluation.paired` (the
paired difference of the primary metric with a block bootstrap interval over dates, the
Diebold-Mariano statistic for a loss). The rule is read at the decision, so it is the one in
force when it is used, and recorded with it: `challenger: {rule, margin}` of
`conf/promotion/<rules>.yaml`, `<rules>` the promotion rules the challenger was evaluated under
(`metrics.promotion.rules`), the user's `conf/` first, then the package's
(`ifns_train/conf`). `superior`: the interval's low end lies above `margin`; `non_inferior`:
above -`margin` (the primary metric's units, favourable: > 0 the challenger is better).

Fail closed: a holder that cannot be compared (no shared rows, a table missing or changed, a
label that differs, an unreadable rule) refuses the promotion with the reason; a role with no
holder needs no comparison.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from sqlalchemy import Connection, and_, select
from yaml import YAMLError

from ifns_train.config import CONF_DIR
from ifns_train.config.checks import RANGES
from ifns_train.config.schema import ChallengerConfig, ChallengerRule
from ifns_train.core.errors import ConfigError, IfnsError
from ifns_train.core.root import user_conf_dir
from ifns_train.evaluation.paired import NotComparable, paired_comparison
from ifns_train.registry.database import Registry
from ifns_train.registry.decision_table import read_decision_table
from ifns_train.registry.model_registry import get as get_model
from ifns_train.registry.records import ModelRecord
from ifns_train.registry.schema import model_inputs, models

MARGIN_KEY = "promotion.challenger.margin"  # its bound in `config.checks.RANGES`
RULES_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # a file name under conf/promotion/


def holder_ids(conn: Connection, model: ModelRecord, role: str) -> list[str]:
    """The promoted models of `model`'s family holding `role` (other than `model`)."""
    found: Sequence[str] = conn.execute(select(models.c.model_id).where(and_(
        models.c.model_family == model.model_family, models.c.status == "promoted",
        models.c.model_id != model.model_id,
        models.c.model_id.in_(select(model_inputs.c.model_id).where(and_(
            model_inputs.c.kind == "role", model_inputs.c.name == role))))
    ).order_by(models.c.model_id)).scalars().all()
    return list(found)


def challenger_rule(rules: str | None) -> dict[str, Any]:
    """`{"rule", "margin", "source"}`: the `challenger` section of the promotion rules file
    `rules` (the user's `conf/promotion/` first), validated against `ChallengerConfig`."""
    if not isinstance(rules, str) or not RULES_NAME.fullmatch(rules):
        raise ConfigError(f"no promotion rules name recorded to read a challenger rule from "
                          f"(got {rules!r})")
    folders = (user_conf_dir() / "promotion", CONF_DIR / "promotion")
    path = next((f / f"{rules}.yaml" for f in folders if (f / f"{rules}.yaml").is_file()), None)
    if path is None:
        raise ConfigError(f"no promotion rules {rules}.yaml in {folders[0]} or {folders[1]}")
    try:
        raw = OmegaConf.load(path)
        section = raw.get("challenger") if isinstance(raw, DictConfig) else None
        if section is None:
            raise ValueError("no challenger section (rule, margin)")
        node = OmegaConf.merge(OmegaConf.structured(ChallengerConfig), section)
        missing = sorted(OmegaConf.missing_keys(node))
        if missing:
            raise ValueError(f"challenger.{', challenger.'.join(missing)} not set")
        rule, margin = ChallengerRule(node.rule).value, float(node.margin)
    except (OSError, ValueError, YAMLError, OmegaConfBaseException) as exc:
        raise ConfigError(f"{path}: {str(exc).splitlines()[0] if str(exc) else exc!r}") \
            from None
    if not RANGES[MARGIN_KEY].holds(margin):
        raise ConfigError(f"{path}: challenger.margin must be {RANGES[MARGIN_KEY].describe()}, "
                          f"got {margin!r}")
    return {"rule": rule, "margin": margin, "source": str(path)}


def compare(reg: Registry, champion: ModelRecord, challenger: ModelRecord) -> dict[str, Any]:
    """`evaluation.paired.paired_comparison` of `challenger` against `champion` on the rows
    both scored, with the challenger's recorded bootstrap settings (the longer horizon of the
    two, so blocks and lags cover either's label overlap). Raises `NotComparable` or
    `RegistryError` with the reason when there is nothing to compare."""
    (table_a, a), (table_b, b) = (read_decision_table(reg, champion),
                                  read_decision_table(reg, challenger))
    for key in ("metric_set", "metric"):
        if a[key] != b[key]:
            raise NotComparable(f"{champion.model_id} is scored by {key} {a[key]!r}, "
                                f"{challenger.model_id} by {b[key]!r}: not comparable")
    names = (champion.model_id, challenger.model_id)
    try:
        result = paired_comparison(table_a, table_b, metric_set=b["metric_set"],
                                   metric=b["metric"], horizon=max(a["horizon"], b["horizon"]),
                                   bootstrap=b["bootstrap"], names=names)
    except NotComparable as exc:
        raise NotComparable(f"{exc} (test datasets: {champion.model_id} "
                            f"{champion.test_dataset_id}, {challenger.model_id} "
                            f"{challenger.test_dataset_id})") from None
    return {"champion_id": champion.model_id, "challenger_id": challenger.model_id,
            "horizon": max(a["horizon"], b["horizon"]), **result}


def compare_ids(reg: Registry, champion_id: str, challenger_id: str) -> dict[str, Any]:
    """`compare` of two models named by id (`ifns-admin models compare A B`)."""
    return compare(reg, get_model(reg, champion_id), get_model(reg, challenger_id))


def rule_check(comparison: dict[str, Any], rule: str, margin: float) -> dict[str, Any]:
    """Whether the comparison passes `rule` with `margin`, and the sentence that says so."""
    threshold = margin if rule == ChallengerRule.superior.value else -margin
    interval = comparison.get("interval") or {}
    low, high = interval.get("low"), interval.get("high")
    head = (f"{comparison['metric']} improvement over holder {comparison['champion_id']} "
            f"{_signed(comparison.get('difference'))}")
    if low is None or high is None:
        return {"threshold": threshold, "passed": False,
                "detail": f"{head}: no interval to judge it by (too few dates)"}
    passed = bool(low > threshold)
    return {"threshold": threshold, "passed": passed,
            "detail": f"{head}, {interval.get('level', 0.95):.0%} interval {low:+.4f} to "
                      f"{high:+.4f}, {'above' if passed else 'below'} the {rule} margin "
                      f"{threshold:+.4f}"}


def _signed(value: Any) -> str:
    return f"{value:+.4f}" if isinstance(value, (int, float)) else "undefined"


def challenge(reg: Registry, model: ModelRecord, role: str
              ) -> tuple[list[str], dict[str, Any] | None]:
    """(reasons to refuse, the comparison document) for promoting `model` to `role`; (no
    reasons, None) when no model holds the role.

    The document: `holders` (every promoted holder compared, normally one), `holder`, `role`,
    `rule`, `margin`, `threshold`, `source` (the rules file), the comparison of
    `evaluation.paired`, `passed` and `detail`; with a holder that could not be compared,
    `error` instead of the figures. With several holders each is compared and the document
    is the binding one (a failure, else the lowest interval).
    """
    with reg.read() as conn:
        holders = holder_ids(conn, model, role)
    if not holders:
        return [], None
    rules = (model.metrics.get("promotion") or {}).get("rules")
    try:
        found = challenger_rule(rules)
    except ConfigError as exc:
        return [f"challenger: {exc}"], {"holders": holders, "holder": holders[0], "role": role,
                                         "passed": False, "error": str(exc)}
    base = {"holders": holders, "role": role, **found}
    docs = []
    for holder in holders:
        try:
            comparison = compare(reg, get_model(reg, holder), model)
        except (NotComparable, IfnsError) as exc:
            docs.append({**base, "holder": holder, "passed": False, "threshold": None,
                         "error": f"cannot compare with holder {holder}: {exc}"})
            continue
        docs.append({**base, "holder": holder, **comparison,
                     **rule_check(comparison, found["rule"], found["margin"])})
    reasons = [f"challenger: {d.get('error') or d['detail']}" for d in docs if not d["passed"]]
    binding = min(docs, key=lambda d: (d["passed"],
                                       (d.get("interval") or {}).get("low") or 0.0))
    return reasons, binding

