"""return_metrics on tiny examples; every expected value is worked out by hand below."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import pearsonr, rankdata, spearmanr

from ifns_train.evaluation.regression import average_ranks, return_metrics
from tests.defaults import horizon_days
from tests.evaluation.plain import assert_plain_json

H = horizon_days()  # the default run's label horizon

# Pooled example, 4 rows.
#   idx    0   1   2   3
#   pred   2   2   3   7      (tie: 2, 2)
#   y      1   3   2   6
#   err    1  -1   1   1      err = pred - y
PRED = np.array([2.0, 2.0, 3.0, 7.0])
Y = np.array([1.0, 3.0, 2.0, 6.0])


def test_pooled_accuracy() -> None:
    m = return_metrics(PRED, Y, horizon_days=H)
    assert m["rows"] == 4
    # mean y = 12 / 4 = 3; y - 3 = -2 0 -1 3 -> SST = 4 + 0 + 1 + 9 = 14
    # SSE = 1 + 1 + 1 + 1 = 4 -> r2 = 1 - 4 / 14 = 5 / 7
    assert m["r2"] == pytest.approx(5 / 7)
    assert m["rmse"] == pytest.approx(1.0)  # sqrt(4 / 4)
    assert m["mae"] == pytest.approx(1.0)  # (1 + 1 + 1 + 1) / 4
    assert m["bias"] == pytest.approx(0.5)  # (1 - 1 + 1 + 1) / 4


def test_pearson_and_spearman_with_a_tie() -> None:
    m = return_metrics(PRED, Y, horizon_days=H)
    # Pearson: mean pred = 14 / 4 = 3.5; pred - 3.5 = -1.5 -1.5 -.5 3.5; y - 3 = -2 0 -1 3
    #   cov sum = 3 + 0 + .5 + 10.5 = 14;  Spp = 2.25 + 2.25 + .25 + 12.25 = 17;  Syy = 14
    #   r = 14 / sqrt(17 * 14) = sqrt(14 / 17) = 0.90749
    assert m["pearson"] == pytest.approx(math.sqrt(14 / 17))
    # Spearman: pred ranks 1.5 1.5 3 4 (the two 2s share ranks 1 and 2); y ranks 1 3 2 4
    #   both mean 2.5: pred dev -1 -1 .5 1.5;  y dev -1.5 .5 -.5 1.5
    #   cov sum = 1.5 - .5 - .25 + 2.25 = 3;  Spp = 1 + 1 + .25 + 2.25 = 4.5;  Syy = 5
    #   rho = 3 / sqrt(4.5 * 5) = sqrt(9 / 22.5) = sqrt(.4) = 0.63246
    #   (the no-ties shortcut 1 - 6 * sum d^2 / (n (n^2 - 1)) would give 1 - 21 / 60 = 0.65)
    assert m["spearman"] == pytest.approx(math.sqrt(0.4), rel=1e-12)  # float64, not float32


def test_average_ranks_share_ties() -> None:
    # sorted: 1.0 (rank 1), 5.0 5.0 5.0 (ranks 2 3 4 -> 3 each), 7.0 (rank 5)
    assert average_ranks(np.array([5.0, 1.0, 5.0, 7.0, 5.0])).tolist() == [3, 1, 3, 5, 3]


def test_r2_is_scale_free_for_return_sized_values() -> None:
    # The pooled example / 1000: SSE = 4e-6, SST = 14e-6 -> r2 still 5 / 7. (torchmetrics'
    # r2_score treats sums below an absolute 1e-4 as zero and would report 1.0 here.)
    m = return_metrics(PRED / 1000, Y / 1000, horizon_days=H)
    assert m["r2"] == pytest.approx(5 / 7)
    assert m["rmse"] == pytest.approx(1e-3)


def test_negative_r2_and_undefined_correlations() -> None:
    # y constant 1 1 1 1: SST = 0 -> r2 undefined; constant side -> no correlation
    m = return_metrics(np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0, 1.0]),
                       horizon_days=H)
    assert m["r2"] is None and m["pearson"] is None and m["spearman"] is None
    assert m["bias"] == pytest.approx(0.5)  # (-1 + 0 + 1 + 2) / 4
    # pred 3 2 1 0 vs y 0 1 2 3: SSE = 9 + 1 + 1 + 9 = 20, SST = 2.25 + .25 + .25 + 2.25 = 5
    #   r2 = 1 - 20 / 5 = -3 (worse than predicting the mean); r = rho = -1
    m = return_metrics(np.array([3.0, 2.0, 1.0, 0.0]), np.array([0.0, 1.0, 2.0, 3.0]),
                       horizon_days=H)
    assert m["r2"] == pytest.approx(-3.0)
    assert m["pearson"] == pytest.approx(-1.0)
    assert m["spearman"] == pytest.approx(-1.0)


# Cross-section. pred is 1 2 3 4 5 on every 5-name date, so its deviations are -2 -1 0 1 2
# (sum of squares 10); each y is a permutation of 1..5 (deviations from 3, squares sum 10),
# so IC = (sum of dev products) / 10 and, ranks being the values, rank IC = IC.
#   D1  y 2 1 4 3 5   y dev -1 -2  1  0  2   products 2 2 0 0 4   = 8  -> IC  .8
#   D2  y 1 3 4 5 2   y dev -2  0  1  2 -1   products 4 0 0 2 -2  = 4  -> IC  .4
#   D3  y 2 5 3 1 4   y dev -1  2  0 -2  1   products 2 -2 0 -2 2 = 0  -> IC  0
#   D4  3 names only: pred 1 2 3, y 3 2 1 -> IC -1, but 3 < min_names = 5: skipped
#   D5  pred constant .5 (5 names) -> no correlation: skipped
#   D6  y constant 2 (5 names) -> no correlation: skipped
_P5 = [1.0, 2.0, 3.0, 4.0, 5.0]
_BLOCKS = [
    ("2024-01-01", _P5, [2.0, 1.0, 4.0, 3.0, 5.0]),
    ("2024-01-02", _P5, [1.0, 3.0, 4.0, 5.0, 2.0]),
    ("2024-01-03", _P5, [2.0, 5.0, 3.0, 1.0, 4.0]),
    ("2024-01-04", [1.0, 2.0, 3.0], [3.0, 2.0, 1.0]),
    ("2024-01-05", [0.5] * 5, _P5),
    ("2024-01-08", _P5, [2.0] * 5),
]
# Rows in reverse order: grouping must not depend on rows being sorted by date.
XS_DATES = np.array([d for d, p, _ in _BLOCKS for _ in p], dtype="datetime64[D]")[::-1]
XS_PRED = np.array([v for _, p, _ in _BLOCKS for v in p])[::-1]
XS_Y = np.array([v for _, _, y in _BLOCKS for v in y])[::-1]


def test_cross_sectional_ic_skips_small_and_constant_dates() -> None:
    m = return_metrics(XS_PRED, XS_Y, XS_DATES, horizon_days=20)
    assert m["rows"] == 28  # 5 + 5 + 5 + 3 + 5 + 5
    # used: D1 .8, D2 .4, D3 0 -> mean .4; deviations .4 0 -.4 -> var = .32 / 2 = .16
    #   std = .4 (ddof 1), IR = .4 / .4 = 1; IC > 0 on D1, D2 (0 is not > 0) -> 2 / 3
    assert m["ic_dates"] == 3
    assert m["ic_mean"] == pytest.approx(0.4)
    assert m["ic_std"] == pytest.approx(0.4)
    assert m["ic_ir"] == pytest.approx(1.0)
    assert m["ic_hit_rate"] == pytest.approx(2 / 3)
    # annualised with 20-day horizon: 1 * sqrt(252 / 20) = sqrt(12.6) = 3.54965
    assert m["ic_ir_annualised"] == pytest.approx(math.sqrt(12.6))
    # ranks are the values on every used date -> the same numbers
    assert m["rank_ic_mean"] == pytest.approx(0.4)
    assert m["rank_ic_std"] == pytest.approx(0.4)
    assert m["rank_ic_ir"] == pytest.approx(1.0)
    # horizon 5 days: sqrt(252 / 5) = sqrt(50.4) = 7.09930
    m5 = return_metrics(XS_PRED, XS_Y, XS_DATES, horizon_days=5)
    assert m5["ic_ir_annualised"] == pytest.approx(math.sqrt(50.4))


def test_min_names_lets_the_small_date_in() -> None:
    # min_names = 3 adds D4 (IC = rank IC = -1): ICs .8 .4 0 -1 -> mean .2 / 4 = .05
    #   deviations .75 .35 -.05 -1.05 -> squares .5625 .1225 .0025 1.1025 = 1.79
    #   std = sqrt(1.79 / 3) = 0.77244;  IC > 0 on 2 of 4 dates
    m = return_metrics(XS_PRED, XS_Y, XS_DATES, min_names=3, horizon_days=H)
    assert m["ic_dates"] == 4
    assert m["ic_mean"] == pytest.approx(0.05)
    assert m["ic_std"] == pytest.approx(math.sqrt(1.79 / 3))
    assert m["ic_ir"] == pytest.approx(0.05 / math.sqrt(1.79 / 3))
    assert m["ic_hit_rate"] == pytest.approx(0.5)


def test_rank_ic_differs_with_tie_and_single_date_has_no_ir() -> None:
    # One date, 5 names (string dates this time): pred 0 0 1 2 7, y 1 2 3 4 5.
    #   IC: mean pred 2, dev -2 -2 -1 0 5 (Spp 34); y dev -2 -1 0 1 2 (Syy 10)
    #       cov sum = 4 + 2 + 0 + 0 + 10 = 16 -> IC = 16 / sqrt(340) = 0.86772
    #   rank IC: pred ranks 1.5 1.5 3 4 5, dev -1.5 -1.5 0 1 2 (Spp 9.5); y rank dev -2..2
    #       cov sum = 3 + 1.5 + 0 + 1 + 4 = 9.5 -> 9.5 / sqrt(9.5 * 10) = sqrt(.95) = 0.97468
    pred = np.array([0.0, 0.0, 1.0, 2.0, 7.0])
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    m = return_metrics(pred, y, np.array(["d1"] * 5), horizon_days=H)
    assert m["ic_dates"] == 1
    assert m["ic_mean"] == pytest.approx(16 / math.sqrt(340))
    assert m["rank_ic_mean"] == pytest.approx(math.sqrt(0.95))
    assert m["ic_hit_rate"] == 1.0
    # one date: no sample std (ddof 1), hence no IR
    for key in ("ic_std", "ic_ir", "ic_ir_annualised", "rank_ic_std", "rank_ic_ir"):
        assert m[key] is None, key


def test_interleaved_dates_rank_within_their_own_date() -> None:
    # The tie date above (date 2) and D1 (date 1), rows alternating between the dates, so
    # ranks must be taken within each date, not across the whole array.
    #   date 1: pred 1 2 3 4 5, y 2 1 4 3 5 -> IC = rank IC = .8 (see D1 above)
    #   date 2: IC 16 / sqrt(340) = 0.86772, rank IC sqrt(.95) = 0.97468 (see above)
    #   IC mean (0.8 + 0.86772) / 2 = 0.83386;  rank IC mean (0.8 + 0.97468) / 2 = 0.88734
    #   sample std of two values a, b = |a - b| / sqrt(2)
    pred = np.array([1.0, 0.0, 2.0, 0.0, 3.0, 1.0, 4.0, 2.0, 5.0, 7.0])
    y = np.array([2.0, 1.0, 1.0, 2.0, 4.0, 3.0, 3.0, 4.0, 5.0, 5.0])
    dates = np.array([1, 2] * 5)
    m = return_metrics(pred, y, dates, horizon_days=H)
    ic2, rank_ic2 = 16 / math.sqrt(340), math.sqrt(0.95)
    assert m["ic_dates"] == 2
    assert m["ic_mean"] == pytest.approx((0.8 + ic2) / 2)
    assert m["ic_std"] == pytest.approx((ic2 - 0.8) / math.sqrt(2))
    assert m["rank_ic_mean"] == pytest.approx((0.8 + rank_ic2) / 2)
    assert m["rank_ic_std"] == pytest.approx((rank_ic2 - 0.8) / math.sqrt(2))
    assert m["rank_ic_ir"] == pytest.approx((0.8 + rank_ic2) / (rank_ic2 - 0.8) / math.sqrt(2))


def test_identical_ics_give_zero_std_and_no_ir() -> None:
    # D1's rows on two dates, in the same order: IC .8 on both -> std 0 -> IR undefined
    pred = np.array(_P5 * 2)
    y = np.array([2.0, 1.0, 4.0, 3.0, 5.0] * 2)
    m = return_metrics(pred, y, np.array([1] * 5 + [2] * 5), horizon_days=H)
    assert m["ic_dates"] == 2
    assert m["ic_mean"] == pytest.approx(0.8)
    assert m["ic_std"] == 0.0
    assert m["ic_ir"] is None and m["ic_ir_annualised"] is None and m["rank_ic_ir"] is None


def test_no_usable_date() -> None:
    # D4 alone: 3 names < 5 -> no IC at all, but the date count is a real 0
    m = return_metrics(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0]), np.array([7, 7, 7]),
                       horizon_days=H)
    assert m["ic_dates"] == 0
    assert m["ic_mean"] is None and m["ic_hit_rate"] is None and m["rank_ic_mean"] is None
    assert m["pearson"] == pytest.approx(-1.0)  # pooled metrics are unaffected


def test_without_dates_all_ic_keys_are_none() -> None:
    m = return_metrics(XS_PRED, XS_Y, horizon_days=H)
    ic_keys = [k for k in m if k.startswith(("ic_", "rank_ic_"))]
    assert len(ic_keys) == 9
    assert all(m[k] is None for k in ic_keys)


def test_output_is_plain_json() -> None:
    m = return_metrics(XS_PRED.astype(np.float32), XS_Y.astype(np.float32), XS_DATES,
                       horizon_days=H)
    assert_plain_json(m)
    assert type(m["rows"]) is int and type(m["ic_dates"]) is int
    json.dumps(m, allow_nan=False)


def test_empty_input_is_all_none() -> None:
    m = return_metrics(np.array([]), np.array([]), horizon_days=H)
    assert m["rows"] == 0
    assert all(v is None for k, v in m.items() if k != "rows")
    m = return_metrics(np.array([]), np.array([]), np.array([], dtype="datetime64[D]"),
                       horizon_days=H)
    assert m["ic_dates"] == 0
    json.dumps(m, allow_nan=False)


@pytest.mark.parametrize(
    ("pred", "y", "dates", "kwargs"),
    [
        ([[1.0, 2.0]], [[1.0, 2.0]], None, {}),  # 2-D
        ([1.0, 2.0], [1.0, 2.0, 3.0], None, {}),  # length mismatch
        ([1.0, float("nan")], [1.0, 2.0], None, {}),  # NaN pred
        ([1.0, 2.0], [1.0, float("inf")], None, {}),  # inf y
        ([1.0, 2.0], [1.0, 2.0], ["a"], {}),  # dates length mismatch
        ([1.0, 2.0], [1.0, 2.0], ["a", None], {}),  # missing date
        ([1.0, 2.0], [1.0, 2.0], None, {"min_names": 1}),  # too few names for a correlation
        ([1.0, 2.0], [1.0, 2.0], None, {"horizon_days": 0}),
    ],
)
def test_rejects_malformed_input(pred: list, y: list, dates: list | None, kwargs: dict) -> None:
    d = None if dates is None else np.array(dates, dtype=object)
    with pytest.raises(ValueError):
        return_metrics(np.array(pred), np.array(y), d, **{"horizon_days": H, **kwargs})


def test_random_inputs_against_scipy_and_a_loop_over_dates() -> None:
    # 40 dates x 30 names with ties: pooled Pearson / Spearman as scipy gives them; the
    # per-date ICs as a plain loop over dates computes them (np.corrcoef on values and on
    # scipy's average ranks), then their mean, sample std and hit rate.
    rng = np.random.default_rng(8)
    dates = np.repeat(np.arange(40), 30)
    pred = np.round(rng.normal(size=dates.size), 1)
    y = np.round(0.3 * pred + rng.normal(size=dates.size), 1)
    y[dates == 3] = 0.5  # a date with constant y: skipped
    m = return_metrics(pred, y, dates, horizon_days=H)
    assert m["pearson"] == pytest.approx(pearsonr(pred, y)[0], rel=1e-12)
    assert m["spearman"] == pytest.approx(spearmanr(pred, y)[0], rel=1e-12)
    ics, rank_ics = [], []
    for d in range(40):
        p, t = pred[dates == d], y[dates == d]
        if p.min() < p.max() and t.min() < t.max():
            ics.append(np.corrcoef(p, t)[0, 1])
            rank_ics.append(np.corrcoef(rankdata(p), rankdata(t))[0, 1])
    assert m["ic_dates"] == len(ics) == 39
    assert m["ic_mean"] == pytest.approx(np.mean(ics), rel=1e-12)
    assert m["ic_std"] == pytest.approx(np.std(ics, ddof=1), rel=1e-12)
    assert m["rank_ic_mean"] == pytest.approx(np.mean(rank_ics), rel=1e-12)
    assert m["rank_ic_std"] == pytest.approx(np.std(rank_ics, ddof=1), rel=1e-12)
    assert m["ic_hit_rate"] == pytest.approx(np.mean(np.array(ics) > 0))
