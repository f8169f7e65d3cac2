"""Deriving: the cleaned rows -> the Stage 02 table (features, labels, context, clusters).

Why in chunks of symbols: features and labels are computed column by column on wide frames
(`ifns_train.data.panel`, shared with the demo), so a chunk of ``CHUNK_SYMBOLS`` symbols at a
time gives the same values as the whole panel at once, while only the written table (its
columns, in table order) is ever held whole. The cross-sectional parts (the market, the vol band)
are computed once on (date x symbol) arrays.

* Features and labels use each symbol's own trading rows (a missing day is not filled: a 20-day
  window is 20 trading rows), from past rows only; the 20-day labels look 20 trading rows ahead
  (the last 20 are NaN, kept: ``label_rows_unknown``). The first ``WARMUP_ROWS`` (120) rows of
  each symbol fill the 120-day windows and are not written (``warmup_rows_dropped``).
* Without volume (a symbol has none) the volume-based features are absent, without High/Low
  the high-low features and the spread label; the entry lists them under ``absent_columns``
  with why, and if only some symbols lack a column it is absent for all.
* ``regime_tag``, ``structure_state``, ``vol_band``: the demo's rules, with the market = the
  equal-weight mean of the symbols' daily log returns on each date (0 on a date where no
  symbol has one); without High/Low the structure state reads the close as the day's high and
  low.
* ``symbol_cluster``: the symbol's beta of daily log returns on that market over its warm-up
  rows only (rows never written, so no written row's cluster uses its own future), banded by
  ``CLUSTER_BETA_EDGES``.
* A written row whose features are not all finite (e.g. a stale stretch: a 20-day high-low
  range of 0 gives 0/0) is left out and counted, ``rows_not_finite_dropped``, with per symbol
  its first and last date, rows and the columns concerned. Its neighbours keep their labels,
  which still look 20 trading rows ahead in the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ifns_train.data import panel
from ifns_train.data.features import (
    FEATURE_COLUMNS,
    HIGH_LOW_FEATURES,
    HL_SPREAD_LABEL,
    RETURN_LABEL_FAMILIES,
    VOLUME_FEATURES,
    WARMUP_ROWS,
)
from ifns_train.data.ohlcv.clean import Rows
from ifns_train.data.ohlcv.problems import OhlcvError
from ifns_train.data.ohlcv.report import DETAIL_LIMIT, ImportReport

CLUSTER_BETA_EDGES = (0.6, 0.85, 1.0, 1.15, 1.4)
CHUNK_SYMBOLS = 64


@dataclass
class Derived:
    frame: pd.DataFrame
    absent: dict[str, str]
    spread_label: bool
    per_symbol: dict[str, dict[str, Any]]  # rows written, cluster, beta


def _absence_reason(what: str, lacking: list[str], symbols: list[str]) -> str:
    if len(lacking) == len(symbols):
        return what
    shown = ", ".join(lacking[:10]) + (" ..." if len(lacking) > 10 else "")
    return f"{what} for {len(lacking)} of {len(symbols)} symbols ({shown})"


def absent_columns(symbols: list[str], no_volume: list[str], no_high_low: list[str]
                   ) -> dict[str, str]:
    absent: dict[str, str] = {}
    if no_volume:
        absent.update(dict.fromkeys(VOLUME_FEATURES,
                                    _absence_reason("no volume in source", no_volume, symbols)))
    if no_high_low:
        why = _absence_reason("no High/Low in source", no_high_low, symbols)
        absent.update(dict.fromkeys([*HIGH_LOW_FEATURES, HL_SPREAD_LABEL], why))
    return absent


def market_and_betas(rows: Rows, position: np.ndarray, date_pos: np.ndarray, n_dates: int
                     ) -> tuple[pd.Series, np.ndarray]:
    """Equal-weight market return per date, and each symbol's beta over its warm-up rows."""
    ret = np.r_[np.nan, np.diff(np.log(rows.values["close"]))]
    ret[position == 0] = np.nan
    dense = np.full((n_dates, len(rows.symbols)), np.nan)
    dense[date_pos, rows.symbol] = ret
    market = pd.DataFrame(dense).mean(axis=1).fillna(0.0)
    market_at = market.to_numpy(np.float64)[date_pos]
    betas = np.ones(len(rows.symbols))
    for code, start in enumerate(rows.starts()[:-1]):
        window = slice(start + 1, start + WARMUP_ROWS)
        x, y = market_at[window], ret[window]
        dx = x - x.mean()
        var = float((dx * dx).sum())
        betas[code] = float((dx * (y - y.mean())).sum() / var) if var > 0 else 1.0
    return market, betas


@dataclass
class _Written:
    """The written rows' columns in table order (one array per column, not one block: each is
    small enough for the allocator to place in the memory the cleaning has just freed)."""

    names: list[str]  # feature columns, then labels
    n_features: int
    size: int

    def __post_init__(self) -> None:
        self.columns = {name: np.empty(self.size) for name in self.names}
        self.state = np.empty(self.size, dtype=object)
        self.not_finite = np.zeros(self.size, bool)
        self.left_out: list[dict[str, Any]] = []


def _chunk(rows: Rows, a: int, b: int, position: np.ndarray, at: np.ndarray,
           written: _Written, vol_20d: np.ndarray, no_volume: bool, spread: bool) -> None:
    """Features and labels of symbols a..b-1 into their table rows `at` (and vol_20d of all
    their rows, for the vol band)."""
    starts = rows.starts()
    lo, hi = int(starts[a]), int(starts[b])
    pos, col = position[lo:hi], rows.symbol[lo:hi] - a
    shape = (int(pos.max()) + 1, b - a)

    def wide(name: str) -> pd.DataFrame:
        frame = np.full(shape, np.nan)
        frame[pos, col] = rows.values[name][lo:hi]
        return pd.DataFrame(frame)

    close = wide("close")
    high, low = (wide("high"), wide("low")) if spread else (close, close)
    volume = None if no_volume else wide("volume")
    columns = panel.wide_columns(close, high, low, volume, spread_label=spread)
    vol_20d[lo:hi] = columns["vol_20d"].to_numpy()[pos, col]
    sel = pos >= WARMUP_ROWS
    cells = panel.take_cells(columns, pos[sel], col[sel])
    written.state[at] = panel.states(cells)
    bad = np.zeros(at.size, bool)
    concerned = {}
    for j, name in enumerate(written.names):
        written.columns[name][at] = cells[name]
        wrong = ~np.isfinite(cells[name]) if j < written.n_features else None
        if wrong is not None and wrong.any():
            bad |= wrong
            concerned[name] = wrong
    written.not_finite[at] = bad
    if bad.any():
        written.left_out += _not_finite(rows, lo + np.flatnonzero(sel), col[sel], bad,
                                        concerned)


def derive(rows: Rows, no_volume: list[str], no_high_low: list[str], report: ImportReport
           ) -> Derived:
    """The table (sorted by date, then symbol) and what the entry says about it; consumes
    `rows`' prices (its value arrays are freed once the features are computed)."""
    symbols = rows.symbols
    absent = absent_columns(symbols, no_volume, no_high_low)
    starts = rows.starts()
    position = np.arange(len(rows)) - starts[rows.symbol]
    dates, date_pos = np.unique(rows.date, return_inverse=True)
    market, betas = market_and_betas(rows, position, date_pos, len(dates))
    clusters = np.searchsorted(CLUSTER_BETA_EDGES, betas, side="right")

    keep = np.flatnonzero(position >= WARMUP_ROWS)  # in symbol order
    report.count("warmup_rows_dropped", len(rows) - keep.size)
    order = np.lexsort((rows.symbol[keep], rows.date[keep]))  # table row -> keep index
    table_row = np.empty(keep.size, np.int64)
    table_row[order] = np.arange(keep.size)
    spread = not no_high_low
    labels = [*RETURN_LABEL_FAMILIES, *([HL_SPREAD_LABEL] if spread else [])]
    features = [c for c in FEATURE_COLUMNS if c not in absent]
    written = _Written([*features, *labels], len(features), keep.size)
    vol_20d = np.empty(len(rows))
    kept_before = np.r_[0, np.cumsum(np.bincount(rows.symbol[keep], minlength=len(symbols)))]
    for a in range(0, len(symbols), CHUNK_SYMBOLS):
        b = min(a + CHUNK_SYMBOLS, len(symbols))
        _chunk(rows, a, b, position, table_row[kept_before[a]:kept_before[b]], written,
               vol_20d, bool(no_volume), spread)
    rows.values.clear()  # the prices are in the table now: free them before it is assembled

    good = ~written.not_finite
    m = int(good.sum())
    report.count("rows_not_finite_dropped", keep.size - m)
    for item in written.left_out[:DETAIL_LIMIT]:
        report.note("rows_not_finite_dropped", item)
    if m == 0:
        raise OhlcvError(f"no row left to write: every one of the {keep.size} rows after the "
                         "warm-up has a feature that is not finite (a price series that never "
                         "moves?)")
    columns = {}
    for name, values in written.columns.items():  # left-out rows removed in place
        values[:m] = values[good]
        columns[name] = values[:m]
    table_keep = keep[order][good]
    vol_by_date = np.full((len(dates), len(symbols)), np.nan)
    vol_by_date[date_pos, rows.symbol] = vol_20d
    columns.update(panel.context_columns(
        written.state[good], market=market, vol_by_date=pd.DataFrame(vol_by_date),
        date_pos=date_pos[table_keep], symbol_pos=rows.symbol[table_keep], clusters=clusters))
    names = np.array(symbols, dtype=object)
    frame = panel.table_frame(rows.date[table_keep], names[rows.symbol[table_keep]], columns)
    report.count("label_rows_unknown", int(frame[labels[0]].isna().sum()))
    counts = np.bincount(rows.symbol[table_keep], minlength=len(symbols))
    per_symbol = {
        s: {"rows_written": int(counts[c]), "cluster": f"C{int(clusters[c])}",
            "beta_warmup": round(float(betas[c]), 6)}
        for c, s in enumerate(symbols)
    }
    return Derived(frame, absent, spread, per_symbol)


def _not_finite(rows: Rows, index: np.ndarray, col: np.ndarray, bad: np.ndarray,
                concerned: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Per symbol of a chunk: its written rows left out for a feature that is not finite
    (`index`: the row of each written cell of the chunk, `col` its symbol in the chunk)."""
    out = []
    for c in np.unique(col[bad]):
        mine = bad & (col == c)
        where = index[mine]
        out.append({
            "symbol": rows.symbols[int(rows.symbol[where[0]])],
            "first_date": rows.day(int(where[0])),
            "last_date": rows.day(int(where[-1])),
            "rows": int(mine.sum()),
            "columns": sorted(n for n, wrong in concerned.items() if (wrong & mine).any()),
        })
    return out
