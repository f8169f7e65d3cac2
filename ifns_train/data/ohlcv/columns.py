"""Which column is which: spellings, the date column, the symbol, wide files.

Why a module of its own: it is where an ordinary vendor file used to be refused ("no date
column" for a blank first header, "no close column" for a wide file), so each rule and each
hint lives here, next to the spellings it reads. The problems it finds concern a whole file:
they are returned as text, and the reader places them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from ifns_train.core.errors import shown
from ifns_train.data.ohlcv.options import ImportOptions, header_key
from ifns_train.data.ohlcv.parse import MISSING_TEXT, is_date_text
from ifns_train.data.symbols import SYMBOL_RULE, is_symbol

SOURCE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
# Canonical field -> accepted spellings, after lower-casing and turning runs of anything but
# letters and digits into '_' ("Adj. Close" -> "adj_close").
COLUMN_SPELLINGS: dict[str, tuple[str, ...]] = {
    "date": ("date", "datetime", "timestamp", "time", "day", "trade_date", "trading_date"),
    "symbol": ("symbol", "ticker", "sym", "instrument", "asset", "security"),
    "open": ("open", "open_price", "opening_price"),
    "high": ("high", "high_price"),
    "low": ("low", "low_price"),
    "close": ("close", "close_price", "closing_price", "last", "last_price", "price", "px_last"),
    "adj_close": ("adj_close", "adjclose", "adjusted_close", "adj_close_price", "adj_price"),
    "volume": ("volume", "vol", "shares_traded", "share_volume"),
}
PRICE_FIELDS = ("open", "high", "low", "close", "adj_close")
VALUE_FIELDS = (*PRICE_FIELDS, "volume")
# How pandas names a CSV's blank first header, and pyarrow a Parquet file's unnamed index.
UNNAMED_INDEX = ("Unnamed: 0", "__index_level_0__")
_SAMPLE = 200  # leading values looked at to tell dates or numbers


@dataclass
class Columns:
    """What the reader takes from a file's columns."""

    headers: dict[str, str]  # canonical field -> the file's column
    ignored: list[str]
    symbol_from: str  # "column", "file name" or "columns (--wide)"
    date_from: str  # which column is the date, and why
    wide: bool = False
    tickers: dict[str, str] = field(default_factory=dict)  # wide: symbol -> its column

    @classmethod
    def unread(cls) -> Columns:
        return cls({}, [], "", "")


def spellings(field_name: str) -> str:
    return ", ".join(COLUMN_SPELLINGS[field_name])


def _sample(column: pa.ChunkedArray) -> list[str]:
    values = column.slice(0, _SAMPLE).to_pylist()
    texts = [str(v).strip() for v in values if v is not None]
    return [t for t in texts if t.lower() not in MISSING_TEXT]


def _holds_dates(column: pa.ChunkedArray) -> bool:
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        return True
    sample = _sample(column)
    return bool(sample) and all(is_date_text(t) for t in sample)


def _mostly_numbers(column: pa.ChunkedArray) -> bool:
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return True
    sample = _sample(column)
    good = 0
    for text in sample:
        try:
            float(text)
            good += 1
        except ValueError:
            pass
    return bool(sample) and good >= len(sample) / 2


def _named(names: Sequence[str], wanted: str) -> str | None:
    """The column named `wanted`: the exact header, else one that matches it as spelled."""
    if wanted in names:
        return wanted
    return next((n for n in names if header_key(n) == header_key(wanted)), None)


def _date_column(
    table: pa.Table, headers: dict[str, str], options: ImportOptions, problems: list[str]
) -> str:
    """Finds the date column (into `headers`); returns how it was found."""
    names = table.column_names
    if options.date_column is not None:
        named = _named(names, options.date_column)
        if named is None:
            problems.append(f"no column '{options.date_column}' (--date-column); the file's "
                            f"columns: {', '.join(names)}")
            return ""
        headers["date"] = named
        return f"--date-column '{named}'"
    if "date" in headers:
        return f"column '{headers['date']}'"
    unnamed = next((n for n in names if n in UNNAMED_INDEX), None)
    if unnamed is not None and _holds_dates(table.column(unnamed)):
        headers["date"] = unnamed
        what = "index" if unnamed == "__index_level_0__" else "first column"
        return f"the unnamed {what} (its values are dates)"
    note = f"; its unnamed column '{unnamed}' holds no dates" if unnamed else ""
    problems.append(f"no date column (columns: {', '.join(names)}){note}; accepted spellings, "
                    f"in any case: {spellings('date')}, or name it with --date-column")
    return ""


def map_columns(table: pa.Table, options: ImportOptions) -> tuple[Columns, list[str]]:
    """The file's columns as fields, and the problems that concern the whole file."""
    if options.wide:
        return _map_wide(table, options)
    names = table.column_names
    lookup = {s: name for name, spelled in COLUMN_SPELLINGS.items() for s in spelled}
    if options.symbol_column is not None:
        lookup = {k: v for k, v in lookup.items() if v != "symbol"}
        lookup[header_key(options.symbol_column)] = "symbol"
    if options.date_column is not None:
        lookup = {k: v for k, v in lookup.items() if v != "date"}
    problems: list[str] = []
    headers: dict[str, str] = {}
    ignored: list[str] = []
    named_date = _named(names, options.date_column) if options.date_column else None
    for column in names:
        canonical = None if column == named_date else lookup.get(header_key(column))
        if canonical is None:
            if column != named_date:
                ignored.append(column)
        elif canonical in headers:
            problems.append(f"columns '{headers[canonical]}' and '{column}' are both read as "
                            f"'{canonical}'; keep one")
        else:
            headers[canonical] = column
    date_from = _date_column(table, headers, options, problems)
    if headers.get("date") in ignored:
        ignored.remove(headers["date"])
    symbol_from = "column" if "symbol" in headers else "file name"
    if options.symbol_column is not None and "symbol" not in headers:
        problems.append(f"no column '{options.symbol_column}' (--symbol-column); the file's "
                        f"columns: {', '.join(names)}")
        symbol_from = "column"
    if "close" not in headers:
        if "adj_close" not in headers:
            problems.append(
                f"no close column (columns: {', '.join(names)}); accepted spellings, in any "
                f"case: {spellings('close')}, or {spellings('adj_close')}"
                + _wide_hint(table, headers, ignored)
            )
        elif extra := [headers[f] for f in ("open", "high", "low") if f in headers]:
            problems.append(
                f"column(s) {', '.join(extra)} with '{headers['adj_close']}' but no Close: they "
                "cannot be put on the adjusted basis; add the Close column"
            )
        else:
            headers["close"] = headers.pop("adj_close")
    if ("high" in headers) != ("low" in headers):
        have, lack = ("high", "low") if "high" in headers else ("low", "high")
        problems.append(f"column '{headers[have]}' without a {lack} column (accepted spellings: "
                        f"{spellings(lack)}); give both or neither")
    return Columns(headers, ignored, symbol_from, date_from), problems


def _wide_hint(table: pa.Table, headers: dict[str, str], ignored: list[str]) -> str:
    """A file with a date and two or more unrecognised, mostly numeric columns looks wide."""
    if "date" not in headers or "symbol" in headers:
        return ""
    numeric = [c for c in ignored if _mostly_numbers(table.column(c))]
    if len(numeric) < 2:
        return ""
    shown = ", ".join(numeric[:5]) + (" ..." if len(numeric) > 5 else "")
    return (f". It looks like a wide file, one close column per symbol ({shown}): "
            "read it with --wide")


def _map_wide(table: pa.Table, options: ImportOptions) -> tuple[Columns, list[str]]:
    """A date column, and every other column one symbol's close (its header, upper-cased)."""
    names = table.column_names
    problems: list[str] = []
    headers: dict[str, str] = {}
    spelled_date = next((n for n in names if header_key(n) in COLUMN_SPELLINGS["date"]), None)
    if spelled_date is not None and options.date_column is None:
        headers["date"] = spelled_date
    date_from = _date_column(table, headers, options, problems)
    fields = [n for n in names if n != headers.get("date") and any(
        header_key(n) in COLUMN_SPELLINGS[f] for f in (*VALUE_FIELDS, "symbol"))]
    if len(fields) >= 3:
        problems.append(f"--wide reads every column but the date as a symbol's close, but "
                        f"{', '.join(fields)} look like the fields of a long or one-symbol "
                        "file; read it without --wide")
    tickers: dict[str, str] = {}
    for position, column in enumerate(names):
        if column == headers.get("date"):
            continue
        symbol = column.strip().upper()
        if column.startswith("Unnamed: ") or column in UNNAMED_INDEX or not symbol:
            problems.append(f"column {position + 1} has no name: in a wide file every column "
                            "but the date is a symbol's close, named by its header")
        elif not is_symbol(symbol):
            problems.append(f"column {position + 1} header {shown(column)} is not a valid "
                            f"symbol ({SYMBOL_RULE})")
        elif symbol in tickers:
            problems.append(f"columns '{tickers[symbol]}' and '{column}' are both symbol "
                            f"{symbol}; keep one")
        else:
            tickers[symbol] = column
    if not tickers and not problems:
        problems.append("--wide: no column besides the date")
    return Columns(headers, [], "columns (--wide)", date_from, True, tickers), problems
