"""Block-bootstrap intervals over dates and the HAC t-statistic, against hand-worked values.

Known distributions: with blocks of 1 date the stationary bootstrap draws dates i.i.d., so
the mean of a 0/1 series over 20 dates is Binomial(20, 1/2) / 20 and its percentile
interval is read off the binomial; with blocks > 1 the variance of a replicate mean has a
closed form (below). The replicate figures are checked against the metric functions run
on the resampled rows themselves.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from ifns_train.evaluation.classification import binary_metrics
from ifns_train.evaluation.compare import HIGHER_IS_BETTER
from ifns_train.evaluation.cost import cost_metrics
from ifns_train.evaluation.intervals import (
    HEADLINE_ROW_METRICS,
    _weights,
    block_length,
    date_codes,
    date_weights,
    hac_tstat,
    metric_interval,
    series_interval,
)
from ifns_train.evaluation.regression import return_metrics
from ifns_train.evaluation.risk import volatility_metrics
from ifns_train.evaluation.weighted_auc import auc_pairs
from ifns_train.evaluation.weighted_stats import row_metric_stat
from tests.defaults import bootstrap, evaluation
from tests.evaluation.plain import assert_plain_json

METHOD = bootstrap()["method"]  # the run's resampling scheme (evaluation.bootstrap.method)
N_BINS = evaluation()["calibration_bins"]  # the run's ECE bins

INTERVAL_KEYS = {
    "estimate",
    "low",
    "high",
    "level",
    "method",
    "block",
    "block_rule",
    "reps",
    "seed",
    "skipped",
}


def _panel(n_dates: int = 60, seed: int = 0) -> dict[str, np.ndarray]:
    """Rows of unequal count per date (3 to 9) with a date effect, as a small panel."""
    rng = np.random.default_rng(seed)
    per_date = rng.integers(3, 10, n_dates)
    dates = np.repeat(np.arange(n_dates), per_date)
    n = dates.size
    shock = rng.standard_normal(n_dates)[dates]
    y = (shock + rng.standard_normal(n) > 0).astype(np.int64)
    prob = np.round(1 / (1 + np.exp(-(0.8 * shock + rng.standard_normal(n)))), 2)  # ties
    prob_b = np.round(rng.random(n), 2)
    vol = np.exp(0.3 * shock + 0.2 * rng.standard_normal(n)) * 0.2
    vol_pred = vol * np.exp(0.3 * rng.standard_normal(n))
    vol_base = np.full(n, float(np.median(vol)))
    return {
        "dates": dates,
        "y": y,
        "prob": prob,
        "prob_b": prob_b,
        "vol": vol,
        "vol_pred": vol_pred,
        "vol_base": vol_base,
    }


def _inputs(metric: str, p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, model prediction, baseline prediction) for ``metric`` from the panel."""
    if metric == "hit_rate":
        return p["y"], (p["prob"] >= 0.5).astype(int), (p["prob_b"] >= 0.5).astype(int)
    if metric in ("auc", "brier", "log_loss", "ece"):
        return p["y"], p["prob"], p["prob_b"]
    if metric == "mae_bps":
        return p["vol"] * 1e4, p["vol_pred"] * 1e4, p["vol_base"] * 1e4
    return p["vol"], p["vol_pred"], p["vol_base"]


def _reference(metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    """The figure as the existing metric functions compute it."""
    if metric in ("hit_rate", "auc", "brier", "log_loss", "ece"):
        if metric == "hit_rate":
            return binary_metrics(np.where(pred == 1, 0.9, 0.1), y, pred=pred,
                                  n_bins=N_BINS)["hit_rate"]
        return binary_metrics(pred, y, n_bins=N_BINS)[metric]
    if metric == "mae_bps":
        return cost_metrics(pred, y)["mae_bps"]
    return volatility_metrics(pred, y)[metric]


def _brute_auc(score: np.ndarray, y: np.ndarray, weight: np.ndarray) -> float:
    """Weighted AUC over all (up, down) pairs: 1 if the up row scores higher, 1/2 on a tie."""
    up, down = y == 1, y == 0
    diff = score[up][:, None] - score[down][None, :]
    pair_w = weight[up][:, None] * weight[down][None, :]
    right = (diff > 0) + 0.5 * (diff == 0)
    return float((pair_w * right).sum() / pair_w.sum())


# --- point estimates -----------------------------------------------------------------------


@pytest.mark.parametrize("metric", HEADLINE_ROW_METRICS)
def test_estimate_equals_the_metric_functions(metric: str) -> None:
    p = _panel()
    y, pred, base = _inputs(metric, p)
    out = metric_interval(metric, y, pred, p["dates"], baseline_pred=base, horizon=5,
                          n_bins=N_BINS, **bootstrap(reps=50))
    # torchmetrics' AUC is float32; the others agree to rounding.
    tol = 1e-6 if metric == "auc" else 1e-12
    assert out["model"]["estimate"] == pytest.approx(_reference(metric, y, pred), rel=tol)
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0  # > 0: the model is better
    expected_imp = sign * (_reference(metric, y, pred) - _reference(metric, y, base))
    assert out["improvement"]["estimate"] == pytest.approx(expected_imp, rel=1e-5, abs=tol)
    assert set(out["model"]) == INTERVAL_KEYS
    assert set(out["improvement"]) == INTERVAL_KEYS | {"significant", "evidence"}
    assert out["model"]["low"] <= out["model"]["estimate"] <= out["model"]["high"]
    assert_plain_json(out)
    json.dumps(out, allow_nan=False)


def test_series_estimate_is_the_mean_ic_of_return_metrics() -> None:
    rng = np.random.default_rng(3)
    dates = np.repeat(np.arange(30), 8)
    pred = rng.standard_normal(dates.size)
    y = 0.3 * pred + rng.standard_normal(dates.size)
    ic = np.array([np.corrcoef(pred[dates == d], y[dates == d])[0, 1] for d in range(30)])
    out = series_interval(ic, np.arange(30), horizon=5, **bootstrap(reps=50))
    assert out["model"]["estimate"] == pytest.approx(
        return_metrics(pred, y, dates, horizon_days=5)["ic_mean"], rel=1e-12
    )
    assert out["improvement"] is None


# --- replicates: the metric on the rows of the resampled dates -----------------------------


@pytest.mark.parametrize("metric", HEADLINE_ROW_METRICS)
def test_replicates_equal_the_metric_on_resampled_rows(metric: str) -> None:
    p = _panel(n_dates=25, seed=1)
    y, pred, _ = _inputs(metric, p)
    codes, weights = date_weights(p["dates"], block=3, reps=4, seed=7, method=METHOD)
    stat = row_metric_stat(metric, y.astype(float), pred.astype(float), codes, 25, N_BINS)
    got = stat.replicates(weights)
    for r in range(4):
        # Each date's rows repeated as often as the date was drawn.
        rows = np.repeat(np.arange(y.size), weights[r][codes].astype(int))
        if metric == "auc":
            expected = _brute_auc(pred[rows], y[rows], np.ones(rows.size))
            assert got[r] == pytest.approx(expected, rel=1e-12)
        else:
            assert got[r] == pytest.approx(_reference(metric, y[rows], pred[rows]), rel=1e-12)


def test_weighted_auc_with_unit_weights_is_the_plain_auc() -> None:
    p = _panel(n_dates=40, seed=2)
    y, prob = p["y"].astype(float), p["prob"]
    codes, n_dates = date_codes(p["dates"])
    stat = row_metric_stat("auc", y, prob, codes, n_dates)
    plain = _brute_auc(prob, y, np.ones(y.size))
    assert stat.estimate == pytest.approx(plain, rel=1e-14)
    assert stat.replicates(np.ones((1, n_dates)))[0] == pytest.approx(plain, rel=1e-14)
    assert stat.estimate == pytest.approx(binary_metrics(prob, y.astype(int), n_bins=N_BINS)["auc"],
                                          abs=1e-6)
    # Integer weights per date = the pairwise AUC with each row weighted by its date's weight.
    w = np.random.default_rng(0).integers(0, 4, n_dates).astype(float)
    assert stat.replicates(w[None, :])[0] == pytest.approx(_brute_auc(prob, y, w[codes]))


def test_auc_pair_matrix_by_hand() -> None:
    # date 0: up 0.9, down 0.5;  date 1: up 0.5, down 0.2
    # C[d, e] = pairs (up in d, down in e), 1 if the up scores higher, 1/2 on a tie:
    #   C[0, 0]: 0.9 > 0.5 -> 1      C[0, 1]: 0.9 > 0.2 -> 1
    #   C[1, 0]: 0.5 = 0.5 -> 1/2    C[1, 1]: 0.5 > 0.2 -> 1
    score = np.array([0.9, 0.5, 0.5, 0.2])
    up = np.array([1.0, 0.0, 1.0, 0.0])
    codes = np.array([0, 0, 1, 1])
    np.testing.assert_array_equal(auc_pairs(score, up, codes, 2), [[1.0, 1.0], [0.5, 1.0]])


@pytest.mark.parametrize("decimals", [None, 2, 1, 0])
def test_auc_pairs_against_all_pairs(decimals: int | None) -> None:
    # C[d, e] by brute force over every (up row of date d, down row of date e) pair.
    rng = np.random.default_rng(decimals or 9)
    dates = rng.integers(0, 12, 300)
    y = (rng.random(300) < 0.4).astype(float)
    score = rng.random(300) if decimals is None else np.round(rng.random(300), decimals)
    codes, n_dates = date_codes(dates)
    diff = score[:, None] - score[None, :]
    right = ((diff > 0) + 0.5 * (diff == 0)) * y[:, None] * (1 - y)[None, :]
    onehot = np.eye(n_dates)[codes]
    np.testing.assert_array_equal(auc_pairs(score, y, codes, n_dates), onehot.T @ right @ onehot)


def test_auc_pairs_whatever_the_blocks_and_with_all_ties(monkeypatch: pytest.MonkeyPatch) -> None:
    import ifns_train.evaluation.weighted_auc as ws

    p = _panel(n_dates=30, seed=4)
    y, prob = p["y"].astype(float), p["prob"]
    codes, n_dates = date_codes(p["dates"])
    whole = auc_pairs(prob, y, codes, n_dates)
    # One block per group (every ordered pair by the dense product), then one block for
    # all (every ordered pair enumerated), flushing the pair buffer after every block.
    monkeypatch.setattr(ws, "_BLOCK_PER_DATE", 0.0)
    monkeypatch.setattr(ws, "_BLOCK_MIN", 1)
    np.testing.assert_array_equal(auc_pairs(prob, y, codes, n_dates), whole)
    monkeypatch.setattr(ws, "_BLOCK_MIN", 10**9)
    monkeypatch.setattr(ws, "_PAIRS_PER_FLUSH", 0)
    np.testing.assert_array_equal(auc_pairs(prob, y, codes, n_dates), whole)
    assert whole.sum() == pytest.approx(
        _brute_auc(prob, y, np.ones(y.size)) * (y.sum() * (1 - y).sum())
    )
    # A constant score (the class prior) ties every pair: AUC 1/2 exactly.
    flat = row_metric_stat("auc", y, np.full(y.size, 0.5), codes, n_dates)
    assert flat.estimate == 0.5


# --- known bootstrap distributions ---------------------------------------------------------


@pytest.mark.parametrize("method", ["stationary", "circular"])
def test_blocks_of_one_date_give_the_binomial_interval(method: str) -> None:
    # 20 dates of 3 rows each, all hits on even dates and all misses on odd ones. Blocks of 1
    # draw dates i.i.d., so a replicate's hit rate is Binomial(20, 1/2) / 20:
    #   P(X <= 5) = 0.0207 < 0.025 < P(X <= 6) = 0.0577  -> 2.5% quantile 6/20 = 0.30
    #   and by symmetry the 97.5% quantile is 14/20 = 0.70.
    # With 20,000 replicates the empirical P(X <= 5) is 0.0207 +- 0.001, 4 sd from 0.025.
    assert math.comb(20, 0) + sum(math.comb(20, k) for k in range(1, 6)) == 21700
    assert 21700 / 2**20 < 0.025 < (21700 + math.comb(20, 6)) / 2**20
    dates = np.repeat(np.arange(20), 3)
    y = np.ones(60, dtype=int)
    pred = (dates % 2 == 0).astype(int)
    out = metric_interval(
        "hit_rate", y, pred, dates, horizon=1,
        **bootstrap(level=0.95, block=1, reps=20_000, method=method),
    )["model"]
    assert out["estimate"] == 0.5
    assert (out["low"], out["high"]) == (0.3, 0.7)
    assert out["block_rule"] == "fixed"


def test_stationary_bootstrap_variance_of_a_mean() -> None:
    # Replicate positions s < t lie in one block with probability (1 - p)^(t - s), p = 1/block
    # (the series then continues circularly, so they are k = t - s apart); otherwise the
    # later date is a fresh uniform draw. Hence, for the mean of n dates,
    #   Var* = (1/n) [c(0) + 2 sum_{k=1}^{n-1} (1 - k/n) (1 - p)^k c(k)],
    # c(k) = (1/n) sum_t e_t e_{(t+k) mod n} the circular autocovariance of e = x - mean.
    n, block, reps = 40, 5, 20_000
    t = np.arange(n)
    x = np.sin(t / 3.0) + 0.3 * (t % 4)
    _, weights = date_weights(t, block=block, reps=reps, seed=1, method="stationary")
    np.testing.assert_array_equal(weights.sum(axis=1), n)
    means = weights @ x / n
    e = x - x.mean()
    c = np.array([np.mean(e * np.roll(e, -k)) for k in range(n)])
    k = np.arange(1, n)
    expected = (c[0] + 2 * np.sum((1 - k / n) * (1 - 1 / block) ** k * c[1:])) / n
    # The variance of 20,000 replicates is within ~1-2% of its expectation.
    assert means.var() == pytest.approx(expected, rel=0.05)
    assert means.mean() == pytest.approx(x.mean(), abs=4 * math.sqrt(expected / reps))


def test_constant_series_gives_a_zero_width_interval() -> None:
    out = series_interval(np.full(50, 0.03), np.arange(50), horizon=5,
                          **bootstrap(reps=200))["model"]
    assert out["low"] == out["high"] == pytest.approx(0.03, rel=1e-14)
    # Every row the same error: MAE is the same on every resample.
    dates = np.repeat(np.arange(30), 4)
    y = np.arange(120, dtype=float)
    m = metric_interval("mae", y, y + 2.0, dates, horizon=5, **bootstrap(reps=200))["model"]
    assert m["low"] == m["high"] == pytest.approx(2.0)
    assert m["block_rule"] == "horizon"  # a constant series has no Politis-White estimate


def test_one_circular_block_of_every_date_is_a_rotation() -> None:
    # A circular block as long as the sample draws every date once (a rotation): width 0.
    p = _panel(n_dates=20)
    out = metric_interval(
        "brier", p["y"], p["prob"], p["dates"], horizon=1,
        **bootstrap(block=20, reps=100, method="circular"),
    )["model"]
    assert out["low"] == pytest.approx(out["estimate"], rel=1e-12)
    assert out["high"] == pytest.approx(out["estimate"], rel=1e-12)
    assert out["method"] == "circular_block_bootstrap"


# --- paired improvements and significance --------------------------------------------------


@pytest.mark.parametrize("metric", HEADLINE_ROW_METRICS)
def test_identical_model_and_baseline_improve_by_exactly_zero(metric: str) -> None:
    p = _panel()
    y, pred, _ = _inputs(metric, p)
    imp = metric_interval(metric, y, pred, p["dates"], baseline_pred=pred, horizon=5,
                          n_bins=N_BINS, **bootstrap(reps=200))["improvement"]
    assert (imp["estimate"], imp["low"], imp["high"]) == (0.0, 0.0, 0.0)
    assert imp["significant"] is False


def test_identical_series_improve_by_exactly_zero() -> None:
    ic = np.random.default_rng(0).normal(0.05, 0.1, 80)
    imp = series_interval(ic, np.arange(80), baseline_values=ic, horizon=5,
                          **bootstrap(reps=200))
    assert (imp["improvement"]["low"], imp["improvement"]["high"]) == (0.0, 0.0)
    assert imp["improvement"]["significant"] is False


def test_pairing_cancels_the_common_date_noise() -> None:
    # Model = baseline + 0.01 on every date, under large common date noise: the paired
    # difference is exactly 0.01 on every resample, while each side's interval is wide.
    rng = np.random.default_rng(5)
    base = rng.normal(0.0, 0.2, 100)
    out = series_interval(base + 0.01, np.arange(100), baseline_values=base, horizon=5,
                          **bootstrap(reps=500))
    imp = out["improvement"]
    assert imp["low"] == pytest.approx(0.01) and imp["high"] == pytest.approx(0.01)
    assert imp["significant"] is True
    assert out["model"]["high"] - out["model"]["low"] > 0.05


def test_a_loss_improves_by_baseline_minus_model_and_says_which_way() -> None:
    # MAE, lower is better: the model's error is the baseline's less 0.01 on every row, so
    # the favourable improvement is +0.01 on every resample ("better"); swapped, it is -0.01
    # on every resample: wholly below 0, "worse", and never called significant.
    rng = np.random.default_rng(6)
    dates = np.repeat(np.arange(60), 5)
    y = np.zeros(dates.size)
    base = rng.uniform(0.05, 0.2, dates.size)
    kwargs = {"horizon": 5, **bootstrap(reps=300)}
    better = metric_interval("mae", y, base - 0.01, dates, baseline_pred=base, **kwargs)
    worse = metric_interval("mae", y, base, dates, baseline_pred=base - 0.01, **kwargs)
    imp = better["improvement"]
    assert imp["estimate"] == pytest.approx(0.01)
    assert (imp["low"], imp["high"]) == (pytest.approx(0.01), pytest.approx(0.01))
    assert (imp["evidence"], imp["significant"]) == ("better", True)
    imp = worse["improvement"]
    assert (imp["low"], imp["high"]) == (pytest.approx(-0.01), pytest.approx(-0.01))
    assert (imp["evidence"], imp["significant"]) == ("worse", False)


def test_a_small_slice_gets_no_claim_of_significance() -> None:
    rng = np.random.default_rng(5)
    base = rng.normal(0.0, 0.2, 100)
    kwargs = {"baseline_values": base, "horizon": 5, **bootstrap(reps=200)}
    big = series_interval(base + 0.01, np.arange(100), **kwargs)["improvement"]
    small = series_interval(base + 0.01, np.arange(100), small=True, **kwargs)["improvement"]
    assert big["significant"] is True
    assert small["significant"] is None
    assert (small["low"], small["high"]) == (big["low"], big["high"])  # still reported


def test_series_with_undefined_dates() -> None:
    # NaN = no IC that date (too few names): each side's mean is over its own dates.
    model = np.array([0.1, np.nan, 0.3, 0.2] * 10)
    base = np.array([0.0, 0.1, np.nan, 0.1] * 10)
    out = series_interval(model, np.arange(40), baseline_values=base, horizon=2,
                          **bootstrap(reps=100))
    assert out["model"]["estimate"] == pytest.approx(0.2)  # (0.1 + 0.3 + 0.2) / 3
    assert out["improvement"]["estimate"] == pytest.approx(0.2 - 0.2 / 3)
    assert_plain_json(out)


# --- undefined figures and skipped replicates ----------------------------------------------


def test_auc_replicates_with_one_class_are_skipped_and_counted() -> None:
    # Date 0 holds the only up rows; a replicate that never draws it has no AUC.
    dates = np.repeat(np.arange(4), 5)
    y = (dates == 0).astype(int)
    prob = np.linspace(0.1, 0.9, 20)
    out = metric_interval("auc", y, prob, dates, horizon=1,
                          **bootstrap(block=1, reps=1000, seed=3))["model"]
    _, weights = date_weights(dates, block=1, reps=1000, seed=3, method=METHOD)
    one_class = (weights[:, 0] == 0) | (weights[:, 1:].sum(axis=1) == 0)
    assert out["skipped"] == int(one_class.sum())
    assert 200 < out["skipped"] < 450  # P(date 0 never drawn) = (3/4)^4 = 0.32
    assert out["low"] is not None


def test_undefined_figures_give_none_not_nan() -> None:
    one_class = metric_interval(
        "auc",
        np.ones(10, int),
        np.linspace(0, 1, 10),
        np.repeat(np.arange(5), 2),
        horizon=1,
        **bootstrap(reps=50),
    )["model"]
    assert one_class["estimate"] is None and one_class["low"] is None
    one_date = metric_interval(
        "brier",
        np.array([0, 1]),
        np.array([0.2, 0.7]),
        np.array(["2024-01-02"] * 2),
        horizon=1,
        **bootstrap(reps=50),
    )["model"]
    assert one_date["estimate"] == pytest.approx((0.04 + 0.09) / 2)
    assert one_date["low"] is None and one_date["high"] is None  # nothing to resample
    assert_plain_json(one_class)
    assert_plain_json(one_date)


# --- block length, determinism, inputs -----------------------------------------------------


def test_block_length_rules() -> None:
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(500)
    persistent = np.cumsum(noise) * 0.1 + noise  # strongly autocorrelated
    block, rule = block_length(noise, 20, method=METHOD)
    assert (block, rule) == (20, "politis_white>=horizon")  # white noise: PW ~1, floor 20
    block, rule = block_length(persistent, 1, method=METHOD)
    assert rule == "politis_white>=horizon" and block > 5
    assert block_length(noise[:10], 3, method=METHOD) == (3, "horizon")  # too short
    assert block_length(np.ones(100), 4, method=METHOD) == (4, "horizon")
    with pytest.raises(ValueError, match="horizon"):
        block_length(noise, 0, method=METHOD)


def test_seeded_calls_are_identical_to_the_last_digit() -> None:
    p = _panel()
    args = ("auc", p["y"], p["prob"], p["dates"])
    kwargs = {"baseline_pred": p["prob_b"], "horizon": 5, **bootstrap(reps=300, seed=11)}
    first = metric_interval(*args, **kwargs)
    _weights.cache_clear()  # redraw the dates rather than reuse the memoised weights
    assert metric_interval(*args, **kwargs) == first
    other = metric_interval(*args, **{**kwargs, "seed": 12})
    assert other["model"]["low"] != first["model"]["low"]
    assert other["model"]["estimate"] == first["model"]["estimate"]


def test_dates_are_taken_in_time_order_whatever_the_row_order() -> None:
    p = _panel(n_dates=30)
    iso = np.array([f"2024-{1 + d // 28:02d}-{1 + d % 28:02d}" for d in p["dates"]])
    shuffle = np.random.default_rng(0).permutation(iso.size)
    kwargs = {"horizon": 3, **bootstrap(reps=200, seed=2)}
    ordered = metric_interval("log_loss", p["y"], p["prob"], iso, **kwargs)
    shuffled = metric_interval(
        "log_loss", p["y"][shuffle], p["prob"][shuffle], iso[shuffle], **kwargs
    )
    assert shuffled["model"]["low"] == pytest.approx(ordered["model"]["low"], rel=1e-12)
    assert shuffled["model"]["high"] == pytest.approx(ordered["model"]["high"], rel=1e-12)


@pytest.mark.parametrize("kind", ["datetime64[ns]", "int64"])
def test_date_codes_of_rows_in_date_order_are_those_of_any_order(kind: str) -> None:
    # A split's rows come in date order: its codes count the changes instead of hashing.
    days = np.repeat(np.array([3, 5, 6, 9, 40]), [2, 1, 4, 1, 3]).astype(kind)
    codes, n = date_codes(days)
    shuffle = np.random.default_rng(0).permutation(days.size)
    shuffled, n_shuffled = date_codes(days[shuffle])
    assert n == n_shuffled == 5 and codes.dtype == np.int64
    np.testing.assert_array_equal(codes[shuffle], shuffled)
    np.testing.assert_array_equal(codes, [0, 0, 1, 2, 2, 2, 2, 3, 4, 4, 4])
    if kind.startswith("datetime"):
        with pytest.raises(ValueError, match="missing"):
            date_codes(np.r_[days, np.array(["NaT"], dtype=kind)])


def test_importing_loads_no_heavy_statistics_package() -> None:
    # arch.bootstrap alone takes ~2.5 s to import: it must wait until an interval is drawn.
    code = (
        "import sys, ifns_train.evaluation.intervals, ifns_train.evaluation.selection; "
        "print(sorted({'arch', 'scipy', 'statsmodels', 'torch'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_refuses_malformed_inputs() -> None:
    dates = np.repeat(np.arange(5), 2)
    y = np.array([0, 1] * 5)
    boot = bootstrap()
    with pytest.raises(ValueError, match="metric"):
        metric_interval("sharpe", y, y, dates, horizon=1, **boot)
    with pytest.raises(ValueError, match="probabilities"):
        metric_interval("brier", y, y * 2.0, dates, horizon=1, **boot)
    with pytest.raises(ValueError, match="missing"):
        metric_interval("brier", y, y * 0.5, np.array([None] * 10), horizon=1, **boot)
    with pytest.raises(ValueError, match="positive"):
        metric_interval("qlike", y + 1.0, y * 1.0, dates, horizon=1, **boot)
    with pytest.raises(ValueError, match="distinct"):
        series_interval(np.zeros(10), dates, horizon=1, **boot)
    with pytest.raises(ValueError, match="level"):
        metric_interval("brier", y, y * 0.5, dates, horizon=1, **bootstrap(level=95))
    with pytest.raises(ValueError, match="method"):
        metric_interval("brier", y, y * 0.5, dates, horizon=1, **bootstrap(method="moving"))


# --- HAC t-statistic -----------------------------------------------------------------------


def test_hac_tstat_by_hand() -> None:
    # x = 1 3 2 5 4 6, mean 3.5, e = -2.5 -0.5 -1.5 1.5 0.5 2.5, n = 6, lags = 2.
    #   g0 = (6.25 + .25 + 2.25 + 2.25 + .25 + 6.25) / 6                  = 17.5 / 6
    #   g1 = (1.25 + .75 - 2.25 + .75 + 1.25) / 6     (e_t e_{t-1})       =  1.75 / 6
    #   g2 = (3.75 - .75 - .75 + 3.75) / 6            (e_t e_{t-2})       =  6.0 / 6
    #   Bartlett weights 1 - j/3: 2/3, 1/3
    #   S = g0 + 2 (2/3 g1 + 1/3 g2) = (17.5 + 7/3 + 4) / 6 = 23.8333 / 6 = 3.97222
    #   se = sqrt(S / 6) = 0.813656,  t = 3.5 / se = 4.30157
    out = hac_tstat(np.array([1.0, 3.0, 2.0, 5.0, 4.0, 6.0]), lags=2)
    s = (17.5 + 2 * (2 / 3 * 1.75 + 1 / 3 * 6.0)) / 6
    assert out["mean"] == pytest.approx(3.5)
    assert out["se"] == pytest.approx(math.sqrt(s / 6))
    assert out["se"] == pytest.approx(0.813656, abs=1e-6)
    assert out["t"] == pytest.approx(4.30157, abs=1e-5)
    assert (out["lags"], out["n"]) == (2, 6)
    assert_plain_json(out)


def test_hac_tstat_matches_statsmodels_newey_west() -> None:
    from statsmodels.regression.linear_model import OLS

    rng = np.random.default_rng(0)
    x = np.convolve(rng.standard_normal(300), np.ones(20) / 20, mode="valid") + 0.02
    fit = OLS(x, np.ones((x.size, 1))).fit(
        cov_type="HAC", cov_kwds={"maxlags": 20, "use_correction": False}
    )
    out = hac_tstat(x, lags=20)
    assert out["se"] == pytest.approx(float(fit.bse[0]), rel=1e-10)
    assert out["t"] == pytest.approx(float(fit.tvalues[0]), rel=1e-10)


def test_hac_tstat_edge_cases() -> None:
    with pytest.raises(ValueError, match="lags"):
        hac_tstat(np.arange(5.0), lags=0)
    with pytest.raises(ValueError, match="finite"):
        hac_tstat(np.array([0.1, np.nan]), lags=1)
    constant = hac_tstat(np.full(7, 0.1), lags=3)  # mean 0.09999999999999999: no noise se
    assert (constant["se"], constant["t"]) == (0.0, None)
    assert hac_tstat(np.array([0.1]), lags=3) == {
        "mean": 0.1,
        "se": None,
        "t": None,
        "lags": 3,
        "n": 1,
    }
    assert hac_tstat(np.array([]), lags=3)["mean"] is None
    # Lags past n - 1 have no autocovariance to add; the Bartlett weights still use lags + 1.
    x = np.array([0.1, -0.2, 0.3])
    by_hand = (
        np.mean((x - x.mean()) ** 2)
        + 2 * (1 - 1 / 6) * np.mean((x[1:] - x.mean()) * (x[:-1] - x.mean())) * 2 / 3
        + 2 * (1 - 2 / 6) * (x[2] - x.mean()) * (x[0] - x.mean()) / 3
    )
    assert hac_tstat(x, lags=5)["se"] == pytest.approx(math.sqrt(by_hand / 3))
