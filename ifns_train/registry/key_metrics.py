"""The sort keys of a model record (`models.key_metrics`): its key figures as flat names, derived
from the record, so the registry can sort and filter without reading every document. Used by
the publisher, the schema's migrations and the importer alike."""

from __future__ import annotations

import math
from typing import Any

from ifns_train.evaluation.compare import FAVOURABLE_SINCE, as_favourable

SPLITS = ("val", "test")


def flat_metrics(metrics: dict[str, Any], metrics_version: int = FAVOURABLE_SINCE
                 ) -> dict[str, float]:
    """Key figures as flat names to sort and filter by: `test.auc`, `test.improvement.auc`
    (positive: the model is better; an earlier version's turned, `compare.as_favourable`),
    `test.primary`, `sharpe`, `dsr`, `eligible` (as recorded)."""
    out: dict[str, float] = {}

    def put(name: str, value: Any) -> None:
        if isinstance(value, bool):
            value = float(value)
        if isinstance(value, (int, float)) and math.isfinite(value):
            out[name] = float(value)

    for split in SPLITS:
        report = metrics.get(split) or {}
        for key, value in (report.get("model") or {}).items():
            put(f"{split}.{key}", value)
        for key, value in (report.get("improvement") or {}).items():
            put(f"{split}.improvement.{key}",
                as_favourable(key, value, None, None, metrics_version)["improvement"])
        primary = report.get("primary_metric")
        if primary:
            put(f"{split}.primary", (report.get("model") or {}).get(primary))
    selection = metrics.get("selection") or {}
    put("sharpe", selection.get("sharpe_annualised"))
    put("dsr", selection.get("deflated_sharpe_ratio"))
    if "promotion" in metrics:
        put("eligible", bool(metrics["promotion"].get("eligible")))
    return out
