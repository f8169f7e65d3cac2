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
    assert rep["best_baseline"] == "close"  # lower MAE is better
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
    assert rep["best_baseline"] is None
    assert "baseline" not in key_metrics("return", rep)
