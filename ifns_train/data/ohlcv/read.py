"""Reading: source files -> one array per field, every cell checked.

Why Arrow: a universe of 1,000 symbols is a CSV of millions of rows. It is read by
``pyarrow.csv`` as text (nothing guessed), numbers are cast by Arrow compute, and dates and
symbols, which repeat, are parsed once per distinct value, so memory stays near the file's
size and no Python runs per row.

Input
-----
CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``) files, or folders of them (not
recursive), read in sorted path order. Three layouts:

* one file per symbol: the symbol is the file name's stem, upper-cased;
* long files with a symbol column (``Symbol``, ``Ticker``, ... or ``--symbol-column``): values
  stripped and upper-cased;
* with ``--wide``, a date column and one close column per symbol (the header, stripped and
  upper-cased, is the symbol); a blank cell is no row for that symbol on that date (symbols
  listed at different times), not an error.

Column names are matched case-insensitively with runs of spaces, dots and dashes read as '_'
(``COLUMN_SPELLINGS``). Required: a date and a close (``Close``, ``Price``, ... or, alone,
``Adj Close``). Optional: Open; High and Low (both or neither); Adj Close; Volume. Other
columns are ignored and listed in the report. The date column is, in this order: the column
named by ``--date-column`` (any header, e.g. ``As Of``); a column spelled as a date; or, if
neither, an unnamed first column (a blank first header, as ``DataFrame.to_csv()`` writes an
unnamed index; or a Parquet file's unnamed index) whose values are dates. Dates: ISO
(``2024-01-31``, ``20240131``; a time of day or offset after the date is ignored) or US
month/day/year (``01/31/2024``); ``--date-format auto`` reads whichever the column's first
date uses and refuses day/month/year, which it cannot tell from US dates in general.

Problems found here (each naming file, row, symbol and column): an unreadable or empty file;
no date or close column (the message lists the accepted spellings, and suggests ``--wide``
for a file that looks wide); a named column that is not there; High without Low; two columns
read as one field; Open/High/Low with Adj Close but no Close; a missing or malformed date or
symbol; a value that is not a number.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ifns_train.core.errors import shown
from ifns_train.data.ohlcv.columns import PRICE_FIELDS, SOURCE_SUFFIXES, Columns, map_columns
from ifns_train.data.ohlcv.options import ImportOptions
from ifns_train.data.ohlcv.parse import SymbolCells, dates, numbers, symbols
from ifns_train.data.ohlcv.problems import FILE_LEVEL, Problems, where
from ifns_train.data.symbols import SYMBOL_RULE, is_symbol


@dataclass
class Source:
    """One file's rows (for a wide file, one row per non-blank cell) as arrays."""

    index: int
    path: Path
    is_csv: bool
    sha256: str
    rows_read: int  # data rows of the file
    columns: Columns
    symbols: list[str] = field(default_factory=list)  # local symbol code -> name
    symbol: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    date: np.ndarray = field(default_factory=lambda: np.zeros(0, "datetime64[ns]"))
    row: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    values: dict[str, np.ndarray] = field(default_factory=dict)
    ok: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # no cell problem
    empty: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # prices all blank
    failed_symbol: str | None = None  # a one-symbol file with a problem of the whole file
    cells: int = 0  # rows as read: for a wide file, its non-blank cells
    fields: tuple[str, ...] = ()  # the value fields the file has

    def without(self, dropped: Collection[str]) -> Source:
        """This file less the rows of the `dropped` symbols."""
        names = [s for s in self.symbols if s not in dropped]
        remap = np.array([names.index(s) if s in names else -1 for s in self.symbols] + [-1],
                         dtype=np.int32)
        code = remap[self.symbol]
        keep = code >= 0
        return replace(
            self, symbols=names, symbol=code[keep], date=self.date[keep], row=self.row[keep],
            values={k: v[keep] for k, v in self.values.items()}, ok=self.ok[keep],
            empty=self.empty[keep],
            failed_symbol=None if self.failed_symbol in dropped else self.failed_symbol,
        )

    def release(self) -> None:
        """Frees the row arrays once the rows are combined (the file's facts stay)."""
        self.symbol, self.date, self.row = self.symbol[:0], self.date[:0], self.row[:0]
        self.ok, self.empty = self.ok[:0], self.empty[:0]
        self.values = {}

    def header(self, field_name: str, symbol: str) -> str:
        """The file's column holding `field_name` of `symbol`."""
        if self.columns.wide and field_name == "close":
            return self.columns.tickers[symbol]
        return self.columns.headers.get(field_name, field_name)

    def at(self, row: int, symbol: str | None = None) -> str:
        return where(self.path, self.is_csv, row, symbol)

    def info(self) -> dict[str, Any]:
        """The file as recorded in the index entry."""
        out: dict[str, Any] = {
            "path": str(self.path),
            "sha256": self.sha256,
            "rows": self.rows_read,
            "symbol_from": self.columns.symbol_from,
            "date_from": self.columns.date_from,
            "columns": dict(sorted(self.columns.headers.items())),
            "ignored_columns": self.columns.ignored,
        }
        if self.columns.wide:
            out["symbols"] = len(self.columns.tickers)
            out["cells"] = self.cells
        return out


def source_files(paths: Iterable[str | Path], problems: Problems) -> list[Path]:
    """The files named or held (not recursively) by folders, deduplicated, in sorted order."""
    found: dict[str, Path] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = [p for p in path.iterdir() if p.is_file() and _suffix_ok(p)]
            if not inside:
                problems.add(f"{path}: folder holds no {', '.join(SOURCE_SUFFIXES)} file")
            found.update({str(p.resolve()): p.resolve() for p in inside})
        elif path.is_file():
            if _suffix_ok(path):
                found[str(path.resolve())] = path.resolve()
            else:
                problems.add(f"{path}: not a CSV or Parquet file (accepted: "
                             f"{', '.join(SOURCE_SUFFIXES)})")
        else:
            problems.add(f"{path}: no such file or folder")
    if not found and not problems:
        problems.add("no OHLCV file given")
    return [found[k] for k in sorted(found)]


def _suffix_ok(path: Path) -> bool:
    return path.name.lower().endswith(SOURCE_SUFFIXES)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in SOURCE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pandas_names(names: list[str]) -> list[str]:
    """Headers as pandas names them: a blank one 'Unnamed: i', a repeated one 'X.1', 'X.2'."""
    out: list[str] = []
    for i, name in enumerate(names):
        name = name or f"Unnamed: {i}"
        base, k = name, 0
        while name in out:
            k += 1
            name = f"{base}.{k}"
        out.append(name)
    return out


def _read_table(path: Path) -> tuple[pa.Table, bool]:
    """The file as an Arrow table: a CSV's cells as text, a Parquet file's as stored."""
    if path.name.lower().endswith((".parquet", ".pq")):
        return pq.read_table(path), False
    try:
        header = pacsv.open_csv(path)  # the first block, for the column names
        names = header.schema.names
        header.close()
        generated = [f"c{i}" for i in range(len(names))]
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=generated, skip_rows=1),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(generated, pa.string()),
                strings_can_be_null=False,
            ),
        )
        return table.rename_columns(_pandas_names(names)), True
    except pa.ArrowInvalid:
        # Rows with fewer fields than the header (pandas reads the rest as blank), and the
        # messages of malformed files, as the pandas reader gives them.
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
        return pa.Table.from_pandas(raw, preserve_index=False), True


def read_source(index: int, path: Path, options: ImportOptions, problems: Problems) -> Source:
    """One file as a `Source`; its problems go to `problems` (the rows concerned not ok)."""
    is_csv = not path.name.lower().endswith((".parquet", ".pq"))
    try:
        table, is_csv = _read_table(path)
    except Exception as exc:  # the readers raise many types for a malformed file
        problems.add(f"{path}: cannot read the file: {exc}", file=index)
        return Source(index, path, is_csv, "", 0, Columns.unread())
    if table.num_rows == 0:
        problems.add(f"{path}: the file has no data rows", file=index)
        return Source(index, path, is_csv, "", 0, Columns.unread())
    with ThreadPoolExecutor(1) as pool:  # hashing the file overlaps the parsing
        digest = pool.submit(_sha256, path)
        source = _parse(index, path, is_csv, table, options, problems)
        source.sha256 = digest.result()
    del table
    pa.default_memory_pool().release_unused()  # the text is parsed: give its memory back
    return source


def _parse(index: int, path: Path, is_csv: bool, table: pa.Table, options: ImportOptions,
           problems: Problems) -> Source:
    stem = _stem(path).strip().upper()
    cols, file_problems = map_columns(table, options)
    source = Source(index, path, is_csv, "", table.num_rows, cols)
    if cols.symbol_from == "file name" and not is_symbol(stem):
        # Not pinned: a symbol that cannot be named cannot be left out by name either.
        problems.add(f"{where(path, is_csv)}: symbol {shown(stem)}, taken from the file name, "
                     f"is not a valid symbol ({SYMBOL_RULE}); rename the file", file=index)
        source.cells = table.num_rows
        return source
    if file_problems:
        pinned = stem if cols.symbol_from == "file name" else None
        for text in file_problems:
            problems.add(f"{where(path, is_csv, FILE_LEVEL, pinned)}: {text}", symbol=pinned,
                         file=index)
        source.failed_symbol, source.cells = pinned, table.num_rows
        return source
    if cols.wide:
        _fill_wide(source, table, options, problems)
    else:
        _fill(source, table, options, problems, stem)
    return source


def _fill(source: Source, table: pa.Table, options: ImportOptions, problems: Problems,
          stem: str) -> None:
    """The rows of a one-symbol or long file, each cell checked."""
    cols = source.columns
    n = table.num_rows
    cells = _Cells(source, table, problems)
    date_header = cols.headers["date"]
    day, date_bad, date_text = dates(table.column(date_header), options.date_format, date_header)
    if "symbol" in cols.headers:
        header = cols.headers["symbol"]
        read = symbols(table.column(header))
        names, code = read.names, read.code
        cells.report(read.blank, np.full(n, -1), names, header, _no_symbol(header))
        # One problem per distinct bad symbol (at its first row), not one per row of it.
        cells.report(read.first_invalid, np.full(n, -1), names, header,
                     _invalid_symbol(header, read))
        missing = read.blank | read.invalid
    else:
        names, code, missing = [stem], np.zeros(n, np.int32), np.zeros(n, bool)
    cells.report(date_bad, code, names, date_header, date_text)
    ok = ~missing & ~date_bad
    values: dict[str, np.ndarray] = {}
    blank = np.ones(n, bool)
    for field_name in ("open", "high", "low", "close", "adj_close", "volume"):
        if field_name not in cols.headers:
            continue
        header = cols.headers[field_name]
        got, missing_cell, bad_cell, text_of = numbers(table.column(header))
        cells.report(bad_cell, code, names, header, _not_a_number(header, text_of))
        ok &= ~bad_cell
        if field_name in PRICE_FIELDS:
            blank &= missing_cell
        values[field_name] = got
    source.symbols, source.symbol, source.date, source.row = names, code, day, cells.row
    source.values, source.ok, source.empty, source.cells = values, ok, blank, n
    source.fields = tuple(values)


# The text of a cell's problem, by its row; each binds its column now, as the problems are
# described later.
def _no_symbol(header: str) -> Callable[[int], str]:
    return lambda i: f"column '{header}' has no symbol"


def _invalid_symbol(header: str, read: SymbolCells) -> Callable[[int], str]:
    return lambda i: (
        f"column '{header}' value {shown(read.text(i))} is not a valid symbol ({SYMBOL_RULE})"
        + (f"; {read.rows(i)} rows hold it" if read.rows(i) > 1 else ""))


def _not_a_number(header: str, text_of: Callable[[int], str]) -> Callable[[int], str]:
    return lambda i: f"column '{header}' value {text_of(i)!r} is not a number"


class _Cells:
    """Reports the bad cells of one column of a file, each with its row and symbol."""

    def __init__(self, source: Source, table: pa.Table, problems: Problems) -> None:
        self.source, self.problems = source, problems
        self.position = {name: i for i, name in enumerate(table.column_names)}
        self.row = np.arange(1, table.num_rows + 1, dtype=np.int64)
        self.file = np.full(table.num_rows, source.index, dtype=np.int32)

    def report(self, bad: np.ndarray, code: np.ndarray, names: list[str], header: str,
               text: Callable[[int], str]) -> None:
        def describe(i: int) -> str:
            symbol = names[code[i]] if code[i] >= 0 else None
            return f"{self.source.at(int(self.row[i]), symbol)}: {text(i)}"

        self.problems.add_rows(np.flatnonzero(bad), file=self.file, row=self.row, code=code,
                               names=names, describe=describe, column=self.position[header])


def _fill_wide(source: Source, table: pa.Table, options: ImportOptions,
               problems: Problems) -> None:
    """One row per non-blank cell of the symbol columns; a bad date is every symbol's."""
    n = table.num_rows
    cells = _Cells(source, table, problems)
    date_header = source.columns.headers["date"]
    day, date_bad, date_text = dates(table.column(date_header), options.date_format, date_header)
    cells.report(date_bad, np.full(n, -1), [], date_header, date_text)
    names = sorted(source.columns.tickers)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("symbol", "row", "close", "ok")}
    for j, symbol in enumerate(names):
        header = source.columns.tickers[symbol]
        got, missing_cell, bad_cell, text_of = numbers(table.column(header))
        code = np.full(n, j, np.int32)
        cells.report(bad_cell, code, names, header, _not_a_number(header, text_of))
        present = np.flatnonzero(~missing_cell)
        parts["symbol"].append(code[present])
        parts["row"].append(cells.row[present])
        parts["close"].append(got[present])
        parts["ok"].append(~bad_cell[present] & ~date_bad[present])
    taken = {k: np.concatenate(v) for k, v in parts.items()}
    source.symbols = names
    source.symbol = taken["symbol"].astype(np.int32)
    source.row = taken["row"].astype(np.int64)
    source.date = day[source.row - 1]
    source.values = {"close": taken["close"].astype(np.float64)}
    source.fields = ("close",)
    source.ok = taken["ok"].astype(bool)
    source.empty = np.zeros(source.symbol.size, bool)
    source.cells = int(source.symbol.size)


def read_sources(files: list[Path], options: ImportOptions, problems: Problems) -> list[Source]:
    return [read_source(i, path, options, problems) for i, path in enumerate(files)]
