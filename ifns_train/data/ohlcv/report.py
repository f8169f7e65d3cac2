"""The import report: what was repaired, what was only reported, and the first rows of each.

Why counted: nothing is changed or left out silently. Every repair has a count (complete) and
the first ``DETAIL_LIMIT`` rows it concerned, stored in the index entry under
``source.import_report`` and printed by the CLI. Rows read always add up:
rows_read = rows_written + empty_rows_dropped + duplicate_rows_dropped + warmup_rows_dropped
+ rows_not_finite_dropped + symbol_rows_dropped (a wide file counts one row per non-blank cell).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DETAIL_LIMIT = 20  # items listed per kind in the report; the counts are always complete
REPAIRS = (
    "empty_rows_dropped",
    "unsorted_rows_sorted",
    "duplicate_rows_dropped",
    "volume_missing_days",
    "rows_rescaled_by_adj_close",
    "splits_adjusted",
    "warmup_rows_dropped",
    "rows_not_finite_dropped",
    "symbol_rows_dropped",
)
REPORTED = ("missing_business_days", "weekend_rows_kept", "large_moves_kept",
            "label_rows_unknown")


@dataclass
class ImportReport:
    repairs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REPAIRS, 0))
    reported: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REPORTED, 0))
    details: dict[str, list[Any]] = field(default_factory=dict)

    def count(self, kind: str, n: int = 1) -> None:
        book = self.repairs if kind in self.repairs else self.reported
        book[kind] += int(n)

    def note(self, kind: str, item: Any) -> None:
        items = self.details.setdefault(kind, [])
        if len(items) < DETAIL_LIMIT:
            items.append(item)


def format_report(entry: dict[str, Any], report: dict[str, Any]) -> str:
    """The import report as printed by the CLI."""
    first, last = entry["date_range"]
    lines = [
        f"{entry['dataset_id']} rows={entry['rows']} symbols={entry['symbols']} "
        f"dates={first}..{last} fingerprint={entry['fingerprint']}",
        f"  files: {report['files']}, rows read: {report['rows_read']}, "
        f"rows written: {report['rows_written']}",
        "  repairs: " + ", ".join(f"{k}={v}" for k, v in report["repairs"].items()),
        "  reported: " + ", ".join(f"{k}={v}" for k, v in report["reported"].items()),
    ]
    for symbol, why in report.get("symbols_dropped", {}).items():
        lines.append(f"  symbol dropped: {symbol}: {why}")
    for kind, items in report["details"].items():
        if kind == "ignored_columns":
            lines.append(f"  ignored columns: {', '.join(items)}")
            continue
        for item in items:
            lines.append(f"    {kind}: {item}")
    if report["absent_columns"]:
        lines.append("  absent columns:")
        lines += [f"    {c}: {why}" for c, why in report["absent_columns"].items()]
    lines.append("  feature families: " + ", ".join(
        f"{k} ({len(v)})" for k, v in entry["feature_families"].items()))
    lines.append("  label families: " + ", ".join(entry["label_families"]))
    return "\n".join(lines)
