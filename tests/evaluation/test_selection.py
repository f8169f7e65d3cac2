"""Probabilistic and deflated Sharpe ratios: the paper's example and hand-worked values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ifns_train.core.calendar import TRADING_DAYS_PER_YEAR
from ifns_train.evaluation.selection import (
    annualised_sharpe,
    deflate,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    offset_stats,
    per_period_sharpe,
    per_period_variance,
    probabilistic_sharpe_ratio,
    sharpe_stats,
)
from tests.evaluation.plain import assert_plain_json


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def test_the_papers_example() -> None:
    # Bailey and Lopez de Prado (2014), their numerical example: an annualised Sharpe of 2.5
    # over 5 years of daily returns (1,250 observations, 250 a year), the best of N = 100
    # trials whose annualised Sharpe ratios have variance 1/2; skew -3, kurtosis 10 (raw).
    sr = per_period_sharpe(2.5, periods_per_year=250)  # 2.5 / sqrt(250) = 0.158114
    v = per_period_variance(0.5, periods_per_year=250)  # 0.5 / 250 = 0.002
    assert sr == pytest.approx(0.158114, abs=1e-6)
    assert v == pytest.approx(0.002)
    # E[max SR] = sqrt(.002) (0.42278 Phi^-1(.99) + 0.57722 Phi^-1(1 - 1/(100 e)))
    #           = 0.044721 (0.42278 x 2.32635 + 0.57722 x 2.67998) = 0.11317
    assert expected_max_sharpe(100, v) == pytest.approx(0.11317, abs=5e-6)
    # DSR = Phi((0.158114 - 0.113172) sqrt(1249) / sqrt(1 + 3 x 0.158114 + 9/4 x 0.025))
    #     = Phi(1.28388) = 0.9004
    dsr = deflated_sharpe_ratio(sr, 1250, -3.0, 10.0, n_trials=100, var_trials=v)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_psr_by_hand() -> None:
    # Normal returns (skew 0, kurtosis 3): SR 0.1 over 101 periods against 0:
    #   z = 0.1 sqrt(100) / sqrt(1 + 2/4 x 0.01) = 1 / sqrt(1.005) = 0.997509 -> 0.84074
    assert probabilistic_sharpe_ratio(0.1, 101, 0.0, 3.0) == pytest.approx(
        _phi(1 / math.sqrt(1.005)), rel=1e-12
    )
    assert probabilistic_sharpe_ratio(0.1, 101, 0.0, 3.0) == pytest.approx(0.84074, abs=1e-5)
    # Skewed, fat-tailed: SR 0.2 over 50 periods, skew -1, kurtosis 6, against 0.05:
    #   variance term 1 + 0.2 + 5/4 x 0.04 = 1.25
    #   z = 0.15 sqrt(49) / sqrt(1.25) = 0.939149 -> Phi = 0.82617
    psr = probabilistic_sharpe_ratio(0.2, 50, -1.0, 6.0, sr_benchmark=0.05)
    assert psr == pytest.approx(_phi(0.15 * 7 / math.sqrt(1.25)), rel=1e-12)
    assert psr == pytest.approx(0.82617, abs=1e-5)


def test_psr_undefined_cases() -> None:
    assert probabilistic_sharpe_ratio(None, 100, 0.0, 3.0) is None
    assert probabilistic_sharpe_ratio(0.1, 1, 0.0, 3.0) is None
    # 1 - skew SR + (k - 1)/4 SR² = 1 - 10 x 0.5 + 0.5 x 0.25 < 0: no variance, no PSR.
    assert probabilistic_sharpe_ratio(0.5, 100, 10.0, 3.0) is None


def test_one_trial_or_no_dispersion_is_no_selection() -> None:
    assert expected_max_sharpe(1, 0.3) == 0.0
    assert expected_max_sharpe(50, 0.0) == 0.0
    psr = probabilistic_sharpe_ratio(0.1, 500, -0.5, 5.0)
    assert deflated_sharpe_ratio(0.1, 500, -0.5, 5.0, n_trials=1, var_trials=0.3) == psr
    assert deflated_sharpe_ratio(0.1, 500, -0.5, 5.0, n_trials=50, var_trials=0.0) == psr
    # More trials, or more dispersed ones, deflate more.
    small = deflated_sharpe_ratio(0.1, 500, -0.5, 5.0, n_trials=10, var_trials=0.001)
    large = deflated_sharpe_ratio(0.1, 500, -0.5, 5.0, n_trials=1000, var_trials=0.001)
    assert psr > small > large
    with pytest.raises(ValueError, match="n_trials"):
        expected_max_sharpe(0, 0.1)
    with pytest.raises(ValueError, match="var_trials"):
        expected_max_sharpe(10, -0.1)


def test_sharpe_stats_by_hand() -> None:
    # r = .01 .02 -.01 .03: mean .0125, deviations -.0025 .0075 -.0225 .0175
    #   squares sum 8.75e-4 -> std (ddof 1) = sqrt(8.75e-4 / 3) = 0.0170783 -> SR 0.731925
    #   m2 = 8.75e-4 / 4 = 2.1875e-4
    #   m3 = (-1.5625e-8 + 4.21875e-7 - 1.1390625e-5 + 5.359375e-6) / 4 = -1.40625e-6
    #   m4 = (3.90625e-11 + 3.1640625e-9 + 2.5628906e-7 + 9.3789063e-8) / 4 = 8.8320313e-8
    #   skew = m3 / m2^1.5 = -0.434651;  kurtosis = m4 / m2² = 1.845714
    out = sharpe_stats(np.array([0.01, 0.02, -0.01, 0.03]))
    assert out["n"] == 4
    assert out["sharpe"] == pytest.approx(0.0125 / math.sqrt(8.75e-4 / 3))
    assert out["sharpe"] == pytest.approx(0.731925, abs=1e-6)
    assert out["skew"] == pytest.approx(-1.40625e-6 / 2.1875e-4**1.5)
    assert out["skew"] == pytest.approx(-0.434651, abs=1e-6)
    assert out["kurtosis"] == pytest.approx(8.83203125e-8 / 2.1875e-4**2)
    assert out["kurtosis"] == pytest.approx(1.845714, abs=1e-6)


def test_sharpe_stats_matches_scipy_moments() -> None:
    from scipy import stats

    r = np.random.default_rng(0).standard_t(4, 500) * 0.01 + 0.001
    out = sharpe_stats(r)
    assert out["skew"] == pytest.approx(float(stats.skew(r)), rel=1e-10)
    assert out["kurtosis"] == pytest.approx(float(stats.kurtosis(r, fisher=False)), rel=1e-10)


def test_constant_or_too_short_returns_have_no_sharpe() -> None:
    for r in (np.full(30, 0.001), np.array([0.01]), np.array([])):
        out = sharpe_stats(r)
        assert (out["sharpe"], out["skew"], out["kurtosis"]) == (None, None, None)
        assert out["n"] == r.size
    flat = deflate(offset_stats(np.full(30, 0.001), 1), trials=2, trial_sharpes=[1.0, 0.5],
                   periods_per_year=252)
    assert flat["deflated_sharpe_ratio"] is None and flat["sharpe_annualised"] is None
    assert flat["deflated_sharpe_ratio_range"] == {"min": None, "max": None, "offsets": 0}


def test_units_and_the_one_calendar_constant() -> None:
    assert TRADING_DAYS_PER_YEAR == 252
    assert per_period_sharpe(math.sqrt(252)) == pytest.approx(1.0)
    assert annualised_sharpe(1.0) == pytest.approx(math.sqrt(252))
    assert per_period_variance(252.0) == pytest.approx(1.0)
    assert annualised_sharpe(per_period_sharpe(2.5, 12.6), 12.6) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="periods_per_year"):
        per_period_sharpe(1.0, 0)


def test_deflate_one_offset_end_to_end() -> None:
    rng = np.random.default_rng(1)
    returns = rng.standard_t(5, 1000) * 0.01 + 0.0008
    trials = [0.4, 1.1, 0.9, 1.6, 0.2, 1.3]  # annualised Sharpe ratios from the log
    out = deflate(offset_stats(returns, 1), trials=6, trial_sharpes=trials,
                  periods_per_year=250)
    stats = sharpe_stats(returns)
    v = float(np.var(trials, ddof=1)) / 250
    assert out["sharpe_annualised"] == pytest.approx(stats["sharpe"] * math.sqrt(250))
    assert out["offsets"] == [stats]
    assert out["trials"] == 6 and out["trials_with_sharpe"] == 6
    assert out["trials_sharpe_std"] == pytest.approx(float(np.std(trials, ddof=1)))
    assert out["expected_max_sharpe"] == pytest.approx(expected_max_sharpe(6, v))
    assert out["expected_max_sharpe_annualised"] == pytest.approx(
        expected_max_sharpe(6, v) * math.sqrt(250)
    )
    assert out["deflated_sharpe_ratio"] == pytest.approx(
        deflated_sharpe_ratio(stats["sharpe"], 1000, stats["skew"], stats["kurtosis"], 6, v)
    )
    assert out["probabilistic_sharpe_ratio"] > out["deflated_sharpe_ratio"]
    assert_plain_json(out)
    json.dumps(out, allow_nan=False)
    # A single trial (or none) is no selection: DSR = PSR against 0.
    alone = deflate(offset_stats(returns, 1), trials=1, trial_sharpes=[1.0],
                    periods_per_year=250)
    assert alone["trials_sharpe_std"] is None
    assert alone["deflated_sharpe_ratio"] == alone["probabilistic_sharpe_ratio"]


def test_deflate_every_offset_and_count_trials_without_a_sharpe() -> None:
    # 4-day periods: the per-date series holds 4 interleaved paths (dates k, k+4, ...), none
    # privileged; each is deflated, and the figure is their mean.
    rng = np.random.default_rng(2)
    per_date = rng.normal(0.002, 0.01, 403)
    paths = [per_date[k::4] for k in range(4)]
    assert [s["n"] for s in offset_stats(per_date, 4)] == [101, 101, 101, 100]
    trials = [0.5, 1.5, 1.0]
    # Five trials ran, two of them without a Sharpe ratio (no excess): N = 5, V from three.
    out = deflate(offset_stats(per_date, 4), trials=5, trial_sharpes=trials,
                  periods_per_year=63)
    v = float(np.var(trials, ddof=1)) / 63
    by_hand = []
    for path in paths:
        st = sharpe_stats(path)
        by_hand.append(deflated_sharpe_ratio(st["sharpe"], st["n"], st["skew"],
                                             st["kurtosis"], 5, v))
    assert out["trials"] == 5 and out["trials_with_sharpe"] == 3
    assert out["deflated_sharpe_ratio"] == pytest.approx(float(np.mean(by_hand)), rel=1e-12)
    assert out["deflated_sharpe_ratio_range"] == {
        "min": pytest.approx(min(by_hand)), "max": pytest.approx(max(by_hand)), "offsets": 4}
    assert out["sharpe_annualised"] == pytest.approx(float(np.mean(
        [sharpe_stats(p)["sharpe"] * math.sqrt(63) for p in paths])))
    # The same moments deflated by a longer search: lower, never higher.
    later = deflate(out["offsets"], trials=40, trial_sharpes=[*trials, 2.0, 0.1],
                    periods_per_year=63)
    assert later["deflated_sharpe_ratio"] < out["deflated_sharpe_ratio"]
    assert later["sharpe_annualised"] == out["sharpe_annualised"]
    # A count below the Sharpe ratios given is raised to their number; no trial is one.
    assert deflate(out["offsets"], trials=0, trial_sharpes=trials,
                   periods_per_year=63)["trials"] == 3
