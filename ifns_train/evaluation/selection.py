"""Sharpe ratios under selection: the probabilistic and the deflated Sharpe ratio.

A researcher who runs fifty configurations and keeps the best reports an inflated Sharpe
ratio: the maximum of many noisy estimates is high even when every true Sharpe is zero.
The deflated Sharpe ratio (DSR; Bailey and López de Prado 2014, "The Deflated Sharpe Ratio:
Correcting for Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio
Management 40(5)) is the probability that the true Sharpe ratio exceeds the maximum a
selection among ``n_trials`` unskilled trials would be expected to reach, allowing for the
returns' skewness and fat tails (the probabilistic Sharpe ratio, PSR, of Bailey and López
de Prado 2012, against that expected maximum).

Units. Every formula here works on *per-period* figures: the Sharpe ratio of the series as
sampled (mean / std of period returns, not annualised), ``n`` the number of periods, and
the variance of the trials' per-period Sharpe ratios. A Sharpe ratio annualised with P
periods a year is sqrt(P) times the per-period one, so its variance across trials is P
times larger: ``per_period_sharpe`` and ``per_period_variance`` convert (P defaults to
``TRADING_DAYS_PER_YEAR`` for daily returns; the trading proxies' non-overlapping h-day
periods have 252 / h a year). Kurtosis is raw (3 for a normal distribution).

**What is deflated, and when.** The evaluation standard deflates the Sharpe ratio of what a
model adds over its best baseline (the net excess of its trading proxy,
``proxies.excess_proxies``), not of its own proxy, which on a rising market rewards any long
book. The trials are read from the experiment log, so the figure depends on when it is computed:
the search goes on after a model is recorded. ``deflate`` is therefore one function of recorded
per-offset moments and the trials known at the time, called at record time and again whenever
the figure is used for a decision (``ifns_train.registry.current``). """

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

from ifns_train.core.calendar import TRADING_DAYS_PER_YEAR

EULER_MASCHERONI = 0.5772156649015329
CONSTANT_TOL = 1e-12
"""Returns within this of each other are a constant series (no Sharpe ratio), as in
``proxies``: float noise would otherwise turn an exact constant into a Sharpe of ~1e13."""

_NORMAL = NormalDist()


def sharpe_stats(returns: np.ndarray) -> dict[str, Any]:
    """Per-period Sharpe ratio and the moments the PSR needs: ``{sharpe, skew, kurtosis, n}``.

    sharpe = mean / std (ddof=1, as the trading proxies' Sharpe); skew = m3 / m2^1.5 and
    kurtosis = m4 / m2² (raw, normal = 3) from the central moments m_k = mean((r - mean)^k)
    (the usual biased estimators, scipy's defaults). All but ``n`` are None with fewer
    than 2 returns or a constant series (spread <= ``CONSTANT_TOL``).
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or not np.all(np.isfinite(r)):
        raise ValueError("returns must be a 1-D series of finite numbers")
    n = int(r.size)
    if n < 2 or np.ptp(r) <= CONSTANT_TOL:
        return {"sharpe": None, "skew": None, "kurtosis": None, "n": n}
    dev = r - r.mean()
    m2 = float(np.mean(dev**2))
    return {
        "sharpe": float(r.mean() / r.std(ddof=1)),
        "skew": float(np.mean(dev**3)) / m2**1.5,
        "kurtosis": float(np.mean(dev**4)) / m2**2,
        "n": n,
    }


def per_period_sharpe(
    sharpe_annualised: float, periods_per_year: float = TRADING_DAYS_PER_YEAR
) -> float:
    """An annualised Sharpe ratio / sqrt(periods a year): the per-period one."""
    return sharpe_annualised / math.sqrt(_check_periods(periods_per_year))


def annualised_sharpe(sharpe: float, periods_per_year: float = TRADING_DAYS_PER_YEAR) -> float:
    """A per-period Sharpe ratio x sqrt(periods a year)."""
    return sharpe * math.sqrt(_check_periods(periods_per_year))


def per_period_variance(
    var_annualised: float, periods_per_year: float = TRADING_DAYS_PER_YEAR
) -> float:
    """Variance of annualised Sharpe ratios / periods a year: that of the per-period ones."""
    return var_annualised / _check_periods(periods_per_year)


def probabilistic_sharpe_ratio(
    sr: float | None,
    n: int,
    skew: float | None,
    kurtosis: float | None,
    sr_benchmark: float = 0.0,
) -> float | None:
    """P(true Sharpe > ``sr_benchmark``) given an estimate ``sr`` from ``n`` returns.

    PSR = Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - skew SR + (kurtosis - 1)/4 SR²)), all per
    period, kurtosis raw (Bailey and López de Prado 2012, "The Sharpe Ratio Efficient
    Frontier", Journal of Risk 15(2)). None
    when an input is None, n < 2, or the variance term is not positive (a large positive
    skew with a high Sharpe can make it so).
    """
    if sr is None or skew is None or kurtosis is None or n < 2:
        return None
    var_term = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr**2
    if not var_term > 0.0:
        return None
    return _NORMAL.cdf((sr - sr_benchmark) * math.sqrt(n - 1) / math.sqrt(var_term))


def expected_max_sharpe(n_trials: int, var_trials: float) -> float:
    """Expected maximum per-period Sharpe ratio of ``n_trials`` trials with no skill.

    E[max SR] = sqrt(V) ((1 - g) Phi^-1(1 - 1/N) + g Phi^-1(1 - 1/(N e))), g the
    Euler-Mascheroni constant, V the variance of the trials' per-period Sharpe ratios
    (Bailey and López de Prado 2014, with the true Sharpe 0). An approximation of the
    expected maximum of N normal draws from extreme-value theory, within ~3% of it from
    N = 3 on (N = 2: 0.52 sqrt(V) against the exact 0.56 sqrt(V); N = 100: 2.53 against
    2.51). One trial is no selection: 0.
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive int, got {n_trials!r}")
    if not (math.isfinite(var_trials) and var_trials >= 0.0):
        raise ValueError(f"var_trials must be finite and >= 0, got {var_trials!r}")
    if n_trials == 1 or var_trials == 0.0:
        return 0.0
    g = EULER_MASCHERONI
    z = (1.0 - g) * _NORMAL.inv_cdf(1.0 - 1.0 / n_trials) + g * _NORMAL.inv_cdf(
        1.0 - 1.0 / (n_trials * math.e)
    )
    return math.sqrt(var_trials) * z


def deflated_sharpe_ratio(
    sr: float | None,
    n: int,
    skew: float | None,
    kurtosis: float | None,
    n_trials: int,
    var_trials: float,
) -> float | None:
    """PSR against the expected maximum Sharpe of the selection: DSR = PSR(SR* = E[max SR]).

    All per period (see the module docstring). With ``n_trials <= 1`` (no selection) or
    ``var_trials == 0`` the expected maximum is 0 and the DSR is the PSR against 0.
    """
    benchmark = expected_max_sharpe(max(int(n_trials), 1), var_trials)
    return probabilistic_sharpe_ratio(sr, n, skew, kurtosis, sr_benchmark=benchmark)


def offset_stats(per_date: Sequence[float], horizon_days: int) -> list[dict[str, Any]]:
    """``sharpe_stats`` of each of the h non-overlapping sequences of a per-date series of
    h-day period returns (``proxies.offset_sequences``): one path of returns per start
    offset, none of them privileged."""
    from ifns_train.evaluation.proxies import offset_sequences  # pandas: see cli/lazy.py

    return [sharpe_stats(seq) for seq in offset_sequences(per_date, horizon_days)]


def deflate(offsets: Sequence[Mapping[str, Any]], *, trials: int,
            trial_sharpes: Sequence[float], periods_per_year: float) -> dict[str, Any]:
    """The deflated Sharpe ratio of a strategy over all its start offsets, deflated by a
    search of ``trials`` trials.

    ``offsets`` are the per-period ``sharpe_stats`` of each offset sequence (recorded with
    the model, so the same figures can be deflated again later by a longer search: the one
    code path at record time and at a decision). ``trial_sharpes`` are the *annualised*
    Sharpe ratios of the trials that have one (each a trial's mean over its offsets); their
    sample variance (ddof=1, per period) is V; ``trials`` (N, at least their number) counts
    every trial, including those without a Sharpe ratio. The DSR and PSR are computed per
    offset and reported as their **mean over the offsets where they are defined**, with the
    range; ``sharpe_annualised`` is the mean of the offsets' annualised Sharpe ratios, the
    figure this strategy contributes as a trial. None where no offset has one.
    """
    ppy = _check_periods(periods_per_year)
    values = np.asarray(list(trial_sharpes), dtype=np.float64)
    if values.ndim != 1 or not np.all(np.isfinite(values)):
        raise ValueError("trial_sharpes must be finite annualised Sharpe ratios")
    n_trials = max(int(trials), int(values.size), 1)
    var_annual = float(values.var(ddof=1)) if values.size >= 2 else 0.0
    e_max = expected_max_sharpe(n_trials, per_period_variance(var_annual, ppy))
    sharpes, psr, dsr = [], [], []
    for o in offsets:
        sr, n, skew, kurt = o["sharpe"], int(o["n"]), o["skew"], o["kurtosis"]
        if sr is not None:
            sharpes.append(annualised_sharpe(sr, ppy))
        psr.append(probabilistic_sharpe_ratio(sr, n, skew, kurt))
        dsr.append(probabilistic_sharpe_ratio(sr, n, skew, kurt, sr_benchmark=e_max))

    def mean(xs: list[float | None]) -> float | None:
        defined = [x for x in xs if x is not None]
        return float(np.mean(defined)) if defined else None

    defined_dsr = [x for x in dsr if x is not None]
    return {
        "sharpe_annualised": mean(list(sharpes)),
        "periods_per_year": float(ppy),
        "offsets": [{k: o[k] for k in ("sharpe", "n", "skew", "kurtosis")} for o in offsets],
        "trials": n_trials,
        "trials_with_sharpe": int(values.size),
        "trials_sharpe_std": math.sqrt(var_annual) if values.size >= 2 else None,
        "expected_max_sharpe": e_max,
        "expected_max_sharpe_annualised": annualised_sharpe(e_max, ppy),
        "probabilistic_sharpe_ratio": mean(psr),
        "deflated_sharpe_ratio": mean(dsr),
        "deflated_sharpe_ratio_range": {
            "min": min(defined_dsr) if defined_dsr else None,
            "max": max(defined_dsr) if defined_dsr else None,
            "offsets": len(defined_dsr),
        },
    }


def _check_periods(periods_per_year: float) -> float:
    p = float(periods_per_year)
    if not (math.isfinite(p) and p > 0.0):
        raise ValueError(f"periods_per_year must be finite and > 0, got {periods_per_year!r}")
    return p
