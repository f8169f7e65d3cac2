"""Backtest-style trading proxies (spec 7.1): what a sign or threshold strategy would have earned.

Pure: arrays in (one row per (date, symbol) of an evaluation split), JSON-ready dicts out,
``None`` where a figure is undefined (never NaN). ``realised`` is the forward *log* return over
the label horizon; a trade earns the simple return of the holding, ``exp(realised) - 1``.

**Overlap.** A row's label spans ``horizon_days`` trading days, so trades opened on consecutive
dates overlap, and a Sharpe ratio of daily-sampled overlapping returns is inflated. Each figure is
therefore computed on non-overlapping holding periods: the split's sorted dates are cut into
``horizon_days`` offset sequences (dates d_k, d_{k+h}, d_{k+2h}, ... for k = 0..h-1), each a
chain of back-to-back h-day holdings, and every figure is reported as its mean over the offsets,
with the min and max so the dispersion is visible. On one period the portfolio holds the symbols
traded that date (position != 0) at equal weights w = position / n; its return is
sum(w * (exp(realised) - 1)), and its cost is cost_bps / 1e4 times the turnover
sum(|w_t - w_prev|) against the previous period of the same sequence (a symbol absent from a
period has weight 0; the first period enters from zero; the last is never liquidated). Turnover
in a symbol is charged at that date's ``cost_bps`` for the symbol, or at its last one in the
sequence if it has no row that date.

**Annualisation.** Holding periods are h trading days, so a year has 252 / h of them
(``TRADING_DAYS_PER_YEAR``, the one constant used everywhere): Sharpe = mean / std (ddof=1) of
the period returns times sqrt(252 / h); annual turnover = turnover per period times 252 / h.

**Per-trade costs.** Each unit of turnover is charged to exactly one trade: an increase of a
symbol's absolute weight (or the new side of a flip) to the trade that opens it, a decrease (or
the old side of a flip) to the trade that closes it. A position held from one period to the next
pays only for resizing, a round trip pays twice the bps, and the trades' costs add up to the
periods' costs. Net trade return = position * simple return - cost share * n (the trade's share
of portfolio cost per unit of its own weight 1 / n).

**What the model adds.** A proxy of the model alone rewards the market's drift: on a rising
market an always-long model earns what buying and holding earns. ``excess_proxies`` therefore
measures the model's period returns minus a baseline's on the same dates and offsets (the
evaluator takes the baseline with the best net Sharpe ratio), and ``market_neutral=True`` earns
each name's simple return less the equal-weighted mean of the date's names (a cross-section's
market move removed), for the cross-sectional families.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ifns_train.core.calendar import TRADING_DAYS_PER_YEAR
from ifns_train.evaluation.holdings import book, market
from ifns_train.evaluation.holdings import finite_1d as _finite_1d
from ifns_train.evaluation.panel import Panel, date_codes
from ifns_train.evaluation.ranking import bits_for, dense_rank

# Values within this of each other are a constant series: float noise from the sums would
# otherwise turn an exact constant into a Sharpe of ~1e13.
_CONSTANT_TOL = 1e-12
_FIGURES = ("expectancy", "hit_rate", "sharpe", "max_drawdown", "mean_period_return")
EXCESS_FIGURES = ("sharpe", "mean_period_return", "hit_rate")


def positions_from_probability(prob: np.ndarray, band: float) -> np.ndarray:
    """Directional P(up) -> +1 if p >= 0.5 else -1; 0 (no trade) where |p - 0.5| < ``band``."""
    p = _finite_1d(prob, "prob")
    if np.any((p < 0.0) | (p > 1.0)):
        raise ValueError("prob must lie in [0, 1]")
    if not 0.0 <= band <= 0.5:
        raise ValueError(f"band must lie in [0, 0.5], got {band!r}")
    pos = np.where(p >= 0.5, 1.0, -1.0)
    pos[np.abs(p - 0.5) < band] = 0.0
    return pos


def positions_from_call(call_up: np.ndarray, prob: np.ndarray, band: float) -> np.ndarray:
    """A directional call (1 up, 0 down) -> +1 / -1; 0 (no trade) where its P(up) lies within
    ``band`` of 0.5. The side is the predictor's own call, not ``prob >= 0.5``: a baseline such
    as the momentum sign calls down on a negative sign even where the up-rate it learnt for
    that sign is above one half."""
    call = _finite_1d(call_up, "call_up")
    up = call == 1.0
    if np.count_nonzero(up) + np.count_nonzero(call == 0.0) != call.size:
        raise ValueError("call_up must hold 0 (down) and 1 (up)")
    p = _finite_1d(prob, "prob", call.size)
    if not 0.0 <= band <= 0.5:
        raise ValueError(f"band must lie in [0, 0.5], got {band!r}")
    pos = np.where(up, 1.0, -1.0)
    if band > 0.0:  # |p - 0.5| < 0 never holds
        pos[np.abs(p - 0.5) < band] = 0.0
    return pos


def positions_from_forecast(forecast: np.ndarray, band: float) -> np.ndarray:
    """Return forecast -> its sign (+1, -1; 0 for an exact 0, which has no view); 0 where
    |forecast| < ``band`` (in the forecast's units)."""
    f = _finite_1d(forecast, "forecast")
    if not band >= 0.0:
        raise ValueError(f"band must be >= 0, got {band!r}")
    pos = np.sign(f)
    pos[np.abs(f) < band] = 0.0
    return pos


def sharpe_annualised(returns: np.ndarray, horizon_days: int) -> float | None:
    """mean / std (ddof=1) of per-period returns times sqrt(252 / horizon_days).

    None with fewer than 2 periods or a constant series: there is no dispersion to divide by.
    """
    r = _finite_1d(returns, "returns")
    _check_horizon(horizon_days)
    if r.size < 2 or np.ptp(r) <= _CONSTANT_TOL:
        return None
    return float(r.mean() / r.std(ddof=1) * math.sqrt(TRADING_DAYS_PER_YEAR / horizon_days))


def max_drawdown(returns: np.ndarray) -> float | None:
    """Largest fall of the compounded equity curve (from 1) below its running peak, as a
    positive fraction (0.25 is -25%); a period losing 100% or more wipes the account out (1.0).
    None for an empty series."""
    r = _finite_1d(returns, "returns")
    if r.size == 0:
        return None
    return float(_drawdowns(r[:, None])[0])


def trading_proxies(
    dates: np.ndarray,
    symbols: np.ndarray,
    position: np.ndarray,
    realised: np.ndarray,
    *,
    horizon_days: int,
    cost_bps: float | np.ndarray,
    market_neutral: bool = False,
) -> dict[str, Any]:
    """``panel_proxies`` on the panel of ``dates`` and ``symbols``."""
    _check_horizon(horizon_days)
    pos = _finite_1d(position, "position")
    return panel_proxies(Panel.of(dates, symbols, horizon_days, pos.size), pos, realised,
                         cost_bps=cost_bps, market_neutral=market_neutral)


def panel_proxies(
    panel: Panel,
    position: np.ndarray,
    realised: np.ndarray,
    *,
    cost_bps: float | np.ndarray,
    market_neutral: bool,
) -> dict[str, Any]:
    """Sign/threshold strategy figures on non-overlapping holdings (see the module docstring).

    ``position`` in [-1, 1] is decided at the row's date; ``cost_bps`` (>= 0) is a scalar or one
    value per row (e.g. an ``exec_cost`` model's predictions; clip them at 0 first).

    Returns ``rows``, ``dates``, ``horizon_days``, ``periods_per_year`` (252 / h), ``offsets``
    (sequences with at least one period: min(h, dates)), ``trades_total``, ``cost_bps_mean``,
    ``periods`` and ``trades`` per offset, ``gross`` and ``net`` (each with ``expectancy``: mean
    position x simple return per trade, net of its cost share; ``hit_rate``: share of trades
    with a return > 0; ``sharpe``; ``max_drawdown``; ``mean_period_return``), ``turnover``
    (``per_period`` and ``annualised``). Every per-offset figure is ``{mean, min, max,
    offsets}`` over the offsets where it is defined (``offsets`` counts them; all None if none).
    ``series`` holds, per date of the split, the return of the period opened that date
    (``gross``, ``net``) and its ``turnover``: offset k's sequence is every h-th date from the
    k-th (``offset_sequences``), for the excess over a baseline and a deflated Sharpe ratio.
    With ``market_neutral`` each row earns its simple return less the mean simple return of
    its date's rows.
    """
    h = panel.horizon
    n_rows = panel.rows
    pos = np.asarray(position, dtype=np.float64)
    # NaN and inf fail the range too; _finite_1d then names what is wrong.
    if pos.shape != (n_rows,) or (n_rows and not (pos.min() >= -1.0 and pos.max() <= 1.0)):
        _finite_1d(pos, "position", n_rows)
        raise ValueError("position must lie in [-1, 1]")
    m = panel.memo(("market", market_neutral), (realised, cost_bps),
                   lambda: market(panel, realised, cost_bps, market_neutral))
    date_values, n_dates = panel.date_values, panel.n_dates
    sums = book(panel, pos, m)
    gross_t, turnover_t = sums.gross, sums.turnover
    net_t = gross_t - sums.cost
    trades_k = sums.trades
    with np.errstate(invalid="ignore", divide="ignore"):  # an offset without trades: None
        per_trade = {side: (total / trades_k, above / trades_k)
                     for side, (total, above) in sums.trade_sums.items()}

    periods_k = np.bincount(np.arange(n_dates) % h, minlength=h)[: min(h, n_dates)]
    live = slice(0, periods_k.size)  # offsets with at least one period
    out_sides: dict[str, Any] = {}
    for side, per_t in (("gross", gross_t), ("net", net_t)):
        mat, valid = _by_offset(per_t, h)
        figures = {
            "expectancy": per_trade[side][0][live],
            "hit_rate": per_trade[side][1][live],
            "sharpe": _sharpe_columns(mat, valid, h),
            "max_drawdown": _drawdowns(mat),
            "mean_period_return": _column_means(mat, valid),
        }
        out_sides[side] = {name: _summary(figures[name]) for name in _FIGURES}
    tmat, tvalid = _by_offset(turnover_t, h)
    turnover_k = _column_means(tmat, tvalid)
    per_year = TRADING_DAYS_PER_YEAR / h
    return {
        "rows": int(n_rows),
        "dates": int(n_dates),
        "horizon_days": int(h),
        "periods_per_year": per_year,
        "offsets": int(periods_k.size),
        "trades_total": sums.trades_total,
        "cost_bps_mean": m.cost_bps_mean,
        "periods": _summary(periods_k.astype(np.float64)),
        "trades": _summary(trades_k[live]),
        **out_sides,
        "turnover": {
            "per_period": _summary(turnover_k),
            "annualised": _summary(turnover_k * per_year),
        },
        "market_neutral": bool(market_neutral),
        "series": {
            "dates": _date_strings(date_values),
            "gross": gross_t.tolist(),
            "net": net_t.tolist(),
            "turnover": turnover_t.tolist(),
        },
    }


def offset_sequences(per_date: Any, h: int) -> list[np.ndarray]:
    """The h non-overlapping sequences of a per-date series: dates k, k+h, k+2h, ... for each
    offset k with at least one date (NaN, a skipped date, left out)."""
    _check_horizon(h)
    x = np.asarray(per_date, dtype=np.float64)
    out = [x[k::h] for k in range(min(h, x.size))]
    return [seq[np.isfinite(seq)] for seq in out]


def excess_proxies(model: dict[str, Any], baseline: dict[str, Any], name: str
                   ) -> dict[str, Any]:
    """The model's period returns minus the baseline's, date by date (two ``trading_proxies``
    results on the same rows): what the model adds to the baseline's trades.

    For ``gross`` and ``net``: the annualised ``sharpe`` of the excess per offset sequence,
    its ``mean_period_return`` and ``hit_rate`` (share of periods the model earned more), each
    ``{mean, min, max, offsets}`` as in ``trading_proxies``; ``series``: the per-date excess.
    A model whose trades equal the baseline's has an excess of 0 on every date and no Sharpe
    ratio (None): it adds nothing.
    """
    dates = model["series"]["dates"]
    if baseline["series"]["dates"] != dates or baseline["horizon_days"] != model["horizon_days"]:
        raise ValueError("the model's and the baseline's proxies must cover the same dates "
                         "and horizon")
    h = int(model["horizon_days"])
    out: dict[str, Any] = {"baseline": name, "horizon_days": h}
    series: dict[str, Any] = {"dates": dates}
    for side in ("gross", "net"):
        excess = np.asarray(model["series"][side]) - np.asarray(baseline["series"][side])
        mat, valid = _by_offset(excess, h)
        figures = {
            "sharpe": _sharpe_columns(mat, valid, h),
            "mean_period_return": _column_means(mat, valid),
            "hit_rate": _column_means(np.where(valid, mat > 0.0, False).astype(np.float64),
                                      valid),
        }
        out[side] = {f: _summary(figures[f]) for f in EXCESS_FIGURES}
        series[side] = excess.tolist()
    out["series"] = series
    return out


def quantile_spread(
    dates: np.ndarray,
    forecast: np.ndarray,
    realised: np.ndarray,
    *,
    horizon_days: int,
    quantile: float = 0.2,
    min_names: int = 5,
) -> dict[str, Any]:
    """Per-date top-minus-bottom quantile spread of a return forecast (a long-short proxy).

    On each date with at least ``min_names`` names and a non-constant forecast (a constant one
    ranks nothing), the m = max(1, floor(quantile * n)) highest and m lowest forecasts form the
    top and bottom buckets; spread = mean simple return (exp(realised) - 1) of the top minus the
    bottom. **Ties:** names tied across a bucket's edge share its remaining places equally
    (fractional weights), which is the average over every random tie-break and does not depend
    on row order.

    Returns ``dates`` (used), ``dates_total``, ``mean``, ``std`` (ddof=1), ``hit_rate`` (share
    of spreads > 0), ``top_mean``, ``bottom_mean``, ``sharpe`` (annualised, on the offset
    sequences of the split's dates, as in ``trading_proxies``: a date left out is a skipped
    period; ``{mean, min, max, offsets}``) and ``series`` (offset 0's used dates and spreads).
    """
    _check_horizon(horizon_days)
    if not 0.0 < quantile <= 0.5:
        raise ValueError(f"quantile must lie in (0, 0.5], got {quantile!r}")
    if isinstance(min_names, bool) or not isinstance(min_names, int) or min_names < 2:
        raise ValueError(f"min_names must be an int >= 2, got {min_names!r}")
    f = _finite_1d(forecast, "forecast")
    simple = np.expm1(_finite_1d(realised, "realised", f.size))
    d, date_values = date_codes(dates, f.size)
    n_dates = len(date_values)
    order = _by_date_and_value(d, n_dates, f)
    fd, dd, rd = f[order], d[order], simple[order]
    pos = np.arange(fd.size)
    new_date = np.diff(dd, prepend=-1) != 0
    new_tie = new_date | (np.diff(fd, prepend=np.nan) != 0)
    date_start = np.maximum.accumulate(np.where(new_date, pos, 0))
    tie_start = np.maximum.accumulate(np.where(new_tie, pos, 0))
    tie_id = np.cumsum(new_tie) - 1
    tie_size = np.bincount(tie_id)[tie_id]
    lo = (tie_start - date_start).astype(np.float64)  # the tie group holds places [lo, hi)
    hi = lo + tie_size
    n = np.bincount(d, minlength=n_dates)
    n_row = n[dd].astype(np.float64)
    m_date = np.maximum(1.0, np.floor(quantile * n + 1e-9))
    m_row = m_date[dd]
    w_bottom = np.clip(np.minimum(hi, m_row) - lo, 0.0, None) / tie_size
    w_top = np.clip(hi - np.maximum(lo, n_row - m_row), 0.0, None) / tie_size
    distinct = np.bincount(dd, new_tie, n_dates)
    used = (n >= min_names) & (distinct >= 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        top = np.bincount(dd, w_top * rd, n_dates) / m_date
        bottom = np.bincount(dd, w_bottom * rd, n_dates) / m_date
    spread = np.where(used, top - bottom, np.nan)

    vals = spread[used]
    mat, valid = _by_offset(spread, horizon_days)
    offset0 = np.flatnonzero(used[::horizon_days]) * horizon_days
    return {
        "dates": int(used.sum()),
        "dates_total": int(n_dates),
        "quantile": float(quantile),
        "mean": float(vals.mean()) if vals.size else None,
        "std": float(vals.std(ddof=1)) if vals.size >= 2 else None,
        "hit_rate": float((vals > 0.0).mean()) if vals.size else None,
        "top_mean": float(top[used].mean()) if vals.size else None,
        "bottom_mean": float(bottom[used].mean()) if vals.size else None,
        "sharpe": _summary(_sharpe_columns(mat, valid, horizon_days)),
        "series": {
            "offset": 0,
            "dates": _date_strings(date_values[offset0]),
            "spread": spread[offset0].tolist(),
        },
    }


def _by_date_and_value(d: np.ndarray, n_dates: int, f: np.ndarray) -> np.ndarray:
    """Rows by date, then forecast, then row: one ``np.sort`` of packed integer keys (date,
    dense rank, row), several times faster than an argsort of millions of rows; ``np.lexsort``
    of the same keys if they do not fit 64 bits."""
    dense = dense_rank(f)
    row_bits = bits_for(f.size)
    if bits_for(n_dates) + bits_for(dense.distinct) + row_bits > 64:
        return np.lexsort((np.arange(f.size), dense.rank, d))
    key = dense.row_key() | (d.astype(np.uint64)
                             << np.uint64(bits_for(dense.distinct) + row_bits))
    key.sort()
    return (key & np.uint64((1 << row_bits) - 1)).view(np.int64)


def _by_offset(per_date: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    """(periods x offsets) matrix of a per-date series: column k is dates k, k+h, k+2h, ...

    Padding and NaN (a skipped date) become 0 with ``valid`` False; a 0 return changes no
    drawdown, so the padding needs no masking there. Only offsets with a date are kept.
    """
    n_dates = per_date.size
    n_off = min(h, n_dates)
    n_periods = -(-n_dates // h)
    padded = np.full(n_periods * h, np.nan)
    padded[:n_dates] = per_date
    mat = padded.reshape(n_periods, h)[:, :n_off]
    valid = np.isfinite(mat)
    return np.where(valid, mat, 0.0), valid


def _column_means(mat: np.ndarray, valid: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return mat.sum(axis=0) / valid.sum(axis=0)


def _sharpe_columns(mat: np.ndarray, valid: np.ndarray, h: int) -> np.ndarray:
    """Annualised Sharpe of each column's valid entries; NaN (-> None) where undefined."""
    count = valid.sum(axis=0)
    mean = _column_means(mat, valid)
    dev = np.where(valid, mat - mean, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.sqrt((dev**2).sum(axis=0) / (count - 1))
        spread = np.max(np.where(valid, mat, -np.inf), axis=0, initial=-np.inf) - np.min(
            np.where(valid, mat, np.inf), axis=0, initial=np.inf
        )
        sr = mean / std * math.sqrt(TRADING_DAYS_PER_YEAR / h)
    return np.where((count >= 2) & (spread > _CONSTANT_TOL), sr, np.nan)


def _drawdowns(mat: np.ndarray) -> np.ndarray:
    """Max drawdown of each column's compounded equity (from 1); total loss floors it at 0."""
    if mat.shape[0] == 0:
        return np.full(mat.shape[1], np.nan)
    equity = np.cumprod(np.maximum(1.0 + mat, 0.0), axis=0)
    peak = np.maximum(np.maximum.accumulate(equity, axis=0), 1.0)
    return np.max(1.0 - equity / peak, axis=0)


def _summary(per_offset: np.ndarray) -> dict[str, Any]:
    """{mean, min, max, offsets} over the offsets where the figure is defined (finite)."""
    x = np.asarray(per_offset, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"mean": None, "min": None, "max": None, "offsets": 0}
    return {
        "mean": float(x.mean()),
        "min": float(x.min()),
        "max": float(x.max()),
        "offsets": int(x.size),
    }


def _date_strings(values: Any) -> list[str]:
    """ISO dates for datetime-like values, str() otherwise: JSON has no date type."""
    idx = pd.Index(values)
    if isinstance(idx, pd.DatetimeIndex):
        return [str(v) for v in idx.strftime("%Y-%m-%d")]
    return [str(v) for v in idx]


def _check_horizon(horizon_days: int) -> None:
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 1:
        raise ValueError(f"horizon_days must be a positive int, got {horizon_days!r}")
