"""The proxies' sums in blocks of rows against the same sums on whole arrays by ``np.bincount``
(the way they were computed before blocks): bit-identical, whatever the block size, on a
messy panel (gaps, a symbol with one row, names leaving early, fractional and zero
positions, a rate per row)."""

from __future__ import annotations

import numpy as np
import pytest

from ifns_train.evaluation import holdings, proxies
from ifns_train.evaluation.holdings import book, market
from ifns_train.evaluation.panel import Panel


def _messy_panel(seed: int, h: int) -> tuple[Panel, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_dates, n_symbols = 40, 9
    d, s = np.divmod(np.arange(n_dates * n_symbols), n_symbols)
    keep = rng.random(d.size) < 0.8  # gaps: names missing on some dates
    keep &= ~((s == 8) & (d != 17))  # symbol 8 has one row
    keep &= ~((s == 7) & (d > 25))  # symbol 7 leaves before the split ends
    d, s = d[keep], s[keep]
    pos = np.round(rng.uniform(-1, 1, d.size), 1)  # zeros (no trade) and fractions
    pos[d == 3] = 0.0  # a date without trades
    realised = rng.normal(0, 0.03, d.size)
    rate = rng.uniform(0, 20, d.size)
    dates = np.array([f"2021-{1 + k // 28:02d}-{1 + k % 28:02d}" for k in range(n_dates)])
    panel = Panel.of(dates[d], np.array([f"S{k}" for k in s], dtype=object), h, d.size)
    return panel, pos, realised, rate


def _whole_arrays(panel: Panel, pos: np.ndarray, m: holdings.Market) -> holdings.Book:
    """The book by ``np.bincount`` on whole arrays."""
    d, n_dates, h = panel.date, panel.n_dates, panel.horizon
    trade = pos != 0.0
    n_traded = np.bincount(d[trade], minlength=n_dates).astype(np.float64)
    w = pos / np.maximum(n_traded, 1.0)[d]
    gross_t = np.bincount(d, w * m.simple, n_dates)
    prev, nxt = panel.prev, panel.next
    w_prev = np.where(prev >= 0, w[prev], 0.0)
    same_side = (w * w_prev) > 0.0
    abs_w, abs_prev = np.abs(w), np.abs(w_prev)
    entry = np.where(same_side, np.maximum(abs_w - abs_prev, 0.0), abs_w)
    exit_prev = np.where(same_side, np.maximum(abs_prev - abs_w, 0.0), abs_prev)
    leaves, rate = m.leaves, m.rate
    moved = entry + exit_prev
    turnover_t = np.bincount(d, moved, n_dates)
    turnover_t += np.bincount(d[leaves] + h, abs_w[leaves], n_dates)
    cost_t = np.bincount(d, rate * moved, n_dates)
    cost_t += np.bincount(d[leaves] + h, rate[leaves] * abs_w[leaves], n_dates)
    row_cost = rate * entry
    row_cost[leaves] += rate[leaves] * abs_w[leaves]
    row_cost += np.where(nxt >= 0, (rate * exit_prev)[nxt], 0.0)
    k = panel.offset[trade]
    gross = (pos * m.simple)[trade]
    net = gross - (row_cost * np.maximum(n_traded, 1.0)[d])[trade]
    sums = {side: (np.bincount(k, x, h), np.bincount(k, x > 0.0, h))
            for side, x in (("gross", gross), ("net", net))}
    return holdings.Book(gross_t, turnover_t, cost_t, int(trade.sum()),
                         np.bincount(k, minlength=h).astype(np.float64), sums)


@pytest.mark.parametrize("h", [1, 3])
@pytest.mark.parametrize("neutral", [False, True])
def test_blocks_give_the_whole_arrays_sums_bit_for_bit(h: int, neutral: bool) -> None:
    panel, pos, realised, rate = _messy_panel(h, h)
    m = market(panel, realised, rate, neutral)
    assert m.leaves.size > 0  # symbol 7 leaves early
    expected = _whole_arrays(panel, pos, m)
    for block in (1, 7, 64, 10**9):
        got = book(panel, pos, m, block)
        assert got.trades_total == expected.trades_total < panel.rows
        for name in ("gross", "turnover", "cost", "trades"):
            np.testing.assert_array_equal(getattr(got, name), getattr(expected, name))
        for side in ("gross", "net"):
            for a, b in zip(got.trade_sums[side], expected.trade_sums[side], strict=True):
                np.testing.assert_array_equal(a, b)


def test_every_row_traded_and_a_scalar_rate() -> None:
    panel, pos, realised, _ = _messy_panel(2, 2)
    pos = np.where(pos >= 0, 1.0, -1.0)
    m = market(panel, realised, 10.0, False)
    expected = _whole_arrays(panel, pos, m)
    got = book(panel, pos, m, 5)
    assert got.trades_total == panel.rows
    np.testing.assert_array_equal(got.cost, expected.cost)
    np.testing.assert_array_equal(got.trade_sums["net"][0], expected.trade_sums["net"][0])


def test_the_market_is_computed_once_per_panel_and_inputs(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    panel, pos, realised, rate = _messy_panel(4, 2)
    calls: list[bool] = []
    real = proxies.market
    monkeypatch.setattr(proxies, "market",
                        lambda *a: calls.append(a[3]) or real(*a))  # type: ignore[func-returns-value]
    first = proxies.panel_proxies(panel, pos, realised, cost_bps=rate, market_neutral=False)
    again = proxies.panel_proxies(panel, -pos, realised, cost_bps=rate, market_neutral=False)
    proxies.panel_proxies(panel, pos, realised, cost_bps=rate, market_neutral=True)
    proxies.panel_proxies(panel, pos, realised.copy(), cost_bps=rate, market_neutral=False)
    assert calls == [False, True, False]
    assert first["gross"]["sharpe"]["mean"] == pytest.approx(-again["gross"]["sharpe"]["mean"])
