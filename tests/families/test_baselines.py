"""Each family's naive baselines and losses, against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ifns_train.core.errors import ConfigError
from ifns_train.data.resolve import Split, Table
from ifns_train.data.splits import symbol_last_rows
from ifns_train.families.base import trailing_label_stat
from ifns_train.families.dir_core import DirCoreModule
from ifns_train.families.exec_cost import ExecCostModule
from ifns_train.families.ret_core import RetCoreModule
from ifns_train.families.risk_vol import RiskVolModule, qlike_scale
from ifns_train.families.struct_aware import StructAwareModule
from tests.defaults import module_kwargs


def _split(label, *, symbols=None, extras=None, context=None, rows=None) -> Split:
    label = np.asarray(label, dtype=np.float32)
    n = len(label)
    symbols = np.asarray(symbols if symbols is not None else ["A"] * n, dtype=object)
    starts = np.r_[True, symbols[1:] != symbols[:-1]]
    history = np.arange(n) - np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    table = Table(
        dataset_id="DS_T_V1", fingerprint="x", features=np.zeros((n, 1), np.float32),
        label=label, dates=np.arange(n).astype("datetime64[D]").astype("datetime64[ns]"),
        symbols=symbols,
        context={k: np.asarray(v, dtype=object) for k, v in (context or {}).items()},
        extras={k: np.asarray(v, dtype=np.float32) for k, v in (extras or {}).items()},
        history=history,
        last_row=symbol_last_rows(symbols),
    )
    return Split("test", table, np.arange(n) if rows is None else np.asarray(rows))


def test_dir_core_baselines() -> None:
    train = _split([1, 0, 1, 1], extras={"mom": [0.1, 0.2, -0.1, -0.3]})
    test = _split([0, 0], extras={"mom": [0.05, -0.2]})
    out = DirCoreModule.baselines(train, test, {"momentum_column": "mom"})
    # Prior 3/4; up-rate after a positive trailing return 1/2, after a negative one 2/2.
    assert out["class_prior"]["prob"].tolist() == [0.75, 0.75]
    assert out["class_prior"]["pred"].tolist() == [1.0, 1.0]
    assert out["momentum_sign"]["prob"].tolist() == [0.5, 1.0]
    assert out["momentum_sign"]["pred"].tolist() == [1.0, 0.0]


def test_struct_aware_regime_base_rate_and_primary_signal() -> None:
    train = _split([1, 0, 1, 1], context={"regime_tag": ["a", "a", "b", "b"]})
    test = _split([0, 0, 0], context={"regime_tag": ["b", "a", "c"]},
                  extras={"mom": [0.1, -0.1, 0.0]})
    out = StructAwareModule.baselines(train, test, {"primary_column": "mom"})
    # a: 1/2, b: 2/2; regime c was never seen in training: the overall rate 3/4.
    assert out["regime_base_rate"]["prob"].tolist() == [1.0, 0.5, 0.75]
    inputs = StructAwareModule.evaluation_inputs(test, {"primary_column": "mom"})
    assert inputs["primary_up"].tolist() == [1.0, 0.0, 0.0]


def test_ret_core_baselines() -> None:
    test = _split([0.01, -0.02], extras={"r120": [0.12, -0.06]})
    out = RetCoreModule.baselines(test, test, {"trailing_column": "r120", "trailing_days": 120,
                                               "horizon_days": 20})
    assert out["zero"]["pred"].tolist() == [0.0, 0.0]
    # A 120-day return of 12% is 2% per 20 days; -6% is -1%.
    assert out["trailing_mean"]["pred"] == pytest.approx([0.02, -0.01], abs=1e-7)


def test_trailing_cost_uses_only_costs_already_realised() -> None:
    # Symbol A rows 0-4, symbol B rows 5-7; a cost label of row t is realised one day later.
    split = _split([10, 20, 30, 40, np.nan, 100, 200, 300], symbols=list("AAAAABBB"))
    got = trailing_label_stat(split, window=2, horizon=1, stat="mean")
    # Row 0: nothing realised yet. Row 1: {10}. Row 2: {10, 20}. Row 3: {20, 30}. Row 4:
    # {30, 40}. Row 5 (first of B): nothing (A's costs are another symbol's). Row 6: {100}.
    # Row 7: {100, 200}.
    expected = [np.nan, 10, 15, 25, 35, np.nan, 100, 150]
    np.testing.assert_allclose(got, expected)
    # With a 2-day horizon the label of t-1 is not known yet at t: row 3 sees rows 0..1.
    assert trailing_label_stat(split, window=2, horizon=2, stat="mean")[3] == 15
    # Medians over 3 realised costs: row 3 {10, 20, 30} -> 20; row 4 {20, 30, 40} -> 30.
    median = trailing_label_stat(split, window=3, horizon=1, stat="median")
    np.testing.assert_allclose(median, [np.nan, 10, 15, 20, 30, np.nan, 100, 150])


def test_exec_cost_median_baselines() -> None:
    params = {"vol_column": "vol", "log_dollar_volume_column": "ldv", "order_notional_usd": 1e6,
              "trailing_window": 2, "horizon_days": 1}
    extras = {"vol": np.full(5, 0.2), "ldv": np.full(5, 15.0)}
    # Spread-like costs: zero on most days, so the median (0) and the mean (6) differ.
    train = _split([0, 0, 0, 10, 20], extras=extras)
    test = _split([0, 30, 0], extras={k: v[:3] for k, v in extras.items()})
    out = ExecCostModule.baselines(train, test, params)
    assert out["median_cost"]["pred"].tolist() == [0.0, 0.0, 0.0]
    # Trailing over the test rows' own realised costs: none at row 0 (the training median),
    # {0} at row 1, {0, 30} at row 2 (median 15; the trailing mean fills row 0 with 6).
    assert out["trailing_median_cost"]["pred"].tolist() == [0.0, 0.0, 15.0]
    assert out["trailing_mean_cost"]["pred"].tolist() == [6.0, 0.0, 15.0]


def test_risk_vol_scaled_baselines_minimise_qlike_on_train() -> None:
    # Realised vol is 1.2x then 0.6x the forecast: c² = (1.44 + 0.36) / 2 = 0.9.
    assert qlike_scale(np.array([0.24, 0.12]), np.array([0.2, 0.2])) == pytest.approx(
        math.sqrt(0.9))
    params = {"trailing_vol_column": "tv", "ewma_vol_column": "ev"}
    train = _split([0.24, 0.12, 0.0], extras={"tv": [0.2, 0.2, 0.2], "ev": [0.1, 0.1, 0.1]})
    test = _split([0.3], extras={"tv": [0.5], "ev": [0.25]})
    out = RiskVolModule.baselines(train, test, params)
    assert out["trailing_vol"]["pred"] == pytest.approx([0.5])
    # The zero-vol training row has no QLIKE and is left out of the fit.
    assert out["trailing_vol_scaled"]["pred"] == pytest.approx([0.5 * math.sqrt(0.9)])
    # EWMA: ratios 2.4 and 1.2, c² = (5.76 + 1.44) / 2 = 3.6.
    assert out["ewma_vol_scaled"]["pred"] == pytest.approx([0.25 * math.sqrt(3.6)], rel=1e-6)
    # No other factor does better on the training rows.
    y, f = np.array([0.24, 0.12]), np.array([0.2, 0.2])

    def qlike(c: float) -> float:
        r = (y / (c * f)) ** 2
        return float(np.mean(r - np.log(r) - 1))

    best = qlike(math.sqrt(0.9))
    assert all(qlike(math.sqrt(0.9) * k) > best for k in (0.9, 0.99, 1.01, 1.1))


def test_sqrt_impact_baseline_is_fitted_on_training_rows() -> None:
    params = {"vol_column": "vol", "log_dollar_volume_column": "ldv", "order_notional_usd": 1e6,
              "trailing_window": 5, "horizon_days": 1}
    # vol = sigma_bps * sqrt(252) / 1e4 and dollar volume = order notional, so the
    # square-root term sigma_bps * sqrt(order / dollar volume) equals sigma_bps.
    sigma = np.array([5.0, 10.0, 20.0, 40.0])
    extras = {"vol": sigma * math.sqrt(252) / 1e4, "ldv": np.full(4, math.log(1e6))}
    train = _split(2.0 + 3.0 * sigma, extras=extras)  # cost = 2 + 3 * term, exactly
    test = _split([0.0, 0.0], extras={"vol": np.array([1.0, 8.0]) * math.sqrt(252) / 1e4,
                                      "ldv": np.full(2, math.log(4e6))})
    out = ExecCostModule.baselines(train, test, params)
    # Dollar volume 4x the order halves the term: 1 * 0.5 and 8 * 0.5.
    assert out["sqrt_impact"]["pred"] == pytest.approx([2 + 3 * 0.5, 2 + 3 * 4.0], rel=1e-5)


def test_risk_vol_qlike_loss_and_positive_forecasts() -> None:
    model = RiskVolModule(n_features=1, target_mean=math.log(0.2**2), target_std=1.0,
                          **module_kwargs("family=risk_vol"))
    zero = torch.zeros(2)
    # Output 0 is the mean log variance: sigma 0.2. Realised 0.2: ratio 1, loss 0. Realised 0.4:
    # ratio 4, loss 4 - ln 4 - 1 = 1.6137; the mean over the two rows is 0.8069.
    loss = model.loss(zero, torch.tensor([0.2, 0.4]))
    assert float(loss) == pytest.approx((4 - math.log(4) - 1) / 2, rel=1e-5)
    pred = model.outputs_to_predictions(np.array([0.0, -1.0, 3.0]))["pred"]
    assert pred[0] == pytest.approx(0.2)
    assert pred[1] == pytest.approx(0.2 * math.exp(-0.5))  # log variance one lower
    assert (pred > 0).all()


def test_exec_cost_huber_is_in_basis_points() -> None:
    model = ExecCostModule(n_features=1, target_mean=10.0, target_std=2.0,
                           **module_kwargs("family=exec_cost", huber_delta=5.0))
    # Output 0 -> 10 bps. Target 20: error 10 > delta 5, loss 5 * (10 - 2.5) = 37.5.
    # Output 1 -> 12 bps. Target 14: error 2 <= 5, loss 0.5 * 4 = 2. Mean 19.75.
    loss = model.loss(torch.tensor([0.0, 1.0]), torch.tensor([20.0, 14.0]))
    assert float(loss) == pytest.approx(19.75)
    assert model.outputs_to_predictions(np.array([1.5]))["pred"].tolist() == [13.0]


def test_unknown_loss_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"family\.loss 'mse' is not one of risk_vol's"):
        RiskVolModule(n_features=1, **module_kwargs("family=risk_vol", loss="mse"))
