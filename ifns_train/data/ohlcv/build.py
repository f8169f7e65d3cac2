"""Building: read, clean, settle the problems, derive; the table and its entry's metadata.

Why settled in one place: every check of every file runs before the import decides. With no
problem the import goes on; otherwise it stops with all of them (`problems`), unless
``--drop-symbol-on-error`` applies: then the symbols concerned are left out (reported under
``symbols_dropped`` with the reason, their rows as ``symbol_rows_dropped``) and the import is
cleaned again without them, so that its report counts the kept symbols only.

Determinism: files are read in sorted path order, rows sorted by (symbol, date, file, row),
symbols in sorted order, and nothing depends on the clock or on the chunking, so the same files
give a bit-identical table and the same fingerprint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ifns_train.data.features import (
    FEATURE_FAMILIES,
    HL_SPREAD_LABEL,
    HL_SPREAD_LABEL_FAMILY,
    RETURN_LABEL_FAMILIES,
    default_splits,
)
from ifns_train.data.ohlcv.clean import (
    Rows,
    apply_adj_close,
    calendar,
    check_values,
    combine,
    fields_by_symbol,
)
from ifns_train.data.ohlcv.derive import CLUSTER_BETA_EDGES, derive
from ifns_train.data.ohlcv.jumps import resolve_jumps
from ifns_train.data.ohlcv.options import KEEP_ALL, ImportOptions
from ifns_train.data.ohlcv.problems import Problems
from ifns_train.data.ohlcv.read import Source, read_sources, source_files
from ifns_train.data.ohlcv.report import ImportReport


@dataclass
class OhlcvDataset:
    """A built (not yet registered) Stage 02 table and what the index entry says about it."""

    frame: Any  # pd.DataFrame
    feature_families: dict[str, list[str]]
    label_families: dict[str, dict[str, Any]]
    absent_columns: dict[str, str]
    splits: dict[str, list[str]]
    report: dict[str, Any]
    files: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Cleaned:
    rows: Rows
    report: ImportReport
    fields: dict[str, dict[str, bool]]
    no_volume: set[str]
    per_symbol: dict[str, dict[str, Any]]


def _clean(sources: Sequence[Source], options: ImportOptions, problems: Problems) -> _Cleaned:
    report = ImportReport()
    fields = fields_by_symbol(sources, problems)
    rows = combine(sources, report, problems)
    no_volume, sound = check_values(rows, fields, sources, report, problems)
    has_adj = rows.has(fields, "adj_close")
    apply_adj_close(rows, has_adj, report)
    resolve_jumps(rows, sources, sound, has_adj, rows.has(fields, "open"), options, report,
                  problems)
    per_symbol = calendar(rows, sources, options, report, problems)
    return _Cleaned(rows, report, fields, no_volume, per_symbol)


def _rows_by_symbol(sources: Sequence[Source]) -> dict[str, int]:
    """Rows read per symbol (a file that could not be used counts for its symbol)."""
    counts: dict[str, int] = {}
    for source in sources:
        if source.failed_symbol:
            counts[source.failed_symbol] = counts.get(source.failed_symbol, 0) + source.cells
        per_code = np.bincount(source.symbol[source.symbol >= 0], minlength=len(source.symbols))
        for name, n in zip(source.symbols, per_code, strict=True):
            counts[name] = counts.get(name, 0) + int(n)
    return counts


def _symbols(sources: Sequence[Source]) -> set[str]:
    names = {s for source in sources for s in source.symbols}
    return names | {s.failed_symbol for s in sources if s.failed_symbol}


def build_ohlcv_dataset(
    paths: Iterable[str | Path], options: ImportOptions | None = None
) -> OhlcvDataset:
    """Read, check, repair and derive: the Stage 02 table and its entry's metadata."""
    options = (options or ImportOptions()).checked()
    problems = Problems()
    files = source_files(paths, problems)
    sources = read_sources(files, options, problems)
    symbols_read = _symbols(sources)
    rows_read = sum(s.cells for s in sources)
    rows_by_symbol = _rows_by_symbol(sources)
    for symbol in sorted(set(options.kept_jumps) - {KEEP_ALL} - symbols_read):
        problems.add(f"--keep-jumps {symbol}: symbol {symbol} is not in the data")
    cleaned = _clean(sources, options, problems)  # releases the files' row arrays
    dropped = problems.settle(options.drop_symbol_on_error, symbols_read)
    if dropped:
        # Read again, without the dropped symbols: the report counts the kept ones only.
        options = replace(options, splits=tuple(s for s in options.splits
                                                if s.symbol not in dropped))
        again = Problems()
        sources = [s.without(dropped) for s in read_sources(files, options, again)]
        if again.unpinned or set(again.by_symbol) - set(dropped):
            raise again.error()
        fresh = Problems()
        cleaned = _clean(sources, options, fresh)
        fresh.settle(False, _symbols(sources))
    report = cleaned.report
    report.count("symbol_rows_dropped", sum(rows_by_symbol.get(s, 0) for s in dropped))
    symbols = cleaned.rows.symbols
    fields = cleaned.fields
    no_volume = sorted({s for s in symbols if not fields[s]["volume"]} | cleaned.no_volume)
    no_high_low = sorted(s for s in symbols if not fields[s]["high"])
    derived = derive(cleaned.rows, no_volume, no_high_low, report)
    del cleaned.rows
    frame, absent = derived.frame, derived.absent
    per_symbol = cleaned.per_symbol
    for symbol in symbols:
        per_symbol[symbol].update(
            derived.per_symbol[symbol],
            volume=symbol not in no_volume,
            high_low=symbol not in no_high_low,
            adjusted_by_adj_close=bool(fields[symbol]["adj_close"]),
        )
    feature_families = {
        family: [c for c in cols if c not in absent]
        for family, cols in FEATURE_FAMILIES.items()
        if any(c not in absent for c in cols)
    }
    label_families = dict(RETURN_LABEL_FAMILIES)
    if derived.spread_label:
        label_families[HL_SPREAD_LABEL] = HL_SPREAD_LABEL_FAMILY
    ignored = sorted({c for s in sources for c in s.columns.ignored})
    if ignored:
        report.details["ignored_columns"] = ignored
    summary = {
        "files": len(sources),
        "rows_read": rows_read,
        "rows_written": len(frame),
        "symbols": list(symbols),
        "date_range": [frame["date"].min().date().isoformat(),
                       frame["date"].max().date().isoformat()],
        "repairs": report.repairs,
        "reported": report.reported,
        "symbols_dropped": dropped,
        "absent_columns": absent,
        "context_rules": {
            "regime_tag": "demo rule on the equal-weight market of the imported symbols",
            "structure_state": ("demo rule from closes only (no High/Low in source)"
                                if no_high_low else "demo rule"),
            "vol_band": "cross-sectional tercile of vol_20d per date",
            "symbol_cluster": (
                "beta on the equal-weight market over each symbol's warm-up rows, bands "
                + ", ".join(f"{e:g}" for e in CLUSTER_BETA_EDGES)
            ),
        },
        "per_symbol": per_symbol,
        "details": report.details,
        "options": options.as_record(),
    }
    return OhlcvDataset(
        frame=frame,
        feature_families=feature_families,
        label_families=label_families,
        absent_columns=absent,
        splits=default_splits(frame),
        report=summary,
        files=[s.info() for s in sources],
    )
