"""The Stage 02 data contract, consumer side: checks on a table before any row is used.

Each check raises one ContractError naming the dataset, the column and, where there is one, the
first offending (date, symbol), so a broken table is fixed at its source rather than patched here.
Tables are read in chunks of rows (`ifns_train.data.reader`), so every check takes one chunk, the
file row number of its first row (`offset`), and carries what it must know of earlier chunks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from ifns_train.core.errors import ContractError, shown
from ifns_train.data.symbols import SYMBOL_RULE, is_symbol


def _at(frame: pd.DataFrame, pos: int, offset: int) -> str:
    return _row(offset + pos, frame["date"].iloc[pos], frame["symbol"].iloc[pos])


def _row(pos: int, date: object, symbol: object) -> str:
    return f"row {pos} (date {pd.Timestamp(date).date().isoformat()}, symbol {symbol})"


def check_schema(
    dataset_id: str,
    path: str,
    schema: pa.Schema,
    *,
    numeric: dict[str, str],
    categorical: dict[str, str],
) -> None:
    """Columns present with the right types; `numeric`/`categorical` map column -> its role."""
    where = f"dataset {dataset_id} ({path})"
    names = set(schema.names)
    wanted = {"date": "key", "symbol": "key", **numeric, **categorical}
    for column, role in wanted.items():
        if column not in names:
            raise ContractError(f"{where}: missing column '{column}' ({role})")
    date_type = schema.field("date").type
    if not (pa.types.is_timestamp(date_type) or pa.types.is_date(date_type)):
        raise ContractError(f"{where}: column 'date' has type {date_type}, expected a date")
    for column in ("symbol", *categorical):
        kind = schema.field(column).type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise ContractError(
                f"{where}: column '{column}' ({wanted[column]}) has type {kind}, expected string"
            )
    for column, role in numeric.items():
        kind = schema.field(column).type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
            raise ContractError(
                f"{where}: column '{column}' ({role}) has type {kind}, expected a number"
            )


class KeyOrder:
    """(date, symbol) rows are unique and sorted by date, then symbol, across chunks."""

    def __init__(self, dataset_id: str) -> None:
        self.dataset_id = dataset_id
        self.last: tuple[np.int64, object] | None = None  # the previous chunk's last key

    def check(self, frame: pd.DataFrame, offset: int) -> None:
        if frame.empty:
            return
        dates = frame["date"].to_numpy(dtype="datetime64[ns]").view("int64")
        symbols = frame["symbol"].to_numpy(dtype=object)
        if self.last is not None:  # the first row is compared with the one before it
            dates = np.r_[self.last[0], dates]
            symbols = np.r_[np.array([self.last[1]], dtype=object), symbols]
        self.last = (dates[-1], symbols[-1])
        first = 0 if len(dates) > len(frame) else 1  # row of `frame` that `dates[1]` is
        same_date = dates[1:] == dates[:-1]
        sym_cmp = np.zeros(len(dates) - 1, dtype=np.int8)
        idx = np.flatnonzero(same_date)
        if idx.size:
            left, right = symbols[idx], symbols[idx + 1]
            sym_cmp[idx] = np.where(right > left, 1, np.where(right == left, 0, -1))
        for bad, what in ((same_date & (sym_cmp == 0), "duplicate (date, symbol) key"),
                          ((dates[1:] < dates[:-1]) | (same_date & (sym_cmp < 0)),
                           "rows not sorted by (date, symbol)")):
            if bad.any():
                pos = int(np.flatnonzero(bad)[0]) + first
                raise ContractError(f"dataset {self.dataset_id}: {what} at "
                                    f"{_at(frame, pos, offset)}")


def check_symbols(dataset_id: str, frame: pd.DataFrame, offset: int, known: set[str]) -> None:
    """Every symbol is one the importer would accept (`ifns_train.data.symbols`): symbols reach
    reports, file names and HTML, so a table from elsewhere must not smuggle in others. `known`
    holds the symbols accepted in earlier chunks, and gains this chunk's."""
    codes, uniques = pd.factorize(frame["symbol"], use_na_sentinel=False)
    for code, value in enumerate(uniques):
        if value in known:
            continue
        if not is_symbol(value):
            pos = int(np.flatnonzero(codes == code)[0])
            date = pd.Timestamp(frame["date"].iloc[pos]).date().isoformat()
            what = "no symbol" if _missing(value) else f"symbol {shown(value)}"
            raise ContractError(
                f"dataset {dataset_id}: {what} at row {offset + pos} (date {date}); a symbol is "
                f"{SYMBOL_RULE}"
            )
        known.add(value)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def check_finite(dataset_id: str, frame: pd.DataFrame, offset: int, columns: list[str],
                 role: str, rows: np.ndarray | None = None) -> None:
    """No NaN or inf where the contract allows none (features, baseline inputs; with `rows`,
    only on those rows, e.g. a forward return read for evaluation where the label is known)."""
    for column in columns:
        values = frame[column].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) if rows is None else rows & ~np.isfinite(values)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise ContractError(
                f"dataset {dataset_id}: column '{column}' ({role}) has NaN/inf values, first at "
                f"{_at(frame, pos, offset)}"
            )


def check_categorical(dataset_id: str, frame: pd.DataFrame, offset: int,
                      columns: list[str]) -> None:
    for column in columns:
        missing = frame[column].isna().to_numpy()
        if missing.any():
            pos = int(np.flatnonzero(missing)[0])
            raise ContractError(
                f"dataset {dataset_id}: context column '{column}' has missing values, first at "
                f"{_at(frame, pos, offset)}"
            )


class LabelTail:
    """A label may be unknown (NaN) only at the end of a symbol's history, where its forward
    window is not complete yet; anywhere else a NaN is a broken table, not a missing future.
    Chunks come in date order, so a symbol's rows come in its own order: this remembers, per
    symbol (by code), the last unknown row seen."""

    def __init__(self, dataset_id: str, column: str, kind: str, n_symbols: int) -> None:
        self.dataset_id, self.column, self.kind = dataset_id, column, kind
        self.unknown_at = np.full(n_symbols, -1, dtype=np.int64)  # file row, -1: none yet
        self.unknown_date = np.zeros(n_symbols, dtype="datetime64[ns]")

    def check(self, frame: pd.DataFrame, offset: int, codes: np.ndarray) -> np.ndarray:
        """Validate the chunk's labels (`codes`: each row's symbol code); returns the mask of
        rows whose label is known."""
        where = f"dataset {self.dataset_id}: label column '{self.column}'"
        values = frame[self.column].to_numpy(dtype=np.float64)
        if np.isinf(values).any():
            pos = int(np.flatnonzero(np.isinf(values))[0])
            raise ContractError(f"{where} has inf, first at {_at(frame, pos, offset)}")
        unknown = np.isnan(values)
        if self.kind == "realized_vol" and (values[~unknown] < 0).any():
            pos = int(np.flatnonzero(~unknown & (values < 0))[0])
            raise ContractError(f"dataset {self.dataset_id}: realised-volatility label "
                                f"'{self.column}' is negative at {_at(frame, pos, offset)}")
        if self.kind == "direction":
            bad = ~unknown & (values != 0.0) & (values != 1.0)
            if bad.any():
                raise ContractError(f"dataset {self.dataset_id}: direction label "
                                    f"'{self.column}' must be 0 or 1, found "
                                    f"{sorted(set(values[bad].tolist()))[:5]}")
        # Rows are in date order: group them by symbol (stable), and find for each row the
        # last unknown row of its symbol before it, in this chunk or an earlier one.
        order = np.argsort(codes, kind="stable")
        sorted_codes, sorted_unknown = codes[order], unknown[order]
        steps = np.arange(len(order))
        run_start = np.maximum.accumulate(
            np.where(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]], steps, 0))
        previous = np.r_[-1, np.maximum.accumulate(np.where(sorted_unknown, steps, -1))[:-1]]
        in_chunk = previous >= run_start
        bad = ~sorted_unknown & (in_chunk | (self.unknown_at[sorted_codes] >= 0))
        if bad.any():
            step = int(np.flatnonzero(bad)[0])
            code = sorted_codes[step]
            if in_chunk[step]:
                pos = int(order[previous[step]])
                at = _at(frame, pos, offset)
            else:
                at = _row(int(self.unknown_at[code]), self.unknown_date[code],
                          frame["symbol"].iloc[int(order[step])])
            raise ContractError(f"{where} is NaN at {at} but known later for the same symbol; "
                                "only the last, not-yet-known labels may be NaN")
        steps = np.flatnonzero(sorted_unknown)  # the latest unknown row of each symbol
        ends = np.r_[sorted_codes[steps][1:] != sorted_codes[steps][:-1], True]
        latest = steps[ends[: len(steps)]]
        self.unknown_at[sorted_codes[latest]] = offset + order[latest]
        self.unknown_date[sorted_codes[latest]] = \
            frame["date"].to_numpy(dtype="datetime64[ns]")[order[latest]]
        return ~unknown
