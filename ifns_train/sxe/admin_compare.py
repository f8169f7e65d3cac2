"""`ifns-admin models compare`: models side by side, and for two the challenger (the second)
against the champion (the first) on the rows both scored (`registry.champion`)."""

from __future__ import annotations

import argparse
from typing import Any

from ifns_train.evaluation.compare import as_favourable
from ifns_train.evaluation.promotion import verdict_words
from ifns_train.registry.key_metrics import flat_metrics
from ifns_train.sxe import render as r
from ifns_train.sxe.challenger import paired_doc, render_paired
from ifns_train.sxe.common import UsageError, emit_json, open_registry, wants_json
from ifns_train.sxe.figures import SPLITS, dig, mapping, primary_of


def cmd_compare(args: argparse.Namespace) -> int:
    from ifns_train.registry import audit, current, model_registry

    ids = list(dict.fromkeys(args.model_ids))
    if len(ids) < 2:
        raise UsageError("models compare: give at least two different model ids")
    reg = open_registry(args)
    try:
        records = [model_registry.get(reg, mid) for mid in ids]
        findings = [audit.audit_model(reg, rec) for rec in records]
        cache: current.TrialCache = {}
        now = [current.evidence_now(reg, rec, cache) for rec in records]
        paired = paired_doc(reg, *records) if len(records) == 2 else None
    finally:
        reg.close()
    flat = [flat_metrics(rec.metrics, rec.metrics_version) for rec in records]
    rows: list[tuple[str, list[Any]]] = [
        ("family", [rec.model_family for rec in records]),
        ("version", [rec.model_version for rec in records]),
        ("status", [rec.status for rec in records]),
        ("experiment", [rec.experiment_id for rec in records]),
        ("created", [rec.created_ts for rec in records]),
        ("datasets", [", ".join(dict.fromkeys(
            getattr(rec, f"{s}_dataset_id") for s in ("train", "val", "test")))
            for rec in records]),
        ("test window", [" to ".join(rec.dataset_windows.get("test") or []) for rec in records]),
        ("features", [", ".join(rec.features_used) for rec in records]),
        ("labels", [", ".join(rec.labels_used) for rec in records]),
        ("primary metric", [primary_of(rec.metrics) for rec in records]),
        ("test best baseline", [dig(rec.metrics, "test", "best_baseline",
                                    primary_of(rec.metrics)) for rec in records]),
    ]
    names = sorted({k for f in flat for k in f}, key=_figure_order)
    rows += [(name, [f.get(name) for f in flat]) for name in names]
    rows.append(("test improvement interval", [_interval_of(rec) for rec in records]))
    rows.append(("compliant", [f.compliant for f in findings]))
    rows.append(("verdict now", [verdict_words(n["promotion"] or {}) for n in now]))
    rows.append(("deflated Sharpe ratio now", [n["current"]["deflated_sharpe_ratio"]
                                               for n in now]))
    rows.append(("promotion reasons", ["; ".join((n["promotion"] or {}).get("reasons") or [])
                                       for n in now]))
    if wants_json(args):
        emit_json({"models": ids, "figures": [
            {"figure": name, "values": dict(zip(ids, values, strict=True))}
            for name, values in rows], "paired": paired})
        return 0
    out = r.console()
    body = [[r.esc(name), *[_cell(v, name) for v in values]] for name, values in rows]
    out.print(r.table("Models compared", ["figure", *[r.esc(i) for i in ids]], body))
    if paired is not None:
        render_paired(out, paired)
    return 0


def _figure_order(name: str) -> tuple[int, int, str]:
    """val figures, then test (each: primary, the metrics, the improvements), then the rest."""
    split, _, rest = name.partition(".")
    if split not in SPLITS:
        return (len(SPLITS), 0, name)
    return (SPLITS.index(split), 0 if rest == "primary" else
            2 if rest.startswith("improvement.") else 1, rest)


def _interval_of(record: Any) -> list[float] | None:
    """[low, high] of the test improvement of the primary metric, if computed (positive:
    the model is better)."""
    metrics, primary = record.metrics, primary_of(record.metrics)
    iv = mapping(dig(metrics, "test", "intervals", primary))
    shown = as_favourable(primary, None, iv.get("low"), iv.get("high"), record.metrics_version)
    low, high = shown["low"], shown["high"]
    return [low, high] if isinstance(low, (int, float)) and isinstance(high, (int, float)) \
        else None


def _cell(value: Any, name: str) -> str:
    if isinstance(value, list):
        return r.interval(*value)
    if name == "created":
        return r.ts(value)
    if isinstance(value, bool) or name == "eligible":
        return r.yes_no(None if value is None else bool(value))
    if isinstance(value, float):
        return r.num(value, signed=".improvement." in name)
    return r.esc(value if value not in ("", None) else "-")


