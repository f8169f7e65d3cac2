"""Skill, not drift: the proxies and the deflated Sharpe ratio measure what a model adds over
its best baseline's trades, so a long book on a rising market is no evidence of skill."""

from __future__ import annotations

import numpy as np
import pytest

from ifns_train.evaluation import evidence
from ifns_train.evaluation.predictions import PredictionArrays
from ifns_train.evaluation.standard import EvaluationSpec, earlier_trials, evaluate
from tests.defaults import bootstrap, spec_settings

RULES = {"name": "dir_core", "min_improvement": 0.0, "require_significant": False,
         "regime_floor": 1.0, "max_calibration_error": None, "max_walk_forward_std": 0.03,
         "min_deflated_sharpe": 0.95}
BOOT = bootstrap(reps=50, level=0.9)  # the run's block rule, method and seed
H = 5


def _rising(n_dates: int = 400, n_symbols: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    """A panel whose market rises: every name drifts up 1% a period of H days, with noise,
    and `skill` knows part of each name's own move."""
    rng = np.random.default_rng(seed)
    dates = np.repeat(np.arange(n_dates).astype("datetime64[D]").astype("datetime64[ns]"),
                      n_symbols)
    symbols = np.tile(np.array([f"S{i}" for i in range(n_symbols)], dtype=object), n_dates)
    own = rng.normal(0.0, 0.03, dates.size)
    realised = 0.01 + own + rng.normal(0.0, 0.01, dates.size)
    return {"dates": dates, "symbols": symbols, "realised": realised, "skill": own}


def _directional(panel: dict[str, np.ndarray], prob: np.ndarray) -> PredictionArrays:
    n = prob.size
    up = (panel["realised"] > 0) * 1.0
    mom = np.random.default_rng(1).normal(size=n) > 0
    return PredictionArrays(
        dates=panel["dates"], symbols=panel["symbols"], y=up,
        model={"prob": prob, "pred": (prob >= 0.5) * 1.0},
        baselines={
            "class_prior": {"prob": np.full(n, up.mean()), "pred": np.ones(n)},
            # Up-rates above one half for both signs, as on any rising market.
            "momentum_sign": {"prob": np.where(mom, 0.62, 0.58), "pred": mom * 1.0},
        },
        inputs={"realised_return": panel["realised"]}, context={})


def _spec() -> EvaluationSpec:
    return EvaluationSpec(metric_set="directional", baselines=("class_prior", "momentum_sign"),
                          slice_by=(), **{**spec_settings(), "min_rows": 50, "horizon_days": H,
                                          "bootstrap": BOOT}, promotion=RULES)


def _dsr_check(out: dict) -> dict:
    return next(c for c in out["promotion"]["checks"] if c["name"] == "deflated_sharpe")


def test_an_always_long_model_on_a_rising_market_fails_the_sharpe_check() -> None:
    panel = _rising()
    arrays = _directional(panel, np.full(panel["dates"].size, 0.61))
    out = evaluate({"test": arrays}, _spec(), {"experiment_id": "EXP_x"})
    proxies = out["splits"]["test"]["proxies"]
    # Its own proxy earns the drift, as buying and holding does...
    assert proxies["model"]["net"]["sharpe"]["mean"] > 2.0
    # ...exactly what the always-long class prior earns: the best baseline, and no excess.
    assert proxies["excess"]["baseline"] == "class_prior"
    assert set(proxies["excess"]["series"]["net"]) == {0.0}
    selection = out["selection"]
    assert selection["deflated_sharpe_ratio"] is None and selection["sharpe_annualised"] is None
    assert selection["model_sharpe_annualised"] == proxies["model"]["net"]["sharpe"]["mean"]
    check = _dsr_check(out)
    assert check["passed"] is False and "class_prior" in check["detail"]
    assert out["promotion"]["verdict"] == "not_eligible"


def test_the_momentum_baseline_trades_its_own_sign() -> None:
    panel = _rising()
    arrays = _directional(panel, np.full(panel["dates"].size, 0.61))
    proxies = evidence.trading(arrays, "directional", horizon=H, cost_bps=0.0, band=0.0)
    momentum = proxies["baselines"]["momentum_sign"]
    long_only = proxies["baselines"]["class_prior"]
    # It goes short on a negative sign: not the buy-and-hold book the class prior is.
    assert momentum["net"]["sharpe"]["mean"] != pytest.approx(long_only["net"]["sharpe"]["mean"])
    assert momentum["net"]["mean_period_return"]["mean"] < \
        long_only["net"]["mean_period_return"]["mean"] / 2


def test_a_model_with_skill_passes_on_its_excess() -> None:
    panel = _rising()
    prob = 1.0 / (1.0 + np.exp(-panel["skill"] * 60.0))  # knows each name's own move
    out = evaluate({"test": _directional(panel, prob)}, _spec(), {"experiment_id": "EXP_y"})
    selection = out["selection"]
    assert selection["baseline"] == "class_prior"
    assert selection["sharpe_annualised"] > 1.0
    assert selection["deflated_sharpe_ratio"] > 0.95
    assert selection["deflated_sharpe_ratio_range"]["offsets"] == H
    assert len(selection["offsets"]) == H and selection["trials"] == 1
    assert _dsr_check(out)["passed"] is True
    # The controls were not run: eligible, but only for a canary.
    assert out["promotion"]["verdict"] == "eligible_without_controls"


def test_earlier_trials_deflate_and_are_counted_with_or_without_a_sharpe() -> None:
    panel = _rising()
    prob = 1.0 / (1.0 + np.exp(-panel["skill"] * 60.0))
    arrays = _directional(panel, prob)
    alone = evaluate({"test": arrays}, _spec(), {"experiment_id": "EXP_a"})["selection"]
    inputs = {"experiment_id": "EXP_b", "trials": {"count": 12, "sharpes": [
        0.5, 3.0, -1.0, 2.0, 0.0, 1.5, -0.5, 2.5, 1.0, -2.0]}}
    searched = evaluate({"test": arrays}, _spec(), inputs)["selection"]
    assert searched["trials"] == 13 and searched["trials_with_sharpe"] == 11
    assert searched["deflated_sharpe_ratio"] < alone["deflated_sharpe_ratio"]
    # An evaluation recorded before trial counts were kept gave only the Sharpe ratios.
    assert earlier_trials({"trial_sharpes": [1.0, 2.0]}) == (2, [1.0, 2.0])


def test_return_models_get_a_market_neutral_proxy() -> None:
    panel = _rising()
    n = panel["dates"].size
    arrays = PredictionArrays(
        dates=panel["dates"], symbols=panel["symbols"], y=panel["realised"],
        model={"pred": np.full(n, 0.01)},  # long everything: the market's drift, no skill
        baselines={"zero": {"pred": np.zeros(n)},
                   "trailing_mean": {"pred": np.random.default_rng(2).normal(size=n)}},
        inputs={}, context={})
    proxies = evidence.trading(arrays, "return", horizon=H, cost_bps=0.0, band=0.0)
    assert proxies["model"]["net"]["sharpe"]["mean"] > 2.0
    neutral = proxies["market_neutral"]
    assert neutral["model"]["market_neutral"] is True
    # Every name long, each earning its return less the date's mean: exactly nothing.
    assert np.allclose(neutral["model"]["series"]["gross"], 0.0, atol=1e-15)
    assert neutral["model"]["net"]["sharpe"]["mean"] is None
    assert "excess" in neutral and neutral["excess"]["baseline"] in ("zero", "trailing_mean")


def test_the_best_baseline_is_the_best_net_sharpe_and_a_flat_book_ranks_at_zero() -> None:
    runs = {
        "loser": {"net": {"sharpe": {"mean": -0.4}}, "trades_total": 10},
        "flat": {"net": {"sharpe": {"mean": None}}, "trades_total": 0},
        "erratic": {"net": {"sharpe": {"mean": None}}, "trades_total": 3},
    }
    assert evidence.best_proxy_baseline(runs) == "flat"  # 0 beats -0.4
    runs["winner"] = {"net": {"sharpe": {"mean": 0.7}}, "trades_total": 10}
    assert evidence.best_proxy_baseline(runs) == "winner"
    assert evidence.best_proxy_baseline({"erratic": runs["erratic"]}) is None
