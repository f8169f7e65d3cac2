"""Price-derived Stage 02 columns: feature families, forward labels and context tags.

One implementation shared by the synthetic demo generator (`demo`) and the OHLCV importer
(`ohlcv`), so a model trained on one sees the very same definitions on the other.

Every function works on wide frames (one row per trading row, one column per symbol) and is
column-wise except where a cross-section is the point (the market return, the vol band):

* a feature or context value at row t uses rows <= t only;
* a label at row t looks forward (t+1 .. t+horizon) and is NaN where that future is unknown.

The rows are *trading rows*: the demo has no holidays, and the importer aligns each symbol on
its own trading rows, so a 20-day window is 20 of the symbol's trading days, never a calendar
span filled with guesses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ifns_train.core.calendar import TRADING_DAYS_PER_YEAR
from ifns_train.core.errors import ConfigError
from ifns_train.data import index

LABEL_HORIZON_DAYS = 20
# Of the 20 days of a volume statistic, the fewest that must have a volume (a missing volume is
# NaN, e.g. a vendor's 0 on a trading day): one missing day does not blank 20 rows.
VOLUME_MIN_DAYS = 15
# Rows of a symbol before every feature is defined: the 120-day windows need 121 closes, so the
# first complete row is the 121st; these leading rows are warm-up, never dataset rows.
WARMUP_ROWS = 120

FEATURE_FAMILIES: dict[str, list[str]] = {
    "Feature_TREND_MTF_V1": [
        "trend_ret_5d",
        "trend_ret_20d",
        "trend_ret_60d",
        "trend_ret_120d",
        "trend_px_vs_ma20",
        "trend_px_vs_ma60",
        "trend_ma20_vs_ma120",
        "trend_ret_60d_volnorm",
    ],
    "Feature_VOL_LIQ_V1": [
        "vol_20d",
        "vol_60d",
        "vol_ewma_094",
        "vol_ratio_20_60",
        "vol_volume_z_20d",
        "vol_log_amihud_20d",
        "vol_hl_range_20d",
        "vol_log_dollar_volume_20d",
    ],
    "Feature_STRUCTURE_MTF_V1": [
        "struct_pos_20d",
        "struct_pos_60d",
        "struct_pos_120d",
        "struct_breakout_up_20d",
        "struct_breakout_dn_20d",
        "struct_swing_score",
        "struct_dist_high_120d",
    ],
}
FEATURE_COLUMNS: list[str] = [c for cols in FEATURE_FAMILIES.values() for c in cols]
# Columns that cannot exist without a volume series, or without daily highs and lows.
VOLUME_FEATURES: tuple[str, ...] = (
    "vol_volume_z_20d",
    "vol_log_amihud_20d",
    "vol_log_dollar_volume_20d",
)
HIGH_LOW_FEATURES: tuple[str, ...] = (
    "vol_hl_range_20d",
    *FEATURE_FAMILIES["Feature_STRUCTURE_MTF_V1"],
)

# The forward-return labels, shared by every dataset built from prices.
RETURN_LABEL_FAMILIES: dict[str, dict[str, Any]] = {
    "Label_Direction_Horizon_20d_V1": {
        "column": "Label_Direction_Horizon_20d_V1",
        "horizon_days": LABEL_HORIZON_DAYS,
        "kind": "direction",
        "description": "1.0 if log(close[t+20] / close[t]) > 0 else 0.0; NaN when unknown.",
    },
    "Label_ReturnContinuous_Horizon_20d_V1": {
        "column": "Label_ReturnContinuous_Horizon_20d_V1",
        "horizon_days": LABEL_HORIZON_DAYS,
        "kind": "return",
        "description": "Forward 20-trading-day log return log(close[t+20] / close[t]).",
    },
    "Label_RealizedVol_Horizon_20d_V1": {
        "column": "Label_RealizedVol_Horizon_20d_V1",
        "horizon_days": LABEL_HORIZON_DAYS,
        "kind": "realized_vol",
        "description": (
            "Annualised (sqrt(252)) sample std (ddof=1) of the daily log returns t+1..t+20."
        ),
    },
}
HL_SPREAD_LABEL = "Label_HLSpread_Bps_Horizon_1d_V1"
# A different definition from the demo's order-size-dependent execution cost, hence its own id.
HL_SPREAD_LABEL_FAMILY: dict[str, Any] = {
    "column": HL_SPREAD_LABEL,
    "horizon_days": 1,
    "kind": "cost_bps",
    "description": (
        "Corwin-Schultz (2012) high-low effective spread estimate, in bps, over the two trading "
        "days t and t+1 (realised at the close of t+1). Day t+1's high and low are first moved "
        "by any overnight gap (by L[t+1] - C[t] when the low opens above the close, by "
        "C[t] - H[t+1] when the high stays below it); then beta = ln(H[t]/L[t])^2 + "
        "ln(H[t+1]/L[t+1])^2, gamma = ln(max(H[t], H[t+1]) / min(L[t], L[t+1]))^2, "
        "alpha = (sqrt(2 beta) - sqrt(beta)) / (3 - 2 sqrt 2) - sqrt(gamma / (3 - 2 sqrt 2)), "
        "S = 2 (exp(alpha) - 1) / (1 + exp(alpha)); label = 1e4 * max(S, 0)."
    ),
}

CONTEXT_COLUMNS: list[str] = list(index.CONTEXT_COLUMNS)


def _range_position(
    close: pd.DataFrame, high: pd.DataFrame, low: pd.DataFrame, w: int
) -> pd.DataFrame:
    """Where the close sits in the w-day high-low range: 0 at the low, 1 at the high."""
    hi = high.rolling(w).max()
    lo = low.rolling(w).min()
    return (close - lo) / (hi - lo)


def compute_features(
    close: pd.DataFrame,
    high: pd.DataFrame,
    low: pd.DataFrame,
    volume: pd.DataFrame | None,
) -> dict[str, pd.DataFrame]:
    """All feature columns as wide (row x symbol) frames; row t uses rows <= t only.

    The first ``WARMUP_ROWS`` rows are (partly) NaN: callers drop them. Without `volume` the
    volume-based columns (``VOLUME_FEATURES``) are not computed at all: a dataset without
    volume must say so, not carry zeros. A NaN in `volume` is a missing day: the 20-day volume
    statistics use the days present (at least ``VOLUME_MIN_DAYS``), and the day's own volume
    z-score is NaN.
    """
    logc = np.log(close)
    ret = logc.diff()
    out: dict[str, pd.DataFrame] = {}
    for w in (5, 20, 60, 120):
        out[f"trend_ret_{w}d"] = logc - logc.shift(w)
    ma20, ma60, ma120 = (close.rolling(w).mean() for w in (20, 60, 120))
    out["trend_px_vs_ma20"] = np.log(close / ma20)
    out["trend_px_vs_ma60"] = np.log(close / ma60)
    out["trend_ma20_vs_ma120"] = np.log(ma20 / ma120)
    sd20, sd60 = ret.rolling(20).std(), ret.rolling(60).std()
    out["trend_ret_60d_volnorm"] = out["trend_ret_60d"] / (sd60 * np.sqrt(60.0))

    out["vol_20d"] = sd20 * np.sqrt(TRADING_DAYS_PER_YEAR)
    out["vol_60d"] = sd60 * np.sqrt(TRADING_DAYS_PER_YEAR)
    # RiskMetrics: variance_t = 0.94 variance_{t-1} + 0.06 r_t^2 (zero-mean returns).
    ewma_var = (ret**2).ewm(alpha=0.06, adjust=False).mean()
    out["vol_ewma_094"] = np.sqrt(ewma_var * TRADING_DAYS_PER_YEAR)
    out["vol_ratio_20_60"] = sd20 / sd60
    if volume is not None:
        # A missing volume (NaN) is skipped: the 20-day statistics are over the days present,
        # if at least VOLUME_MIN_DAYS of the 20 are (the same values when all 20 are).
        logv = np.log(volume)
        logv20 = logv.rolling(20, min_periods=VOLUME_MIN_DAYS)
        out["vol_volume_z_20d"] = (logv - logv20.mean()) / logv20.std()
        dollar_volume = close * volume
        amihud = (ret.abs() / dollar_volume).rolling(20, min_periods=VOLUME_MIN_DAYS).mean()
        out["vol_log_amihud_20d"] = np.log(1e9 * amihud)
        dollar_volume20 = dollar_volume.rolling(20, min_periods=VOLUME_MIN_DAYS).mean()
        out["vol_log_dollar_volume_20d"] = np.log(dollar_volume20)
    out["vol_hl_range_20d"] = np.log(high / low).rolling(20).mean()

    for w in (20, 60, 120):
        out[f"struct_pos_{w}d"] = _range_position(close, high, low, w)
    prior_hi = high.shift(1).rolling(20).max()
    prior_lo = low.shift(1).rolling(20).min()
    out["struct_breakout_up_20d"] = (close > prior_hi).astype(float).where(prior_hi.notna())
    out["struct_breakout_dn_20d"] = (close < prior_lo).astype(float).where(prior_lo.notna())
    hi20, lo20 = high.rolling(20).max(), low.rolling(20).min()
    # Higher highs and higher lows (+1 each) vs the previous 20-day block; lower ones -1.
    out["struct_swing_score"] = np.sign(hi20 - hi20.shift(20)) + np.sign(lo20 - lo20.shift(20))
    out["struct_dist_high_120d"] = np.log(close / high.rolling(120).max())
    return {name: out[name].astype(float) for name in FEATURE_COLUMNS if name in out}


def forward_return_labels(close: pd.DataFrame, horizon: int) -> dict[str, pd.DataFrame]:
    """Direction, forward log return and annualised realised vol over t+1..t+horizon."""
    logc = np.log(close)
    fwd = logc.shift(-horizon) - logc
    direction = (fwd > 0).astype(float).where(fwd.notna())
    daily = logc.diff()
    rvol = daily.rolling(horizon).std().shift(-horizon) * np.sqrt(TRADING_DAYS_PER_YEAR)
    return {"direction": direction, "return": fwd, "realized_vol": rvol}


def hl_spread_bps(high: pd.DataFrame, low: pd.DataFrame, close: pd.DataFrame) -> pd.DataFrame:
    """Corwin-Schultz two-day spread (bps) of days t and t+1, at row t (see HL_SPREAD_LABEL_FAMILY).

    Why this estimator: it needs only daily highs and lows, which every OHLC source has, and
    separates the spread (which shows in one day's range and in two days' range alike) from
    volatility (which widens the two-day range). The overnight-gap correction keeps a gap
    between days from being read as volatility. Negative estimates are set to 0, as the
    authors do.
    """
    next_high, next_low = high.shift(-1), low.shift(-1)
    gap_up = (next_low - close).clip(lower=0.0)
    gap_down = (close - next_high).clip(lower=0.0)
    next_high = next_high - gap_up + gap_down
    next_low = next_low - gap_up + gap_down
    beta = np.log(high / low) ** 2 + np.log(next_high / next_low) ** 2
    gamma = np.log(np.maximum(high, next_high) / np.minimum(low, next_low)) ** 2
    k = 3.0 - 2.0 * np.sqrt(2.0)
    alpha = (np.sqrt(2.0 * beta) - np.sqrt(beta)) / k - np.sqrt(gamma / k)
    spread = 2.0 * (np.exp(alpha) - 1.0) / (1.0 + np.exp(alpha))
    return (1e4 * spread.clip(lower=0.0)).where(beta.notna() & gamma.notna())


REGIME_TAGS = ("bear_calm", "bear_volatile", "bull_calm", "bull_volatile")
STRUCTURE_STATES = ("breakout", "uptrend", "downtrend", "range")
VOL_BANDS = ("low", "mid", "high")


def _names(names: tuple[str, ...] | list[str], codes: np.ndarray) -> np.ndarray:
    """Names by code as an object array whose cells share one str per name (a table of millions
    of rows holds a handful of strings, not one object per cell)."""
    return np.array(names, dtype=object)[codes]


def regime_tags(market: pd.Series) -> np.ndarray:
    """Per date of `market` (the equal-weighted mean daily log return): "bull" if its trailing
    60-day sum is > 0 else "bear"; "_volatile" if its trailing 20-day annualised vol is above the
    expanding median of that vol (all history up to t) else "_calm"."""
    trend60 = market.rolling(60).sum()
    vol20 = market.rolling(20).std() * np.sqrt(TRADING_DAYS_PER_YEAR)
    vol_median = vol20.expanding(min_periods=20).median()
    bull = trend60.to_numpy() > 0
    volatile = vol20.to_numpy() > vol_median.to_numpy()
    return _names(REGIME_TAGS, 2 * bull.astype(np.int64) + volatile)


def structure_states(
    swing: np.ndarray, above_ma60: np.ndarray, breakout_up: np.ndarray, breakout_dn: np.ndarray
) -> np.ndarray:
    """Cell by cell: "breakout" if the close broke the prior 20-day high or low today; else
    "uptrend" if swing score >= 1 and the close is above its 60-day MA; "downtrend" if swing
    score <= -1 and below it; else "range"."""
    breakout = (breakout_up > 0) | (breakout_dn > 0)
    codes = np.select(
        [breakout, (swing >= 1) & (above_ma60 > 0), (swing <= -1) & (above_ma60 < 0)],
        [0, 1, 2],
        default=3,
    )
    return _names(STRUCTURE_STATES, codes)


def vol_bands(vol: pd.DataFrame) -> np.ndarray:
    """Per (date, symbol) of `vol` (vol_20d by date): its cross-sectional tercile ("low", "mid",
    "high") from the mid-rank (rank - 0.5) / n, n = the symbols with a vol_20d at that date,
    ties in column order."""
    n = np.maximum(vol.notna().sum(axis=1).to_numpy(), 1)[:, None]
    pct = (vol.rank(axis=1, method="first").to_numpy() - 0.5) / n
    return _names(VOL_BANDS, np.select([pct < 1 / 3, pct < 2 / 3], [0, 1], default=2))


def cluster_names(clusters: np.ndarray) -> np.ndarray:
    """Static cluster k of each symbol as "C<k>"."""
    names, codes = np.unique(np.asarray(clusters, dtype=np.int64), return_inverse=True)
    return _names([f"C{c}" for c in names], codes.reshape(-1))


def default_splits(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Contiguous 60/20/20 train/val/test date ranges (inclusive ISO dates).

    No purge gap here: the consumer purges the label horizon at the boundaries itself.
    """
    dates = pd.DatetimeIndex(pd.to_datetime(frame["date"]).unique()).sort_values()
    n = len(dates)
    if n < 3:
        raise ConfigError(f"need at least 3 distinct dates to split, got {n}")
    i_val = max(1, round(0.6 * n))
    i_test = max(i_val + 1, round(0.8 * n))
    i_test = min(i_test, n - 1)

    def span(lo: int, hi: int) -> list[str]:
        return [dates[lo].date().isoformat(), dates[hi - 1].date().isoformat()]

    return {"train": span(0, i_val), "val": span(i_val, i_test), "test": span(i_test, n)}
