"""The Stage 02 data contract, consumer side: checks on a table before any row is used.

Each check raises one ContractError naming the dataset, the column and, where there is one, the
first offending (date, symbol), so a broken table is fixed at its source rather than patched here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from ifns_train.data.symbols import SYMBOL_RULE, is_symbol
from ifns_train.errors import ContractError, shown


def _at(frame: pd.DataFrame, pos: int) -> str:
    date = pd.Timestamp(frame["date"].iloc[pos]).date().isoformat()
    return f"row {pos} (date {date}, symbol {frame['symbol'].iloc[pos]})"


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


def check_keys(dataset_id: str, frame: pd.DataFrame) -> None:
    """(date, symbol) rows are unique and sorted by date, then symbol."""
    dates = frame["date"].to_numpy(dtype="datetime64[ns]").view("int64")
    symbols = frame["symbol"].to_numpy(dtype=object)
    if len(frame) < 2:
        return
    same_date = dates[1:] == dates[:-1]
    back_date = dates[1:] < dates[:-1]
    sym_cmp = np.zeros(len(frame) - 1, dtype=np.int8)
    idx = np.flatnonzero(same_date)
    if idx.size:
        left, right = symbols[idx], symbols[idx + 1]
        sym_cmp[idx] = np.where(right > left, 1, np.where(right == left, 0, -1))
    duplicate = same_date & (sym_cmp == 0)
    if duplicate.any():
        pos = int(np.flatnonzero(duplicate)[0]) + 1
        raise ContractError(
            f"dataset {dataset_id}: duplicate (date, symbol) key at {_at(frame, pos)}"
        )
    unsorted = back_date | (same_date & (sym_cmp < 0))
    if unsorted.any():
        pos = int(np.flatnonzero(unsorted)[0]) + 1
        raise ContractError(
            f"dataset {dataset_id}: rows not sorted by (date, symbol) at {_at(frame, pos)}"
        )


def check_symbols(dataset_id: str, frame: pd.DataFrame) -> None:
    """Every symbol is one the importer would accept (`ifns_train.data.symbols`): symbols reach
    reports, file names and HTML, so a table from elsewhere must not smuggle in others."""
    codes, uniques = pd.factorize(frame["symbol"], use_na_sentinel=False)
    for code, value in enumerate(uniques):
        if not is_symbol(value):
            pos = int(np.flatnonzero(codes == code)[0])
            date = pd.Timestamp(frame["date"].iloc[pos]).date().isoformat()
            what = "no symbol" if _missing(value) else f"symbol {shown(value)}"
            raise ContractError(
                f"dataset {dataset_id}: {what} at row {pos} (date {date}); a symbol is "
                f"{SYMBOL_RULE}"
            )


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def check_finite(dataset_id: str, frame: pd.DataFrame, columns: list[str], role: str,
                 rows: np.ndarray | None = None) -> None:
    """No NaN or inf where the contract allows none (features, baseline inputs; with `rows`,
    only on those rows, e.g. a forward return read for evaluation where the label is known)."""
    for column in columns:
        values = frame[column].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) if rows is None else rows & ~np.isfinite(values)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise ContractError(
                f"dataset {dataset_id}: column '{column}' ({role}) has {int(bad.sum())} "
                f"NaN/inf values, first at {_at(frame, pos)}"
            )


def check_categorical(dataset_id: str, frame: pd.DataFrame, columns: list[str]) -> None:
    for column in columns:
        missing = frame[column].isna().to_numpy()
        if missing.any():
            pos = int(np.flatnonzero(missing)[0])
            raise ContractError(
                f"dataset {dataset_id}: context column '{column}' has {int(missing.sum())} "
                f"missing values, first at {_at(frame, pos)}"
            )


def check_label(
    dataset_id: str,
    frame: pd.DataFrame,
    column: str,
    kind: str,
    symbol_order: np.ndarray,
) -> np.ndarray:
    """Validate a label column; returns the mask of rows whose label is known.

    A label may be unknown (NaN) only at the end of a symbol's history, where its forward
    window is not complete yet; anywhere else a NaN is a broken table, not a missing future.
    """
    values = frame[column].to_numpy(dtype=np.float64)
    if np.isinf(values).any():
        pos = int(np.flatnonzero(np.isinf(values))[0])
        raise ContractError(
            f"dataset {dataset_id}: label column '{column}' has inf, first at {_at(frame, pos)}"
        )
    unknown = np.isnan(values)
    ordered_unknown = unknown[symbol_order]
    symbols = frame["symbol"].to_numpy(dtype=object)[symbol_order]
    same_symbol = symbols[1:] == symbols[:-1]
    known_after_unknown = same_symbol & ordered_unknown[:-1] & ~ordered_unknown[1:]
    if known_after_unknown.any():
        pos = int(symbol_order[np.flatnonzero(known_after_unknown)[0]])
        raise ContractError(
            f"dataset {dataset_id}: label column '{column}' is NaN at {_at(frame, pos)} but known "
            "later for the same symbol; only the last, not-yet-known labels may be NaN"
        )
    if kind == "realized_vol" and (values[~unknown] < 0).any():
        pos = int(np.flatnonzero(~unknown & (values < 0))[0])
        raise ContractError(
            f"dataset {dataset_id}: realised-volatility label '{column}' is negative at "
            f"{_at(frame, pos)}"
        )
    if kind == "direction":
        known = values[~unknown]
        bad = (known != 0.0) & (known != 1.0)
        if bad.any():
            raise ContractError(
                f"dataset {dataset_id}: direction label '{column}' must be 0 or 1, found "
                f"{sorted(set(known[bad].tolist()))[:5]}"
            )
    return ~unknown
