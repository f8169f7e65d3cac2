"""The row-level sums of the trading proxies (``proxies``), in blocks of rows.

Why blocks: a strategy's book is a couple of dozen element-wise steps per row (weights, the
predecessor's weight, what is kept, entered and exited, costs, per-trade returns), each a pass
over millions of rows when done on whole arrays, so the proxies were bound by memory traffic
(about 0.6 s of CPU per predictor at 5 million rows). On blocks of ``grouped.BLOCK`` rows
the temporaries stay in the processor's cache and the same steps take about half the time
(0.33 s; the ``np.add.at`` of bool values is ten times slower than of float ones, hence the
float 0/1 of a trade above 0).

Exact: every per-row figure is computed by the same operations as on whole arrays, and every
sum is accumulated with ``np.add.at`` into one running array in row order, the order in which
``np.bincount`` adds (one pass, from 0), so the sums are bit-identical to ``np.bincount`` on
whole arrays whatever the block size (tested).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ifns_train.evaluation.grouped import BLOCK
from ifns_train.evaluation.panel import Panel


class Market(NamedTuple):
    """What every predictor's proxies on a panel share: each row's simple return (less its
    date's mean when market-neutral) and cost rate (a fraction), and the rows that leave
    the panel before their sequence ends, with the date and rate their exit is charged at."""

    simple: np.ndarray
    rate: np.ndarray
    cost_bps_mean: float | None
    leaves: np.ndarray
    leave_date: np.ndarray
    leave_rate: np.ndarray


class Book(NamedTuple):
    """A strategy's sums: per date the period's ``gross`` return, ``turnover`` and ``cost``;
    per offset sequence the ``trades`` and, for ``gross`` and ``net`` trade returns, their
    sum and the number above 0."""

    gross: np.ndarray
    turnover: np.ndarray
    cost: np.ndarray
    trades_total: int
    trades: np.ndarray
    trade_sums: dict[str, tuple[np.ndarray, np.ndarray]]


def market(panel: Panel, realised: np.ndarray, cost_bps: float | np.ndarray,
           market_neutral: bool) -> Market:
    """The panel's ``Market`` (checks ``realised`` and ``cost_bps``)."""
    n_rows, d, n_dates = panel.rows, panel.date, panel.n_dates
    simple = np.expm1(finite_1d(realised, "realised", n_rows))
    rate = np.asarray(cost_bps, dtype=np.float64)
    if rate.shape not in ((), (n_rows,)):
        raise ValueError(f"cost_bps must be a scalar or have shape ({n_rows},), got {rate.shape}")
    rate = np.broadcast_to(rate, (n_rows,))
    if not np.all(np.isfinite(rate)) or np.any(rate < 0.0):
        raise ValueError("cost_bps must be finite and >= 0 (a scalar or one value per row)")
    rate = rate / 1e4
    if market_neutral:
        simple = simple - (np.bincount(d, simple, n_dates)
                           / np.maximum(np.bincount(d, minlength=n_dates), 1))[d]
    leaves = np.flatnonzero((panel.next < 0) & (d + panel.horizon < n_dates))
    return Market(simple, rate, float(rate.mean() * 1e4) if n_rows else None, leaves,
                  d[leaves] + panel.horizon, rate[leaves])


def book(panel: Panel, pos: np.ndarray, m: Market, block: int = BLOCK) -> Book:
    """The sums of positions ``pos`` (checked, in [-1, 1]) on the panel (see ``proxies``:
    equal weights of the names traded each date; turnover against the same symbol's weight
    ``h`` dates earlier; each unit of turnover charged to the trade that opens or closes it).
    """
    n_rows, d, n_dates, h = panel.rows, panel.date, panel.n_dates, panel.horizon
    simple, rate, leaves = m.simple, m.rate, m.leaves
    trade = pos != 0.0
    n_traded = np.bincount(d, trade, n_dates)
    trades_total = int(n_traded.sum())
    scale_d = np.maximum(n_traded, 1.0)
    # Each row's weight, then a 0 read by the rows without a predecessor or successor (-1).
    w_ext = np.zeros(n_rows + 1)
    exit_ext = np.zeros(n_rows + 1)  # the cost of each row's exit (charged by its successor)
    row_cost = np.empty(n_rows)
    gross_t, turnover_t, cost_t = np.zeros(n_dates), np.zeros(n_dates), np.zeros(n_dates)
    blocks = [slice(s, min(s + block, n_rows)) for s in range(0, n_rows, block)]
    for b in blocks:
        w = np.divide(pos[b], scale_d[d[b]], out=w_ext[b])
        np.add.at(gross_t, d[b], w * simple[b])
    for b in blocks:
        w = w_ext[b]
        w_prev = w_ext[panel.prev[b]]
        abs_w, abs_prev = np.abs(w), np.abs(w_prev)
        # What a position kept on the same side does not trade: entry and exit are the rest.
        kept = np.minimum(abs_w, abs_prev)
        kept[(w * w_prev) <= 0.0] = 0.0
        entry = abs_w - kept
        exit_prev = np.subtract(abs_prev, kept, out=kept)
        moved = entry + exit_prev
        np.add.at(turnover_t, d[b], moved)
        moved *= rate[b]
        np.add.at(cost_t, d[b], moved)
        np.multiply(rate[b], entry, out=row_cost[b])
        np.multiply(rate[b], exit_prev, out=exit_ext[b])
    # A symbol that leaves the panel before its sequence ends is closed at its last rate.
    abs_leaving = np.abs(w_ext[leaves])
    turnover_t += np.bincount(m.leave_date, abs_leaving, n_dates)
    cost_t += np.bincount(m.leave_date, m.leave_rate * abs_leaving, n_dates)
    row_cost[leaves] += m.leave_rate * abs_leaving

    trades_k = np.zeros(h)
    above = np.empty(min(block, n_rows))
    sums = {side: (np.zeros(h), np.zeros(h)) for side in ("gross", "net")}
    for b in blocks:
        # A row's exit is charged to it from its successor's exit_prev (one successor at most).
        cost = row_cost[b]
        cost += exit_ext[panel.next[b]]
        trade_gross = pos[b] * simple[b]
        cost *= scale_d[d[b]]
        trade_net = np.subtract(trade_gross, cost, out=cost)
        k = panel.offset[b]
        if trades_total < n_rows:
            t = trade[b]
            k, trade_gross, trade_net = k[t], trade_gross[t], trade_net[t]
        np.add.at(trades_k, k, 1.0)
        for side, x in (("gross", trade_gross), ("net", trade_net)):
            np.add.at(sums[side][0], k, x)
            # As float: np.add.at has no fast loop for bool values (ten times slower).
            np.add.at(sums[side][1], k, np.greater(x, 0.0, out=above[: x.size]))
    return Book(gross_t, turnover_t, cost_t, trades_total, trades_k, sums)


def finite_1d(values: np.ndarray, name: str, n: int | None = None) -> np.ndarray:
    """``values`` as a 1-D float64 array (of ``n`` rows), refusing NaN and inf."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or (n is not None and arr.size != n):
        raise ValueError(f"{name} must be 1-D" + ("" if n is None else f" of length {n}"))
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr
