"""The importer's options, checked before any file is read, and the known splits.

Why checked up front: a contradiction (``--adjust-splits`` with ``--keep-jumps``) or a
malformed split should cost nothing, not a read of a 200 MB file.

* ``--keep-jumps SYMBOL`` (repeatable; ``all``, in lower case, for every symbol: the ticker ALL
  is written in upper case) keeps that symbol's split-like jumps as genuine moves.
* ``--split SYMBOL:YYYY-MM-DD:RATIO`` (repeatable) and ``--splits-file FILE.csv`` (columns
  symbol, date, ratio) give known splits: the date is the first date at the new price, RATIO
  the new shares per old share (2 for a 2:1 split, 0.5 for a 1:2 reverse split; ``3/2`` is
  read as 1.5).
* ``--adjust-splits`` back-adjusts every detected split-like jump of every symbol, so it
  excludes ``--keep-jumps`` (a symbol would be both); known splits go with either.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ifns_train.core.errors import ConfigError, shown
from ifns_train.data.features import LABEL_HORIZON_DAYS, WARMUP_ROWS
from ifns_train.data.ohlcv.parse import DAY_RANGE, FIRST_DAY, LAST_DAY
from ifns_train.data.symbols import SYMBOL_RULE, is_symbol

MIN_HISTORY = WARMUP_ROWS + LABEL_HORIZON_DAYS + 1
DATE_FORMATS = ("auto", "iso", "us")
KEEP_ALL = "all"
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def header_key(name: object) -> str:
    """A header as matched: lower case, runs of anything but letters and digits as one '_'."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


@dataclass(frozen=True)
class KnownSplit:
    """A split the user knows of: on `date` (the first date at the new price) each old share
    became `ratio` shares, so the price moved by 1 / ratio."""

    symbol: str
    date: str  # ISO YYYY-MM-DD
    ratio: float
    origin: str  # where it was given, for messages

    @property
    def price_factor(self) -> float:
        return 1.0 / self.ratio

    @property
    def day(self) -> pd.Timestamp:
        return pd.Timestamp(self.date)

    @classmethod
    def make(cls, symbol: str, date: str, ratio: str, origin: str) -> KnownSplit:
        symbol, date, ratio = symbol.strip().upper(), date.strip(), ratio.strip()
        if not symbol:
            raise ConfigError(f"{origin}: no symbol")
        if not is_symbol(symbol):
            raise ConfigError(f"{origin}: symbol {shown(symbol)} is not a valid symbol "
                              f"({SYMBOL_RULE})")
        if not _ISO_DAY.fullmatch(date) or pd.isna(pd.to_datetime(date, errors="coerce")):
            raise ConfigError(f"{origin}: date {shown(date)} is not a valid YYYY-MM-DD date")
        if not FIRST_DAY <= np.datetime64(date, "D") <= LAST_DAY:
            raise ConfigError(f"{origin}: date {date!r} is outside the dates read, {DAY_RANGE}")
        try:
            top, _, bottom = ratio.partition("/")
            value = float(top) / float(bottom) if bottom else float(top)
        except (ValueError, ZeroDivisionError):
            value = math.nan
        if not (math.isfinite(value) and value > 0 and value != 1.0):
            raise ConfigError(
                f"{origin}: ratio {ratio!r} is not a positive number other than 1 (new shares "
                "per old share: 2 for a 2:1 split, 0.5 for a 1:2 reverse split)"
            )
        return cls(symbol, date, value, origin)

    @classmethod
    def parse(cls, text: str) -> KnownSplit:
        """``SYMBOL:YYYY-MM-DD:RATIO`` as given to ``--split``."""
        parts = text.split(":")
        if len(parts) != 3:
            raise ConfigError(
                f"--split {text!r}: expected SYMBOL:YYYY-MM-DD:RATIO, e.g. AAPL:2020-08-31:4"
            )
        symbol, date, ratio = parts
        return cls.make(symbol, date, ratio, origin=f"--split {text}")


def read_splits_file(path: str | Path) -> list[KnownSplit]:
    """Known splits from a CSV with the columns symbol, date and ratio (any case)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise ConfigError(f"--splits-file {path}: cannot read it: {exc}") from exc
    if not rows:
        raise ConfigError(f"--splits-file {path}: the file is empty")
    header = [header_key(h) for h in rows[0]]
    missing = [c for c in ("symbol", "date", "ratio") if c not in header]
    if missing:
        raise ConfigError(f"--splits-file {path}: no column {', '.join(missing)} (columns: "
                          f"{', '.join(rows[0])}); expected symbol, date, ratio")
    at = [header.index(c) for c in ("symbol", "date", "ratio")]
    out = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise ConfigError(f"--splits-file {path}: line {line} has {len(row)} fields, "
                              f"expected {len(header)}")
        symbol, date, ratio = (row[i] for i in at)
        out.append(KnownSplit.make(symbol, date, ratio, origin=f"{path} line {line}"))
    return out


@dataclass(frozen=True)
class ImportOptions:
    """The CLI's options; `checked` refuses contradictory or too-low ones before any reading
    and adds the splits of `splits_file` to `splits`."""

    date_format: str = "auto"
    symbol_column: str | None = None
    date_column: str | None = None
    wide: bool = False
    adjust_splits: bool = False
    keep_jumps: tuple[str, ...] | str | bool = ()  # symbols; "all"; True for "all"
    splits: tuple[KnownSplit, ...] = ()
    splits_file: str | None = None
    drop_symbol_on_error: bool = False
    min_history: int | None = None

    def checked(self) -> ImportOptions:
        if self.date_format not in DATE_FORMATS:
            raise ConfigError(
                f"date format {self.date_format!r} is not one of {', '.join(DATE_FORMATS)}"
            )
        if self.wide and self.symbol_column is not None:
            raise ConfigError("--wide reads one column per symbol; --symbol-column does not go "
                              "with it")
        given = self.keep_jumps
        if isinstance(given, (bool, str)):  # keep_jumps=True (every symbol) or one symbol
            given = ((KEEP_ALL,) if given else ()) if isinstance(given, bool) else (given,)
        keep = tuple(sorted({KEEP_ALL if s.strip() == KEEP_ALL else s.strip().upper()
                             for s in given}))
        if "" in keep:
            raise ConfigError("--keep-jumps needs a symbol (or 'all')")
        for symbol in keep:
            if symbol != KEEP_ALL and not is_symbol(symbol):
                raise ConfigError(f"--keep-jumps {shown(symbol)}: not a valid symbol "
                                  f"({SYMBOL_RULE})")
        if self.adjust_splits and keep:
            raise ConfigError(
                f"--adjust-splits back-adjusts the split-like jumps of every symbol, so it "
                f"excludes --keep-jumps {' '.join(keep)}; to keep some symbols' jumps and adjust "
                "others' splits, give those splits with --split SYMBOL:YYYY-MM-DD:RATIO"
            )
        if self.min_history is not None and self.min_history < MIN_HISTORY:
            raise ConfigError(
                f"--min-history {self.min_history} is below {MIN_HISTORY}, the fewest rows a "
                f"symbol needs ({WARMUP_ROWS} warm-up rows for the 120-day windows + "
                f"{LABEL_HORIZON_DAYS} label days + 1)"
            )
        splits = list(self.splits)
        if self.splits_file is not None:
            splits += read_splits_file(self.splits_file)
        known: dict[tuple[str, str], KnownSplit] = {}
        for split in splits:
            seen = known.setdefault((split.symbol, split.date), split)
            if not math.isclose(seen.ratio, split.ratio, rel_tol=1e-12):
                raise ConfigError(
                    f"two ratios for the split of {split.symbol} on {split.date}: "
                    f"{seen.ratio:g} ({seen.origin}) and {split.ratio:g} ({split.origin})"
                )
        ordered = tuple(sorted(known.values(), key=lambda s: (s.symbol, s.date)))
        return replace(self, keep_jumps=keep, splits=ordered)

    @property
    def history(self) -> int:
        return MIN_HISTORY if self.min_history is None else int(self.min_history)

    @property
    def kept_jumps(self) -> tuple[str, ...]:
        """`keep_jumps` as `checked` leaves it: a tuple of symbols, or of 'all'."""
        if not isinstance(self.keep_jumps, tuple):
            raise TypeError("ImportOptions.keep_jumps is read after checked(), which makes it "
                            f"a tuple; it is {self.keep_jumps!r}")
        return self.keep_jumps

    def keeps_jumps(self, symbol: str) -> bool:
        return KEEP_ALL in self.kept_jumps or symbol in self.kept_jumps

    def as_record(self) -> dict[str, object]:
        """The options as stored in the import report."""
        return {
            "date_format": self.date_format,
            "symbol_column": self.symbol_column,
            "date_column": self.date_column,
            "wide": self.wide,
            "adjust_splits": self.adjust_splits,
            "keep_jumps": list(self.kept_jumps),
            "splits": [{"symbol": s.symbol, "date": s.date, "ratio": s.ratio}
                       for s in self.splits],
            "splits_file": None if self.splits_file is None else str(self.splits_file),
            "drop_symbol_on_error": self.drop_symbol_on_error,
            "min_history": self.history,
        }
