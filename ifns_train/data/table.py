"""A dataset's table in memory or memory-mapped: the arrays it is stored as (`Stored`, shaped by
`array_shapes`, placed by a `Store`) and the `Table` a run reads from them. Shared by the
reader, which fills them, and the cache, which keeps them on disk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Table:
    """One dataset's rows, sorted by symbol then date."""

    dataset_id: str
    fingerprint: str
    features: np.ndarray  # float32 (rows, n_features), C-contiguous
    label: np.ndarray  # float32 (rows,), NaN where not yet known
    dates: np.ndarray  # datetime64[ns]
    symbols: np.ndarray  # object
    context: dict[str, np.ndarray]
    extras: dict[str, np.ndarray]
    history: np.ndarray  # rows of the same symbol before this one
    last_row: np.ndarray  # index of the last row of the same symbol
    split_meta: dict[str, Any] | None = None  # the index entry's split windows, if any


Store = Callable[[str, tuple[int, ...], Any], Any]  # an array, or `cache.NpyFile`


def in_memory(name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A `Store` that keeps the arrays in memory."""
    return np.empty(shape, dtype=dtype)


@dataclass
class Stored:
    """A table's arrays (symbol-major) and the names behind its string codes."""

    arrays: dict[str, np.ndarray]
    symbols: list[str]
    context: dict[str, list[str]] = field(default_factory=dict)
    extras: list[str] = field(default_factory=list)

    def table(self, dataset_id: str, fingerprint: str) -> Table:
        a = self.arrays
        return Table(
            dataset_id=dataset_id, fingerprint=fingerprint, features=a["features"],
            label=a["label"], dates=a["dates"], symbols=_objects(self.symbols, a["symbol"]),
            context={c: _objects(names, a[f"context{i}"])
                     for i, (c, names) in enumerate(self.context.items())},
            extras={c: a[f"extra{i}"] for i, c in enumerate(self.extras)},
            history=a["history"], last_row=a["last_row"],
        )


def _objects(names: list[str], codes: np.ndarray) -> np.ndarray:
    """Codes -> an object array whose rows share one str per distinct value (slicing then
    encodes a column by object identity, not by hashing every string)."""
    return np.asarray(names, dtype=object)[codes] if len(codes) else np.empty(0, dtype=object)


def array_shapes(rows: int, features: int, extras: int, context: int) -> dict[str, Any]:
    """Name -> (shape, dtype) of every array a table is stored as."""
    shapes: dict[str, Any] = {
        "features": ((rows, features), np.float32),
        "label": ((rows,), np.float32), "dates": ((rows,), "datetime64[ns]"),
        "history": ((rows,), np.int64), "last_row": ((rows,), np.int64),
        "symbol": ((rows,), np.int32),
    }
    shapes |= {f"extra{i}": ((rows,), np.float32) for i in range(extras)}
    shapes |= {f"context{i}": ((rows,), np.int32) for i in range(context)}
    return shapes
