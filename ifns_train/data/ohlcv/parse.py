"""Cells -> values: dates, symbols and numbers of one column, with the cells that fail.

Why by distinct value: a date or a symbol repeats on thousands of rows, so each distinct text is
parsed once (with the rules below) and the result is spread back by Arrow's dictionary
encoding; numbers are cast by Arrow compute, and only a column that fails the cast is read
again, by pandas, to find the cells at fault. Every function returns, besides the values, which
cells failed and the text of each failure, so that the reader reports all of them at once.

* A cell is blank when, stripped, it is empty or one of ``MISSING_TEXT`` (any case).
* Dates (from 1900-01-01 to 2262-04-11, the last day of a nanosecond timestamp): ISO
  ``YYYY-MM-DD`` (a time of day or offset after it ignored) or ``YYYYMMDD``, or US
  ``MM/DD/YYYY``; ``auto`` takes the format of the column's first date and refuses a US-looking
  date whose month is above 12 (day/month/year). Stored timestamps keep their calendar day (a
  time zone's wall clock), without the time of day.
* Numbers: what Arrow (and pandas) parse as a finite float: ``1234.5``, ``1e3``, ``+5``; not
  ``1,234.5``, not ``inf``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ifns_train.data.symbols import is_symbol

MISSING_TEXT = ("", "na", "n/a", "nan", "null", "none", "#n/a")
# The dates read. Rows are held as nanosecond timestamps, which end on 2262-04-11 (a later date
# would wrap around to 1677, silently); before 1900 is a typo, not daily market data.
FIRST_DAY, LAST_DAY = np.datetime64("1900-01-01", "D"), np.datetime64("2262-04-11", "D")
DAY_RANGE = f"{FIRST_DAY}..{LAST_DAY}"
ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T].*)?$")
BASIC_ISO_RE = re.compile(r"^\d{8}$")
US_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def is_date_text(text: str) -> bool:
    return bool(ISO_RE.match(text) or BASIC_ISO_RE.match(text) or US_RE.match(text))


def _as_text(column: pa.ChunkedArray) -> pa.Array:
    """One contiguous string array (other types cast: an integer 20240131 reads as a date)."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = pc.cast(column, pa.string())
    return column.combine_chunks()


def _distinct(column: pa.ChunkedArray) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """The distinct stripped texts of a column, each cell's index into them, and whether each
    distinct text is blank (a null cell is a blank text appended at the end)."""
    encoded = _as_text(column).dictionary_encode()
    texts = pd.Series([*encoded.dictionary.to_pylist(), ""], dtype=object).str.strip()
    index = pc.fill_null(encoded.indices, len(texts) - 1).to_numpy().astype(np.int64)
    blank = texts.str.lower().isin(MISSING_TEXT).to_numpy(bool)
    return texts, index, blank


class SymbolCells(NamedTuple):
    """A symbol column read: `code` indexes `names` (-1 where blank or invalid)."""

    names: list[str]  # sorted distinct valid symbols (stripped, upper case)
    code: np.ndarray
    blank: np.ndarray
    invalid: np.ndarray  # not blank and not a valid symbol (`is_symbol`)
    first_invalid: np.ndarray  # the first cell of each distinct invalid text
    text: Callable[[int], str]  # the stripped text of cell i
    rows: Callable[[int], int]  # how many cells hold the text of cell i


def symbols(column: pa.ChunkedArray) -> SymbolCells:
    """The symbols of a column, each distinct text checked once."""
    texts, index, blank = _distinct(column)
    upper = texts.str.upper()
    invalid = ~blank & ~np.array([is_symbol(u) for u in upper], dtype=bool)
    names = sorted(set(upper[~blank & ~invalid]))
    code_of = {name: i for i, name in enumerate(names)}
    codes = np.array([-1 if b or v else code_of[u]
                      for u, b, v in zip(upper, blank, invalid, strict=True)], dtype=np.int32)
    counts = np.bincount(index, minlength=len(texts))
    first = np.zeros(index.size, bool)
    bad_cells = np.flatnonzero(invalid[index])
    first[bad_cells[np.unique(index[bad_cells], return_index=True)[1]]] = True
    return SymbolCells(names, codes[index], blank[index], invalid[index], first,
                       lambda i: str(texts[index[i]]), lambda i: int(counts[index[i]]))


def dates(
    column: pa.ChunkedArray, date_format: str, header: str
) -> tuple[np.ndarray, np.ndarray, Callable[[int], str]]:
    """Calendar days (datetime64[ns] at midnight, NaT where bad), which cells are bad, and the
    problem of cell i."""
    kind = column.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        if pa.types.is_timestamp(kind) and kind.tz is not None:
            column = pc.local_timestamp(column)
        days = column.to_numpy().astype("datetime64[D]")  # no overflow at day precision
        outside = ~np.isnat(days) & ((days < FIRST_DAY) | (days > LAST_DAY))
        as_read = days.copy()
        days[outside] = np.datetime64("NaT")
        bad = np.isnat(days)
        return days.astype("datetime64[ns]"), bad, lambda i: (
            f"column '{header}' value {str(as_read[i])!r} is outside the dates read, {DAY_RANGE}"
            if outside[i] else f"column '{header}' has no date")
    texts, index, blank = _distinct(column)
    problem = np.full(len(texts), "", dtype=object)
    problem[blank] = f"column '{header}' has no date"
    iso = texts.str.match(ISO_RE.pattern).to_numpy(bool)
    basic = texts.str.match(BASIC_ISO_RE.pattern).to_numpy(bool)
    us = texts.str.match(US_RE.pattern).to_numpy(bool)
    kind_used = date_format
    if date_format == "auto":
        # The first date of the column, in row order, decides.
        first = int(index[np.flatnonzero(~blank[index])[0]]) if (~blank[index]).any() else -1
        kind_used = "us" if first >= 0 and us[first] else "iso"
    quoted = [repr(t) for t in texts]
    todo = ~blank
    if kind_used == "iso":
        wrong = todo & ~(iso | basic)
        problem[wrong] = [f"column '{header}' value {q} is not an ISO date (YYYY-MM-DD or "
                          "YYYYMMDD); US dates read with --date-format us"
                          for q in np.array(quoted, dtype=object)[wrong]]
        parsed = pd.to_datetime(texts.str.slice(0, 10).where(iso, None), errors="coerce",
                                format="%Y-%m-%d")
        parsed = parsed.where(~basic, pd.to_datetime(texts.where(basic, None), format="%Y%m%d",
                                                     errors="coerce"))
    else:
        wrong = todo & ~us
        problem[wrong] = [f"column '{header}' value {q} is not a US date (MM/DD/YYYY)"
                          for q in np.array(quoted, dtype=object)[wrong]]
        month = texts.str.extract(US_RE.pattern)[0].astype(float).to_numpy()
        dmy = todo & us & (month > 12) & (date_format == "auto")
        problem[dmy] = [f"column '{header}' value {q} is not month/day/year; day/month/year "
                        "dates are not read (convert them to ISO)"
                        for q in np.array(quoted, dtype=object)[dmy]]
        parsed = pd.to_datetime(texts.where(us & ~dmy, None), format="%m/%d/%Y",
                                errors="coerce")
    days = parsed.to_numpy().astype("datetime64[D]")  # pandas may hold a date past 2262 in us
    invalid = todo & (problem == "") & np.isnat(days)
    problem[invalid] = [f"column '{header}' value {q} is not a valid date"
                        for q in np.array(quoted, dtype=object)[invalid]]
    outside = todo & (problem == "") & ((days < FIRST_DAY) | (days > LAST_DAY))
    problem[outside] = [f"column '{header}' value {q} is outside the dates read, {DAY_RANGE}"
                        for q in np.array(quoted, dtype=object)[outside]]
    bad_text = problem != ""
    days[bad_text] = np.datetime64("NaT")
    return days.astype("datetime64[ns]")[index], bad_text[index], lambda i: str(
        problem[index[i]])


def numbers(
    column: pa.ChunkedArray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Callable[[int], str]]:
    """Float64 values (NaN where blank or bad), which cells are blank, which are not numbers,
    and the stripped text of cell i."""
    kind = column.type
    if (pa.types.is_integer(kind) or pa.types.is_floating(kind)
            or pa.types.is_decimal(kind)):
        values = pc.cast(column, pa.float64()).to_numpy()
        return values, np.isnan(values), np.isinf(values), lambda i: str(values[i])
    raw = _as_text(column)
    try:  # a clean column (no blank, space, NaN or infinity) in one cast
        values = pc.cast(raw, pa.float64()).to_numpy(zero_copy_only=False)
        if np.isfinite(values).all():
            return values, np.zeros(values.size, bool), np.zeros(values.size, bool), str
    except pa.ArrowInvalid:
        pass
    text = pc.utf8_trim_whitespace(raw)
    blank_cell = pc.fill_null(
        pc.is_in(pc.utf8_lower(text), value_set=pa.array(MISSING_TEXT)), True
    )
    candidate = pc.if_else(blank_cell, pa.scalar(None, text.type), text)
    blank = blank_cell.to_numpy(zero_copy_only=False)
    try:
        values = pc.cast(candidate, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:  # find the cells at fault
        parsed = pd.to_numeric(pd.Series(candidate.to_pylist(), dtype=object), errors="coerce")
        values = parsed.to_numpy(np.float64, na_value=np.nan)
    bad = (np.isnan(values) & ~blank) | np.isinf(values)
    return values, blank, bad, lambda i: str(text[i].as_py())
