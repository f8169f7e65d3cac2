"""volatility_metrics on tiny examples; every expected value is worked out by hand below."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ifns_train.evaluation.risk import volatility_metrics
from tests.evaluation.plain import assert_plain_json

# 4 rows of annualised volatility.
#   idx         0     1     2     3
#   pred        .2    .1    .4    .2
#   y           .2    .2    .2    .1
#   y / pred    1     2     .5    .5
#   r = y²/p²   1     4     .25   .25
#   pred - y    0    -.1    .2    .1
PRED = np.array([0.2, 0.1, 0.4, 0.2])
Y = np.array([0.2, 0.2, 0.2, 0.1])
LN2 = math.log(2)


def test_qlike_punishes_under_prediction_more() -> None:
    m = volatility_metrics(PRED, Y)
    assert m["rows"] == 4
    # r - ln r - 1 per row:
    #   r = 1:    1 - 0 - 1                       = 0
    #   r = 4:    4 - ln 4 - 1   = 3 - 1.38629     = 1.61371   (pred half the truth)
    #   r = .25:  .25 + ln 4 - 1 = 1.38629 - .75   = 0.63629   (pred twice the truth), twice
    #   mean = (3 - ln 4 + 2 ln 4 - 1.5) / 4 = (1.5 + ln 4) / 4 = 0.72157
    assert m["qlike"] == pytest.approx((1.5 + 2 * LN2) / 4)
    assert m["qlike"] == pytest.approx(0.72157, abs=1e-5)


def test_error_metrics_and_corr() -> None:
    m = volatility_metrics(PRED, Y)
    assert m["rmse"] == pytest.approx(math.sqrt(0.015))  # (0 + .01 + .04 + .01) / 4 = .015
    assert m["mae"] == pytest.approx(0.1)  # (0 + .1 + .2 + .1) / 4
    assert m["bias"] == pytest.approx(0.05)  # (0 - .1 + .2 + .1) / 4
    # log pred - log y = -ln(y / pred) = 0, -ln 2, ln 2, ln 2 -> mean square .75 ln² 2
    assert m["log_rmse"] == pytest.approx(LN2 * math.sqrt(0.75))  # 0.60028
    # corr in units of .025: pred mean .225 -> dev -1 -5 7 -1;  y mean .175 -> dev 1 1 1 -3
    #   cov sum = -1 - 5 + 7 + 3 = 4;  Spp = 1 + 25 + 49 + 1 = 76;  Syy = 1 + 1 + 1 + 9 = 12
    #   corr = 4 / sqrt(76 * 12) = 4 / sqrt(912) = 0.13245
    assert m["corr"] == pytest.approx(4 / math.sqrt(912))


def test_perfect_forecast_scores_zero_loss() -> None:
    m = volatility_metrics(Y, Y)
    # r = 1 everywhere -> 1 - 0 - 1 = 0; all errors 0; corr of y with itself 1
    assert m["qlike"] == 0.0
    assert m["rmse"] == 0.0 and m["mae"] == 0.0 and m["bias"] == 0.0 and m["log_rmse"] == 0.0
    assert m["corr"] == pytest.approx(1.0)


def test_constant_forecast_has_no_corr() -> None:
    # pred .2 everywhere vs y .2 .2 .2 .1: only idx 3 is off, r = .25 -> qlike .63629 / 4
    m = volatility_metrics(np.full(4, 0.2), Y)
    assert m["corr"] is None
    assert m["qlike"] == pytest.approx((2 * LN2 - 0.75) / 4)
    json.dumps(m, allow_nan=False)


def test_empty_input_is_all_none() -> None:
    m = volatility_metrics(np.array([]), np.array([]))
    assert m == {
        "rows": 0,
        "qlike": None,
        "rmse": None,
        "mae": None,
        "bias": None,
        "corr": None,
        "log_rmse": None,
    }


def test_output_is_plain_json() -> None:
    m = volatility_metrics(PRED.astype(np.float32), Y.astype(np.float32))
    assert_plain_json(m)
    assert type(m["rows"]) is int and None not in m.values()


@pytest.mark.parametrize(
    ("pred", "y"),
    [
        ([0.2, 0.0], [0.2, 0.2]),  # zero forecast
        ([0.2, 0.2], [0.2, -0.1]),  # negative realised
        ([0.2, float("nan")], [0.2, 0.2]),  # NaN
        ([0.2, 0.2], [0.2, 0.2, 0.2]),  # length mismatch
        ([[0.2, 0.2]], [[0.2, 0.2]]),  # 2-D
    ],
)
def test_rejects_malformed_input(pred: list, y: list) -> None:
    with pytest.raises(ValueError):
        volatility_metrics(np.array(pred), np.array(y))


def test_random_inputs_against_numpy() -> None:
    rng = np.random.default_rng(10)
    y = np.round(0.2 * np.exp(0.4 * rng.normal(size=2000)), 3)
    pred = np.round(0.2 * np.exp(0.3 * rng.normal(size=2000)), 3)
    r = (y / pred) ** 2
    m = volatility_metrics(pred, y)
    assert m["qlike"] == pytest.approx(np.mean(r - np.log(r) - 1), rel=1e-12)
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((pred - y) ** 2)), rel=1e-12)
    assert m["mae"] == pytest.approx(np.mean(np.abs(pred - y)), rel=1e-12)
    assert m["bias"] == pytest.approx(np.mean(pred - y), rel=1e-12)
    assert m["corr"] == pytest.approx(np.corrcoef(pred, y)[0, 1], rel=1e-12)
    assert m["log_rmse"] == pytest.approx(np.sqrt(np.mean(np.log(pred / y) ** 2)), rel=1e-12)
