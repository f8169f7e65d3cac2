"""The embedded demo dataset: a deterministic, Stage 02-compliant synthetic daily panel.

Why synthetic: the framework must train, evaluate and be tested end to end without any
external market data. So the demo must behave like a real equity panel where it matters to a
model: volatility clustering (GARCH(1,1) per series), fat tails (Student-t innovations), a
persistent hidden market regime (calm bull / choppy / volatile bear / crisis) that moves drift
and volatility, a common market factor with per-symbol betas, sector factors shared by symbol
clusters, and volume that rises with |returns|.

On top of that noise sits a WEAK but REAL predictable component that depends only on the
symbol's own past prices (so a model that sees the features can learn it):

* time-series momentum: a drift proportional to the symbol's trailing 60-day idiosyncratic log
  return (net of the panel's average, so the market factor is not amplified) scaled by its
  trailing EWMA volatility (a t-statistic, clipped to +-3), whose strength depends on the
  regime (strongest in calm bulls, reversed in crises: the classic momentum crash);
* short-term reversal: a drift against the trailing 5-day idiosyncratic vol-scaled return.

Its size is chosen so that a logistic regression on the features reaches a test AUC of roughly
0.53-0.60 on the 20-day direction label, i.e. a modest, realistic edge over naive baselines.

Timing rules (the no-lookahead contract):

* a feature at date t uses prices / volumes up to and including t;
* a context column at date t uses data up to and including t;
* a label at date t looks forward (t+1 .. t+horizon); when the future is not yet known (the
  last `horizon_days` dates of each symbol) it is NaN and the row is kept.

Everything is drawn from one ``numpy.random.default_rng(seed)``, in a fixed order, so the same
arguments give a bit-identical frame.

The features, forward labels and context tags are those of `ifns_train.data.features`, the one
implementation shared with the OHLCV importer (re-exported here for existing callers), and the
wide simulated frames become the long table through `ifns_train.data.panel.long_table`, the
step the importer shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ifns_train.core.calendar import TRADING_DAYS_PER_YEAR
from ifns_train.core.errors import ConfigError
from ifns_train.data.features import (
    CONTEXT_COLUMNS,
    FEATURE_COLUMNS,
    FEATURE_FAMILIES,
    LABEL_HORIZON_DAYS,
    RETURN_LABEL_FAMILIES,
    compute_features,
    default_splits,
    forward_return_labels,
)
from ifns_train.data.index import check_dataset_id, register_dataset
from ifns_train.data.panel import long_table, return_labels

__all__ = [
    "CONTEXT_COLUMNS",
    "DEMO_DATASET_ID",
    "FEATURE_COLUMNS",
    "FEATURE_FAMILIES",
    "LABEL_COLUMNS",
    "LABEL_FAMILIES",
    "LABEL_HORIZON_DAYS",
    "MarketSim",
    "compute_features",
    "compute_labels",
    "default_splits",
    "execution_cost_bps",
    "forward_return_labels",
    "generate_panel",
    "simulate_market",
    "write_demo",
]

DEMO_DATASET_ID = "DS_DEMO_CORE_V1"
# Days simulated before the kept span so that every trailing window (120 days, plus the 20-day
# shift of the swing score) and the regime tag's expanding vol median are filled.
WARMUP_DAYS = 260
N_CLUSTERS = 6
ORDER_NOTIONAL_USD = 1_000_000.0

EXEC_COST_LABEL = "Label_ExecCost_Bps_Horizon_1d_V1"
LABEL_FAMILIES: dict[str, dict[str, Any]] = {
    **RETURN_LABEL_FAMILIES,
    EXEC_COST_LABEL: {
        "column": EXEC_COST_LABEL,
        "horizon_days": 1,
        "kind": "cost_bps",
        "description": (
            "Realised cost in bps of executing a USD 1m order at t+1: half-spread (rising with "
            "the day's volatility and falling with dollar volume) + square-root impact "
            "(0.8 * daily sigma * sqrt(notional / dollar volume)), times lognormal noise."
        ),
    },
}
LABEL_COLUMNS: list[str] = list(LABEL_FAMILIES)

# Hidden regimes: (name, daily drift of the market factor, vol multiplier, momentum strength).
_REGIMES = (
    ("calm_bull", 0.0005, 0.75, 0.060),
    ("choppy", 0.0000, 1.00, 0.040),
    ("volatile_bear", -0.0006, 1.50, 0.020),
    ("crisis", -0.0020, 2.60, -0.040),
)
# Row = from, column = to. Expected durations ~ 250 / 120 / 80 / 30 trading days.
_TRANSITIONS = np.array(
    [
        [0.9960, 0.0030, 0.0008, 0.0002],
        [0.0045, 0.9917, 0.0030, 0.0008],
        [0.0035, 0.0060, 0.9875, 0.0030],
        [0.0030, 0.0100, 0.0200, 0.9670],
    ]
)
_REVERSAL_STRENGTH = 0.020
_STUDENT_DF = 5.0
_GARCH_ALPHA = 0.06
_GARCH_BETA = 0.92
# Conditional variance cap (x its long-run level): Student-t shocks make GARCH(1,1) vol-of-vol
# heavy enough to run away on a rare draw; real names rarely sustain more than ~3x their vol.
_GARCH_VAR_CAP = 9.0
# Shock clip in standard deviations: keeps the tails fat without 15-sigma days.
_SHOCK_CLIP = 8.0
_EW_LAMBDA = 0.97


@dataclass(frozen=True)
class MarketSim:
    """Wide (day x symbol) simulated market data, warm-up included, indexed 0..n_days-1."""

    close: pd.DataFrame
    high: pd.DataFrame
    low: pd.DataFrame
    volume: pd.DataFrame
    cost_noise: pd.DataFrame
    clusters: np.ndarray
    regime: np.ndarray


def _symbols(n_symbols: int) -> list[str]:
    width = max(3, len(str(n_symbols)))
    return [f"SYM{i + 1:0{width}d}" for i in range(n_symbols)]


def _student_t(rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
    """Unit-variance Student-t draws: fat tails without changing the vol scale."""
    draws = rng.standard_t(_STUDENT_DF, size=size) / np.sqrt(_STUDENT_DF / (_STUDENT_DF - 2.0))
    return np.clip(draws, -_SHOCK_CLIP, _SHOCK_CLIP)


def simulate_market(n_symbols: int, n_days: int, seed: int) -> MarketSim:
    """Simulate closes, highs, lows and volumes for `n_days` days (a loop over time only).

    Daily log return of symbol i in cluster c:
    ``r = beta_i * m + load_i * s_c + e_i + alpha_i`` where m, s_c and e_i each follow a
    GARCH(1,1) with Student-t shocks scaled by the hidden regime's vol multiplier, m also gets
    the regime's drift, and alpha_i (the predictable part) is built from day t-1 prices only.
    """
    rng = np.random.default_rng(seed)
    n, k = n_symbols, N_CLUSTERS
    # Static symbol characteristics (drawn first, so they do not depend on n_days).
    clusters = rng.permutation(np.arange(n) % k)
    beta = rng.uniform(0.6, 1.4, n)
    load = rng.uniform(0.5, 1.2, n)
    idio_sd = rng.uniform(0.010, 0.022, n)
    log_p0 = np.log(rng.uniform(10.0, 300.0, n))
    dollar_volume0 = np.exp(rng.uniform(np.log(5e6), np.log(5e8), n))
    log_shares0 = np.log(dollar_volume0) - log_p0
    # Dynamic shocks, drawn in one block each.
    u_regime = rng.random(n_days)
    z_market = _student_t(rng, (n_days,))
    z_sector = _student_t(rng, (n_days, k))
    z_idio = _student_t(rng, (n_days, n))
    volume_noise = rng.standard_normal((n_days, n))
    hl_draws = np.abs(rng.standard_normal((2, n_days, n)))
    cost_noise = rng.standard_normal((n_days, n))

    drift = np.array([r[1] for r in _REGIMES])
    vol_mult = np.array([r[2] for r in _REGIMES])
    mom_k = np.array([r[3] for r in _REGIMES])
    cum_trans = np.cumsum(_TRANSITIONS, axis=1)

    a, b = _GARCH_ALPHA, _GARCH_BETA
    var_m_target, var_s_target = 0.0095**2, 0.0070**2
    var_i_target = idio_sd**2
    h_m, h_s, h_i = var_m_target, np.full(k, var_s_target), var_i_target.copy()

    logp = np.empty((n_days + 1, n))
    logp[0] = log_p0
    sigma_tot = np.empty((n_days, n))
    returns = np.empty((n_days, n))
    regime = np.empty(n_days, dtype=np.int64)
    ewvar = beta**2 * var_m_target + load**2 * var_s_target + var_i_target
    state = 0
    for t in range(n_days):
        if t > 0:
            state = int(np.searchsorted(cum_trans[state], u_regime[t], side="right"))
            state = min(state, len(_REGIMES) - 1)
        regime[t] = state
        vm = vol_mult[state]
        vm_i = 1.0 + 0.5 * (vm - 1.0)  # idiosyncratic risk reacts less to the regime
        shock_m = np.sqrt(h_m) * z_market[t]
        shock_s = np.sqrt(h_s) * z_sector[t]
        shock_i = np.sqrt(h_i) * z_idio[t]
        sigma_tot[t] = np.sqrt(
            beta**2 * vm**2 * h_m + load**2 * vm**2 * h_s[clusters] + vm_i**2 * h_i
        )
        # Predictable part: from logp[0..t], i.e. closes up to the previous day.
        alpha = 0.0
        if t >= 60:
            ew_sd = np.sqrt(ewvar)
            # Idiosyncratic part of the trailing returns: net of the panel's average, so the
            # signal does not feed back into (and trend) the market factor itself.
            r60 = logp[t] - logp[t - 60]
            r60 = r60 - r60.mean()
            r5 = logp[t] - logp[t - 5]
            r5 = r5 - r5.mean()
            z_mom = np.clip(r60 / (ew_sd * np.sqrt(60.0)), -3.0, 3.0)
            z_rev = np.clip(r5 / (ew_sd * np.sqrt(5.0)), -3.0, 3.0)
            alpha = ew_sd * (mom_k[state] * z_mom - _REVERSAL_STRENGTH * z_rev)
        r = (
            beta * (drift[state] + vm * shock_m)
            + load * vm * shock_s[clusters]
            + vm_i * shock_i
            + alpha
        )
        returns[t] = r
        logp[t + 1] = logp[t] + r
        ewvar = _EW_LAMBDA * ewvar + (1.0 - _EW_LAMBDA) * r**2
        cap = _GARCH_VAR_CAP
        h_m = min((1 - a - b) * var_m_target + a * shock_m**2 + b * h_m, cap * var_m_target)
        h_s = np.minimum((1 - a - b) * var_s_target + a * shock_s**2 + b * h_s, cap * var_s_target)
        h_i = np.minimum((1 - a - b) * var_i_target + a * shock_i**2 + b * h_i, cap * var_i_target)

    close = np.exp(logp[1:])
    prev_close = np.exp(logp[:-1])
    high = np.maximum(prev_close, close) * np.exp(0.5 * sigma_tot * hl_draws[0] + 1e-4)
    low = np.minimum(prev_close, close) * np.exp(-0.5 * sigma_tot * hl_draws[1] - 1e-4)
    # Volume rises with |return| relative to the symbol's typical vol, and with the regime.
    typical_sd = np.sqrt(beta**2 * var_m_target + load**2 * var_s_target + var_i_target)
    noise = np.empty_like(volume_noise)
    noise[0] = volume_noise[0] * 0.25
    for t in range(1, n_days):
        noise[t] = 0.7 * noise[t - 1] + 0.25 * np.sqrt(1 - 0.49) * volume_noise[t]
    log_shares = (
        log_shares0
        + 0.45 * (np.abs(returns) / typical_sd - 0.8)
        + 0.30 * np.log(vol_mult[regime])[:, None]
        + noise
    )
    cols = _symbols(n)

    def frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, columns=cols)

    return MarketSim(
        close=frame(close),
        high=frame(high),
        low=frame(low),
        volume=frame(np.exp(log_shares)),
        cost_noise=frame(cost_noise),
        clusters=clusters,
        regime=regime,
    )


def execution_cost_bps(
    high: pd.DataFrame,
    low: pd.DataFrame,
    close: pd.DataFrame,
    volume: pd.DataFrame,
    noise: pd.DataFrame,
) -> pd.DataFrame:
    """Realised cost (bps) of a fixed-notional order executed on each row's own day.

    The day's sigma is the Parkinson estimate from its high-low range, liquidity its dollar
    volume: half-spread = 1 + 0.02 * sigma_bps * (1e8 / dollar volume) ** 0.3, impact =
    0.8 * sigma * sqrt(notional / dollar volume); the sum is scaled by mean-one lognormal noise.
    """
    sigma = np.log(high / low) / (2.0 * np.sqrt(np.log(2.0)))
    dollar_volume = close * volume
    half_spread = 1.0 + 0.02 * (1e4 * sigma) * (1e8 / dollar_volume) ** 0.3
    impact = 1e4 * 0.8 * sigma * np.sqrt(ORDER_NOTIONAL_USD / dollar_volume)
    sd = 0.3
    return (half_spread + impact) * np.exp(sd * noise - 0.5 * sd**2)


def compute_labels(
    close: pd.DataFrame,
    high: pd.DataFrame,
    low: pd.DataFrame,
    volume: pd.DataFrame,
    cost_noise: pd.DataFrame,
) -> dict[str, pd.DataFrame]:
    """All label columns as wide frames; row t looks forward, unknown futures are NaN."""
    return {**return_labels(close), **_cost_label(high, low, close, volume, cost_noise)}


def _cost_label(
    high: pd.DataFrame,
    low: pd.DataFrame,
    close: pd.DataFrame,
    volume: pd.DataFrame,
    cost_noise: pd.DataFrame,
) -> dict[str, pd.DataFrame]:
    """The execution cost label: at t, the cost of executing at t+1 (with t+1's noise)."""
    cost = execution_cost_bps(high, low, close, volume, cost_noise)
    return {EXEC_COST_LABEL: cost.shift(-1)}


def generate_panel(
    n_symbols: int = 48, n_years: float = 10.0, seed: int = 2024, start: str = "2014-01-02"
) -> pd.DataFrame:
    """The demo panel in long form: one row per (date, symbol), sorted by date then symbol.

    `n_years` counts the kept span (round(n_years * 252) business days from `start`); the
    warm-up history needed by the trailing windows is simulated before it and dropped.
    """
    if not isinstance(n_symbols, (int, np.integer)) or n_symbols < 1:
        raise ConfigError(f"demo n_symbols must be a positive integer, got {n_symbols!r}")
    n_days = round(float(n_years) * TRADING_DAYS_PER_YEAR)
    if n_days < 2 * LABEL_HORIZON_DAYS:
        raise ConfigError(
            f"demo n_years={n_years!r} gives {n_days} trading days; need at least "
            f"{2 * LABEL_HORIZON_DAYS} (twice the label horizon)"
        )
    try:
        dates = pd.bdate_range(start=pd.Timestamp(start), periods=n_days)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"demo start date {start!r} is not a valid date: {exc}") from exc
    sim = simulate_market(int(n_symbols), WARMUP_DAYS + n_days, int(seed))
    return long_table(
        sim.close,
        sim.high,
        sim.low,
        sim.volume,
        dates=dates,
        keep_from=WARMUP_DAYS,
        clusters=sim.clusters,
        extra_labels=_cost_label(sim.high, sim.low, sim.close, sim.volume, sim.cost_noise),
    )


def write_demo(
    registry_dir: str | Path,
    dataset_id: str = DEMO_DATASET_ID,
    n_symbols: int = 48,
    n_years: float = 10.0,
    seed: int = 2024,
) -> dict[str, Any]:
    """Generate the demo panel and register it in the Stage 02 dataset index."""
    check_dataset_id(dataset_id)  # fail before spending time on the generation
    frame = generate_panel(n_symbols=n_symbols, n_years=n_years, seed=seed)
    return register_dataset(
        registry_dir,
        dataset_id,
        frame,
        feature_families=FEATURE_FAMILIES,
        label_families=LABEL_FAMILIES,
        splits=default_splits(frame),
        source={
            "generator": "ifns_train.data.demo",
            "n_symbols": int(n_symbols),
            "n_years": float(n_years),
            "seed": int(seed),
            "version": 1,
        },
    )
