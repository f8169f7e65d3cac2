"""Cleaning: the rows of every file as one (symbol, date)-ordered set of arrays, checked.

Why vectorised over all rows: every check sees every row at once, so it reports all of its
problems in one pass (see `problems`), and a universe of millions of rows costs a few array
operations per check.

Repairs (each counted in the report with its first rows):

* a row whose price fields are all blank (a non-trading placeholder) -> dropped,
  ``empty_rows_dropped``;
* rows out of date order within a file -> sorted, ``unsorted_rows_sorted``;
* the same (symbol, date) twice with identical values -> one kept, ``duplicate_rows_dropped``;
* a volume that is 0 or blank on some days of a symbol that has volume on others (a missing
  value coded as 0) -> missing (NaN; the volume features skip it), ``volume_missing_days``;
  a volume blank or 0 on every row of a symbol (an index) -> the symbol has no volume, and the
  volume features are absent;
* with Adj Close, every price on the adjusted basis: close = Adj Close, Open/High/Low times
  f = Adj Close / Close, Volume divided by f (dollar volume unchanged),
  ``rows_rescaled_by_adj_close``.

Reported, not repaired: missing business days (Mon-Fri dates between a symbol's first and last
row that it lacks, holidays included; per symbol with the longest gap), ``weekend_rows_kept``.

Problems: the same (symbol, date) twice with different values (both rows and the column that
differs); a missing or non-positive price; a negative volume; High below max(Open, Close) or
Low above min(Open, Close) (relative tolerance 1e-6); files of one symbol with different
columns; fewer trading rows than ``--min-history`` (default and minimum ``MIN_HISTORY``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ifns_train.data.features import LABEL_HORIZON_DAYS, WARMUP_ROWS
from ifns_train.data.ohlcv.columns import PRICE_FIELDS, VALUE_FIELDS
from ifns_train.data.ohlcv.options import ImportOptions
from ifns_train.data.ohlcv.problems import FILE_LEVEL, Problems
from ifns_train.data.ohlcv.read import Source
from ifns_train.data.ohlcv.report import DETAIL_LIMIT, ImportReport

OHLC_TOLERANCE = 1e-6
OPTIONAL_FIELDS = ("open", "high", "low", "adj_close", "volume")


@dataclass
class Rows:
    """Every row of the import, one array per field, sorted by (symbol, date)."""

    symbols: list[str]  # code -> name, sorted
    symbol: np.ndarray  # int32 code
    date: np.ndarray  # datetime64[ns]
    file: np.ndarray  # int32 source index
    row: np.ndarray  # int64 row in the file, from 1
    values: dict[str, np.ndarray]  # field -> float64
    held_back: np.ndarray  # per symbol code: its rows left out for a problem in a cell

    def __len__(self) -> int:
        return int(self.symbol.size)

    def take(self, index: np.ndarray) -> Rows:
        return Rows(self.symbols, self.symbol[index], self.date[index], self.file[index],
                    self.row[index], {k: v[index] for k, v in self.values.items()},
                    self.held_back)

    def starts(self) -> np.ndarray:
        """The first row of each symbol, and the end: symbol c is rows starts[c]:starts[c+1]."""
        return np.searchsorted(self.symbol, np.arange(len(self.symbols) + 1)).astype(np.int64)

    def has(self, fields: dict[str, dict[str, bool]], name: str) -> np.ndarray:
        """Per row: whether its symbol's files have the field `name`."""
        per_symbol = [fields.get(s, {}).get(name, False) for s in self.symbols]
        return np.array(per_symbol, dtype=bool)[self.symbol]

    def where(self, sources: Sequence[Source], pos: int) -> str:
        return sources[int(self.file[pos])].at(int(self.row[pos]),
                                               self.symbols[int(self.symbol[pos])])

    def header(self, sources: Sequence[Source], pos: int, field_name: str) -> str:
        return sources[int(self.file[pos])].header(field_name,
                                                   self.symbols[int(self.symbol[pos])])

    def day(self, pos: int) -> str:
        return pd.Timestamp(self.date[pos]).date().isoformat()

    def add_problems(self, problems: Problems, mask: np.ndarray, sources: Sequence[Source],
                     describe, column: int = 0) -> None:
        problems.add_rows(np.flatnonzero(mask), file=self.file, row=self.row, code=self.symbol,
                          names=self.symbols, describe=describe, column=column)


def combine(sources: Sequence[Source], report: ImportReport, problems: Problems) -> Rows:
    """The rows of every file without problems, placeholders dropped, sorted by (symbol, date,
    file, row), exact duplicates merged (different values are a problem). The files' row
    arrays are released as they are combined, one field at a time."""
    names = sorted({s for source in sources for s in source.symbols})
    code_of = {name: i for i, name in enumerate(names)}
    fields = [f for f in VALUE_FIELDS if f == "close" or any(f in s.fields for s in sources)]
    taken: list[tuple[Source, np.ndarray]] = []
    held_back = np.zeros(len(names), np.int64)
    keys: list[list[np.ndarray]] = [[], [], [], []]  # symbol, date, file, row
    for source in sources:
        if not source.symbol.size:
            continue
        remap = np.array([code_of[s] for s in source.symbols], dtype=np.int32)
        empty = source.ok & source.empty
        report.count("empty_rows_dropped", int(empty.sum()))
        for pos in np.flatnonzero(empty)[:DETAIL_LIMIT]:
            report.note("empty_rows_dropped", source.at(int(source.row[pos])))
        keep = np.flatnonzero(source.ok & ~source.empty)
        bad = source.symbol[~source.ok]
        np.add.at(held_back, remap[bad[bad >= 0]], 1)
        code = remap[source.symbol[keep]]
        order = np.argsort(code, kind="stable")
        same = code[order][1:] == code[order][:-1]
        back = int((same & (np.diff(source.date[keep][order]) < np.timedelta64(0))).sum())
        report.count("unsorted_rows_sorted", back)
        if back:
            report.note("unsorted_rows_sorted", f"{source.path}: {back} rows")
        taken.append((source, keep))
        for part, values in zip(keys, (code, source.date[keep],
                                       np.full(keep.size, source.index, np.int32),
                                       source.row[keep]), strict=True):
            part.append(values)
    symbol, date, file, row = (np.concatenate(k) if k else np.zeros(0, t) for k, t in
                               zip(keys, (np.int32, "datetime64[ns]", np.int32, np.int64),
                                   strict=True))
    order = np.lexsort((row, file, date, symbol))
    values = {}
    for name in fields:
        parts = [s.values[name][keep] if name in s.values else np.full(keep.size, np.nan)
                 for s, keep in taken]
        values[name] = np.concatenate(parts)[order] if parts else np.zeros(0)
        for source in sources:
            source.values.pop(name, None)
    for source in sources:
        source.release()
    rows = Rows(names, symbol[order], date[order], file[order], row[order], values, held_back)
    return _merge_duplicates(rows, sources, report, problems)


def _merge_duplicates(rows: Rows, sources: Sequence[Source], report: ImportReport,
                      problems: Problems) -> Rows:
    same = np.r_[False, (rows.symbol[1:] == rows.symbol[:-1]) & (rows.date[1:] == rows.date[:-1])]
    if not same.any():
        return rows
    first = np.maximum.accumulate(np.where(~same, np.arange(len(rows)), 0))
    dup = np.flatnonzero(same)
    differs = np.zeros(len(rows), bool)
    for values in rows.values.values():
        a, b = values[first[dup]], values[dup]
        differs[dup] |= ~((a == b) | (np.isnan(a) & np.isnan(b)))

    def describe(pos: int) -> str:
        ref = int(first[pos])
        name = next(f for f, v in rows.values.items()
                    if not (v[ref] == v[pos] or (np.isnan(v[ref]) and np.isnan(v[pos]))))
        return (f"{rows.where(sources, pos)}: date {rows.day(pos)} also on "
                f"{rows.where(sources, ref)} with different values: column "
                f"'{rows.header(sources, pos, name)}' {_show(rows.values[name][ref])} vs "
                f"{_show(rows.values[name][pos])}")

    rows.add_problems(problems, differs, sources, describe)
    identical = dup[~differs[dup]]
    report.count("duplicate_rows_dropped", len(dup))
    for pos in identical[:DETAIL_LIMIT]:
        report.note("duplicate_rows_dropped", rows.where(sources, int(pos)))
    return rows.take(np.flatnonzero(~same))


def _show(value: float) -> str:
    return "missing" if np.isnan(value) else repr(float(value))


def fields_by_symbol(sources: Sequence[Source], problems: Problems) -> dict[str, dict[str, bool]]:
    """Which optional fields each symbol has: all of its files must agree (where they do not,
    the field is a problem, and no value of it is checked)."""
    seen: dict[str, dict[str, tuple[bool, Source]]] = {}
    out: dict[str, dict[str, bool]] = {}
    for source in sources:
        for symbol in source.symbols:
            have = seen.setdefault(symbol, {})
            for name in OPTIONAL_FIELDS:
                present = name in source.fields
                first = have.setdefault(name, (present, source))
                out.setdefault(symbol, {})[name] = out.get(symbol, {}).get(name, present)
                if first[0] == present:
                    continue
                with_it, without = (first[1], source) if first[0] else (source, first[1])
                problems.add(
                    f"{with_it.at(FILE_LEVEL, symbol)}: has a column "
                    f"'{with_it.header(name, symbol)}' ({name}) but {without.path} has none; "
                    "give every file of a symbol the same columns",
                    symbol=symbol, file=without.index)
                out[symbol][name] = False
    return out


def check_values(rows: Rows, fields: dict[str, dict[str, bool]], sources: Sequence[Source],
                 report: ImportReport, problems: Problems) -> tuple[set[str], np.ndarray]:
    """The value problems; turns a 0 or blank volume into a missing one (see the module
    docstring). Returns the symbols without volume and which rows hold sound prices."""
    has = {f: rows.has(fields, f) for f in OPTIONAL_FIELDS}
    has["close"] = np.ones(len(rows), bool)
    sound = np.ones(len(rows), bool)
    no_volume: set[str] = set()
    if "volume" in rows.values:
        volume = rows.values["volume"]
        blank = has["volume"] & (np.isnan(volume) | (volume == 0))
        per_symbol = np.bincount(rows.symbol, minlength=len(rows.symbols))
        blank_rows = np.bincount(rows.symbol[blank], minlength=len(rows.symbols))
        none = (blank_rows == per_symbol) & (per_symbol > 0)
        no_volume = {rows.symbols[c] for c in np.flatnonzero(none & (blank_rows > 0))}
        has["volume"] &= ~none[rows.symbol]
        missing = blank & has["volume"]
        volume[missing] = np.nan
        report.count("volume_missing_days", int(missing.sum()))
        for pos in np.flatnonzero(missing)[:DETAIL_LIMIT]:
            report.note("volume_missing_days", f"{rows.where(sources, int(pos))} on "
                        f"{rows.day(int(pos))}")
        negative = has["volume"] & (volume < 0)
        rows.add_problems(problems, negative, sources, lambda i: (
            f"{rows.where(sources, i)}: column '{rows.header(sources, i, 'volume')}' is "
            f"negative ({volume[i]:g})"))
    for name in PRICE_FIELDS:
        if name not in rows.values:
            continue
        values = rows.values[name]
        missing = has[name] & np.isnan(values)
        rows.add_problems(problems, missing, sources, lambda i, f=name: (
            f"{rows.where(sources, i)}: column '{rows.header(sources, i, f)}' is missing "
            "(other fields of the row are set); fill it or remove the row"))
        low = has[name] & (values <= 0)
        rows.add_problems(problems, low, sources, lambda i, f=name, v=values: (
            f"{rows.where(sources, i)}: column '{rows.header(sources, i, f)}' is not "
            f"positive ({v[i]:g})"))
        sound &= ~(missing | low)
    if "high" in rows.values:
        high, low, close = (rows.values[f] for f in ("high", "low", "close"))
        opened = np.where(has["open"], rows.values.get("open", close), close)
        top, bottom = np.fmax(opened, close), np.fmin(opened, close)
        checked = has["high"] & sound  # a missing or non-positive price is one problem, not two
        for name, bad, bound in (
            ("high", checked & (high < top * (1 - OHLC_TOLERANCE)), "below max(Open, Close)"),
            ("low", checked & (low > bottom * (1 + OHLC_TOLERANCE)), "above min(Open, Close)"),
        ):
            rows.add_problems(problems, bad, sources, lambda i, f=name, b=bound: (
                f"{rows.where(sources, i)}: column '{rows.header(sources, i, f)}' "
                f"({rows.values[f][i]:g}) is {b} (open {opened[i]:g}, close {close[i]:g})"))
    return no_volume, sound


def apply_adj_close(rows: Rows, has_adj: np.ndarray, report: ImportReport) -> None:
    """Every price on the Adj Close basis; volume inversely, so dollar volume is kept."""
    if "adj_close" not in rows.values or not has_adj.any():
        return
    close = rows.values["close"]
    factor = np.where(has_adj, rows.values["adj_close"] / close, 1.0)
    for name in ("open", "high", "low"):
        if name in rows.values:
            rows.values[name] = rows.values[name] * factor
    rows.values["close"] = close * factor
    if "volume" in rows.values:
        rows.values["volume"] = rows.values["volume"] / factor
    report.count("rows_rescaled_by_adj_close", int((factor != 1.0).sum()))


def calendar(rows: Rows, sources: Sequence[Source], options: ImportOptions,
             report: ImportReport, problems: Problems) -> dict[str, dict[str, object]]:
    """Per symbol: rows, first/last date, missing business days and the longest such gap; a
    symbol with too short a history is a problem."""
    out: dict[str, dict[str, object]] = {}
    starts = rows.starts()
    for code, symbol in enumerate(rows.symbols):
        lo, hi = int(starts[code]), int(starts[code + 1])
        n = hi - lo + int(rows.held_back[code])  # a row with a bad cell is a row to fix
        if n < options.history:
            _too_short(symbol, n, sources, options, problems)
        if lo == hi:
            continue
        days = pd.DatetimeIndex(rows.date[lo:hi])
        business = pd.bdate_range(days[0], days[-1])
        missing = business.difference(days)
        longest = 0
        if len(missing):
            positions = business.get_indexer(missing)
            longest = max(len(r) for r in np.split(
                positions, np.flatnonzero(np.diff(positions) != 1) + 1))
        report.count("missing_business_days", len(missing))
        report.count("weekend_rows_kept", int((days.day_of_week >= 5).sum()))
        out[symbol] = {
            "rows": hi - lo,
            "first_date": days[0].date().isoformat(),
            "last_date": days[-1].date().isoformat(),
            "missing_business_days": len(missing),
            "longest_gap_business_days": longest,
        }
    return out


def _too_short(symbol: str, n: int, sources: Sequence[Source], options: ImportOptions,
               problems: Problems) -> None:
    files = [s for s in sources if symbol in s.symbols]
    problems.add(
        f"{', '.join(str(s.path) for s in files)}: symbol {symbol} has {n} trading rows, "
        f"fewer than the {options.history} needed ({WARMUP_ROWS} warm-up rows for the 120-day "
        f"windows + {LABEL_HORIZON_DAYS} label days + 1"
        + (", or --min-history" if options.min_history is not None else "") + ")",
        symbol=symbol, file=files[0].index if files else -1)
