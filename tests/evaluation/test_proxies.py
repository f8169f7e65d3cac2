"""Trading proxies on tiny panels; every expected value is worked out by hand below, and a
literal loop version of the spec checks the vectorised one on a random panel."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest

from ifns_train.core.calendar import TRADING_DAYS_PER_YEAR
from ifns_train.evaluation import proxies
from ifns_train.evaluation.proxies import (
    excess_proxies,
    max_drawdown,
    offset_sequences,
    positions_from_call,
    positions_from_forecast,
    positions_from_probability,
    quantile_spread,
    sharpe_annualised,
    trading_proxies,
)
from tests.evaluation.plain import assert_plain_json

# The hand panel: 2 symbols, 6 dates, horizon 2, 10 bps. B has no row on d4, A none on d5.
# Simple returns s = exp(realised) - 1 are chosen round; realised = log1p(s).
#
#   date        d0    d1    d2    d3    d4    d5
#   A pos, s   +1 .10 +1 .02 +1 -.04 +1 .06 -1 -.05  -
#   B pos, s   +1 .02 -1 -.04  0 .03 -1 .02   -     +1 .08
#
# Offsets: k=0 -> d0, d2, d4; k=1 -> d1, d3, d5 (non-overlapping 2-day holdings).
#   k=0  d0: n=2, w A .5 B .5:  gross .5*.10 + .5*.02 = .06;  turnover .5 + .5 (from 0) = 1
#        d2: n=1 (B is 0), w A 1 B 0: gross -.04;            turnover |1-.5| + |0-.5| = 1
#        d4: n=1, w A -1 (B absent, was 0): gross +.05;       turnover |-1-1|          = 2
#   k=1  d1: w A .5 B -.5: gross .5*.02 + .5*.04 = .03;       turnover 1
#        d3: same weights: gross .5*.06 - .5*.02 = .02;       turnover 0
#        d5: A absent (exits .5), w B 1: gross .08;           turnover .5 + |1+.5| = 2
# Costs at 10 bps = .001 * turnover: k=0 [.001, .001, .002]; k=1 [.001, 0, .002].
DATES = np.array(["d0", "d0", "d1", "d1", "d2", "d2", "d3", "d3", "d4", "d5"])
SYMS = np.array(["A", "B", "A", "B", "A", "B", "A", "B", "A", "B"])
POS = np.array([1, 1, 1, -1, 1, 0, 1, -1, -1, 1.0])
SIMPLE = np.array([0.10, 0.02, 0.02, -0.04, -0.04, 0.03, 0.06, 0.02, -0.05, 0.08])
GROSS = {0: [0.06, -0.04, 0.05], 1: [0.03, 0.02, 0.08]}
NET = {0: [0.059, -0.041, 0.048], 1: [0.029, 0.02, 0.078]}
ROOT126 = math.sqrt(126.0)  # sqrt(252 / 2)


def _hand(**kw: object) -> dict:
    """The hand panel's proxies, without costs unless `cost_bps` is given."""
    return trading_proxies(DATES, SYMS, POS, np.log1p(SIMPLE), horizon_days=2,
                           **{"cost_bps": 0.0, **kw})


def test_hand_panel_periods_turnover_and_costs() -> None:
    out = _hand(cost_bps=10.0)
    assert_plain_json(out)
    assert (out["rows"], out["dates"], out["offsets"], out["trades_total"]) == (10, 6, 2, 9)
    assert out["periods_per_year"] == 126.0
    assert out["periods"] == {"mean": 3.0, "min": 3.0, "max": 3.0, "offsets": 2}
    assert out["trades"] == {"mean": 4.5, "min": 4.0, "max": 5.0, "offsets": 2}
    s = out["series"]  # per date: offset k is every 2nd date from the k-th
    assert s["dates"] == ["d0", "d1", "d2", "d3", "d4", "d5"]
    assert s["gross"][0::2] == pytest.approx(GROSS[0])
    assert s["gross"][1::2] == pytest.approx(GROSS[1])
    assert s["net"][0::2] == pytest.approx(NET[0])
    assert s["net"][1::2] == pytest.approx(NET[1])
    assert s["turnover"] == pytest.approx([1.0, 1.0, 1.0, 0.0, 2.0, 2.0])
    for k, seq in enumerate(offset_sequences(s["net"], 2)):
        assert seq.tolist() == pytest.approx(NET[k])
    # Turnover per period: k=0 4/3, k=1 3/3 = 1; annualised x 126.
    t = out["turnover"]
    assert t["per_period"]["mean"] == pytest.approx(7 / 6)
    assert (t["per_period"]["min"], t["per_period"]["max"]) == pytest.approx((1.0, 4 / 3))
    assert t["annualised"]["mean"] == pytest.approx(7 / 6 * 126)
    # Mean period return: k=0 .07/3, k=1 .13/3.
    assert out["gross"]["mean_period_return"]["mean"] == pytest.approx(0.2 / 6)


def test_hand_panel_sharpe_and_drawdown() -> None:
    out = _hand(cost_bps=10.0)
    # k=0 gross: mean .023333, deviations .036667 -.063333 .026667, squares sum .0060667,
    # std sqrt(.0060667 / 2) = .055076, SR .42366 per period, x sqrt(126) = 4.7556.
    # k=1 gross: mean .043333, std .032146, SR 1.3480 x sqrt(126) = 15.1317.
    g = out["gross"]["sharpe"]
    assert g["min"] == pytest.approx(4.7556, abs=1e-4)
    assert g["max"] == pytest.approx(15.1317, abs=1e-4)
    for k in (0, 1):
        r = np.array(GROSS[k])
        assert sharpe_annualised(r, 2) == pytest.approx(r.mean() / r.std(ddof=1) * ROOT126)
    net = out["net"]["sharpe"]
    assert (net["min"], net["max"]) == pytest.approx(
        sorted(np.mean(NET[k]) / np.std(NET[k], ddof=1) * ROOT126 for k in (0, 1))
    )
    # Drawdown k=0 gross: equity 1.06, 1.06 * .96 = 1.0176, peak 1.06 -> 1 - .96 = .04;
    # k=1 only gains -> 0. Net k=0: 1.059 then x .959 -> .041.
    assert out["gross"]["max_drawdown"] == pytest.approx(
        {"mean": 0.02, "min": 0.0, "max": 0.04, "offsets": 2}
    )
    assert out["net"]["max_drawdown"]["max"] == pytest.approx(0.041)


def test_hand_panel_expectancy_and_hit_rate() -> None:
    out = _hand(cost_bps=10.0)
    # Trades (position x s): k=0 A0 .10, B0 .02, A2 -.04, A4 .05 (B2 has position 0)
    #   -> expectancy .13/4 = .0325, hit 3/4;
    # k=1 A1 .02, B1 .04, A3 .06, B3 -.02, B5 .08 -> .18/5 = .036, hit 4/5.
    assert out["gross"]["expectancy"] == pytest.approx(
        {"mean": 0.03425, "min": 0.0325, "max": 0.036, "offsets": 2}
    )
    assert out["gross"]["hit_rate"] == pytest.approx(
        {"mean": 0.775, "min": 0.75, "max": 0.8, "offsets": 2}
    )
    # Per-trade cost, in weight units, charged to the trade that opens / closes exposure,
    # then x n (per unit of the trade's own weight 1 / n):
    # k=0 A0: opens .5, keeps it at d2 (.5 -> 1 is A2's entry)   .0005 x 2 = .001
    #     B0: opens .5, closed at d2 (w 0)        .001 x 2 = .002
    #     A2: opens .5 more, closed by the flip (1) .0015 x 1 = .0015
    #     A4: opens the new side 1, never closed  .001 x 1 = .001   (sum .004 = periods' costs)
    #   net: .099 .018 -.0415 .049 -> .1245 / 4 = .031125, hit 3/4
    # k=1 A1, B1: open .5 each, held unchanged at d3   .001 each
    #     A3: closed at d5 (A absent) .5               .001
    #     B3: old side of the flip .5                  .001
    #     B5: new side 1                               .001     (sum .003 = periods' costs)
    #   net: .019 .039 .059 -.021 .079 -> .175 / 5 = .035, hit 4/5
    assert out["net"]["expectancy"] == pytest.approx(
        {"mean": 0.0330625, "min": 0.031125, "max": 0.035, "offsets": 2}
    )
    assert out["net"]["hit_rate"]["mean"] == pytest.approx(0.775)


def test_per_row_costs_charge_an_exit_at_the_last_rate() -> None:
    # A at 10 bps, B at 20 bps. k=1 d5: A (absent) exits .5 at its d3 rate .001 -> .0005;
    # B flips -.5 -> 1, 1.5 at .002 -> .003; total .0035. k=0 d0: .5 x .001 + .5 x .002.
    bps = np.where(SYMS == "A", 10.0, 20.0)
    out = _hand(cost_bps=bps)
    assert out["series"]["net"][0] == pytest.approx(0.06 - 0.0015)
    # k=1 net: .03 - .0015, .02, .08 - .0035 (k=0 is lower: .0585, -.0415, .048).
    odd = out["net"]["mean_period_return"]["max"]
    assert odd == pytest.approx((0.03 - 0.0015 + 0.02 + 0.08 - 0.0035) / 3)


def test_excess_over_a_baseline_by_hand() -> None:
    # The hand panel against an always-long baseline (both names long every date, 0 bps):
    #   baseline gross per date: d0 (.10 + .02)/2 = .06, d1 (.02 - .04)/2 = -.01,
    #   d2 (-.04 + .03)/2 = -.005, d3 (.06 + .02)/2 = .04, d4 -.05 (A alone), d5 .08 (B alone)
    #   model gross per date: .06 .03 -.04 .02 .05 .08 (GROSS, interleaved)
    #   excess: 0, .04, -.035, -.02, .10, 0 -> k=0 [0, -.035, .10], k=1 [.04, -.02, 0]
    model = _hand()
    base = trading_proxies(DATES, SYMS, np.ones(10), np.log1p(SIMPLE), horizon_days=2,
                           cost_bps=0.0)
    out = excess_proxies(model, base, "always_long")
    assert_plain_json(out)
    assert out["baseline"] == "always_long"
    assert out["series"]["gross"] == pytest.approx([0.0, 0.04, -0.035, -0.02, 0.10, 0.0])
    k0, k1 = np.array([0.0, -0.035, 0.10]), np.array([0.04, -0.02, 0.0])
    assert out["gross"]["mean_period_return"] == pytest.approx(
        {"mean": (k0.mean() + k1.mean()) / 2, "min": k1.mean(), "max": k0.mean(),
         "offsets": 2})
    sr = sorted(x.mean() / x.std(ddof=1) * ROOT126 for x in (k0, k1))
    assert (out["gross"]["sharpe"]["min"], out["gross"]["sharpe"]["max"]) == pytest.approx(sr)
    # Periods the model earned more: k=0 1 of 3 (.10), k=1 1 of 3 (.04).
    assert out["gross"]["hit_rate"]["mean"] == pytest.approx(1 / 3)
    # Trading exactly as the baseline adds nothing: no excess, no Sharpe ratio.
    same = excess_proxies(base, base, "always_long")
    assert same["net"]["sharpe"]["mean"] is None
    assert same["net"]["mean_period_return"]["mean"] == 0.0
    other = trading_proxies(DATES, SYMS, POS, np.log1p(SIMPLE), horizon_days=3, cost_bps=0.0)
    with pytest.raises(ValueError, match="same dates"):
        excess_proxies(model, other, "x")


def test_market_neutral_removes_the_dates_mean() -> None:
    # Each row earns its simple return less its date's mean: an always-long book of every
    # name earns exactly 0 each date, whatever the market did.
    long_all = trading_proxies(DATES, SYMS, np.ones(10), np.log1p(SIMPLE), horizon_days=2,
                               cost_bps=0.0, market_neutral=True)
    assert long_all["market_neutral"] is True
    assert long_all["series"]["gross"] == pytest.approx([0.0] * 6)
    # The hand panel's d1: A long .02, B short -.04, mean -.01: A earns .02 + .01 = .03, B
    # earns -(-.04 + .01) = .03, at weights .5 each: .03; d0 (both long): 0.
    neutral = _hand(market_neutral=True)
    assert neutral["series"]["gross"][:2] == pytest.approx([0.0, 0.03], abs=1e-15)


def test_each_predictor_trades_its_own_call() -> None:
    # A momentum-sign baseline learns an up-rate above one half for both signs on a rising
    # market; it still calls (and trades) down on a negative sign.
    call = np.array([1.0, 0.0, 0.0, 1.0])
    prob = np.array([0.58, 0.53, 0.53, 0.58])
    assert positions_from_call(call, prob, band=0.0).tolist() == [1, -1, -1, 1]
    assert positions_from_probability(prob, band=0.0).tolist() == [1, 1, 1, 1]  # what was wrong
    assert positions_from_call(call, prob, band=0.05).tolist() == [1, 0, 0, 1]
    with pytest.raises(ValueError, match="call_up"):
        positions_from_call(np.array([0.5]), np.array([0.5]), band=0.0)


def test_turnover_of_a_flip() -> None:
    # Two symbols long, then A flips: weights (.5, .5) -> (-.5, .5), turnover |-.5 - .5| = 1.
    out = trading_proxies(
        np.array([1, 1, 2, 2]),
        np.array(["A", "B", "A", "B"]),
        np.array([1, 1, -1, 1.0]),
        np.zeros(4),
        horizon_days=1,
        cost_bps=0.0,
    )
    assert out["series"]["turnover"] == [1.0, 1.0]  # entering from zero, then the flip


def test_max_drawdown_by_hand() -> None:
    # Equity 1 -> 1.1 -> .88 -> .99: the trough .88 is 20% below the peak 1.1.
    assert max_drawdown(np.array([0.1, -0.2, 0.125])) == pytest.approx(0.2)
    assert max_drawdown(np.array([0.1, 0.2])) == 0.0
    assert max_drawdown(np.array([-0.1])) == pytest.approx(0.1)  # below the start of 1
    assert max_drawdown(np.array([0.1, -1.5, 0.3])) == 1.0  # a loss past 100% wipes it out
    assert max_drawdown(np.array([])) is None


def test_annualisation_uses_252(monkeypatch: pytest.MonkeyPatch) -> None:
    assert TRADING_DAYS_PER_YEAR == 252
    r = np.array([0.01, 0.03, -0.01, 0.02])
    per_period = r.mean() / r.std(ddof=1)
    assert sharpe_annualised(r, 20) == pytest.approx(per_period * math.sqrt(12.6))
    # Doubling the horizon halves the periods a year: the factor falls by sqrt(2).
    assert sharpe_annualised(r, 20) / sharpe_annualised(r, 40) == pytest.approx(math.sqrt(2))
    assert sharpe_annualised(r, 1) == pytest.approx(per_period * math.sqrt(252))
    # The module reads the shared constant, not a literal of its own.
    monkeypatch.setattr(proxies, "TRADING_DAYS_PER_YEAR", 250)
    assert sharpe_annualised(r, 1) == pytest.approx(per_period * math.sqrt(250))
    assert _hand()["periods_per_year"] == 125.0


# A hand cross-section, quantile .4. realised = log1p(s).
#   X: 5 names, m = floor(2.0) = 2. forecast 3, 2, 2, 2, 1; s .05, .03, 0, -.03, -.04.
#      Ascending places: 1 -> [0,1), the three 2s -> [1,4), 3 -> [4,5).
#      top [3,5): the 3 (weight 1) + one place shared by the tied 2s (1/3 each):
#        (.05 + (.03 + 0 - .03) / 3) / 2 = .025
#      bottom [0,2): the 1 + 1/3 of each 2: (-.04 + 0) / 2 = -.02; spread .045
#   Y: 4 names, m = floor(1.6) = 1. forecast .1 .2 .2 .3; s .01 .02 .04 -.01:
#      top -.01, bottom .01, spread -.02
#   Z: 3 names < min_names 4: skipped.  W: 4 names, constant forecast: skipped.
SPREAD_DATES = np.array(["X"] * 5 + ["Y"] * 4 + ["Z"] * 3 + ["W"] * 4)
SPREAD_F = np.array([3, 2, 2, 2, 1, 0.1, 0.2, 0.2, 0.3, 1, 2, 3, 0, 0, 0, 0])
SPREAD_S = np.array(
    [0.05, 0.03, 0, -0.03, -0.04, 0.01, 0.02, 0.04, -0.01, 0.1, 0.1, 0.1, 1, 2, 3, 4]
)


def _spread(horizon: int, order: np.ndarray | None = None) -> dict:
    idx = np.arange(SPREAD_F.size) if order is None else order
    return quantile_spread(
        SPREAD_DATES[idx],
        SPREAD_F[idx],
        np.log1p(SPREAD_S[idx]),
        horizon_days=horizon,
        quantile=0.4,
        min_names=4,
    )


def test_quantile_spread_with_ties_by_hand() -> None:
    out = _spread(1)
    assert_plain_json(out)
    assert (out["dates"], out["dates_total"]) == (2, 4)
    assert out["mean"] == pytest.approx(0.0125)  # (.045 - .02) / 2
    assert out["std"] == pytest.approx(0.065 / math.sqrt(2))
    assert out["hit_rate"] == 0.5
    assert out["top_mean"] == pytest.approx(0.0075)  # (.025 - .01) / 2
    assert out["bottom_mean"] == pytest.approx(-0.005)  # (-.02 + .01) / 2
    # Sorted dates W, X, Y, Z; horizon 1: one sequence, W and Z skipped, spreads .045, -.02.
    assert out["sharpe"]["mean"] == pytest.approx(0.0125 / (0.065 / math.sqrt(2)) * math.sqrt(252))
    assert out["series"]["dates"] == ["X", "Y"]
    assert out["series"]["spread"] == pytest.approx([0.045, -0.02])
    # Fractional tie weights do not depend on row order.
    shuffled = _spread(1, np.random.default_rng(0).permutation(SPREAD_F.size))
    for key in ("mean", "std", "top_mean", "bottom_mean", "hit_rate"):
        assert shuffled[key] == pytest.approx(out[key])
    assert shuffled["series"]["spread"] == pytest.approx(out["series"]["spread"])


def test_quantile_spread_sharpe_is_on_non_overlapping_dates() -> None:
    # Horizon 2: sequences (W, Y) and (X, Z), one usable date each -> no Sharpe.
    out = _spread(2)
    assert out["sharpe"] == {"mean": None, "min": None, "max": None, "offsets": 0}
    assert out["series"]["dates"] == ["Y"]  # offset 0 = W, Y; W is skipped


def test_degenerate_no_trades_one_date_constant() -> None:
    none = trading_proxies(
        DATES, SYMS, np.zeros(10), np.log1p(SIMPLE), horizon_days=2, cost_bps=5.0
    )
    assert_plain_json(none)
    assert none["trades_total"] == 0
    for side in ("gross", "net"):
        assert none[side]["expectancy"]["mean"] is None
        assert none[side]["hit_rate"]["mean"] is None
        assert none[side]["sharpe"]["mean"] is None  # all-zero returns: constant
        assert none[side]["max_drawdown"]["mean"] == 0.0
    assert none["turnover"]["per_period"]["mean"] == 0.0

    one = trading_proxies(
        np.array(["d0", "d0"]),
        np.array(["A", "B"]),
        np.array([1, -1.0]),
        np.log1p([0.02, 0.01]),
        horizon_days=20,
        cost_bps=10.0,
    )
    assert_plain_json(one)
    assert (one["offsets"], one["periods"]["mean"]) == (1, 1.0)
    assert one["gross"]["sharpe"]["mean"] is None
    assert one["gross"]["expectancy"]["mean"] == pytest.approx(0.005)  # (.02 - .01) / 2
    assert one["net"]["max_drawdown"]["mean"] == pytest.approx(0.0)  # .005 - .001 > 0

    const = trading_proxies(
        np.arange(6), np.zeros(6), np.ones(6), np.full(6, np.log1p(0.01)), horizon_days=1,
        cost_bps=0.0,
    )
    assert const["gross"]["sharpe"]["mean"] is None
    assert sharpe_annualised(np.full(5, 0.01), 20) is None
    assert sharpe_annualised(np.array([0.01]), 20) is None

    empty = trading_proxies(np.array([]), np.array([]), np.array([]), np.array([]),
                            horizon_days=2, cost_bps=0.0)
    assert_plain_json(empty)
    assert (empty["rows"], empty["offsets"], empty["series"]["gross"]) == (0, 0, [])
    assert offset_sequences([], 5) == []
    nothing = quantile_spread(np.array(["d"] * 3), np.arange(3.0), np.zeros(3), horizon_days=2)
    assert_plain_json(nothing)
    assert nothing["dates"] == 0 and nothing["mean"] is None and nothing["std"] is None


def test_positions() -> None:
    p = np.array([0.2, 0.5, 0.52, 0.7, 0.44])
    assert positions_from_probability(p, band=0.0).tolist() == [-1, 1, 1, 1, -1]
    assert positions_from_probability(p, band=0.05).tolist() == [-1, 0, 0, 1, -1]
    f = np.array([-0.02, 0.0, 0.001, 0.03])
    assert positions_from_forecast(f, band=0.0).tolist() == [-1, 0, 1, 1]
    assert positions_from_forecast(f, band=0.005).tolist() == [-1, 0, 0, 1]
    with pytest.raises(ValueError, match="prob"):
        positions_from_probability(np.array([1.2]), band=0.0)


def test_refuses_bad_input() -> None:
    log = np.log1p(SIMPLE)
    with pytest.raises(ValueError, match="at most once"):
        trading_proxies(DATES, np.full(10, "A"), POS, log, horizon_days=2, cost_bps=0.0)
    with pytest.raises(ValueError, match="position"):
        trading_proxies(DATES, SYMS, POS * 2, log, horizon_days=2, cost_bps=0.0)
    with pytest.raises(ValueError, match="cost_bps"):
        trading_proxies(DATES, SYMS, POS, log, horizon_days=2, cost_bps=-1.0)
    with pytest.raises(ValueError, match="cost_bps"):
        trading_proxies(DATES, SYMS, POS, log, horizon_days=2, cost_bps=np.ones(3))
    with pytest.raises(ValueError, match="realised"):
        trading_proxies(DATES, SYMS, POS, np.r_[log[:-1], np.nan], horizon_days=2, cost_bps=0.0)
    with pytest.raises(ValueError, match="horizon_days"):
        trading_proxies(DATES, SYMS, POS, log, horizon_days=0, cost_bps=0.0)


def _reference(dates, syms, pos, realised, h, bps) -> dict[int, dict[str, list[float]]]:
    """The spec, literally: walk each offset sequence period by period."""
    rows = {
        (d, s): (p, math.expm1(r), c / 1e4)
        for d, s, p, r, c in zip(dates, syms, pos, realised, bps, strict=True)
    }
    udates = sorted(set(dates))
    out = {}
    for k in range(min(h, len(udates))):
        seq = udates[k::h]
        w_prev: dict = {}
        rate_prev: dict = {}
        trade_cost: dict = defaultdict(float)
        n_of: dict = {}
        res = defaultdict(list)
        for t, d in enumerate(seq):
            here = {s: v for (dd, s), v in rows.items() if dd == d}
            n = sum(v[0] != 0 for v in here.values())
            n_of[d] = n
            w = {s: (v[0] / n if n else 0.0) for s, v in here.items()}
            turnover = cost = 0.0
            for s in set(w) | set(w_prev):
                a, b = w_prev.get(s, 0.0), w.get(s, 0.0)
                rate = here[s][2] if s in here else rate_prev[s]
                turnover += abs(b - a)
                cost += rate * abs(b - a)
                same = a * b > 0
                trade_cost[(d, s)] += rate * (max(abs(b) - abs(a), 0) if same else abs(b))
                if t:
                    trade_cost[(seq[t - 1], s)] += rate * (
                        max(abs(a) - abs(b), 0) if same else abs(a)
                    )
            gross = sum(w[s] * here[s][1] for s in here)
            res["gross"].append(gross)
            res["net"].append(gross - cost)
            res["turnover"].append(turnover)
            res["cost"].append(cost)
            w_prev = w
            rate_prev.update({s: v[2] for s, v in here.items()})
        for d in seq:
            for (dd, s), (p, simple, _) in rows.items():
                if dd == d and p != 0:
                    res["trade_gross"].append(p * simple)
                    res["trade_net"].append(p * simple - trade_cost[(d, s)] * n_of[d])
        res["trade_cost"] = [trade_cost[key] for key in list(trade_cost) if key[0] in seq]
        out[k] = res
    return out


def test_matches_a_literal_loop_on_a_random_panel() -> None:
    rng = np.random.default_rng(7)
    grid = [(d, s) for d in range(23) for s in "ABCDEF" if rng.random() > 0.25]
    dates = np.array([d for d, _ in grid])
    syms = np.array([s for _, s in grid])
    pos = rng.choice([-1, -0.5, 0, 0, 0.5, 1], len(grid))
    realised = rng.normal(0, 0.05, len(grid))
    bps = rng.uniform(0, 30, len(grid))
    h = 4
    out = trading_proxies(dates, syms, pos, realised, horizon_days=h, cost_bps=bps)
    ref = _reference(
        dates.tolist(), syms.tolist(), pos.tolist(), realised.tolist(), h, bps.tolist()
    )
    for k in ref:
        assert out["series"]["gross"][k::h] == pytest.approx(ref[k]["gross"])
        assert out["series"]["net"][k::h] == pytest.approx(ref[k]["net"])
        assert out["series"]["turnover"][k::h] == pytest.approx(ref[k]["turnover"])
    for side in ("gross", "net"):
        per_k = {
            "expectancy": [np.mean(ref[k][f"trade_{side}"]) for k in ref],
            "hit_rate": [np.mean(np.array(ref[k][f"trade_{side}"]) > 0) for k in ref],
            "sharpe": [sharpe_annualised(np.array(ref[k][side]), h) for k in ref],
            "max_drawdown": [max_drawdown(np.array(ref[k][side])) for k in ref],
            "mean_period_return": [np.mean(ref[k][side]) for k in ref],
        }
        for name, vals in per_k.items():
            got = out[side][name]
            assert (got["mean"], got["min"], got["max"]) == pytest.approx(
                (np.mean(vals), min(vals), max(vals))
            ), (side, name)
    # Each unit of turnover is charged to one trade: the shares add up to the periods' costs.
    for k in ref:
        assert sum(ref[k]["trade_cost"]) == pytest.approx(sum(ref[k]["cost"]))
    assert out["turnover"]["per_period"]["mean"] == pytest.approx(
        np.mean([np.mean(ref[k]["turnover"]) for k in ref])
    )
