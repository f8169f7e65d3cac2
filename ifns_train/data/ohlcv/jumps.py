"""Jumps in a symbol's closes: a split, a bad print, or a genuine move.

Why this care: an unadjusted split is a fake -50% return in the labels, but a genuine -50% day
is real data, and adjusting it invents a split. So a jump is called a split only on evidence,
and the importer never guesses between the two:

* *split-like*: where the symbol has an Open column, the open-to-previous-close ratio is within
  4% (``SPLIT_TOLERANCE``) of a split ratio 1/k or k (``SPLIT_FACTORS``) and the close stays
  nearer that new level than the old one (``opens_at``); without an Open column, the
  close-to-close ratio is. Why the open decides: a split takes effect at the open and the stock
  trades on from there, so a 2:1 split day may open at x0.499 and close at x0.549, no split
  ratio; an intraday crash opens near the previous close and is a genuine move however far it
  closes, and an open alone at the ratio with the close back at the old level is a bad open;
* *transient*: a jump to a split ratio whose close comes back within the tolerance of the
  pre-jump level within ``TRANSIENT_ROWS`` rows (a bad print): always a problem, naming the
  rows to fix;
* with Adj Close the adjusted series is checked, and a jump left in it is the vendor's own
  adjusted data: kept and reported as a large move, never called a split.

A split-like jump in unadjusted data is refused by default, as a problem that lists, in this
order, ``--keep-jumps SYMBOL`` (a genuine move), ``--split SYMBOL:DATE:RATIO`` (a split) and
``--adjust-splits`` (back-adjust every detected split-like jump). A known split (``--split``,
``--splits-file``) is applied only if the data shows the matching move on that date (within
the tolerance, at the close or, as above, at the open): the earlier prices are multiplied by
1 / RATIO and the volume by RATIO, ``splits_adjusted``; otherwise it is a problem naming the
move the data does show, and the open's (the data may already be adjusted). Every adjustment
uses the nominal ratio, never the ratio seen, so the split day keeps its own move from the
open. Moves of more than x1.8 (``LARGE_MOVE``) that are no split, and split-like jumps kept
(intraday, adjusted series or ``--keep-jumps``), are kept and reported, ``large_moves_kept``,
with the close-to-close ratio: the move the labels see.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ifns_train.data.ohlcv.clean import Rows
from ifns_train.data.ohlcv.options import ImportOptions, KnownSplit
from ifns_train.data.ohlcv.problems import Problems
from ifns_train.data.ohlcv.read import Source
from ifns_train.data.ohlcv.report import ImportReport

SPLIT_FACTORS = (2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 40, 50, 100)
SPLIT_TOLERANCE = math.log(1.04)
LARGE_MOVE = math.log(1.8)
TRANSIENT_ROWS = 5
_RATIOS = np.array([1.0 / k for k in SPLIT_FACTORS] + [float(k) for k in SPLIT_FACTORS])


def split_ratio(log_ratio: np.ndarray) -> np.ndarray:
    """The nominal price ratio (1/k or k) each log ratio is within tolerance of, else NaN
    (NaN too where the log ratio is)."""
    out = np.full(log_ratio.shape, np.nan)
    near = np.flatnonzero(np.abs(log_ratio) > math.log(2) - SPLIT_TOLERANCE)  # the few
    dist = np.abs(log_ratio[near, None] - np.log(_RATIOS)[None, :])
    best = dist.argmin(axis=1)
    out[near] = np.where(dist[np.arange(near.size), best] < SPLIT_TOLERANCE, _RATIOS[best],
                         np.nan)
    return out


def opens_at(gap: np.ndarray | float, move: np.ndarray | float,
             price_factor: np.ndarray | float) -> np.ndarray | np.bool_:
    """Whether a day shows `price_factor` at the open (log `gap` of the open over the previous
    close) and its close stays nearer that new level than the old one (log `move`, close over
    close): a split moves the whole day, while an open alone at the ratio is a bad print."""
    level = np.log(price_factor)
    return (np.abs(gap - level) < SPLIT_TOLERANCE) & (np.abs(move - level) < np.abs(move))


def describe_ratio(price_factor: float) -> str:
    if price_factor < 1:
        return f"a {1 / price_factor:g}:1 split"
    return f"a 1:{price_factor:g} reverse split"


class _Jumps:
    """One symbol-ordered pass over the closes; `factor` collects the back-adjustments."""

    def __init__(self, rows: Rows, sources: Sequence[Source], sound: np.ndarray,
                 has_adj: np.ndarray, has_open: np.ndarray) -> None:
        self.rows, self.sources, self.has_adj, self.has_open = rows, sources, has_adj, has_open
        self.close = rows.values["close"]
        self.logc = np.log(np.where(sound, self.close, np.nan))
        self.starts = rows.starts()
        self.end = self.starts[1:][rows.symbol]  # one past each row's last symbol row
        self.first = self.starts[:-1][rows.symbol]
        self.ratio = np.full(len(rows), np.nan)
        self.ratio[1:] = np.diff(self.logc)
        self.ratio[self.first == np.arange(len(rows))] = np.nan
        self.gap = self._gaps(sound)
        self.factor = np.ones(len(rows))

    def _gaps(self, sound: np.ndarray) -> np.ndarray:
        """Per row: the log of its open over the previous close; NaN without a usable open."""
        gap = np.full(len(self.rows), np.nan)
        if "open" in self.rows.values:
            opened = np.where(sound & self.has_open, self.rows.values["open"], np.nan)
            gap[1:] = np.log(opened[1:]) - self.logc[:-1]
            gap[self.first == np.arange(len(self.rows))] = np.nan
        return gap

    def move(self, pos: int) -> str:
        column = "adj_close" if self.has_adj[pos] else "close"
        header = f"'{self.rows.header(self.sources, pos, column)}'"
        if self.has_adj[pos]:
            header += " (the adjusted series)"
        return (f"{self.rows.where(self.sources, pos)}: column {header} moves from "
                f"{self.close[pos - 1]:.6g} to {self.close[pos]:.6g} "
                f"(x{math.exp(self.ratio[pos]):.4g}) on {self.rows.day(pos)}")

    def reversal(self, pos: int) -> int:
        """Rows after `pos` until the close is back near the pre-jump level (0: never)."""
        for j in range(1, TRANSIENT_ROWS + 1):
            if pos + j >= self.end[pos]:
                break
            if abs(self.logc[pos + j] - self.logc[pos - 1]) < SPLIT_TOLERANCE:
                return j
        return 0

    def at_open(self) -> np.ndarray:
        """Per row: the split ratio its open shows (`opens_at`), else NaN; NaN on every row of
        a symbol without an Open column."""
        q = split_ratio(self.gap)
        return np.where(opens_at(self.gap, self.ratio, q), q, np.nan)

    def shows(self, pos: int, price_factor: float) -> bool:
        """Whether row `pos` shows `price_factor`: its close does, or its open (`opens_at`)."""
        at_close = abs(self.ratio[pos] - math.log(price_factor)) < SPLIT_TOLERANCE
        return bool(at_close or opens_at(self.gap[pos], self.ratio[pos], price_factor))

    def shown(self, pos: int, q: float) -> str:
        """How row `pos` shows the split ratio `q`: its close, its open, or both."""
        split = describe_ratio(q)
        if not opens_at(self.gap[pos], self.ratio[pos], q):
            return f"close to {split}"
        opened = f"x{math.exp(self.gap[pos]):.4g} of the previous close"
        if abs(self.ratio[pos] - math.log(q)) < SPLIT_TOLERANCE:
            return f"close to {split}, and the day opens at that level ({opened})"
        return f"but the day opens at {opened}, close to {split} (the close moved during the day)"

    def opening(self, pos: int) -> str:
        """The open's ratio to the previous close, for a message; empty without an open."""
        if not np.isfinite(self.gap[pos]):
            return ""
        return f" and opens at x{math.exp(self.gap[pos]):.4g} of the previous close"

    def adjust(self, pos: int, price_factor: float) -> None:
        self.factor[self.first[pos]:pos] *= price_factor


def resolve_jumps(rows: Rows, sources: Sequence[Source], sound: np.ndarray,
                  has_adj: np.ndarray, has_open: np.ndarray, options: ImportOptions,
                  report: ImportReport, problems: Problems) -> None:
    """Known splits, split-like jumps, transients and large moves (module docstring); the
    adjustments are applied to `rows` in place. `sound` marks rows with usable prices."""
    jumps = _Jumps(rows, sources, sound, has_adj, has_open)
    handled = np.zeros(len(rows), bool)
    for split in options.splits:
        found = _known_split(jumps, split, problems)
        if found is not None:
            handled[found] = True
            _count_split(report, rows, sources, found, split.price_factor, split.origin)
    valid = np.isfinite(jumps.ratio)
    at_close = split_ratio(jumps.ratio)
    q = np.where(has_open, jumps.at_open(), at_close)  # where there is an open, it decides
    inside = np.zeros(len(rows), bool)  # rows of a transient, reported with it
    kept: list[tuple[int, str]] = []
    for candidate in np.flatnonzero((np.isfinite(q) | np.isfinite(at_close)) & ~handled):
        pos = int(candidate)
        symbol = rows.symbols[int(rows.symbol[pos])]
        if inside[pos]:
            continue
        near = float(q[pos] if np.isfinite(q[pos]) else at_close[pos])
        back = jumps.reversal(pos)
        if back:
            inside[pos:pos + back + 1] = True
            last = int(rows.row[pos + back - 1])
            fix = f"rows {rows.row[pos]} to {last}" if back > 1 else f"row {rows.row[pos]}"
            kind = "a one-day spike" if back == 1 else f"a {back}-day transient"
            problems.add(
                f"{jumps.move(pos)}, {jumps.shown(pos, near)}, and is back near "
                f"{jumps.close[pos - 1]:.6g} on {rows.day(pos + back)}: {kind}, likely bad "
                f"prices; fix the {fix}", symbol=symbol, file=int(rows.file[pos]),
                row=int(rows.row[pos]))
            continue
        if has_adj[pos]:
            kept.append((pos, "split-like, in the vendor's adjusted series"))
            continue
        if not np.isfinite(q[pos]):  # an open that does not show the split ratio
            kept.append((pos, "split-like close, but the day opened near the previous close: "
                              "an intraday move"))
            continue
        if options.keeps_jumps(symbol):
            kept.append((pos, "split-like, kept by --keep-jumps"))
            continue
        if options.adjust_splits:
            jumps.adjust(pos, float(q[pos]))
            _count_split(report, rows, sources, pos, float(q[pos]), "detected, --adjust-splits")
            continue
        no_open = "" if has_open[pos] else " (no Open column tells a split from a move)"
        problems.add(
            f"{jumps.move(pos)}, {jumps.shown(pos, q[pos])}{no_open}: if the move is "
            f"genuine, pass --keep-jumps {symbol}; if it is a split, --split "
            f"{symbol}:{rows.day(pos)}:{1 / q[pos]:g}; or --adjust-splits to back-adjust every "
            "detected split-like jump", symbol=symbol, file=int(rows.file[pos]),
            row=int(rows.row[pos]))
    large = valid & (np.abs(np.nan_to_num(jumps.ratio)) > LARGE_MOVE)
    large &= ~(np.isfinite(q) | np.isfinite(at_close) | inside | handled)
    kept += [(int(p), "no split ratio") for p in np.flatnonzero(large)]
    for pos, why in sorted(kept):
        report.count("large_moves_kept")
        report.note("large_moves_kept", {
            "symbol": rows.symbols[int(rows.symbol[pos])], "date": rows.day(pos),
            "ratio": round(math.exp(jumps.ratio[pos]), 6), "why": why,
            "where": rows.where(sources, pos),
        })
    _apply(rows, jumps.factor)


def _known_split(jumps: _Jumps, split: KnownSplit, problems: Problems) -> int | None:
    """The row where a known split applies (adjusting the rows before it), or None with a
    problem when the data does not show it there."""
    rows = jumps.rows
    if split.symbol not in rows.symbols:
        problems.add(f"{split.origin}: symbol {split.symbol} is not in the data")
        return None
    code = rows.symbols.index(split.symbol)
    lo, hi = int(jumps.starts[code]), int(jumps.starts[code + 1])
    pos = lo + int(np.searchsorted(rows.date[lo:hi], np.datetime64(split.day, "ns")))
    first, last = rows.day(lo), rows.day(hi - 1)
    if pos >= hi or rows.day(pos) != split.date:
        problems.add(f"{split.origin}: symbol {split.symbol} has no row on {split.date} (its "
                     f"rows run from {first} to {last})", symbol=split.symbol,
                     file=int(rows.file[lo]))
        return None
    if pos == lo:
        problems.add(f"{split.origin}: {split.date} is the first row of symbol {split.symbol}: "
                     "no earlier price to adjust", symbol=split.symbol, file=int(rows.file[lo]))
        return None
    if not jumps.shows(pos, split.price_factor):
        problems.add(
            f"{jumps.move(pos)}{jumps.opening(pos)}, but {split.origin} "
            f"({describe_ratio(split.price_factor)}) "
            f"expects x{split.price_factor:.4g}: the data may already be adjusted for it; "
            "drop the split or check its date and ratio", symbol=split.symbol,
            file=int(rows.file[pos]), row=int(rows.row[pos]))
        return None
    jumps.adjust(pos, split.price_factor)
    return pos


def _count_split(report: ImportReport, rows: Rows, sources: Sequence[Source], pos: int,
                 price_factor: float, origin: str) -> None:
    report.count("splits_adjusted")
    report.note("splits_adjusted", {
        "symbol": rows.symbols[int(rows.symbol[pos])], "date": rows.day(pos),
        "split": describe_ratio(price_factor)[2:], "price_factor": price_factor,
        "shares_ratio": 1 / price_factor, "from": origin, "where": rows.where(sources, pos),
    })


def _apply(rows: Rows, factor: np.ndarray) -> None:
    """Prices times the back-adjustment factor, volume divided by it."""
    if (factor == 1.0).all():
        return
    for name in ("open", "high", "low", "close"):
        if name in rows.values:
            rows.values[name] = rows.values[name] * factor
    if "volume" in rows.values:
        rows.values["volume"] = rows.values["volume"] / factor
