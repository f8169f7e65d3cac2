"""Evidence current at the moment it is used: the checks that depend on the experiment log.

Why: the deflated Sharpe ratio deflates a model's Sharpe ratio by the trials of its search,
and a search goes on after a model is recorded. Frozen at record time, the first trials of any
search would escape the deflation that the tenth meets, the very loophole a deflated Sharpe
ratio closes. So wherever the figure is used (`ifns-decide`, `ifns-admin models show`, the
Mirror), it is recomputed from the moments recorded with the model (`selection.offsets`) and
the trials the log holds now, by the same function as at record time
(`evaluation.selection.deflate`), and the verdict is derived again (`promotion.verdict`). The
record keeps what was recorded and when; a decision stores what it decided on.

Fail closed: a model whose selection evidence cannot be recomputed (recorded before metrics
version 3, when the deflated figure was of the model's own proxy) is not eligible until it is
re-evaluated (`ifns-evaluate model_id=...`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

from ifns_train.evaluation.promotion import sharpe_check, verdict_of, with_check
from ifns_train.evaluation.selection import deflate
from ifns_train.registry import ids, log
from ifns_train.registry.database import Registry
from ifns_train.registry.records import ModelRecord

DSR_CHECK = "deflated_sharpe"
TrialCache = dict[tuple[str, str, str], dict[str, Any]]
# A validated record, or its JSON values (as whole-registry readers hold them).
Record = Union[ModelRecord, Mapping[str, Any]]


def _field(record: Record, name: str) -> Any:
    return record[name] if isinstance(record, Mapping) else getattr(record, name)


def _check_of(promotion: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((c for c in promotion.get("checks") or [] if c.get("name") == name), None)


def _summary(promotion: dict[str, Any] | None, selection: dict[str, Any] | None
             ) -> dict[str, Any]:
    """The figures a decision rests on, as a reader shows them side by side."""
    selection = selection or {}
    fields = verdict_of(promotion) if promotion is not None else {}
    return {
        "deflated_sharpe_ratio": selection.get("deflated_sharpe_ratio"),
        "trials": selection.get("trials"),
        "verdict": fields.get("verdict"),
        "controls_not_run": fields.get("controls_not_run") or [],
    }


def trials_now(reg: Registry, record: Record, cache: TrialCache | None = None
               ) -> dict[str, Any]:
    """The log's trials of the model's family, label and training dataset, now (one query
    per group when a `cache` is shared, as by the Mirror's build)."""
    labels = _field(record, "labels_used")
    key = (_field(record, "model_family"), labels[0] if labels else "",
           _field(record, "train_dataset_id"))
    if cache is not None and key in cache:
        return cache[key]
    found = log.trials(reg, *key)
    if cache is not None:
        cache[key] = found
    return found


def evidence_now(reg: Registry, record: Record, cache: TrialCache | None = None
                 ) -> dict[str, Any]:
    """The model's promotion checks as they stand now, beside those recorded.

    Returns `as_of`, `recorded_ts`, `recorded` and `current` (each: deflated Sharpe ratio,
    trials, verdict, controls not run), `selection` and `promotion` as they stand now,
    `changed` (any of those figures differs: what readers show both for), and `stale` (why
    the evidence cannot be made current, or None).
    """
    metrics = _field(record, "metrics")
    promotion = metrics.get("promotion")
    selection = metrics.get("selection")
    out: dict[str, Any] = {"as_of": ids.iso(ids.utc_now()),
                           "recorded_ts": _field(record, "created_ts"),
                           "recorded": _summary(promotion, selection), "stale": None}
    if promotion is None:
        return {**out, "current": out["recorded"], "selection": selection, "promotion": None,
                "changed": False}
    check = _check_of(promotion, DSR_CHECK)
    current_selection, current = selection, {**promotion, **verdict_of(promotion)}
    if check is not None and check.get("threshold") is not None and selection is not None:
        if "offsets" not in selection:
            out["stale"] = (f"its deflated Sharpe ratio was recorded under metrics version "
                            f"{_field(record, 'metrics_version')}, of its own proxy, and "
                            f"cannot be deflated by the trials now in the log; re-evaluate "
                            f"it (ifns-evaluate model_id={_field(record, 'model_id')})")
        else:
            trials = trials_now(reg, record, cache)
            current_selection = {**selection, **deflate(
                selection["offsets"], trials=max(trials["count"], int(selection["trials"])),
                trial_sharpes=trials["sharpes"],
                periods_per_year=selection["periods_per_year"])}
            current = with_check(promotion, sharpe_check(
                current_selection, {"min_deflated_sharpe": check["threshold"]}))
    summary = _summary(current, current_selection)
    return {**out, "current": summary, "selection": current_selection, "promotion": current,
            "changed": summary != out["recorded"]}
