"""The split report: model and baselines on the same rows, the best baseline, per-slice cells."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from ifns_train.evaluation.report import METRIC_SETS, key_metrics, split_report
from ifns_train.evaluation.slices import by_slice
from tests.defaults import report_settings

SETTINGS = report_settings()  # min_rows, n_bins, horizon_days, gate_threshold of a run


def test_cost_report_picks_the_best_baseline_and_slices_every_predictor() -> None:
    y = np.array([10.0, 20.0, 30.0, 40.0])
    model = {"pred": np.array([12.0, 18.0, 30.0, 44.0])}  # |errors| 2, 2, 0, 4: MAE 2
    baselines = {
        "flat": {"pred": np.full(4, 25.0)},  # |errors| 15, 5, 5, 15: MAE 10
        "close": {"pred": np.array([10.0, 25.0, 30.0, 40.0])},  # |errors| 0, 5, 0, 0: MAE 1.25
    }
    context = {"regime_tag": np.array(["a", "a", "b", "b"], dtype=object)}
    rep = split_report("cost", y=y, model=model, baselines=baselines, context=context,
                       **{**SETTINGS, "min_rows": 2})
    assert rep["model"]["mae_bps"] == 2.0
    assert rep["best_baseline"]["mae_bps"] == "close"  # lower MAE is better
    # RMSE: flat sqrt((225 + 25 + 25 + 225) / 4) = 11.18, close sqrt(25 / 4) = 2.5.
    assert rep["best_baseline"]["rmse_bps"] == "close"
    # Improvements are baseline minus model for a loss: > 0 is better for the model.
    assert rep["improvement_over_best"]["mae_bps"] == pytest.approx(-0.75)
    assert rep["improvement"]["close"]["mae_bps"] == pytest.approx(-0.75)
    assert rep["improvement"]["flat"]["mae_bps"] == pytest.approx(8.0)
    a = rep["slices"]["regime_tag"]["a"]
    # Regime a: model errors 2, 2 (MAE 2); flat 15, 5 (10); close 0, 5 (2.5).
    assert (a["rows"], a["small_slice"]) == (2, False)
    assert a["model"]["mae_bps"] == 2.0 and a["baselines"]["close"]["mae_bps"] == 2.5
    assert a["improvement"]["flat"]["mae_bps"] == pytest.approx(8.0)
    key = key_metrics("cost", rep)
    assert key["baseline"]["mae_bps"] == 1.25 and key["improvement"]["mae_bps"] == -0.75


def test_constant_forecast_without_ic_cannot_be_the_best_baseline() -> None:
    dates = np.repeat(np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[D]"), 5)
    y = np.array([1, 2, 3, 4, 5, 5, 4, 3, 2, 1], dtype=float)
    model = {"pred": y.copy()}  # rank IC 1 on both dates
    rep = split_report("return", y=y, model=model, baselines={"zero": {"pred": np.zeros(10)}},
                       context={}, inputs={"dates": dates}, **SETTINGS)
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
                       context={}, **{**SETTINGS, "min_rows": 1})
    # MAE: median 10 / 4 = 2.5, mean (2.5 * 3 + 7.5) / 4 = 3.75, model (1 * 3 + 9) / 4 = 3.
    # RMSE: median sqrt(100 / 4) = 5, mean sqrt((6.25 * 3 + 56.25) / 4) = 4.33, model
    # sqrt((3 + 81) / 4) = 4.58.
    assert rep["best_baseline"]["mae_bps"] == "median"
    assert rep["best_baseline"]["rmse_bps"] == "mean"
    key = key_metrics("cost", rep)
    assert key["baseline"]["mae_bps"] == pytest.approx(2.5)
    # Losses improve by baseline minus model: the model (3) is 0.5 bps worse than the
    # median (2.5) on MAE, and 4.33 - 4.58 worse than the mean on RMSE.
    assert key["improvement"]["mae_bps"] == pytest.approx(-0.5)
    assert key["baseline"]["rmse_bps"] == pytest.approx(np.sqrt(75 / 4))
    assert key["improvement"]["rmse_bps"] == pytest.approx(np.sqrt(75 / 4) - np.sqrt(21))
    assert "bias_bps" not in key["best_baseline"]  # no direction: not compared


# --- The grouped slices against the reference: the set's metric function on each masked slice.

def _close(got: object, want: object, where: str = "") -> None:
    """Equal structure; floats equal to 1e-12 relative (1e-13 absolute near zero)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), where
        for k in want:
            _close(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _close(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert type(got) is float and got == pytest.approx(want, rel=1e-12, abs=1e-13), where
    else:
        assert got == want and type(got) is type(want), where


def _random_split(metric_set: str, seed: int) -> dict:
    """30 dates x 40 names, ties in every array; slices: 'regime' by date (4 values), 'band'
    by row (3 values and one of a single row), 'side' holding one group of one class, 'desk'
    a single value."""
    rng = np.random.default_rng(seed)
    n_dates, n_names = 30, 40
    n = n_dates * n_names
    dates = np.repeat(np.arange(n_dates), n_names).astype("datetime64[D]")
    regime = np.array(["bear", "bull", "calm", "wild"], dtype=object)[
        np.repeat(rng.integers(0, 4, n_dates), n_names)]
    band = np.array(["hi", "lo", "mid"], dtype=object)[rng.integers(0, 3, n)]
    band[rng.integers(n)] = "one"  # a slice of one row
    side = np.where(rng.random(n) < 0.1, "short", "long").astype(object)
    signal = np.round(rng.normal(size=n), 1)  # ties
    if metric_set == "directional":
        y = (signal + rng.normal(size=n) > 0).astype(float)
        y[side == "short"] = 1.0  # one class only: AUC undefined there
        prob = np.round(1 / (1 + np.exp(-signal)), 2)
        model = {"prob": prob}
        baselines = {"prior": {"prob": np.full(n, 0.5), "pred": np.ones(n)},
                     "sign": {"prob": np.where(signal > 0, 0.6, 0.4),
                              "pred": (signal > 0).astype(float)}}
    elif metric_set == "return":
        y = np.round(0.2 * signal + rng.normal(size=n), 1)
        model = {"pred": signal}
        baselines = {"zero": {"pred": np.zeros(n)},
                     "noisy": {"pred": np.round(signal + rng.normal(size=n), 0)}}
    elif metric_set == "risk":
        y = np.round(np.exp(0.3 * signal + 0.2 * rng.normal(size=n)), 1)
        model = {"pred": np.round(np.exp(0.3 * signal), 2)}
        baselines = {"flat": {"pred": np.full(n, 1.2)},
                     "noisy": {"pred": np.round(np.exp(0.3 * rng.normal(size=n)), 1)}}
    else:
        y = np.round(np.exp(2 + signal + rng.normal(size=n)), 0)
        model = {"pred": np.round(np.exp(2 + signal), 1)}
        baselines = {"median": {"pred": np.full(n, float(np.median(y)))},
                     "noisy": {"pred": np.round(np.exp(2 + rng.normal(size=n)), 0)}}
    return {"y": y, "model": model, "baselines": baselines,
            "context": {"regime": regime, "band": band, "side": side,
                        "desk": np.full(n, "all", dtype=object)},
            "inputs": {"dates": dates}}


@pytest.mark.parametrize("metric_set", ["directional", "return", "risk", "cost"])
@pytest.mark.parametrize("seed", [0, 1])
def test_grouped_slices_equal_the_metric_function_on_each_masked_slice(
    metric_set: str, seed: int
) -> None:
    kw = _random_split(metric_set, seed)
    rep = split_report(metric_set, **kw, **{**SETTINGS, "min_rows": 50})
    ms = METRIC_SETS[metric_set]
    fn = partial(ms.fn, **{k: SETTINGS[k] for k in ms.options})
    shared = {"y": kw["y"], **{k: kw["inputs"][k] for k in ms.inputs}}
    predictors = {"model": kw["model"], **kw["baselines"]}
    for name, preds in predictors.items():
        overall = fn(**shared, **preds)
        got_overall = rep["model"] if name == "model" else rep["baselines"][name]
        _close(got_overall, overall, f"{name}.overall")
        reference = by_slice(fn, {**shared, **preds}, kw["context"], min_rows=50)
        for column, cells in reference.items():
            assert list(rep["slices"][column]) == [str(k) for k in cells]
            for key, want in cells.items():
                cell = rep["slices"][column][str(key)]
                assert (cell["rows"], cell["small_slice"]) == (want["rows"], want["small_slice"])
                got = cell["model"] if name == "model" else cell["baselines"][name]
                expected = {k: v for k, v in want.items()
                            if k not in ("rows", "small_slice", "reliability")}
                _close(got, expected, f"{name}.{column}.{key}")
    # The cases the data were built for are there.
    assert rep["slices"]["band"]["one"]["rows"] == 1
    if metric_set == "directional":
        assert rep["slices"]["side"]["short"]["model"]["auc"] is None
    if metric_set == "return":
        assert rep["slices"]["regime"]["bull"]["model"]["ic_dates"] > 0
