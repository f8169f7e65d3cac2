"""Import daily OHLCV files of your own as a Stage 02 dataset (`ifns-data import-ohlcv`).

Why an importer and not a loader: models reach data only through the dataset index, so real
prices become one immutable, fingerprinted Parquet table with the same feature families, label
families and context columns as the demo data (`ifns_train.data.features`), and every model
trained on it can be traced to it.

Input
-----
CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``) files, or folders of them (not
recursive). Either one file per symbol (the symbol is the file name's stem, upper-cased) or
long files with a symbol column (values stripped and upper-cased). Column names are matched
case-insensitively with spaces, dots and dashes read as '_' (``COLUMN_SPELLINGS``: e.g. Date,
Open, High, Low, Close, Adj Close, Volume, Ticker). Required: a date and a close (``Close``,
``Price``, ... or, alone, ``Adj Close``). Optional: Open; High and Low (both or neither);
Adj Close; Volume. Other columns are ignored and listed in the report. Dates: ISO
(``2024-01-31``, ``20240131``; a time of day or offset after the date is ignored) or US
month/day/year (``01/31/2024``); ``--date-format auto`` reads whichever the column uses and
refuses day/month/year, which it cannot tell from US dates in general.

Prices used
-----------
With Adj Close, the adjusted series is used: close = Adj Close, Open/High/Low are multiplied
by f = Adj Close / Close and Volume divided by f (so dollar volume is unchanged); counted as
``rows_rescaled_by_adj_close``. Features and labels use each symbol's own trading rows (a
missing day is not filled: a 20-day window is 20 trading rows).

Repairs (each counted in the import report, stored in the index entry under
``source.import_report`` and printed)
------------------------------------------------------------------------------------------
* a row whose price fields are all empty (a non-trading placeholder) -> dropped,
  ``empty_rows_dropped``;
* rows out of date order within a file -> sorted, ``unsorted_rows_sorted``;
* the same (symbol, date) twice with identical values -> one kept,
  ``duplicate_rows_dropped``;
* a split-like jump with ``--adjust-splits`` -> prices before it multiplied by the split ratio
  and volume divided by it, ``splits_adjusted``;
* the first ``WARMUP_ROWS`` (120) trading rows of each symbol, where the 120-day windows are
  not yet filled -> not written, ``warmup_rows_dropped``.

Reported, not repaired
----------------------
* missing business days (Mon-Fri dates between a symbol's first and last row that it lacks,
  holidays included) -> not filled, ``missing_business_days`` (per symbol with the longest gap);
* rows on a weekend -> kept, ``weekend_rows_kept``;
* a move of more than x1.8 (or /1.8) that is not split-like, or a split-like one with
  ``--keep-jumps`` -> kept, ``large_moves_kept``;
* the last 20 rows of each symbol, whose 20-day labels are not yet known -> kept with NaN
  labels (the consumer excludes and counts them), ``label_rows_unknown``;
* a Volume column that is blank or 0 on every row of a symbol (an index) -> that symbol has
  no volume, and the volume features are absent (see below).

Errors (`OhlcvError`, naming file, row - counted from 1 after the header, with the CSV line -
and column)
----------------------------------------------------------------------------------------------
* no date or close column, a symbol column missing under ``--symbol-column``, High without Low,
  two columns read as the same field, Open/High/Low with Adj Close but no Close, a symbol
  whose files disagree on which columns they have, an unknown file type or an empty file;
* a missing or unreadable date or symbol, a date not in the chosen format;
* the same (symbol, date) twice with different values (both rows and the column that differs);
* a missing, non-numeric or non-positive price (Open, High, Low, Close, Adj Close); a missing,
  non-numeric, negative or 0 volume on some but not all rows of a symbol;
* High below max(Open, Close) or Low above min(Open, Close) (relative tolerance 1e-6);
* a split-like jump: a close-to-close ratio within 4% of 1/k or k for k in ``SPLIT_FACTORS``
  (without Adj Close, or still in the Adj Close series) unless ``--adjust-splits`` or
  ``--keep-jumps``; a split-like jump undone the next day (a bad print) always;
* fewer trading rows than ``--min-history`` (default and minimum ``MIN_HISTORY`` = 120 warm-up
  + 20 label days + 1) for a symbol, naming its files and its row count;
* a feature that is not finite on a written row (e.g. a close that never moved in 60 days).

Derived columns
---------------
* features and the 20-day labels: ``features.compute_features`` / ``forward_return_labels``;
  without volume the volume-based features are absent, without High/Low the high-low features
  and the spread label are absent; the entry lists them under ``absent_columns`` with why;
* ``Label_HLSpread_Bps_Horizon_1d_V1``: the Corwin-Schultz high-low spread estimator
  (``features.hl_spread_bps``);
* ``regime_tag``, ``structure_state``, ``vol_band``: the demo's rules
  (``features.compute_context``), with the market = equal-weight mean of the symbols' daily
  log returns on each date (0 on a date where no symbol has one); without High/Low the
  structure state reads the close as the day's high and low;
* ``symbol_cluster``: the symbol's beta of daily log returns on that market over its warm-up
  rows only (rows never written, so no written row's cluster uses its own future), banded by
  ``CLUSTER_BETA_EDGES``: C0 < 0.6 <= C1 < 0.85 <= C2 < 1.0 <= C3 < 1.15 <= C4 < 1.4 <= C5.

Determinism: files are read in sorted path order, rows sorted by (symbol, date, file, row),
symbols in sorted order, and nothing depends on the clock, so the same files give a
bit-identical table and the same fingerprint.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ifns_train.data.features import (
    CONTEXT_COLUMNS,
    FEATURE_COLUMNS,
    FEATURE_FAMILIES,
    HIGH_LOW_FEATURES,
    HL_SPREAD_LABEL,
    HL_SPREAD_LABEL_FAMILY,
    LABEL_HORIZON_DAYS,
    RETURN_LABEL_FAMILIES,
    VOLUME_FEATURES,
    WARMUP_ROWS,
    compute_context,
    compute_features,
    default_splits,
    forward_return_labels,
    hl_spread_bps,
)
from ifns_train.data.index import check_dataset_id, register_dataset
from ifns_train.errors import ConfigError, ContractError, RegistryError

IMPORTER_VERSION = 1
MIN_HISTORY = WARMUP_ROWS + LABEL_HORIZON_DAYS + 1
DATE_FORMATS = ("auto", "iso", "us")
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
MISSING_TEXT = frozenset({"", "na", "n/a", "nan", "null", "none", "#n/a"})
OHLC_TOLERANCE = 1e-6
SPLIT_FACTORS = (2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 40, 50, 100)
SPLIT_TOLERANCE = math.log(1.04)
LARGE_MOVE = math.log(1.8)
CLUSTER_BETA_EDGES = (0.6, 0.85, 1.0, 1.15, 1.4)
DETAIL_LIMIT = 20  # items listed per kind in the report; the counts are always complete

_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T].*)?$")
_BASIC_ISO_RE = re.compile(r"^\d{8}$")
_US_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


class OhlcvError(ContractError):
    """A source file cannot be imported as it is; the message names file, row and column."""


@dataclass(frozen=True)
class ImportOptions:
    """The CLI's options; `checked` refuses contradictory or too-low ones before any reading."""

    date_format: str = "auto"
    symbol_column: str | None = None
    adjust_splits: bool = False
    keep_jumps: bool = False
    min_history: int | None = None

    def checked(self) -> ImportOptions:
        if self.date_format not in DATE_FORMATS:
            raise ConfigError(
                f"date format {self.date_format!r} is not one of {', '.join(DATE_FORMATS)}"
            )
        if self.adjust_splits and self.keep_jumps:
            raise ConfigError("--adjust-splits and --keep-jumps exclude each other")
        if self.min_history is not None and self.min_history < MIN_HISTORY:
            raise ConfigError(
                f"--min-history {self.min_history} is below {MIN_HISTORY}, the fewest rows a "
                f"symbol needs ({WARMUP_ROWS} warm-up rows for the 120-day windows + "
                f"{LABEL_HORIZON_DAYS} label days + 1)"
            )
        return self

    @property
    def history(self) -> int:
        return MIN_HISTORY if self.min_history is None else int(self.min_history)


@dataclass
class OhlcvDataset:
    """A built (not yet registered) Stage 02 table and what the index entry says about it."""

    frame: pd.DataFrame
    feature_families: dict[str, list[str]]
    label_families: dict[str, dict[str, Any]]
    absent_columns: dict[str, str]
    splits: dict[str, list[str]]
    report: dict[str, Any]
    files: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Source:
    index: int
    path: Path
    is_csv: bool
    headers: dict[str, str]  # canonical field -> the file's column name
    ignored: list[str]
    sha256: str
    rows_read: int
    frame: pd.DataFrame  # date, symbol, present value fields, _file, _row
    symbol_from: str


def _norm(name: object) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def _spellings(field_name: str) -> str:
    return ", ".join(COLUMN_SPELLINGS[field_name])


def _where(source: _Source, row: int) -> str:
    line = f" (line {row + 1})" if source.is_csv else ""
    return f"{source.path}: row {row}{line}"


# --------------------------------------------------------------------------- reading


def source_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files named or held (not recursively) by folders, deduplicated, in sorted order."""
    found: dict[str, Path] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = [p for p in path.iterdir() if p.is_file() and _suffix_ok(p)]
            if not inside:
                raise OhlcvError(
                    f"{path}: folder holds no {', '.join(SOURCE_SUFFIXES)} file"
                )
            for p in inside:
                found[str(p.resolve())] = p.resolve()
        elif path.is_file():
            if not _suffix_ok(path):
                raise OhlcvError(
                    f"{path}: not a CSV or Parquet file (accepted: {', '.join(SOURCE_SUFFIXES)})"
                )
            found[str(path.resolve())] = path.resolve()
        else:
            raise OhlcvError(f"{path}: no such file or folder")
    if not found:
        raise OhlcvError("no OHLCV file given")
    return [found[k] for k in sorted(found)]


def _suffix_ok(path: Path) -> bool:
    return path.name.lower().endswith(SOURCE_SUFFIXES)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in SOURCE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _read_raw(path: Path) -> tuple[pd.DataFrame, bool]:
    is_csv = not path.name.lower().endswith((".parquet", ".pq"))
    try:
        if is_csv:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
        else:
            raw = pd.read_parquet(path)
            if not isinstance(raw.index, pd.RangeIndex):
                raw = raw.reset_index()  # e.g. a DatetimeIndex named Date
    except Exception as exc:  # the readers raise many types for a malformed file
        raise OhlcvError(f"{path}: cannot read the file: {exc}") from exc
    if raw.empty:
        raise OhlcvError(f"{path}: the file has no data rows")
    return raw.reset_index(drop=True), is_csv


def _map_columns(
    path: Path, columns: Sequence[object], symbol_column: str | None
) -> tuple[dict[str, str], list[str]]:
    lookup = {s: name for name, spellings in COLUMN_SPELLINGS.items() for s in spellings}
    if symbol_column is not None:
        lookup = {k: v for k, v in lookup.items() if v != "symbol"}
        lookup[_norm(symbol_column)] = "symbol"
    headers: dict[str, str] = {}
    ignored: list[str] = []
    for column in columns:
        canonical = lookup.get(_norm(column))
        if canonical is None:
            ignored.append(str(column))
            continue
        if canonical in headers:
            raise OhlcvError(
                f"{path}: columns '{headers[canonical]}' and '{column}' are both read as "
                f"'{canonical}'; keep one"
            )
        headers[canonical] = str(column)
    if "date" not in headers:
        raise OhlcvError(
            f"{path}: no date column (columns: {', '.join(map(str, columns))}); accepted "
            f"spellings, in any case: {_spellings('date')}"
        )
    if symbol_column is not None and "symbol" not in headers:
        raise OhlcvError(f"{path}: no column '{symbol_column}' (--symbol-column)")
    if "close" not in headers:
        if "adj_close" not in headers:
            raise OhlcvError(
                f"{path}: no close column (columns: {', '.join(map(str, columns))}); accepted "
                f"spellings, in any case: {_spellings('close')}, or {_spellings('adj_close')}"
            )
        extra = [headers[f] for f in ("open", "high", "low") if f in headers]
        if extra:
            raise OhlcvError(
                f"{path}: column(s) {', '.join(extra)} with '{headers['adj_close']}' but no "
                "Close: they cannot be put on the adjusted basis; add the Close column"
            )
        headers["close"] = headers.pop("adj_close")
    if ("high" in headers) != ("low" in headers):
        have, lack = ("high", "low") if "high" in headers else ("low", "high")
        raise OhlcvError(
            f"{path}: column '{headers[have]}' without a {lack} column (accepted spellings: "
            f"{_spellings(lack)}); give both or neither"
        )
    return headers, ignored


def _text(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Stripped text of a column and where it is empty (blank, NA, null, ...)."""
    text = values.astype(str).str.strip()
    missing = (text.isna() | text.str.lower().isin(MISSING_TEXT)).to_numpy(bool)
    return text, missing


def _fail_at(source: _Source, pos: np.ndarray, message: Callable[[int], str]) -> None:
    if pos.size:
        raise OhlcvError(f"{_where(source, int(pos[0]) + 1)}: {message(int(pos[0]))}")


def _numbers(values: pd.Series, source: _Source, field_name: str) -> pd.Series:
    header = source.headers[field_name]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(np.float64)
    text, missing = _text(values)
    number = pd.to_numeric(text.where(~missing, None), errors="coerce").astype(np.float64)
    bad = np.flatnonzero(number.isna().to_numpy() & ~missing)
    _fail_at(source, bad, lambda i: f"column '{header}' value {text.iloc[i]!r} is not a number")
    return number


def _dates(values: pd.Series, source: _Source, date_format: str) -> pd.Series:
    """Calendar days (datetime64[ns] at midnight); any time of day or offset is dropped."""
    header = source.headers["date"]
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(values):
        dates = values.astype("datetime64[ns]").dt.normalize()
        _fail_at(source, np.flatnonzero(dates.isna().to_numpy()),
                 lambda i: f"column '{header}' has no date")
        return dates
    text, missing = _text(values)  # datetime.date objects (Parquet date32) read as ISO text
    _fail_at(source, np.flatnonzero(missing), lambda i: f"column '{header}' has no date")
    iso = text.str.match(_ISO_RE.pattern).to_numpy(bool)
    basic = text.str.match(_BASIC_ISO_RE.pattern).to_numpy(bool)
    us = text.str.match(_US_RE.pattern).to_numpy(bool)
    kind = date_format
    if kind == "auto":
        first = text.iloc[0]
        kind = "us" if _US_RE.match(first) else "iso"
    if kind == "iso":
        _fail_at(source, np.flatnonzero(~(iso | basic)),
                 lambda i: f"column '{header}' value {text.iloc[i]!r} is not an ISO date "
                 "(YYYY-MM-DD or YYYYMMDD); US dates read with --date-format us")
        parsed = pd.to_datetime(text.str.slice(0, 10).where(iso, text), errors="coerce",
                                format="%Y-%m-%d")
        if basic.any():
            parsed = parsed.where(~basic, pd.to_datetime(text.where(basic), format="%Y%m%d",
                                                         errors="coerce"))
    else:
        _fail_at(source, np.flatnonzero(~us),
                 lambda i: f"column '{header}' value {text.iloc[i]!r} is not a US date "
                 "(MM/DD/YYYY)")
        if date_format == "auto":
            month = text.str.extract(_US_RE.pattern)[0].astype(int).to_numpy()
            _fail_at(source, np.flatnonzero(month > 12),
                     lambda i: f"column '{header}' value {text.iloc[i]!r} is not month/day/"
                     "year; day/month/year dates are not read (convert them to ISO)")
        parsed = pd.to_datetime(text, format="%m/%d/%Y", errors="coerce")
    _fail_at(source, np.flatnonzero(parsed.isna().to_numpy()),
             lambda i: f"column '{header}' value {text.iloc[i]!r} is not a valid date")
    return parsed.astype("datetime64[ns]")


def _read_source(index: int, path: Path, options: ImportOptions) -> _Source:
    raw, is_csv = _read_raw(path)
    headers, ignored = _map_columns(path, list(raw.columns), options.symbol_column)
    source = _Source(
        index=index,
        path=path,
        is_csv=is_csv,
        headers=headers,
        ignored=ignored,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        rows_read=len(raw),
        frame=pd.DataFrame(),
        symbol_from="column" if "symbol" in headers else "file name",
    )
    out: dict[str, Any] = {"date": _dates(raw[headers["date"]], source, options.date_format)}
    if "symbol" in headers:
        text, missing = _text(raw[headers["symbol"]])
        _fail_at(source, np.flatnonzero(missing),
                 lambda i: f"column '{headers['symbol']}' has no symbol")
        out["symbol"] = text.str.upper().astype(object)
    else:
        out["symbol"] = _stem(path).strip().upper()
    for field_name in VALUE_FIELDS:
        if field_name in headers:
            out[field_name] = _numbers(raw[headers[field_name]], source, field_name)
    frame = pd.DataFrame(out)
    frame["_file"] = index
    frame["_row"] = np.arange(1, len(frame) + 1)
    prices = [f for f in PRICE_FIELDS if f in frame]
    frame["_empty"] = frame[prices].isna().all(axis=1)
    source.frame = frame
    return source


# --------------------------------------------------------------------------- checks


@dataclass
class _Report:
    counts: dict[str, int] = field(default_factory=lambda: {
        "empty_rows_dropped": 0,
        "unsorted_rows_sorted": 0,
        "duplicate_rows_dropped": 0,
        "rows_rescaled_by_adj_close": 0,
        "splits_adjusted": 0,
        "warmup_rows_dropped": 0,
    })
    reported: dict[str, int] = field(default_factory=lambda: {
        "missing_business_days": 0,
        "weekend_rows_kept": 0,
        "large_moves_kept": 0,
        "label_rows_unknown": 0,
    })
    details: dict[str, list[Any]] = field(default_factory=dict)

    def note(self, kind: str, item: Any) -> None:
        items = self.details.setdefault(kind, [])
        if len(items) < DETAIL_LIMIT:
            items.append(item)


def _loc(sources: list[_Source], frame: pd.DataFrame, pos: int) -> str:
    return _where(sources[int(frame["_file"].iat[pos])], int(frame["_row"].iat[pos]))


def _header(sources: list[_Source], frame: pd.DataFrame, pos: int, field_name: str) -> str:
    return sources[int(frame["_file"].iat[pos])].headers.get(field_name, field_name)


def _first_in_file_order(frame: pd.DataFrame, mask: np.ndarray) -> int:
    pos = np.flatnonzero(mask)
    order = np.lexsort((frame["_row"].to_numpy()[pos], frame["_file"].to_numpy()[pos]))
    return int(pos[order[0]])


def _show(value: object) -> str:
    return "missing" if pd.isna(value) else repr(float(value))


def _fields_by_symbol(sources: list[_Source]) -> dict[str, dict[str, bool]]:
    """Which optional fields each symbol has: all of its files must agree."""
    seen: dict[str, dict[str, tuple[bool, _Source]]] = {}
    for source in sources:
        for symbol in sorted(source.frame["symbol"].unique()):
            have = seen.setdefault(symbol, {})
            for field_name in ("open", "high", "low", "adj_close", "volume"):
                present = field_name in source.headers
                if field_name in have and have[field_name][0] != present:
                    with_it, without = (
                        (have[field_name][1], source) if have[field_name][0] else
                        (source, have[field_name][1])
                    )
                    raise OhlcvError(
                        f"symbol {symbol}: {with_it.path} has a {field_name} column "
                        f"('{with_it.headers[field_name]}') but {without.path} has none; "
                        "give every file of a symbol the same columns"
                    )
                have.setdefault(field_name, (present, source))
    return {s: {f: v[0] for f, v in have.items()} for s, have in seen.items()}


def _combine(sources: list[_Source], report: _Report) -> pd.DataFrame:
    """All rows, placeholders dropped, sorted by (symbol, date, file, row), duplicates merged."""
    parts = []
    for source in sources:
        frame = source.frame
        empty = frame["_empty"].to_numpy()
        for pos in np.flatnonzero(empty)[:DETAIL_LIMIT]:
            report.note("empty_rows_dropped", _where(source, int(frame["_row"].iat[pos])))
        report.counts["empty_rows_dropped"] += int(empty.sum())
        frame = frame[~empty]
        back = frame.groupby("symbol", sort=False)["date"].diff() < pd.Timedelta(0)
        report.counts["unsorted_rows_sorted"] += int(back.sum())
        if back.any():
            report.note("unsorted_rows_sorted", f"{source.path}: {int(back.sum())} rows")
        parts.append(frame)
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sort_values(["symbol", "date", "_file", "_row"], kind="stable")
    frame = frame.reset_index(drop=True)

    symbols = frame["symbol"].to_numpy(object)
    dates = frame["date"].to_numpy("datetime64[ns]")
    same = np.r_[False, (symbols[1:] == symbols[:-1]) & (dates[1:] == dates[:-1])]
    if not same.any():
        return frame
    first = np.maximum.accumulate(np.where(~same, np.arange(len(frame)), 0))
    dup = np.flatnonzero(same)
    differs = np.zeros(len(dup), bool)
    for field_name in (f for f in VALUE_FIELDS if f in frame):
        values = frame[field_name].to_numpy(np.float64)
        a, b = values[first[dup]], values[dup]
        differs |= ~((a == b) | (np.isnan(a) & np.isnan(b)))
    if differs.any():
        pos = int(dup[np.flatnonzero(differs)[0]])
        ref = int(first[pos])
        field_name = next(
            f for f in VALUE_FIELDS if f in frame
            and not (frame[f].iat[ref] == frame[f].iat[pos]
                     or (pd.isna(frame[f].iat[ref]) and pd.isna(frame[f].iat[pos])))
        )
        raise OhlcvError(
            f"symbol {symbols[pos]} has date {pd.Timestamp(dates[pos]).date()} twice "
            f"with different values: {_loc(sources, frame, ref)} and "
            f"{_loc(sources, frame, pos)} differ in column "
            f"'{_header(sources, frame, pos, field_name)}' "
            f"({_show(frame[field_name].iat[ref])} vs {_show(frame[field_name].iat[pos])})"
        )
    for pos in dup[:DETAIL_LIMIT]:
        report.note("duplicate_rows_dropped", _loc(sources, frame, int(pos)))
    report.counts["duplicate_rows_dropped"] += len(dup)
    return frame[~same].reset_index(drop=True)


def _check_values(
    sources: list[_Source], frame: pd.DataFrame, fields: dict[str, dict[str, bool]]
) -> set[str]:
    """Missing, non-positive and inconsistent values are errors; returns the symbols whose
    volume is blank or 0 on every row (they have no volume)."""
    has = {f: frame["symbol"].map({s: v[f] for s, v in fields.items()}).to_numpy(bool)
           for f in ("open", "high", "low", "adj_close", "volume")}
    has["close"] = np.ones(len(frame), bool)
    no_volume: set[str] = set()
    if "volume" in frame:
        # A symbol whose volume is blank or 0 on every row (an index) has no volume.
        volume = frame["volume"].to_numpy(np.float64)
        blank = has["volume"] & (np.isnan(volume) | (volume == 0))
        all_blank = pd.Series(blank).groupby(frame["symbol"].to_numpy()).transform("all")
        all_blank = all_blank.to_numpy(bool)
        no_volume = set(frame["symbol"][blank & all_blank])
        has["volume"] = has["volume"] & ~all_blank
    for field_name in (*PRICE_FIELDS, "volume"):
        if field_name not in frame:
            continue
        values = frame[field_name].to_numpy(np.float64)
        missing = has[field_name] & np.isnan(values)
        if missing.any():
            pos = _first_in_file_order(frame, missing)
            raise OhlcvError(
                f"{_loc(sources, frame, pos)}: column "
                f"'{_header(sources, frame, pos, field_name)}' is missing (other fields of the "
                "row are set); fill it or remove the row"
            )
        low_bound = values < 0 if field_name == "volume" else values <= 0
        bad = has[field_name] & low_bound
        if bad.any():
            pos = _first_in_file_order(frame, bad)
            kind = "negative" if field_name == "volume" else "not positive"
            raise OhlcvError(
                f"{_loc(sources, frame, pos)}: column "
                f"'{_header(sources, frame, pos, field_name)}' is {kind} ({values[pos]:g})"
            )
    if "volume" in frame:
        zero = has["volume"] & (frame["volume"].to_numpy(np.float64) == 0)
        if zero.any():
            pos = _first_in_file_order(frame, zero)
            raise OhlcvError(
                f"{_loc(sources, frame, pos)}: column "
                f"'{_header(sources, frame, pos, 'volume')}' is 0 on a trading day (but not on "
                "every day of the symbol); remove the row, or the Volume column"
            )
    if "high" in frame:
        high, low = frame["high"].to_numpy(np.float64), frame["low"].to_numpy(np.float64)
        close = frame["close"].to_numpy(np.float64)
        opened = frame["open"].to_numpy(np.float64) if "open" in frame else close
        opened = np.where(has["open"], opened, close)
        top, bottom = np.fmax(opened, close), np.fmin(opened, close)
        for field_name, bad, bound in (
            ("high", has["high"] & (high < top * (1 - OHLC_TOLERANCE)), "below max(Open, Close)"),
            ("low", has["low"] & (low > bottom * (1 + OHLC_TOLERANCE)), "above min(Open, Close)"),
        ):
            if bad.any():
                pos = _first_in_file_order(frame, bad)
                raise OhlcvError(
                    f"{_loc(sources, frame, pos)}: column "
                    f"'{_header(sources, frame, pos, field_name)}' "
                    f"({frame[field_name].iat[pos]:g}) is {bound} (open "
                    f"{opened[pos]:g}, close {close[pos]:g})"
                )
    return no_volume


def _apply_adj_close(frame: pd.DataFrame, has_adj: np.ndarray, report: _Report) -> None:
    """Put every price on the Adj Close basis; volume inversely, so dollar volume is kept."""
    if "adj_close" not in frame or not has_adj.any():
        return
    close = frame["close"].to_numpy(np.float64)
    factor = np.where(has_adj, frame["adj_close"].to_numpy(np.float64) / close, 1.0)
    for field_name in ("open", "high", "low"):
        if field_name in frame:
            frame[field_name] = frame[field_name].to_numpy(np.float64) * factor
    frame["close"] = close * factor
    if "volume" in frame:
        frame["volume"] = frame["volume"].to_numpy(np.float64) / factor
    report.counts["rows_rescaled_by_adj_close"] += int((factor != 1.0).sum())


def _split_ratio(log_ratio: np.ndarray) -> np.ndarray:
    """The nominal split ratio (1/k or k) a close-to-close log ratio is within tolerance of."""
    ratios = np.array([1.0 / k for k in SPLIT_FACTORS] + [float(k) for k in SPLIT_FACTORS])
    dist = np.abs(log_ratio[:, None] - np.log(ratios)[None, :])
    best = dist.argmin(axis=1)
    return np.where(dist[np.arange(len(best)), best] < SPLIT_TOLERANCE, ratios[best], np.nan)


def _describe_ratio(q: float) -> str:
    return f"a {round(1 / q)}:1 split" if q < 1 else f"a 1:{round(q)} reverse split"


def _handle_jumps(
    sources: list[_Source],
    frame: pd.DataFrame,
    has_adj: np.ndarray,
    options: ImportOptions,
    report: _Report,
) -> None:
    symbols = frame["symbol"].to_numpy(object)
    close = frame["close"].to_numpy(np.float64)
    new_symbol = np.r_[True, symbols[1:] != symbols[:-1]]
    log_ratio = np.r_[np.nan, np.diff(np.log(close))]
    log_ratio[new_symbol] = np.nan
    q = np.full(len(frame), np.nan)
    valid = ~np.isnan(log_ratio)
    q[valid] = _split_ratio(log_ratio[valid])
    split_like = ~np.isnan(q)
    large = valid & (np.abs(np.nan_to_num(log_ratio)) > LARGE_MOVE) & ~split_like
    factor = np.ones(len(frame))
    dates = frame["date"]

    def describe(pos: int) -> str:
        column = "adj_close" if has_adj[pos] else "close"
        header = f"'{_header(sources, frame, pos, column)}'"
        if has_adj[pos]:
            header += " (the adjusted series)"
        return (
            f"{_loc(sources, frame, pos)}: column {header} jumps from "
            f"{close[pos - 1]:.6g} to {close[pos]:.6g} (x{math.exp(log_ratio[pos]):.4g}) on "
            f"{dates.iat[pos].date()}, close to {_describe_ratio(q[pos])}"
        )

    for pos in np.flatnonzero(split_like):
        nxt = pos + 1
        if (nxt < len(frame) and split_like[nxt] and not new_symbol[nxt]
                and abs(math.log(q[pos] * q[nxt])) < SPLIT_TOLERANCE):
            raise OhlcvError(
                f"{describe(pos)}, and back the next row: a one-day spike, likely a bad price; "
                "fix the row"
            )
        if options.keep_jumps:
            large[pos] = True
            continue
        if not options.adjust_splits:
            hint = "" if has_adj[pos] else ", or supply an Adj Close column"
            raise OhlcvError(
                f"{describe(pos)}: pass --adjust-splits to back-adjust the earlier prices by "
                f"x{q[pos]:g} (and volume inversely){hint}, or --keep-jumps if the move is "
                "genuine"
            )
        start = int(np.flatnonzero(new_symbol[: pos + 1])[-1])
        factor[start:pos] *= q[pos]
        report.counts["splits_adjusted"] += 1
        report.note("splits_adjusted", {
            "symbol": symbols[pos], "date": dates.iat[pos].date().isoformat(),
            "ratio": float(q[pos]), "where": _loc(sources, frame, pos),
        })
    if (factor != 1.0).any():
        for field_name in ("open", "high", "low", "close"):
            if field_name in frame:
                frame[field_name] = frame[field_name].to_numpy(np.float64) * factor
        if "volume" in frame:
            frame["volume"] = frame["volume"].to_numpy(np.float64) / factor
    for pos in np.flatnonzero(large):
        report.reported["large_moves_kept"] += 1
        report.note("large_moves_kept", {
            "symbol": symbols[pos], "date": dates.iat[pos].date().isoformat(),
            "ratio": round(math.exp(log_ratio[pos]), 6), "where": _loc(sources, frame, pos),
        })


def _calendar(frame: pd.DataFrame, report: _Report) -> dict[str, dict[str, Any]]:
    """Per symbol: rows, first/last date, missing business days and the longest such gap."""
    out: dict[str, dict[str, Any]] = {}
    for symbol, dates in frame.groupby("symbol", sort=True)["date"]:
        days = pd.DatetimeIndex(dates)
        business = pd.bdate_range(days[0], days[-1])
        missing = business.difference(days)
        weekend = int((days.day_of_week >= 5).sum())
        longest = 0
        if len(missing):
            positions = business.get_indexer(missing)
            runs = np.split(positions, np.flatnonzero(np.diff(positions) != 1) + 1)
            longest = max(len(r) for r in runs)
        report.reported["missing_business_days"] += len(missing)
        report.reported["weekend_rows_kept"] += weekend
        out[str(symbol)] = {
            "rows": len(days),
            "first_date": days[0].date().isoformat(),
            "last_date": days[-1].date().isoformat(),
            "missing_business_days": len(missing),
            "longest_gap_business_days": longest,
        }
    return out


# --------------------------------------------------------------------------- building


def _wide(values: np.ndarray, lengths: np.ndarray, symbols: list[str]) -> pd.DataFrame:
    """Long values in (symbol, date) order -> trading-row-aligned wide frame, NaN-padded."""
    out = np.full((int(lengths.max()), len(symbols)), np.nan)
    start = 0
    for j, n in enumerate(lengths):
        out[:n, j] = values[start : start + n]
        start += n
    return pd.DataFrame(out, columns=symbols)


def _long(wide: pd.DataFrame, lengths: np.ndarray) -> np.ndarray:
    values = wide.to_numpy(np.float64)
    return np.concatenate([values[:n, j] for j, n in enumerate(lengths)])


def _market_and_clusters(
    frame: pd.DataFrame, position: np.ndarray
) -> tuple[pd.Series, dict[str, float]]:
    """Equal-weight market return per date, and each symbol's beta over its warm-up rows."""
    symbols = frame["symbol"].to_numpy(object)
    logc = np.log(frame["close"].to_numpy(np.float64))
    ret = np.r_[np.nan, np.diff(logc)]
    ret[position == 0] = np.nan
    wide = pd.DataFrame({"date": frame["date"], "symbol": symbols, "ret": ret}).pivot(
        index="date", columns="symbol", values="ret"
    )
    market = wide.mean(axis=1).fillna(0.0)
    market_at = market.reindex(frame["date"]).to_numpy(np.float64)
    betas: dict[str, float] = {}
    for start in np.flatnonzero(position == 0):  # rows are sorted by symbol, then date
        rows = slice(start + 1, start + WARMUP_ROWS)
        x, y = market_at[rows], ret[rows]
        dx = x - x.mean()
        var = float((dx * dx).sum())
        betas[str(symbols[start])] = float((dx * (y - y.mean())).sum() / var) if var > 0 else 1.0
    return market, betas


def build_ohlcv_dataset(
    paths: Iterable[str | Path], options: ImportOptions | None = None
) -> OhlcvDataset:
    """Read, check, repair and derive: the Stage 02 table and its entry's metadata."""
    options = (options or ImportOptions()).checked()
    files = source_files(paths)
    sources = [_read_source(i, p, options) for i, p in enumerate(files)]
    report = _Report()
    fields = _fields_by_symbol(sources)
    frame = _combine(sources, report)
    no_volume = _check_values(sources, frame, fields)
    has_adj = frame["symbol"].map({s: v["adj_close"] for s, v in fields.items()}).to_numpy(bool)
    _apply_adj_close(frame, has_adj, report)
    _handle_jumps(sources, frame, has_adj, options, report)

    per_symbol = _calendar(frame, report)
    short = {s: d["rows"] for s, d in per_symbol.items() if d["rows"] < options.history}
    if short:
        symbol = sorted(short)[0]
        origin = sorted({str(sources[i].path) for i in
                         frame.loc[frame["symbol"] == symbol, "_file"].unique()})
        raise OhlcvError(
            f"{', '.join(origin)}: symbol {symbol} has {short[symbol]} trading rows, fewer than "
            f"the {options.history} needed ({WARMUP_ROWS} warm-up rows for the 120-day windows "
            f"+ {LABEL_HORIZON_DAYS} label days + 1"
            + (", or --min-history" if options.min_history is not None else "")
            + f"); {len(short)} symbol(s) too short: {', '.join(sorted(short)[:10])}"
        )

    symbols = sorted(per_symbol)
    lengths = np.array([per_symbol[s]["rows"] for s in symbols])
    position = frame.groupby("symbol", sort=False).cumcount().to_numpy()
    volume_missing = sorted({s for s in symbols if not fields[s]["volume"]} | no_volume)
    hl_missing = sorted(s for s in symbols if not fields[s]["high"])
    absent: dict[str, str] = {}
    if volume_missing:
        why = _absence_reason("no volume in source", volume_missing, symbols)
        absent.update({c: why for c in VOLUME_FEATURES})
    if hl_missing:
        why = _absence_reason("no High/Low in source", hl_missing, symbols)
        absent.update({c: why for c in HIGH_LOW_FEATURES})
        absent[HL_SPREAD_LABEL] = why

    close = _wide(frame["close"].to_numpy(np.float64), lengths, symbols)
    if hl_missing:
        high = low = close  # only for the structure state; the columns themselves are absent
    else:
        high = _wide(frame["high"].to_numpy(np.float64), lengths, symbols)
        low = _wide(frame["low"].to_numpy(np.float64), lengths, symbols)
    volume = None if volume_missing else _wide(
        frame["volume"].to_numpy(np.float64), lengths, symbols
    )
    # A flat window gives 0/0 or log(0): reported below as a named error, not as a warning.
    with np.errstate(divide="ignore", invalid="ignore"):
        features = compute_features(close, high, low, volume)
    forward = forward_return_labels(close, LABEL_HORIZON_DAYS)
    labels = {
        "Label_Direction_Horizon_20d_V1": forward["direction"],
        "Label_ReturnContinuous_Horizon_20d_V1": forward["return"],
        "Label_RealizedVol_Horizon_20d_V1": forward["realized_vol"],
    }
    if not hl_missing:
        labels[HL_SPREAD_LABEL] = hl_spread_bps(high, low, close)

    market, betas = _market_and_clusters(frame, position)
    clusters = np.searchsorted(CLUSTER_BETA_EDGES, [betas[s] for s in symbols], side="right")
    long_features = {name: _long(wide, lengths) for name, wide in features.items()}
    by_date = {
        name: pd.DataFrame({"date": frame["date"], "symbol": frame["symbol"], "v": values})
        .pivot(index="date", columns="symbol", values="v")
        for name, values in long_features.items()
        if name in ("struct_swing_score", "trend_px_vs_ma60", "struct_breakout_up_20d",
                    "struct_breakout_dn_20d", "vol_20d")
    }
    close_by_date = frame.pivot(index="date", columns="symbol", values="close")
    context = compute_context(by_date, close_by_date, clusters, market=market)
    date_pos = close_by_date.index.get_indexer(frame["date"])
    symbol_pos = close_by_date.columns.get_indexer(frame["symbol"])

    columns: dict[str, Any] = {
        "date": frame["date"].to_numpy("datetime64[ns]"),
        "symbol": frame["symbol"].to_numpy(object),
    }
    present = [c for c in FEATURE_COLUMNS if c not in absent]
    for name in present:
        columns[name] = long_features[name]
    for name, wide in labels.items():
        columns[name] = _long(wide, lengths)
    for name in CONTEXT_COLUMNS:
        columns[name] = context[name].to_numpy()[date_pos, symbol_pos]
    keep = position >= WARMUP_ROWS
    report.counts["warmup_rows_dropped"] = int((~keep).sum())
    out = pd.DataFrame(columns)[keep]
    provenance = frame[["_file", "_row"]][keep].reset_index(drop=True)
    out = out.reset_index(drop=True)
    order = np.lexsort((out["symbol"].to_numpy(object), out["date"].to_numpy()))
    out = out.iloc[order].reset_index(drop=True)
    provenance = provenance.iloc[order].reset_index(drop=True)
    for name in ["symbol", *CONTEXT_COLUMNS]:
        out[name] = out[name].astype(str)
    _check_finite(sources, out, provenance, present)

    label_rows_unknown = int(out["Label_Direction_Horizon_20d_V1"].isna().sum())
    report.reported["label_rows_unknown"] = label_rows_unknown
    written = out["symbol"].value_counts()
    for symbol in symbols:
        per_symbol[symbol].update(
            rows_written=int(written.get(symbol, 0)),
            cluster=f"C{int(clusters[symbols.index(symbol)])}",
            beta_warmup=round(betas[symbol], 6),
            volume=symbol not in volume_missing,
            high_low=symbol not in hl_missing,
            adjusted_by_adj_close=bool(fields[symbol]["adj_close"]),
        )
    feature_families = {
        family: [c for c in cols if c not in absent]
        for family, cols in FEATURE_FAMILIES.items()
        if any(c not in absent for c in cols)
    }
    label_families = dict(RETURN_LABEL_FAMILIES)
    if not hl_missing:
        label_families[HL_SPREAD_LABEL] = HL_SPREAD_LABEL_FAMILY
    file_info = [
        {
            "path": str(s.path),
            "sha256": s.sha256,
            "rows": s.rows_read,
            "symbol_from": s.symbol_from,
            "columns": dict(sorted(s.headers.items())),
            "ignored_columns": s.ignored,
        }
        for s in sources
    ]
    if any(s.ignored for s in sources):
        report.details["ignored_columns"] = sorted({c for s in sources for c in s.ignored})
    summary = {
        "files": len(sources),
        "rows_read": int(sum(s.rows_read for s in sources)),
        "rows_written": len(out),
        "symbols": symbols,
        "date_range": [out["date"].min().date().isoformat(), out["date"].max().date().isoformat()],
        "repairs": report.counts,
        "reported": report.reported,
        "absent_columns": absent,
        "context_rules": {
            "regime_tag": "demo rule on the equal-weight market of the imported symbols",
            "structure_state": (
                "demo rule from closes only (no High/Low in source)" if hl_missing
                else "demo rule"
            ),
            "vol_band": "cross-sectional tercile of vol_20d per date",
            "symbol_cluster": (
                "beta on the equal-weight market over each symbol's warm-up rows, bands "
                + ", ".join(f"{e:g}" for e in CLUSTER_BETA_EDGES)
            ),
        },
        "per_symbol": per_symbol,
        "details": report.details,
        "options": {
            "date_format": options.date_format,
            "symbol_column": options.symbol_column,
            "adjust_splits": options.adjust_splits,
            "keep_jumps": options.keep_jumps,
            "min_history": options.history,
        },
    }
    return OhlcvDataset(
        frame=out,
        feature_families=feature_families,
        label_families=label_families,
        absent_columns=absent,
        splits=default_splits(out),
        report=summary,
        files=file_info,
    )


def _absence_reason(what: str, lacking: list[str], symbols: list[str]) -> str:
    if len(lacking) == len(symbols):
        return what
    shown = ", ".join(lacking[:10]) + (" ..." if len(lacking) > 10 else "")
    return f"{what} for {len(lacking)} of {len(symbols)} symbols ({shown})"


def _check_finite(
    sources: list[_Source], frame: pd.DataFrame, provenance: pd.DataFrame, columns: list[str]
) -> None:
    for name in columns:
        bad = ~np.isfinite(frame[name].to_numpy(np.float64))
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            where = _where(sources[int(provenance["_file"].iat[pos])],
                           int(provenance["_row"].iat[pos]))
            raise OhlcvError(
                f"{where}: feature '{name}' is not finite for symbol {frame['symbol'].iat[pos]} "
                f"on {frame['date'].iat[pos].date()} ({int(bad.sum())} rows): its window has "
                "no price variation (a stale or constant series?)"
            )


def _next_version(dataset_id: str) -> str:
    match = re.match(r"^(.*_V)(\d+)$", dataset_id)
    return f"{match.group(1)}{int(match.group(2)) + 1}" if match else f"{dataset_id}_V2"


def import_ohlcv(
    paths: Iterable[str | Path],
    dataset_id: str,
    registry_dir: str | Path,
    options: ImportOptions | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build the dataset and register it; returns (index entry, import report).

    Re-importing the same files under the same id is a no-op (same fingerprint); different
    content under an existing id is refused by the index.
    """
    check_dataset_id(dataset_id)  # fail before reading anything
    built = build_ohlcv_dataset(paths, options)
    try:
        entry = register_dataset(
            registry_dir,
            dataset_id,
            built.frame,
            feature_families=built.feature_families,
            label_families=built.label_families,
            splits=built.splits,
            source={
                "importer": "ifns_train.data.ohlcv",
                "version": IMPORTER_VERSION,
                "files": built.files,
                "import_report": built.report,
            },
            absent_columns=built.absent_columns,
        )
    except RegistryError as exc:
        if "already exists" not in str(exc):
            raise
        raise RegistryError(
            f"{exc} (e.g. --dataset-id {_next_version(dataset_id)})"
        ) from None
    return entry, built.report


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
