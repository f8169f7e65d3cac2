"""The split report: model and baselines on the same rows, the best baseline, per-slice cells."""

from __future__ import annotations

import numpy as np
import pytest

from ifns_train.evaluation.report import key_metrics, split_report


def test_cost_report_picks_the_best_baseline_and_slices_every_predictor() -> None:
    y = np.array([10.0, 20.0, 30.0, 40.0])
    model = {"pred": np.array([12.0, 18.0, 30.0, 44.0])}  # |errors| 2, 2, 0, 4: MAE 2
    baselines = {
        "flat": {"pred": np.full(4, 25.0)},  # |errors| 15, 5, 5, 15: MAE 10
        "close": {"pred": np.array([10.0, 25.0, 30.0, 40.0])},  # |errors| 0, 5, 0, 0: MAE 1.25
    }
    context = {"regime_tag": np.array(["a", "a", "b", "b"], dtype=object)}
    rep = split_report("cost", y=y, model=model, baselines=baselines, context=context,
                       min_rows=2)
    assert rep["model"]["mae_bps"] == 2.0
    assert rep["best_baseline"]["mae_bps"] == "close"  # lower MAE is better
    # RMSE: flat sqrt((225 + 25 + 25 + 225) / 4) = 11.18, close sqrt(25 / 4) = 2.5.
    assert rep["best_baseline"]["rmse_bps"] == "close"
    assert rep["improvement_over_best"]["mae_bps"] == pytest.approx(0.75)
    assert rep["improvement"]["close"]["mae_bps"] == pytest.approx(0.75)
    assert rep["improvement"]["flat"]["mae_bps"] == pytest.approx(-8.0)
    a = rep["slices"]["regime_tag"]["a"]
    # Regime a: model errors 2, 2 (MAE 2); flat 15, 5 (10); close 0, 5 (2.5).
    assert (a["rows"], a["small_slice"]) == (2, False)
    assert a["model"]["mae_bps"] == 2.0 and a["baselines"]["close"]["mae_bps"] == 2.5
    assert a["improvement"]["flat"]["mae_bps"] == pytest.approx(-8.0)
    key = key_metrics("cost", rep)
    assert key["baseline"]["mae_bps"] == 1.25 and key["improvement"]["mae_bps"] == 0.75


def test_constant_forecast_without_ic_cannot_be_the_best_baseline() -> None:
    dates = np.repeat(np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[D]"), 5)
    y = np.array([1, 2, 3, 4, 5, 5, 4, 3, 2, 1], dtype=float)
    model = {"pred": y.copy()}  # rank IC 1 on both dates
    rep = split_report("return", y=y, model=model, baselines={"zero": {"pred": np.zeros(10)}},
                       context={}, inputs={"dates": dates})
    assert rep["model"]["rank_ic_mean"] == pytest.approx(1.0)
    assert rep["baselines"]["zero"]["rank_ic_mean"] is None
    assert "rank_ic_mean" not in rep["best_baseline"]
    assert rep["best_baseline"]["rmse"] == "zero"
    key = key_metrics("return", rep)
    assert "rank_ic_mean" not in key["baseline"] and "rank_ic_mean" not in key["improvement"]


def test_the_best_baseline_is_chosen_per_metric() -> None:
    # A median forecast wins on MAE, a mean forecast on RMSE (labels 0, 0, 0, 10).
    y = np.array([0.0, 0.0, 0.0, 10.0])
    baselines = {"median": {"pred": np.zeros(4)}, "mean": {"pred": np.full(4, 2.5)}}
    rep = split_report("cost", y=y, model={"pred": np.full(4, 1.0)}, baselines=baselines,
                       context={}, min_rows=1)
    # MAE: median 10 / 4 = 2.5, mean (2.5 * 3 + 7.5) / 4 = 3.75, model (1 * 3 + 9) / 4 = 3.
    # RMSE: median sqrt(100 / 4) = 5, mean sqrt((6.25 * 3 + 56.25) / 4) = 4.33, model
    # sqrt((3 + 81) / 4) = 4.58.
    assert rep["best_baseline"]["mae_bps"] == "median"
    assert rep["best_baseline"]["rmse_bps"] == "mean"
    key = key_metrics("cost", rep)
    assert key["baseline"]["mae_bps"] == pytest.approx(2.5)
    assert key["improvement"]["mae_bps"] == pytest.approx(0.5)
    assert key["baseline"]["rmse_bps"] == pytest.approx(np.sqrt(75 / 4))
    assert key["improvement"]["rmse_bps"] == pytest.approx(np.sqrt(21) - np.sqrt(75 / 4))
    assert "bias_bps" not in key["best_baseline"]  # no direction: not compared
