"""The trading proxy as a reviewer reads it: cumulative return and drawdown over the test
window, the model's book against its best baseline's, after costs.

Why a book of sleeves: a proxy's periods are `h`-day holdings opened every date, so the
per-date series (`proxies.trading_proxies`, `series`) holds `h` interleaved chains
(`proxies.offset_sequences`). Drawing one chain would pick an arbitrary start; here the
capital is split into `h` equal sleeves, sleeve `k` compounding the chain of offset `k`
(dates k, k+h, k+2h, ...), and the book's value at a date is the mean of the sleeves' values
(a sleeve not yet started holds its 1/h in cash). A period's return is booked at the date it
opened, as the series is dated. With h = 1 this is the plain compounded equity curve.
Drawdown: the fall of the book's value below its running peak (from the start value 1), as a
positive fraction; so the drawn drawdown is the book's, not the mean over offsets that
`max_drawdown` in metrics.json reports.

Pure: lists in, JSON-ready dicts out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def book_value(per_date: Sequence[float], horizon: int) -> np.ndarray:
    """The book's value after each date (start 1): the mean over the `horizon` sleeves of
    each sleeve's compounded value; undefined (NaN) period returns count as 0."""
    r = np.nan_to_num(np.asarray(per_date, dtype=np.float64), nan=0.0)
    h = max(int(horizon), 1)
    growth = np.ones((h, r.size))
    for k in range(min(h, r.size)):
        growth[k, k::h] = 1.0 + r[k::h]
    return np.cumprod(growth, axis=1).mean(axis=0)


def drawdown(value: np.ndarray) -> np.ndarray:
    """1 - value / running peak, the peak including the start value 1."""
    peak = np.maximum.accumulate(np.maximum(value, 1.0))
    return 1.0 - value / peak


def equity_curve_data(dates: Sequence[str], model_net: Sequence[float],
                      baseline_net: Sequence[float] | None, baseline: str | None,
                      horizon: int) -> dict[str, Any]:
    """Per date: the cumulative return (value - 1) and drawdown of the model's book and of
    the baseline's, both net of costs; and each book's final return and largest drawdown."""
    books: dict[str, Any] = {}
    for name, series in (("model", model_net), (baseline, baseline_net)):
        if name is None or series is None or len(series) == 0:
            continue
        value = book_value(series, horizon)
        dd = drawdown(value)
        books[name] = {"cumulative_return": [float(v) for v in value - 1.0],
                       "drawdown": [float(v) for v in dd],
                       "final_return": float(value[-1] - 1.0) if value.size else None,
                       "max_drawdown": float(dd.max()) if dd.size else None}
    return {"dates": list(dates), "horizon_days": int(horizon), "baseline": baseline,
            "books": books, "sleeves": int(horizon)}
