"""The numbers of the curves/ pictures: hand-built panels with known answers, and odd data
(one class, three names a date, constant forecasts) that must give a note, not an error."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ifns_train.evaluation import curve_data
from ifns_train.evaluation.curve_data import (
    PICTURES,
    TEST_PICTURES,
    cumulative_ic_data,
    decile_data,
    regime_improvement_data,
    scatter_data,
)
from ifns_train.evaluation.equity_curve import book_value, drawdown, equity_curve_data
from ifns_train.evaluation.evidence import per_date_ic
from ifns_train.evaluation.learning_curve import learning_curve_data
from ifns_train.evaluation.period_figures import period_figures_data, period_rule
from ifns_train.evaluation.predictions import PredictionArrays
from ifns_train.evaluation.score_distribution import class_histograms
from ifns_train.evaluation.standard import EvaluationSpec, evaluate_split
from tests.defaults import bootstrap, spec_settings
from tests.evaluation.plain import assert_plain_json

# The pictures each metric set must get (file stems before `_<split>`).
PICTURE_NAMES: dict[str, tuple[str, ...]] = {
    "directional": ("reliability", "regime_improvement"),
    "overlay": ("reliability", "regime_improvement"),
    "return": ("deciles", "cumulative_ic", "regime_improvement"),
    "risk": ("vol_forecast", "regime_improvement"),
    "cost": ("cost_forecast", "regime_improvement"),
}

BOOT = bootstrap(reps=50)  # the run's settings, fewer replicates


def test_deciles_of_a_panel_with_a_known_answer() -> None:
    # 20 names a date; the label is the forecast's rank on the date, in the reverse row order
    # on odd dates: ranks 1-2 go to bucket 1, ..., 19-20 to bucket 10, so bucket b's mean
    # label is the mean of ranks 2b - 1 and 2b: 2b - 0.5, its rows 2 per date.
    days = 6
    dates = np.repeat(np.arange(days), 20)
    ranks = np.tile(np.arange(1, 21), days).astype(float)
    ranks[dates % 2 == 1] = ranks[dates % 2 == 1][::-1]
    pred = ranks / 100 + dates  # the date's level shifts nothing: ranked per date
    out = decile_data(pred, ranks, dates)
    assert out["buckets"] == 10 and out["note"] is None
    assert [b["rows"] for b in out["deciles"]] == [2 * days] * 10
    assert [b["mean_realised"] for b in out["deciles"]] == [2 * b - 0.5 for b in range(1, 11)]
    assert out["overall_mean"] == 10.5


def test_deciles_of_a_tiny_universe_use_as_many_buckets_as_names() -> None:
    dates = np.repeat(np.arange(4), 3)
    pred = np.tile([0.1, 0.3, 0.2], 4)
    y = np.tile([1.0, 3.0, 2.0], 4)
    out = decile_data(pred, y, dates)
    assert out["buckets"] == 3 and "3 buckets" in out["note"]
    assert [b["mean_realised"] for b in out["deciles"]] == [1.0, 2.0, 3.0]
    constant = decile_data(np.zeros(12), y, dates)  # ties share the middle bucket
    assert [b["rows"] for b in constant["deciles"]] == [0, 12, 0]
    assert "1 of 3 buckets" in constant["note"]
    single = decile_data(np.zeros(3), np.ones(3), np.arange(3))  # one name a date
    assert single["deciles"] == [] and single["note"]


def test_cumulative_ic_is_the_running_sum_of_per_date_ic() -> None:
    rng = np.random.default_rng(0)
    dates = np.repeat(np.arange(40), 8)
    pred = rng.standard_normal(dates.size)
    y = 0.2 * pred + rng.standard_normal(dates.size)
    pred[dates == 5] = 1.0  # a constant forecast: the date is skipped
    out = cumulative_ic_data(pred, y, dates)
    days, ic, rank_ic = per_date_ic(pred, y, dates)
    keep = ~np.isnan(ic)
    assert out["dates_used"] == 39 and out["dates_skipped"] == 1
    np.testing.assert_array_equal(out["cumulative_ic"], np.cumsum(ic[keep]))
    np.testing.assert_array_equal(out["cumulative_rank_ic"], np.cumsum(rank_ic[keep]))
    assert out["dates"] == [str(d) for d in days[keep]]
    none = cumulative_ic_data(pred[:12], y[:12], np.repeat(np.arange(4), 3))  # < 5 names
    assert none["dates"] == [] and none["cumulative_ic"] == [] and none["note"]


def test_scatter_bins_and_a_deterministic_subsample(monkeypatch: pytest.MonkeyPatch) -> None:
    pred = np.array([1.0, 2.0, 3.0, 4.0, 0.0, -1.0])
    real = np.array([2.0, 2.0, 4.0, 6.0, 1.0, 1.0])
    groups = np.array(["a", "a", "b", "b", "a", "b"], dtype=object)
    data = scatter_data(pred, real, groups, log=True)
    assert data["rows"] == 4 and data["rows_left_out"] == 2 and "2 rows left out" in data["note"]
    assert data["buckets"] == 4 and data["points_drawn"] == 4
    # The points the JSON alone draws: the group of each an index into the group names.
    points = data["points"]
    assert points["x"] == [1.0, 2.0, 3.0, 4.0] and points["y"] == [2.0, 2.0, 4.0, 6.0]
    assert points["groups"] == ["a", "b"] and points["group"] == [0, 0, 1, 1]
    assert [b["mean_realised"] for b in data["bins"]["all"]] == [2.0, 2.0, 4.0, 6.0]
    assert [b["rows"] for b in data["bins"]["a"]] == [1, 1, 0, 0]
    assert data["bins"]["a"][2]["mean_realised"] is None
    monkeypatch.setattr(curve_data, "MAX_POINTS", 3)
    big = np.arange(1.0, 11.0)
    first = scatter_data(big, big, None, log=False)["points"]
    again = scatter_data(big, big, None, log=False)["points"]
    assert len(first["x"]) == 3 and first == again and first["groups"] == ["all"]
    empty = scatter_data(np.zeros(4), np.zeros(4), None, log=True)
    assert empty["note"] and empty["points"] == {"groups": [], "group": [], "x": [], "y": []}


def test_scatter_points_keep_six_significant_digits() -> None:
    values = np.array([0.0123456789, -98765.4321, 1.0, 0.0, 3.14159265e-9])
    points = scatter_data(values, values, None, log=False)["points"]
    assert points["x"] == [0.0123457, -98765.4, 1.0, 0.0, 3.14159e-9]
    assert all(len(repr(v)) <= 12 for v in points["x"])


def _arrays(metric_set: str, n_dates: int, names: int, seed: int = 0, *, one_class: bool = False,
            constant: bool = False) -> PredictionArrays:
    rng = np.random.default_rng(seed)
    n = n_dates * names
    dates = np.datetime64("2022-01-03") + np.repeat(np.arange(n_dates), names).astype(
        "timedelta64[D]")
    regime = np.where(np.arange(n) < n - 3, "calm", "storm").astype(object)  # a 3-row slice
    pred = np.full(n, 0.4) if constant else rng.random(n)
    if metric_set in ("directional", "overlay"):
        y = np.ones(n) if one_class else (rng.random(n) < pred).astype(float)
        model = {"prob": pred, "pred": (pred >= 0.5).astype(float)}
        base = {"prob": np.full(n, 0.5), "pred": np.ones(n)}
        inputs = {"primary_up": np.ones(n)} if metric_set == "overlay" else {}
    else:
        scale = 20.0 if metric_set == "cost" else 0.2
        y = (pred + rng.random(n)) * scale
        y[0] = 0.0  # a zero volume / zero volatility row
        model, base, inputs = {"pred": (pred + 0.5) * scale}, {"pred": np.full(n, scale)}, {}
    return PredictionArrays(dates=dates, symbols=np.arange(n).astype(str).astype(object), y=y,
                            model=model, baselines={"naive": base}, inputs=inputs,
                            context={"regime_tag": regime})


@pytest.mark.parametrize("metric_set", ["directional", "overlay", "return", "risk", "cost"])
@pytest.mark.parametrize("case", ["plain", "one_class", "three_names", "constant"])
def test_odd_data_gives_pictures_not_errors(metric_set: str, case: str) -> None:
    arrays = _arrays(metric_set, n_dates=30, names=3 if case == "three_names" else 12,
                     one_class=case == "one_class", constant=case == "constant")
    if metric_set == "risk":
        arrays.y[0] = 0.01  # QLIKE needs a positive realised volatility
    spec = EvaluationSpec(metric_set=metric_set, baselines=("naive",), slice_by=("regime_tag",),
                          **{**spec_settings(), "min_rows": 20, "horizon_days": 2,
                             "bootstrap": BOOT})
    report = evaluate_split(arrays, spec)
    builds = PICTURES[metric_set] + TEST_PICTURES[metric_set]
    pictures = [build("test", arrays, report, spec.as_dict()) for build in builds]
    assert [p.name for p in pictures] == [
        f"{n}_test" for n in PICTURE_NAMES[metric_set] + TEST_PICTURE_NAMES[metric_set]]
    for picture in pictures:
        assert_plain_json(picture.data)
        json.dumps(picture.data, allow_nan=False)
        assert {"title", "xlabel", "ylabel", "note"} <= set(picture.data)


def test_regime_improvement_is_slice_intervals() -> None:
    arrays = _arrays("risk", n_dates=40, names=10)
    arrays.y[0] = 0.01
    spec = EvaluationSpec(metric_set="risk", baselines=("naive",), slice_by=("regime_tag",),
                          **{**spec_settings(), "min_rows": 20, "horizon_days": 2,
                             "bootstrap": BOOT})
    report = evaluate_split(arrays, spec)
    data = regime_improvement_data(report)
    intervals = report["slice_intervals"]["regime_tag"]
    assert [r["regime"] for r in data["regimes"]] == list(intervals) == ["calm", "storm"]
    for row in data["regimes"]:
        interval = intervals[row["regime"]]
        for key in ("estimate", "low", "high", "evidence", "baseline"):
            assert row[key] == interval[key], key
    assert data["metric"] == "qlike" and data["higher_is_better"] is False
    storm = data["regimes"][1]
    assert storm["small_slice"] is True and storm["evidence"] is None  # 3 rows: no claim
    # Without intervals (the val split), the slices' point figures.
    no_intervals = evaluate_split(arrays, spec, intervals=False)
    val = regime_improvement_data(no_intervals)
    cell = no_intervals["slices"]["regime_tag"]["calm"]
    assert val["regimes"][0]["estimate"] == cell["improvement"]["naive"]["qlike"]
    assert val["regimes"][0]["low"] is None and "no intervals" in val["note"]


def test_the_data_needs_no_matplotlib() -> None:
    code = ("import sys, ifns_train.evaluation.curve_data; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# The pictures of the test split alone (file stems before `_test`).
TEST_PICTURE_NAMES: dict[str, tuple[str, ...]] = {
    "directional": ("score_distribution", "equity_curve", "primary_over_time"),
    "overlay": ("score_distribution", "equity_curve", "primary_over_time"),
    "return": ("return_forecast", "equity_curve", "primary_over_time"),
    "risk": ("primary_over_time",),
    "cost": ("primary_over_time",),
}


def test_equity_curve_of_five_dates_by_hand() -> None:
    # h = 1: one sleeve, the plain compounded curve. Returns +10%, -20%, +5%, +10%, -10%:
    # value 1.1, 0.88, 0.924, 1.0164, 0.91476; peak 1.1 from the first date on, so the
    # drawdown is 0, 0.2, 0.16, 0.076, 0.1684.
    data = equity_curve_data(list("abcde"), [0.1, -0.2, 0.05, 0.1, -0.1], None, None, 1)
    book = data["books"]["model"]
    np.testing.assert_allclose(book["cumulative_return"],
                               [0.1, -0.12, -0.076, 0.0164, -0.08524], atol=1e-12)
    np.testing.assert_allclose(book["drawdown"], [0, 0.2, 0.16, 0.076, 0.1684], atol=1e-12)
    assert book["max_drawdown"] == pytest.approx(0.2)
    assert book["final_return"] == pytest.approx(-0.08524)
    # h = 2: two sleeves of 1/2; sleeve 0 compounds dates 0, 2, sleeve 1 dates 1, 3.
    # Returns +10%, +20%, -10%, 0%: sleeve 0 = 1.1, 1.1, 0.99, 0.99; sleeve 1 = 1, 1.2, 1.2,
    # 1.2; the book = 1.05, 1.15, 1.095, 1.095; drawdown from the peak 1.15: 0, 0, 0.05/1.15.
    two = equity_curve_data(list("abcd"), [0.1, 0.2, -0.1, 0.0], [0.0] * 4, "naive", 2)
    np.testing.assert_allclose(two["books"]["model"]["cumulative_return"],
                               [0.05, 0.15, 0.095, 0.095], atol=1e-12)
    np.testing.assert_allclose(two["books"]["model"]["drawdown"],
                               [0, 0, 0.055 / 1.15, 0.055 / 1.15], atol=1e-12)
    assert two["books"]["naive"]["cumulative_return"] == [0.0] * 4
    # A fall below the start value counts from the start: -10% first is a 10% drawdown.
    np.testing.assert_allclose(drawdown(book_value([-0.1], 1)), [0.1])


def test_primary_figure_per_month_by_hand() -> None:
    # Two months, two dates each, two names a date; MAE in bps of the model and of the
    # baseline (which forecasts 0): January |1-0|,|3-1|,|0-2|,|2-2| -> mean 5/4 = 1.25,
    # baseline (1+3+0+2)/4 = 1.5; February |4-4|,|0-1|,|6-3|,|2-2| -> 1.0, baseline 3.0.
    dates = np.array(["2022-01-03", "2022-01-03", "2022-01-04", "2022-01-04",
                      "2022-02-01", "2022-02-01", "2022-02-02", "2022-02-02"],
                     dtype="datetime64[D]")
    y = np.array([1.0, 3.0, 0.0, 2.0, 4.0, 0.0, 6.0, 2.0])
    pred = np.array([0.0, 1.0, 2.0, 2.0, 4.0, 1.0, 3.0, 2.0])
    arrays = PredictionArrays(dates=dates, symbols=np.array(list("abababab"), dtype=object),
                              y=y, model={"pred": pred}, baselines={"zero": {"pred": 0 * y}},
                              inputs={}, context={})
    report = {"primary_metric": "mae_bps", "metric_set": "cost",
              "best_baseline": {"mae_bps": "zero"}}
    data = period_figures_data(arrays, report, BOOT, horizon=1)
    assert data["period"] == "month" and data["metric"] == "mae_bps"
    assert [p["period"] for p in data["periods"]] == ["2022-01", "2022-02"]
    assert [p["model"] for p in data["periods"]] == [1.25, 1.0]
    assert [p["baseline"] for p in data["periods"]] == [1.5, 3.0]
    assert [(p["dates"], p["rows"]) for p in data["periods"]] == [(2, 4), (2, 4)]
    for p in data["periods"]:  # each interval from resampling that month's two dates
        assert p["low"] <= p["model"] <= p["high"]
    # January's dates have MAE 1.5 and 1.0: every resample lies between them.
    assert data["periods"][0]["low"] >= 1.0 and data["periods"][0]["high"] <= 1.5


def test_months_up_to_two_years_then_quarters() -> None:
    two_years = np.array(["2021-01-04", "2022-12-30"], dtype="datetime64[D]")
    assert period_rule(two_years) == "M"
    assert period_rule(np.array(["2021-01-04", "2023-01-02"], dtype="datetime64[D]")) == "Q"


def test_score_distribution_by_class_by_hand() -> None:
    # Scores 0.2..0.6; two bins [0.2, 0.4), [0.4, 0.6]: label 1 rows 0.4, 0.6 -> both in the
    # upper bin; label 0 rows 0.2, 0.3, 0.5 -> 2/3 lower, 1/3 upper; means 0.5 and 1/3.
    out = class_histograms(np.array([0.4, 0.6, 0.2, 0.3, 0.5]),
                           np.array([1.0, 1.0, 0.0, 0.0, 0.0]), n_bins=2)
    assert out["edges"] == [0.2, 0.4, 0.6]
    assert out["classes"]["label 1"] == {"rows": 2, "share": [0.0, 1.0], "mean_score": 0.5}
    assert out["classes"]["label 0"]["share"] == pytest.approx([2 / 3, 1 / 3])
    assert out["discrimination_slope"] == pytest.approx(0.5 - 0.1 / 0.3)
    constant = class_histograms(np.full(4, 0.5), np.array([1.0, 1.0, 1.0, 1.0]))
    assert len(constant["edges"]) == 2 and "no row with label 0" in constant["note"]


def test_learning_curve_marks_the_kept_epoch() -> None:
    history = {2: {"train_loss": 0.6, "val_loss": 0.65}, 1: {"train_loss": 0.7},
               3: {"train_loss": 0.5, "val_loss": 0.7}}
    data = learning_curve_data(history, 2)
    assert data["epochs"] == [1, 2, 3] and data["val_loss"] == [None, 0.65, 0.7]
    assert data["train_loss"] == [0.7, 0.6, 0.5]
    assert data["chosen_epoch"] == 2 and data["chosen_val_loss"] == 0.65 and not data["note"]
    assert "not among" in learning_curve_data(history, 9)["note"]


def test_dense_pairs_count_what_auc_pairs_count() -> None:
    """A period's AUC pair matrix counted densely is the general method's to the last bit
    (ties, one class, one date included), so the per-period figures do not move."""
    from ifns_train.evaluation.period_figures import dense_pairs
    from ifns_train.evaluation.weighted_auc import auc_pairs

    rng = np.random.default_rng(7)
    for _ in range(40):
        rows, dates = int(rng.integers(1, 300)), int(rng.integers(1, 24))
        score = np.round(rng.random(rows), int(rng.integers(1, 4)))  # many ties
        up = rng.random(rows) < rng.choice([0.0, 0.5, 1.0])
        codes = np.sort(rng.integers(0, dates, rows))
        np.testing.assert_array_equal(dense_pairs(score, up, codes, dates),
                                      auc_pairs(score, up.astype(np.float64), codes, dates))
