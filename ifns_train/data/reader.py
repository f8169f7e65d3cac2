"""Read a Stage 02 table in chunks of rows into symbol-major arrays, checked and verified.

Why chunks: a table larger than memory must still train, so no step holds the whole table. Two
passes over the Parquet file, one row group's chunk at a time:

1. the keys (date, symbol): their contract checks, and each symbol's row count, which fixes
   where every row goes in symbol-major order (symbol, then date; a lookback window of past rows
   is then a strided view);
2. the other columns: their contract checks, and each chunk's rows written into their places.

Every column read is proved against the index's fingerprint on the way. A contract error found
while reading is raised only after the whole file was proved, so a table changed after it was
registered is reported as that, not by its first symptom (without verification, at once).
`verify_table` proves a whole file the same way, every column, for the compliance audit.

The arrays go where `store` puts them: memory (`in_memory`) or memory-mapped `.npy` files of
the dataset cache (`ifns_train.data.cache`). Memory used here: one chunk (about `CHUNK_BYTES`
of float64, as pandas reads it, plus the Parquet row group being decoded) and a few numbers per
symbol. Strings (symbols, context) are stored as int32 codes and names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ifns_train.core.errors import ContractError
from ifns_train.data import contract
from ifns_train.data.index import ColumnDigest, combine_fingerprints
from ifns_train.data.table import Store, Stored, array_shapes, in_memory

# Rows per chunk are chosen so that a chunk of all the columns read is about this many bytes.
CHUNK_BYTES = 64 << 20
# Parquet reads through a buffer of this size (without one a whole row group is pre-read).
READ_BUFFER = 1 << 20
KEYS = ("date", "symbol")

@dataclass(frozen=True)
class Wanted:
    """The columns a run reads from a table, by role."""

    features: dict[str, list[str]]  # feature family -> its columns
    label_family: str | None
    label_column: str | None
    label_kind: str
    context: list[str]
    extras: list[str]  # baseline inputs
    evaluation: list[str]  # evaluation inputs (checked only where the label is known)

    @property
    def feature_columns(self) -> list[str]:
        return [c for cols in self.features.values() for c in cols]

    @property
    def numeric(self) -> dict[str, str]:
        """Numeric column -> its role, for the schema check."""
        roles = {c: f"feature of {f}" for f, cols in self.features.items() for c in cols}
        if self.label_column is not None:
            roles[self.label_column] = f"label {self.label_family}"
        for column in self.extras:
            roles.setdefault(column, "baseline input")
        for column in self.evaluation:
            roles.setdefault(column, "evaluation input")
        return roles

    @property
    def array_columns(self) -> list[str]:
        """The columns kept as `Table.extras` (baseline and evaluation inputs)."""
        return list(dict.fromkeys([*self.extras, *self.evaluation]))

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys([*KEYS, *self.numeric, *self.context]))


def read_table(dataset_id: str, entry: dict[str, Any], path: Path, wanted: Wanted, *,
               verify: bool, store: Store = in_memory) -> Stored:
    """The table's wanted columns, checked against the contract (and, with `verify`, proved
    against the index's fingerprints), laid out symbol-major in arrays made by `store`."""
    parquet = _open(dataset_id, path)
    contract.check_schema(dataset_id, str(path), parquet.schema_arrow, numeric=wanted.numeric,
                          categorical=dict.fromkeys(wanted.context, "context"))
    columns = wanted.columns
    expected = entry.get("column_fingerprints", {}) if verify else {}
    for column in columns if verify else ():
        if column not in expected:
            raise ContractError(
                f"dataset {dataset_id}: index entry has no fingerprint for column '{column}'")
    digests = {c: ColumnDigest(c) for c in columns} if verify else {}
    reading = _Reading(dataset_id, parquet, digests, raise_at_once=not verify,
                       rows=max(1, CHUNK_BYTES // (8 * len(columns))))

    counts = reading.keys()
    rows = sum(counts.values())
    if rows == 0 and reading.error is None:
        raise ContractError(f"dataset {dataset_id}: table {path} has no rows")
    stored = Stored({}, sorted(counts) if reading.error is None else [],
                    extras=wanted.array_columns)
    if reading.error is None:
        stored.arrays = {name: store(name, shape, dtype)
                         for name, (shape, dtype) in array_shapes(
                             rows, len(wanted.feature_columns), len(wanted.array_columns),
                             len(wanted.context)).items()}
    reading.rest(wanted, counts, stored, [c for c in columns if c not in KEYS])
    _prove(dataset_id, path, digests, expected)
    if reading.error is not None:
        raise reading.error
    _symbol_columns(stored, counts)
    return stored


def _open(dataset_id: str, path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path, pre_buffer=False, buffer_size=READ_BUFFER)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise ContractError(f"dataset {dataset_id}: cannot read {path}: {exc}") from exc


def _prove(dataset_id: str, path: Path, digests: dict[str, ColumnDigest],
           expected: dict[str, str]) -> None:
    """Each hashed column against the index's fingerprint of it."""
    for column in digests:  # in column order: the first changed column is named
        if digests[column].hexdigest() != expected.get(column):
            raise ContractError(
                f"dataset {dataset_id}: column '{column}' of {path} does not match the "
                "fingerprint recorded in the dataset index (the table changed after it was "
                "registered)"
            )


def verify_table(dataset_id: str, entry: dict[str, Any], path: Path) -> None:
    """Prove every column of the table file, and so the whole table, against the index entry:
    what the audit vouches for must be the table a run would read, not only its index entry.
    Hashed as a run hashes the columns it reads (one chunk of rows at a time), whatever the
    size of the table; raises a ContractError naming the dataset, the file and the column."""
    parquet = _open(dataset_id, path)
    columns = list(parquet.schema_arrow.names)
    expected = entry.get("column_fingerprints") or {}
    missing = [c for c in expected if c not in columns]
    if missing:
        raise ContractError(f"dataset {dataset_id}: {path} lacks column '{missing[0]}' of its "
                            "index entry (the table changed after it was registered)")
    digests = {c: ColumnDigest(c) for c in columns}
    reading = _Reading(dataset_id, parquet, digests, raise_at_once=True,
                       rows=max(1, CHUNK_BYTES // (8 * max(1, len(columns)))))
    try:
        for _ in reading.chunks(columns, columns):
            pass
    except (OSError, ValueError, pa.ArrowException) as exc:  # a damaged file
        raise ContractError(f"dataset {dataset_id}: cannot read {path}: {exc}") from exc
    _prove(dataset_id, path, digests, expected)
    whole = combine_fingerprints({c: d.hexdigest() for c, d in digests.items()})
    if whole != entry.get("fingerprint"):
        raise ContractError(f"dataset {dataset_id}: {path} has fingerprint {whole}, not the "
                            f"{entry.get('fingerprint')} of the dataset index")


class _Reading:
    """The two passes over one file, with the error found first (see the module docstring)."""

    def __init__(self, dataset_id: str, parquet: pq.ParquetFile, digests: dict[str, ColumnDigest],
                 raise_at_once: bool, rows: int) -> None:
        self.dataset_id, self.parquet, self.digests = dataset_id, parquet, digests
        self.raise_at_once, self.rows = raise_at_once, rows
        self.error: ContractError | None = None

    def chunks(self, columns: list[str], hashed: list[str]) -> Iterator[tuple[int, pd.DataFrame]]:
        """(file row of the first row, frame) per chunk of `rows` rows (the same in both
        passes), the `hashed` columns hashed on the way."""
        offset = 0
        for batch in self.parquet.iter_batches(batch_size=self.rows, columns=columns,
                                               use_threads=False):
            frame = batch.to_pandas()
            for column in hashed:
                if column in self.digests:
                    self.digests[column].update(frame[column])
            yield offset, frame
            offset += len(frame)

    def guard(self, check: Callable[[], Any]) -> Any:
        """Run a check unless an error was found; keep (or raise) the first error."""
        if self.error is not None:
            return None
        try:
            return check()
        except ContractError as exc:
            if self.raise_at_once:
                raise
            self.error = exc
            return None

    def keys(self) -> dict[str, int]:
        """Pass 1: the key checks; each symbol's row count."""
        order, known = contract.KeyOrder(self.dataset_id), set[str]()
        counts: dict[str, int] = {}

        def check(frame: pd.DataFrame, offset: int) -> None:
            contract.check_symbols(self.dataset_id, frame, offset, known)
            order.check(frame, offset)
            codes, uniques = pd.factorize(frame["symbol"])
            for symbol, n in zip(uniques, np.bincount(codes, minlength=len(uniques)),
                                 strict=True):
                counts[symbol] = counts.get(symbol, 0) + int(n)

        for offset, frame in self.chunks(list(KEYS), list(KEYS)):
            self.guard(lambda: check(frame, offset))  # noqa: B023 (called at once)
        return counts

    def rest(self, wanted: Wanted, counts: dict[str, int], stored: Stored,
             columns: list[str]) -> None:
        """Pass 2: the other columns' checks; each chunk's rows written into their places."""
        code_of = {s: i for i, s in enumerate(stored.symbols)}
        sizes = np.array([counts[s] for s in stored.symbols], dtype=np.int64)
        starts = np.cumsum(sizes) - sizes
        seen = np.zeros(len(sizes), dtype=np.int64)
        features = wanted.feature_columns
        extras = [c for c in wanted.extras
                  if c not in features and c != wanted.label_column]
        evaluation = [c for c in wanted.evaluation if c not in extras]
        label = None if wanted.label_column is None or self.error is not None else \
            contract.LabelTail(self.dataset_id, wanted.label_column, wanted.label_kind,
                               len(sizes))
        names: dict[str, dict[Any, int]] = {c: {} for c in wanted.context}
        a = stored.arrays

        def check(frame: pd.DataFrame, offset: int) -> np.ndarray:
            contract.check_finite(self.dataset_id, frame, offset, features, "feature")
            contract.check_finite(self.dataset_id, frame, offset, extras, "baseline input")
            contract.check_categorical(self.dataset_id, frame, offset, wanted.context)
            codes = _codes(frame["symbol"], code_of)
            if label is not None:
                known = label.check(frame, offset, codes)
                contract.check_finite(self.dataset_id, frame, offset, evaluation,
                                      "evaluation input, where the label is known", rows=known)
            return codes

        for offset, frame in self.chunks([*KEYS, *columns], columns):
            codes = self.guard(lambda: check(frame, offset))  # noqa: B023 (called at once)
            if codes is None:
                continue
            order, pos = _positions(codes, starts, seen)
            a["features"][pos] = frame[features].to_numpy(dtype=np.float32)[order]
            a["label"][pos] = np.nan if wanted.label_column is None else \
                frame[wanted.label_column].to_numpy(dtype=np.float32)[order]
            a["dates"][pos] = frame["date"].to_numpy(dtype="datetime64[ns]")[order]
            for i, column in enumerate(wanted.array_columns):
                a[f"extra{i}"][pos] = frame[column].to_numpy(dtype=np.float32)[order]
            for i, column in enumerate(wanted.context):
                a[f"context{i}"][pos] = _codes(frame[column], names[column], grow=True)[order]
            _flush(a)
        stored.context = {c: list(names[c]) for c in wanted.context}


def _codes(column: pd.Series, code_of: dict[Any, int], grow: bool = False) -> np.ndarray:
    """Each value's code in `code_of`; with `grow`, new values get the next codes."""
    local, uniques = pd.factorize(column)
    if grow:
        for value in uniques:
            code_of.setdefault(value, len(code_of))
    return np.array([code_of[v] for v in uniques], dtype=np.int32)[local] if len(uniques) \
        else np.zeros(len(column), dtype=np.int32)


def _positions(codes: np.ndarray, starts: np.ndarray, seen: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Where the rows of a chunk go: after their symbol's rows of earlier chunks and, within
    the chunk, in date order (a stable sort by symbol keeps the file's date order). Returns the
    chunk's rows in table order and their places, ascending: a store on disk
    (`ifns_train.data.cache.NpyFile`) then writes each chunk as it comes. Advances `seen`."""
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    steps = np.arange(len(order))
    run_start = np.maximum.accumulate(
        np.where(np.r_[True, ordered[1:] != ordered[:-1]], steps, 0)) if len(order) else steps
    pos = starts[ordered] + seen[ordered] + (steps - run_start)
    seen += np.bincount(codes, minlength=len(seen))
    return order, pos


def _flush(arrays: dict[str, Any]) -> None:
    """Let arrays stored on disk (`ifns_train.data.cache.NpyFile`) write a chunk out now."""
    for array in arrays.values():
        if hasattr(array, "flush"):
            array.flush()


def _symbol_columns(stored: Stored, counts: dict[str, int]) -> None:
    """Each row's symbol code, its place in its symbol's rows (`history`) and its symbol's
    last row, written one symbol at a time."""
    a = stored.arrays
    start = 0
    for code, symbol in enumerate(stored.symbols):
        end = start + counts[symbol]
        a["symbol"][start:end] = code
        a["history"][start:end] = np.arange(end - start)
        a["last_row"][start:end] = end - 1
        start = end
