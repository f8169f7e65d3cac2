"""Score any metric function separately on each value of a context column (regime, vol band).

Aggregate scores hide regime dependence: a model can win overall and lose in every
high-volatility slice. ``by_slice`` is family-agnostic: it only masks named arrays and
passes them on, so it works for any ``metric_fn(**arrays) -> dict`` (bind extra
arguments with ``functools.partial``). The metric sets of ``report`` do not go through it:
they score every slice in one pass (``grouped``); this is for other metric functions, and
the reference the grouped figures are tested against.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ifns_train.evaluation.grouped import encode


def by_slice(
    metric_fn: Callable[..., Mapping[str, Any]],
    arrays: Mapping[str, np.ndarray],
    context: Mapping[str, np.ndarray],
    *,
    min_rows: int,
) -> dict[str, dict[Any, dict[str, Any]]]:
    """``{column: {value: {**metric_fn(masked arrays), "rows": n, "small_slice": n < min_rows}}}``
    (``min_rows``: ``evaluation.min_slice_rows`` in a run; no default here).

    Values are sorted and converted to plain Python scalars; missing values (None, NaN)
    form one slice keyed ``None``, placed last, so no rows silently drop out. Small
    slices are still scored but flagged, because their metrics are mostly noise.
    """
    n = common_length(arrays, context)
    out: dict[str, dict[Any, dict[str, Any]]] = {}
    for column, values in context.items():
        codes, keys = encode(column, values)
        if codes.size != n:
            raise ValueError(f"context[{column!r}] has {codes.size} rows, expected {n}")
        slices: dict[Any, dict[str, Any]] = {}
        for i, key in enumerate(keys):
            mask = codes == i
            rows = int(mask.sum())
            if rows == 0:
                continue
            metrics = metric_fn(**{name: arr[mask] for name, arr in arrays.items()})
            slices[key] = {**metrics, "rows": rows, "small_slice": rows < min_rows}
        out[column] = slices
    return out


def common_length(arrays: Mapping[str, np.ndarray], context: Mapping[str, np.ndarray]) -> int:
    """All arrays and context columns must be row-aligned; a mismatch is a caller bug."""
    lengths = {f"arrays[{k!r}]": len(v) for k, v in arrays.items()}
    lengths.update({f"context[{k!r}]": len(v) for k, v in context.items()})
    if not lengths:
        return 0
    if len(set(lengths.values())) > 1:
        raise ValueError(f"arrays and context must have the same number of rows, got {lengths}")
    return next(iter(lengths.values()))
