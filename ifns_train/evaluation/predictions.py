"""The prediction table: what a model said on each row, saved with the model, read by the
evaluation standard.

Why a table: every figure of a model's record is computed from it, so any figure can be
recomputed later (`python -m ifns_train.cli.evaluate model_id=...`) without retraining, and a new
metric can be added to old models. One table per evaluation split, one row per (date, symbol)
of the split, in the split's row order. Columns:

* ``date``, ``symbol``, ``label`` (the realised label the figures are scored against);
* ``model:<key>``: the model's prediction arrays in the family's own form (``prob`` and
  ``pred`` for directional families, ``pred`` for the others);
* ``baseline:<name>:<key>``: each naive baseline's arrays, same keys as the model's;
* ``input:<name>``: other arrays the family's evaluation reads (e.g. the primary signal a
  structure overlay gates, ``primary_up``);
* the context columns the figures are sliced by (``regime_tag``, ``structure_state``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

TABLE_VERSION = 1
KEYS = ("date", "symbol", "label")
MODEL, BASELINE, INPUT = "model:", "baseline:", "input:"


@dataclass
class PredictionArrays:
    """A prediction table taken apart into the arrays the metric functions take."""

    dates: np.ndarray
    symbols: np.ndarray
    y: np.ndarray
    model: dict[str, np.ndarray]
    baselines: dict[str, dict[str, np.ndarray]]
    inputs: dict[str, np.ndarray]
    context: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.y)


def prediction_table(arrays: PredictionArrays) -> pd.DataFrame:
    """The arrays as one table (the inverse of `read_table`)."""
    columns: dict[str, Any] = {
        "date": np.asarray(arrays.dates, dtype="datetime64[ns]"),
        "symbol": _categorical(arrays.symbols),
        "label": np.asarray(arrays.y, dtype=np.float64),
    }
    columns.update({MODEL + k: np.asarray(v, np.float64) for k, v in arrays.model.items()})
    for name, preds in arrays.baselines.items():
        columns.update({f"{BASELINE}{name}:{k}": np.asarray(v, np.float64)
                        for k, v in preds.items()})
    columns.update({INPUT + k: np.asarray(v, np.float64) for k, v in arrays.inputs.items()})
    for name, values in arrays.context.items():
        if name in columns:
            raise ValueError(f"context column {name!r} collides with a prediction table column")
        columns[name] = _categorical(values)
    lengths = {k: len(v) for k, v in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"prediction table columns differ in length: {lengths}")
    return pd.DataFrame(columns)


def _categorical(values: np.ndarray) -> pd.Categorical:
    """Text columns as categoricals: a few distinct values over many rows (a dictionary in the
    Parquet file, cheap to write and read)."""
    return pd.Categorical(np.asarray(values, dtype=object))


def _objects(column: pd.Series) -> np.ndarray:
    """Text as an object array sharing one str object per distinct value (see `read_table`)."""
    codes, uniques = pd.factorize(column)
    return np.asarray(uniques, dtype=object)[codes]


def read_table(frame: pd.DataFrame, where: str = "prediction table") -> PredictionArrays:
    """Take a table apart by its column names; a missing key column is an error naming it."""
    missing = [c for c in KEYS if c not in frame.columns]
    if missing:
        raise ValueError(f"{where}: no column {', '.join(missing)}")
    model: dict[str, np.ndarray] = {}
    baselines: dict[str, dict[str, np.ndarray]] = {}
    inputs: dict[str, np.ndarray] = {}
    context: dict[str, np.ndarray] = {}
    for column in frame.columns:
        values = frame[column].to_numpy()
        if column in KEYS:
            continue
        if column.startswith(MODEL):
            model[column[len(MODEL):]] = values.astype(np.float64)
        elif column.startswith(BASELINE):
            name, _, key = column[len(BASELINE):].rpartition(":")
            baselines.setdefault(name, {})[key] = values.astype(np.float64)
        elif column.startswith(INPUT):
            inputs[column[len(INPUT):]] = values.astype(np.float64)
        else:
            context[column] = _objects(frame[column])
    if not model:
        raise ValueError(f"{where}: no model prediction column ({MODEL}<key>)")
    return PredictionArrays(
        dates=frame["date"].to_numpy(dtype="datetime64[ns]"),
        symbols=_objects(frame["symbol"]),
        y=np.array(frame["label"], dtype=np.float64),  # a copy: Arrow's buffers are read-only
        model=model,
        baselines=baselines,
        inputs=inputs,
        context=context,
    )


def non_finite(predictions: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Rows whose prediction is NaN or infinite, per key (only keys that have any)."""
    counts = {k: int((~np.isfinite(v)).sum()) for k, v in predictions.items()}
    return {k: n for k, n in counts.items() if n}
