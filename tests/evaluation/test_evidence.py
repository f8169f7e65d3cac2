"""Intervals, the IC t-statistic and trading proxies wired to a split report."""

from __future__ import annotations

import numpy as np
import pytest

from ifns_train.evaluation import evidence
from ifns_train.evaluation.predictions import PredictionArrays
from ifns_train.evaluation.regression import return_metrics
from ifns_train.evaluation.report import split_report
from tests.defaults import bootstrap, horizon_days, report_settings

BOOT = bootstrap(reps=200, level=0.9, seed=3)  # the run's block rule and method
SETTINGS = report_settings()  # min_rows, n_bins, horizon_days, gate_threshold of a run


def _panel(n_dates: int = 60, n_symbols: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    dates = np.repeat(np.arange(n_dates).astype("datetime64[D]").astype("datetime64[ns]"),
                      n_symbols)
    symbols = np.tile(np.array([f"S{i}" for i in range(n_symbols)], dtype=object), n_dates)
    signal = rng.normal(size=dates.size)
    realised = 0.02 * signal + rng.normal(0, 0.05, dates.size)
    return dates, symbols, signal, realised


def test_per_date_ic_matches_the_return_metrics() -> None:
    dates, _, signal, realised = _panel()
    signal[:8] = 1.0  # a constant forecast on the first date: no IC there
    d, ic, rank_ic = evidence.per_date_ic(signal, realised, dates)
    metrics = return_metrics(signal, realised, dates, horizon_days=horizon_days())
    assert np.isnan(ic[0]) and len(d) == 60
    assert np.nanmean(ic) == pytest.approx(metrics["ic_mean"], rel=1e-12)
    assert np.nanmean(rank_ic) == pytest.approx(metrics["rank_ic_mean"], rel=1e-12)
    assert (~np.isnan(ic)).sum() == metrics["ic_dates"]


def test_return_evidence() -> None:
    dates, symbols, signal, realised = _panel()
    arrays = PredictionArrays(
        dates=dates, symbols=symbols, y=realised, model={"pred": 0.02 * signal},
        baselines={"zero": {"pred": np.zeros_like(signal)},
                   "noise": {"pred": np.random.default_rng(9).normal(size=signal.size)}},
        inputs={}, context={"regime_tag": np.where(np.arange(signal.size) % 2, "a", "b")})
    report = split_report("return", y=realised, model=arrays.model,
                          baselines=arrays.baselines, context=arrays.context,
                          inputs={"dates": dates}, **{**SETTINGS, "min_rows": 100})
    out = evidence.split_intervals(arrays, report, BOOT, horizon=5)
    # The zero forecast has no IC: the IC's best baseline is the noise one.
    assert out["improvement"]["rank_ic_mean"]["baseline"] == "noise"
    assert out["improvement"]["rank_ic_mean"]["estimate"] == pytest.approx(
        report["improvement_over_best"]["rank_ic_mean"], rel=1e-9)
    assert out["improvement"]["mae"]["estimate"] == pytest.approx(
        report["improvement_over_best"]["mae"], rel=1e-9)
    model_ic = out["model"]["ic_mean"]
    assert model_ic["low"] < report["model"]["ic_mean"] < model_ic["high"]
    assert model_ic["block"] >= 5 and model_ic["level"] == 0.9
    tstats = evidence.ic_tstats(arrays, horizon=5)
    assert tstats["ic"]["mean"] == pytest.approx(report["model"]["ic_mean"], rel=1e-9)
    assert tstats["ic"]["lags"] == 5 and tstats["ic"]["t"] > 3  # a strong signal
    proxies = evidence.trading(arrays, "return", horizon=5, cost_bps=10.0, band=0.0)
    assert proxies["model"]["net"]["sharpe"]["mean"] > 0
    assert proxies["quantile_spread"]["model"]["mean"] > 0
    assert proxies["baselines"]["zero"]["trades_total"] == 0  # a zero forecast never trades


def test_families_without_a_direction_have_no_proxies() -> None:
    dates, symbols, signal, realised = _panel(n_dates=5)
    arrays = PredictionArrays(dates=dates, symbols=symbols, y=np.abs(realised) + 0.1,
                              model={"pred": np.abs(signal) + 0.1}, baselines={}, inputs={},
                              context={})
    assert evidence.trading(arrays, "risk", horizon=5, cost_bps=0.0, band=0.0) is None
    directional = PredictionArrays(dates=dates, symbols=symbols, y=(realised > 0) * 1.0,
                                   model={"prob": np.full(signal.size, 0.6)}, baselines={},
                                   inputs={}, context={})
    # Without a realised return to earn, a directional family has no proxy either.
    assert evidence.trading(directional, "directional", horizon=5, cost_bps=0.0,
                            band=0.0) is None


def test_a_small_regime_slice_claims_no_significance() -> None:
    dates, symbols, signal, realised = _panel()
    y = (realised > 0) * 1.0
    prob = 1 / (1 + np.exp(-signal))
    regime = np.where(dates < dates[8 * 50], "big", "small").astype(object)
    arrays = PredictionArrays(dates=dates, symbols=symbols, y=y,
                              model={"prob": prob, "pred": (prob >= 0.5) * 1.0},
                              baselines={"prior": {"prob": np.full(y.size, 0.5),
                                                   "pred": np.ones(y.size)}},
                              inputs={}, context={"regime_tag": regime})
    report = split_report("directional", y=y, model=arrays.model, baselines=arrays.baselines,
                          context=arrays.context, **{**SETTINGS, "min_rows": 100})
    out = evidence.slice_intervals(arrays, report, BOOT, horizon=5)["regime_tag"]
    assert report["slices"]["regime_tag"]["small"]["small_slice"]
    assert out["small"]["significant"] is None and out["small"]["low"] is not None
    assert out["big"]["significant"] is True


def test_a_split_bins_each_score_array_once_for_all_its_intervals(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import ifns_train.evaluation.weighted_auc as wa

    dates, symbols, signal, realised = _panel(n_dates=80)
    y = (realised > 0) * 1.0
    prob = 1 / (1 + np.exp(-signal))
    regime = np.where((dates.astype(np.int64) // 10**9 // 86400) % 20 < 12, "a", "b")
    arrays = PredictionArrays(dates=dates, symbols=symbols, y=y,
                              model={"prob": prob, "pred": (prob >= 0.5) * 1.0},
                              baselines={"sign": {"prob": np.where(signal > 0.3, 0.55, 0.48),
                                                  "pred": (signal > 0.3) * 1.0}},
                              inputs={}, context={"regime_tag": regime.astype(object)})
    report = split_report("directional", y=y, model=arrays.model, baselines=arrays.baselines,
                          context=arrays.context, **{**SETTINGS, "min_rows": 100})
    monkeypatch.setattr(wa, "EXACT_CELLS", 0)  # every sample on the score grid
    separate = (evidence.split_intervals(arrays, report, BOOT, horizon=5),
                evidence.slice_intervals(arrays, report, BOOT, horizon=5))
    calls: list[int] = []
    binned = evidence.score_bins
    monkeypatch.setattr(evidence, "score_bins",
                        lambda score: calls.append(score.size) or binned(score))
    grids = evidence.Grids()
    shared = (evidence.split_intervals(arrays, report, BOOT, 5, grids),
              evidence.slice_intervals(arrays, report, BOOT, 5, grids))
    assert calls == [y.size, y.size]  # the model's P(up) and the baseline's, once each
    assert shared == separate
    auc = shared[0]["improvement"]["auc"]
    assert auc["auc_grid"]["bins"] > 0 and auc["auc_grid"]["max_error"] >= 0.0
    assert set(shared[1]["regime_tag"]) == {"a", "b"}
    assert shared[1]["regime_tag"]["a"]["auc_grid"]["bins"] == auc["auc_grid"]["bins"]
