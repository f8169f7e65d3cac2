"""The panel the trading proxies share: each row's neighbours in its offset sequence, checked
against a literal dictionary walk on a messy panel (gaps, a symbol with one row, rows out of
date order), by the dense table and by the sorted search alike."""

from __future__ import annotations

import numpy as np
import pytest

from ifns_train.evaluation import panel as panel_module
from ifns_train.evaluation.panel import Panel, date_codes, symbol_codes
from ifns_train.evaluation.proxies import trading_proxies


def _messy(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    grid = [(d, s) for d in range(30) for s in ("A", "B", "C", "D") if rng.random() > 0.3]
    grid.append((17, "LONE"))  # a symbol with one row
    order = rng.permutation(len(grid))  # rows out of date order
    dates = np.datetime64("2020-01-01") + np.array([grid[i][0] * 3 for i in order])  # gaps
    symbols = np.array([grid[i][1] for i in order], dtype=object)
    return dates, symbols


def _literal(dates: np.ndarray, symbols: np.ndarray, h: int) -> tuple[list[int], list[int]]:
    distinct = sorted(set(dates.tolist()))
    index = {(distinct.index(d), s): i for i, (d, s) in
             enumerate(zip(dates.tolist(), symbols.tolist(), strict=True))}
    prev, nxt = [], []
    for d, s in zip(dates.tolist(), symbols.tolist(), strict=True):
        k = distinct.index(d)
        prev.append(index.get((k - h, s), -1))
        nxt.append(index.get((k + h, s), -1))
    return prev, nxt


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("h", [1, 3])
def test_neighbours_match_a_literal_walk(monkeypatch: pytest.MonkeyPatch, dense: bool,
                                         h: int) -> None:
    monkeypatch.setattr(panel_module, "DENSE_CELLS", 10**6 if dense else 0)
    dates, symbols = _messy(h)
    p = Panel.of(dates, symbols, h, dates.size)
    prev, nxt = _literal(dates, symbols, h)
    assert p.prev.tolist() == prev
    assert p.next.tolist() == nxt
    assert p.offset.tolist() == (p.date % h).tolist()
    assert p.date_values[p.date].tolist() == dates.tolist()


def test_sorted_dates_take_the_same_codes_as_a_sort() -> None:
    dates = np.repeat(np.datetime64("2020-01-01") + np.array([0, 1, 4, 9]), 3)
    fast, values = date_codes(dates, dates.size)
    slow, _ = date_codes(dates[::-1], dates.size)  # not sorted: hashed
    assert fast.tolist() == slow[::-1].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert list(values) == sorted(set(dates.tolist()))


def test_equal_symbols_held_by_distinct_objects_are_one_symbol() -> None:
    n = 70_000  # above grouped.factorize's threshold for hashing object addresses
    symbols = np.array(["AB", "CD"] * (n // 2), dtype=object)
    symbols[::7] = "".join(["A", "B"])  # equal to "AB", another object
    codes, count = symbol_codes(symbols, n)
    assert count == 2
    same = symbols == "AB"
    assert symbols[14] is not symbols[2]  # two "AB" objects
    assert (codes[same] == codes[0]).all() and (codes[~same] != codes[0]).all()


def test_refuses_a_missing_symbol_or_date_and_a_row_given_twice() -> None:
    dates = np.array(["2020-01-01", "2020-01-01", "2020-01-02"], dtype="datetime64[D]")
    with pytest.raises(ValueError, match="symbols must not contain missing"):
        Panel.of(dates, np.array(["A", None, "A"], dtype=object), 1, 3)
    with pytest.raises(ValueError, match="dates must not contain missing"):
        Panel.of(np.array(["2020-01-01", "NaT", "2020-01-02"], dtype="datetime64[D]"),
                 np.array(["A", "B", "A"], dtype=object), 1, 3)
    for cells in (10**6, 0):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(panel_module, "DENSE_CELLS", cells)
            with pytest.raises(ValueError, match="at most once"):
                Panel.of(dates, np.array(["A", "A", "A"], dtype=object), 1, 3)


def test_proxies_are_the_same_from_the_table_and_from_the_search(
        monkeypatch: pytest.MonkeyPatch) -> None:
    dates, symbols = _messy(5)
    rng = np.random.default_rng(5)
    pos = rng.choice([-1.0, 0.0, 1.0, 0.5], dates.size)
    realised = rng.normal(0, 0.03, dates.size)
    bps = rng.uniform(0, 20, dates.size)
    runs = []
    for cells in (10**6, 0):
        monkeypatch.setattr(panel_module, "DENSE_CELLS", cells)
        runs.append(trading_proxies(dates, symbols, pos, realised, horizon_days=3, cost_bps=bps))
    assert runs[0] == runs[1]
