"""cost_metrics on tiny examples; every expected value is worked out by hand below."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ifns_train.evaluation.cost import cost_metrics
from tests.evaluation.plain import assert_plain_json

# 5 rows, bps.
#   idx          0    1    2    3    4
#   pred        10    5    8   20    3
#   y           12    5    4   10    2
#   pred - y    -2    0    4   10    1
#   |pred - y|   2    0    4   10    1
PRED = np.array([10.0, 5.0, 8.0, 20.0, 3.0])
Y = np.array([12.0, 5.0, 4.0, 10.0, 2.0])


def test_error_metrics() -> None:
    m = cost_metrics(PRED, Y)
    assert m["rows"] == 5
    assert m["mae_bps"] == pytest.approx(3.4)  # (2 + 0 + 4 + 10 + 1) / 5 = 17 / 5
    assert m["rmse_bps"] == pytest.approx(math.sqrt(24.2))  # (4 + 0 + 16 + 100 + 1) / 5
    assert m["bias_bps"] == pytest.approx(2.6)  # (-2 + 0 + 4 + 10 + 1) / 5 = 13 / 5


def test_p90_uses_linear_interpolation() -> None:
    # sorted |err| 0 1 2 4 10; position .9 * (5 - 1) = 3.6 -> between 4 (pos 3) and 10 (pos 4)
    #   4 + .6 * (10 - 4) = 7.6   ("lower" would give 4, "higher"/"nearest" 10)
    assert cost_metrics(PRED, Y)["p90_abs_error_bps"] == pytest.approx(7.6)


def test_corr() -> None:
    # pred mean 46 / 5 = 9.2 -> dev .8 -4.2 -1.2 10.8 -6.2
    # y mean 33 / 5 = 6.6    -> dev 5.4 -1.6 -2.6 3.4 -4.6
    #   cov sum = 4.32 + 6.72 + 3.12 + 36.72 + 28.52 = 79.4
    #   Spp = .64 + 17.64 + 1.44 + 116.64 + 38.44 = 174.8
    #   Syy = 29.16 + 2.56 + 6.76 + 11.56 + 21.16 = 71.2
    #   corr = 79.4 / sqrt(174.8 * 71.2) = 79.4 / 111.5606 = 0.71172
    m = cost_metrics(PRED, Y)
    assert m["corr"] == pytest.approx(79.4 / math.sqrt(174.8 * 71.2))
    assert m["corr"] == pytest.approx(0.71172, abs=1e-5)


def test_negative_costs_and_constant_target() -> None:
    # Price improvement is a negative cost; y constant -> corr undefined.
    #   pred -1 1 3 1, y 1 1 1 1 -> err -2 0 2 0;  |err| sorted 0 0 2 2
    #   p90: position .9 * 3 = 2.7 -> between 2 and 2 = 2
    m = cost_metrics(np.array([-1.0, 1.0, 3.0, 1.0]), np.ones(4))
    assert m["corr"] is None
    assert m["bias_bps"] == 0.0  # (-2 + 0 + 2 + 0) / 4
    assert m["mae_bps"] == pytest.approx(1.0)  # 4 / 4
    assert m["rmse_bps"] == pytest.approx(math.sqrt(2.0))  # (4 + 0 + 4 + 0) / 4
    assert m["p90_abs_error_bps"] == pytest.approx(2.0)
    json.dumps(m, allow_nan=False)


def test_empty_input_is_all_none() -> None:
    m = cost_metrics(np.array([]), np.array([]))
    assert m["rows"] == 0
    assert all(v is None for k, v in m.items() if k != "rows")
    assert set(m) == {"rows", "mae_bps", "rmse_bps", "bias_bps", "p90_abs_error_bps", "corr"}


def test_output_is_plain_json() -> None:
    m = cost_metrics(PRED.astype(np.float32), Y.astype(np.int64))
    assert_plain_json(m)
    assert type(m["rows"]) is int and None not in m.values()


@pytest.mark.parametrize(
    ("pred", "y"),
    [
        ([1.0, 2.0], [1.0]),  # length mismatch
        ([1.0, float("inf")], [1.0, 2.0]),  # inf
        ([1.0, 2.0], [float("nan"), 2.0]),  # NaN
        ([[1.0, 2.0]], [[1.0, 2.0]]),  # 2-D
    ],
)
def test_rejects_malformed_input(pred: list, y: list) -> None:
    with pytest.raises(ValueError):
        cost_metrics(np.array(pred), np.array(y))


def test_random_inputs_against_numpy() -> None:
    # Heavy-tailed costs with ties: p90 is exactly np.percentile's; the rest plain numpy.
    rng = np.random.default_rng(9)
    y = np.round(np.exp(2 + rng.normal(size=2000)), 0)
    pred = np.round(np.exp(2 + 0.5 * rng.normal(size=2000)), 1)
    err = pred - y
    m = cost_metrics(pred, y)
    assert m["p90_abs_error_bps"] == np.percentile(np.abs(err), 90)
    assert m["mae_bps"] == pytest.approx(np.mean(np.abs(err)), rel=1e-12)
    assert m["rmse_bps"] == pytest.approx(np.sqrt(np.mean(err**2)), rel=1e-12)
    assert m["bias_bps"] == pytest.approx(np.mean(err), rel=1e-12)
    assert m["corr"] == pytest.approx(np.corrcoef(pred, y)[0, 1], rel=1e-12)
