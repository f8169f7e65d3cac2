"""Score any metric function separately on each value of a context column (regime, vol band).

Aggregate scores hide regime dependence: a model can win overall and lose in every
high-volatility slice. ``by_slice`` is family-agnostic: it only masks named arrays and
passes them on, so it works for any ``metric_fn(**arrays) -> dict`` (bind extra
arguments with ``functools.partial``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd


def by_slice(
    metric_fn: Callable[..., Mapping[str, Any]],
    arrays: Mapping[str, np.ndarray],
    context: Mapping[str, np.ndarray],
    min_rows: int = 100,
) -> dict[str, dict[Any, dict[str, Any]]]:
    """``{column: {value: {**metric_fn(masked arrays), "rows": n, "small_slice": n < min_rows}}}``.

    Values are sorted and converted to plain Python scalars; missing values (None, NaN)
    form one slice keyed ``None``, placed last, so no rows silently drop out. Small
    slices are still scored but flagged, because their metrics are mostly noise.
    """
    n = _common_length(arrays, context)
    out: dict[str, dict[Any, dict[str, Any]]] = {}
    for column, values in context.items():
        slices: dict[Any, dict[str, Any]] = {}
        for key, mask in _groups(column, np.asarray(values), n):
            rows = int(mask.sum())
            metrics = metric_fn(**{name: arr[mask] for name, arr in arrays.items()})
            slices[key] = {**metrics, "rows": rows, "small_slice": rows < min_rows}
        out[column] = slices
    return out


def _common_length(arrays: Mapping[str, np.ndarray], context: Mapping[str, np.ndarray]) -> int:
    """All arrays and context columns must be row-aligned; a mismatch is a caller bug."""
    lengths = {f"arrays[{k!r}]": len(v) for k, v in arrays.items()}
    lengths.update({f"context[{k!r}]": len(v) for k, v in context.items()})
    if not lengths:
        return 0
    if len(set(lengths.values())) > 1:
        raise ValueError(f"arrays and context must have the same number of rows, got {lengths}")
    return next(iter(lengths.values()))


def _groups(column: str, values: np.ndarray, n: int) -> list[tuple[Any, np.ndarray]]:
    """(key, boolean row mask) per distinct value, sorted, missing values last as None."""
    if values.ndim != 1:
        raise ValueError(f"context[{column!r}] must be 1-D, got shape {values.shape}")
    keys = [_to_key(v) for v in values.tolist()]
    present = {k for k in keys if k is not None}
    try:
        distinct: list[Any] = sorted(present)
    except TypeError as exc:
        raise ValueError(f"context[{column!r}] mixes value types that cannot be sorted") from exc
    if any(k is None for k in keys):
        distinct.append(None)
    code_of = {k: i for i, k in enumerate(distinct)}
    codes = np.fromiter((code_of[k] for k in keys), dtype=np.int64, count=n)
    return [(key, codes == i) for i, key in enumerate(distinct)]


def _to_key(value: Any) -> Any:
    """Plain Python scalar for JSON; None for missing (None, NaN, NaT, pandas NA)."""
    if isinstance(value, np.generic):
        value = value.item()
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    return value
