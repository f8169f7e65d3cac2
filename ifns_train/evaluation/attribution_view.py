"""Reading a model's feature attribution (the `attribution` block of its metrics.json), the
one reading that the picture (`run.attribution_curve`), the Mirror's model page and
`ifns-admin models list --depends-on` / `models show` share, so a feature family "carries" a
model by the same rule wherever it is asked.

Pure: the block as recorded in, JSON-ready rows out. A drop is the fall of the primary metric
when a feature (family) is permuted across symbols within dates, in the metric's favourable
direction (> 0: the model leans on it), with a bootstrap interval [low, high] and the
evidence word of that interval (better: the model significantly leans on it; worse:
permuting it significantly helps). A model recorded before `ATTRIBUTION_SINCE` has no block:
"not measured", never zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# The first metrics version whose metrics.json may carry `attribution`.
ATTRIBUTION_SINCE = 5
# `--depends-on`'s default threshold: a family carries a model when the low end of its drop's
# interval is above it, so 0 means "significantly leaned on".
DEPENDS_ON_MIN_DROP = 0.0
# Rows drawn in the picture and shown on the Mirror; `models show` shows fewer.
TOP_FEATURES = 20
SHOW_FEATURES = 5
# An interval's evidence word read as what it says about the model's inputs.
READING = {"better": "leans on it", "within noise": "within noise",
           "worse": "permuting it helps"}


def _num(value: Any) -> float | None:
    """A plain finite float, else None (the JSON stays strict)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def attribution_of(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """The block of a metrics.json document, or None where it holds none (not measured)."""
    block = doc.get("attribution")
    return block if isinstance(block, dict) else None


def not_measured_words(metrics_version: Any) -> str:
    """Why a model has no attribution, in the words every reader shows."""
    if isinstance(metrics_version, int) and metrics_version < ATTRIBUTION_SINCE:
        return f"not measured (recorded before metrics version {ATTRIBUTION_SINCE})"
    return "not measured (attribution was off for this run, or its metrics.json lacks it)"


def _row(name: str, entry: Any, gain: float | None) -> dict[str, Any]:
    entry = _mapping(entry)
    evidence = entry.get("evidence")
    return {"name": name, "drop": _num(entry.get("drop")), "low": _num(entry.get("low")),
            "high": _num(entry.get("high")),
            "evidence": evidence if evidence in READING else None,
            "reading": READING.get(str(evidence), "no interval"), "gain": gain}


def _by_drop(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Largest drop first; a row without a drop last; ties by name, so the order is stable."""
    return sorted(rows, key=lambda r: (r["drop"] is None, -(r["drop"] or 0.0), r["name"]))


def gain_shares(attribution: Mapping[str, Any]) -> dict[str, float]:
    """A tree's share of total gain per column (empty for a model without one)."""
    shares = {str(k): _num(v) for k, v in _mapping(attribution.get("gain")).items()}
    return {k: v for k, v in shares.items() if v is not None}


def feature_rows(attribution: Mapping[str, Any], top: int | None = None
                 ) -> list[dict[str, Any]]:
    """Per column, largest drop first (`top`: the first so many), each with its family and,
    for a tree, its gain share; empty where per-feature attribution was skipped."""
    gain = gain_shares(attribution)
    rows = []
    for column, entry in _mapping(attribution.get("features")).items():
        row = _row(str(column), entry, gain.get(str(column)) if gain else None)
        row["family"] = _mapping(entry).get("family")
        rows.append(row)
    return _by_drop(rows)[:top]


def family_rows(attribution: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per feature family, largest drop first, with its number of columns and, for a tree
    whose columns were attributed one by one, the sum of its columns' gain shares."""
    gain = gain_shares(attribution)
    family_gain: dict[str, float] = {}
    for column, entry in _mapping(attribution.get("features")).items():
        family = _mapping(entry).get("family")
        if gain and isinstance(family, str) and str(column) in gain:
            family_gain[family] = family_gain.get(family, 0.0) + gain[str(column)]
    rows = []
    for family, entry in _mapping(attribution.get("families")).items():
        row = _row(str(family), entry, family_gain.get(str(family)) if gain else None)
        columns = _mapping(entry).get("columns")
        row["columns"] = columns if isinstance(columns, int) else None
        rows.append(row)
    return _by_drop(rows)


def family_figure(attribution: Mapping[str, Any] | None, family: str
                  ) -> dict[str, Any] | None:
    """The family's row (drop, interval, evidence), or None where it was not attributed."""
    if attribution is None:
        return None
    entry = _mapping(attribution.get("families")).get(family)
    return _row(family, entry, None) if isinstance(entry, dict) else None


def depends_on(attribution: Mapping[str, Any] | None, family: str, min_drop: float
               ) -> bool | None:
    """Does the model lean on `family` beyond `min_drop`: the low end of its drop's interval
    above it (a drop without an interval makes no claim: False). None: not measured (no block,
    or a block with no family measured: see its `skipped`)."""
    if attribution is None or not attribution.get("families"):
        return None
    row = family_figure(attribution, family)
    return row is not None and row["low"] is not None and row["low"] > min_drop


def summary(doc: Mapping[str, Any], metrics_version: Any, top: int) -> dict[str, Any]:
    """What a reader shows of a model's attribution: whether it was measured (and if not,
    why), the method, the figures of the unpermuted predictions, the families and the `top`
    features (with how many there are)."""
    block = attribution_of(doc)
    if block is None:
        return {"measured": False, "words": not_measured_words(metrics_version)}
    features = feature_rows(block)
    boot = _mapping(block.get("bootstrap"))
    level = _num(boot.get("level"))
    skipped = block.get("skipped")
    return {
        "measured": True, "words": None,
        "split": block.get("split"), "metric": block.get("metric"),
        "prediction": block.get("prediction"), "full": _num(block.get("full")),
        "method": block.get("method"), "rows": block.get("rows"),
        "dates": block.get("dates"), "block_dates": block.get("block_dates"),
        "level": level, "reps": boot.get("reps"),
        "families": family_rows(block), "features": features[:top],
        "features_total": len(features), "tree": bool(gain_shares(block)),
        "skipped": skipped if isinstance(skipped, str) and skipped else None,
    }


def picture_data(attribution: Mapping[str, Any], top: int) -> dict[str, Any]:
    """The numbers of `curves/feature_attribution`: the `top` features and every family, by
    drop with their intervals and, for a tree, the gain shares; the title and axis labels."""
    metric = attribution.get("metric")
    boot = _mapping(attribution.get("bootstrap"))
    level = _num(boot.get("level"))
    features = feature_rows(attribution)
    notes = []
    skipped = attribution.get("skipped")
    if isinstance(skipped, str) and skipped:
        notes.append(f"per feature not measured: {skipped}")
    elif len(features) > top:
        notes.append(f"the {top} features of largest drop of {len(features)}")
    return {
        "title": f"feature attribution ({attribution.get('split')} split, {metric} "
                 f"{_fmt(_num(attribution.get('full')))})",
        "xlabel": f"drop in {metric} when permuted (> 0: leaned on)",
        "ylabel": "", "metric": metric, "level": level,
        "features": features[:top], "families": family_rows(attribution),
        "gain": bool(gain_shares(attribution)), "note": "; ".join(notes) or None,
    }


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
