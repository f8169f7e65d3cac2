"""Evidence current at the moment it is used: the checks that depend on the experiment log.

Why: the deflated Sharpe ratio deflates a model's Sharpe ratio by the trials of its search,
and a search goes on after a model is recorded. Frozen at record time, the first trials of any
search would escape the deflation that the tenth meets, the very loophole a deflated Sharpe
ratio closes. So wherever the figure is used (`ifns-decide`, `ifns-admin models show`, the
Mirror), it is recomputed from the moments recorded with the model (`selection.offsets`) and
the trials the log holds now, by the same function as at record time
(`evaluation.selection.deflate`), and the verdict is derived again (`promotion.verdict`). The
record keeps what was recorded and when; a decision stores what it decided on.

The probability of backtest overfitting (the `pbo` check) likewise: a run cannot know, when it
is recorded, how its search ends, so for a model from a search (its experiment has a sweep
folder) the PBO is computed at each use over the search's trials the log holds now
(`registry.searches.sweep_pbo`), added to the selection as `selection.pbo`, and the check
judged again. A model from no search keeps its `pbo` check not run (and owes nothing).

Fail closed: a model whose selection evidence cannot be recomputed (recorded before metrics
version 3, when the deflated figure was of the model's own proxy; or a search trial recorded
before metrics version 4, with no `pbo` check) is not eligible until it is re-evaluated
(`ifns-evaluate model_id=...`); a search whose PBO cannot be computed (a trial's table missing
or changed) fails the check, naming why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

from ifns_train.core.errors import RegistryError
from ifns_train.evaluation.promotion import (
    PBO_CHECK,
    pbo_check,
    sharpe_check,
    verdict_of,
    with_check,
)
from ifns_train.evaluation.selection import deflate
from ifns_train.registry import ids, log, searches
from ifns_train.registry.database import Registry
from ifns_train.registry.records import ModelRecord

DSR_CHECK = "deflated_sharpe"
# The log's trials by (family, label, dataset), and what `searches.Cache` keeps.
TrialCache = searches.Cache
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
    pbo = _check_of(promotion, PBO_CHECK) if promotion is not None else None
    return {
        "deflated_sharpe_ratio": selection.get("deflated_sharpe_ratio"),
        "trials": selection.get("trials"),
        "pbo": (pbo or {}).get("value"),
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
    trials, PBO, verdict, controls not run), `selection` and `promotion` as they stand now,
    `changed` (any of those figures differs: what readers show both for), `stale` (why
    the evidence cannot be made current, or None) and `pbo` (the search's PBO figures now,
    `searches.sweep_pbo`; None for a model from no search or one whose PBO failed).
    """
    metrics = _field(record, "metrics")
    promotion = metrics.get("promotion")
    selection = metrics.get("selection")
    out: dict[str, Any] = {"as_of": ids.iso(ids.utc_now()),
                           "recorded_ts": _field(record, "created_ts"),
                           "recorded": _summary(promotion, selection), "stale": None}
    if promotion is None:
        return {**out, "current": out["recorded"], "selection": selection, "promotion": None,
                "changed": False, "pbo": None}
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
    sweep = searches.sweep_of(reg, _field(record, "experiment_id"), cache)
    out["pbo"] = None
    if sweep:
        current, current_selection, out["pbo"], stale = _pbo_now(
            reg, record, sweep, current, current_selection, cache)
        out["stale"] = "; ".join(s for s in (out["stale"], stale) if s) or None
    summary = _summary(current, current_selection)
    return {**out, "current": summary, "selection": current_selection, "promotion": current,
            "changed": summary != out["recorded"]}


def _pbo_now(reg: Registry, record: Record, sweep: str, promotion: dict[str, Any],
             selection: dict[str, Any] | None, cache: TrialCache | None
             ) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None,
                        str | None]:
    """A search trial's `pbo` check, its selection with `pbo`, the PBO figures, and why the
    evidence is stale (None if it is not), as they stand now."""
    check = _check_of(promotion, PBO_CHECK)
    if check is None:
        return promotion, selection, None, (
            f"it was recorded under metrics version {_field(record, 'metrics_version')}, "
            f"before the PBO of its search was checked; re-evaluate it (ifns-evaluate "
            f"model_id={_field(record, 'model_id')})")
    rules = {"max_pbo": check.get("threshold"), "pbo_blocks": check.get("blocks")}
    if rules["max_pbo"] is None:
        return promotion, selection, None, None
    try:
        if rules["pbo_blocks"] is None:
            raise RegistryError("no number of blocks recorded with its pbo check")
        figures = searches.sweep_pbo(reg, sweep, _field(record, "model_family"),
                                     int(rules["pbo_blocks"]), cache)
    except RegistryError as exc:
        failed = {**pbo_check(None, rules), "passed": False,
                  "detail": f"the PBO of its search ({sweep}) cannot be computed: {exc}"}
        return with_check(promotion, failed), selection, None, None
    if figures is None:  # its sweep holds no other trial of its family: no search
        return promotion, selection, None, None
    if selection is not None:
        selection = {**selection, "pbo": figures}
    return with_check(promotion, pbo_check(figures, rules)), selection, figures, None
