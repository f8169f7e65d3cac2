"""improvement / best_baseline with hand-picked numbers (binary fractions, so exact)."""

from __future__ import annotations

import pytest

from ifns_train.evaluation.compare import (
    HIGHER_IS_BETTER,
    best_baseline,
    evidence_of,
    favourable,
    improvement,
)

MODEL = {
    "rows": 8,
    "hit_rate": 0.625,
    "auc": 0.75,
    "precision_up": None,
    "brier": 0.1875,
    "log_loss": 0.5,
    "ece": 0.0625,
    "reliability": [{"count": 8}],
}
BASELINE = {
    "rows": 8,
    "hit_rate": 0.5,
    "auc": 0.5,
    "precision_up": 0.5,
    "brier": 0.25,
    "log_loss": 0.75,
    "ece": 0.125,
    "reliability": [],
}


def test_directions() -> None:
    for name in ("hit_rate", "auc", "precision_up", "recall_up", "precision_down", "recall_down"):
        assert HIGHER_IS_BETTER[name] is True
    for name in ("brier", "log_loss", "ece"):
        assert HIGHER_IS_BETTER[name] is False


def test_improvement_is_positive_when_the_model_is_better() -> None:
    out = improvement(MODEL, BASELINE)
    assert out == {
        "hit_rate": 0.125,  # .625 - .5: higher is better
        "auc": 0.25,  # .75 - .5
        "precision_up": None,  # model None -> undefined
        "brier": 0.0625,  # .25 - .1875: lower is better, so baseline minus model
        "log_loss": 0.25,  # .75 - .5
        "ece": 0.0625,  # .125 - .0625
    }
    # recall_* are in neither dict and are skipped; rows/reliability are not default keys.


def test_improvement_worse_model_is_negative_on_every_metric() -> None:
    out = improvement(BASELINE, MODEL, keys=["hit_rate", "brier"])
    assert out == {"hit_rate": -0.125, "brier": -0.0625}  # worse on both
    assert favourable("brier", 0.1875 - 0.25) == 0.0625
    assert favourable("auc", -0.01) == -0.01 and favourable("qlike", None) is None


def test_evidence_words_one_convention() -> None:
    assert evidence_of(0.01, 0.05) == "better"
    assert evidence_of(-0.0896, -0.0034) == "worse"  # wholly below 0: significantly worse
    assert evidence_of(-0.01, 0.05) == "within noise"
    assert evidence_of(0.0, 0.05) == "within noise"  # touching 0 is no evidence
    assert evidence_of(0.01, 0.05, small=True) is None  # a small slice claims nothing
    assert evidence_of(None, None) is None


def test_improvement_explicit_keys() -> None:
    with pytest.raises(KeyError, match="rows"):
        improvement(MODEL, BASELINE, keys=["rows"])  # no direction to improve in
    with pytest.raises(KeyError, match="recall_up"):
        improvement(MODEL, BASELINE, keys=["recall_up"])
    with pytest.raises(KeyError, match="reliability"):
        improvement(MODEL, BASELINE, keys=["reliability"])
    with pytest.raises(TypeError, match="auc"):
        improvement({"auc": "high"}, BASELINE, keys=["auc"])


BASELINES = {
    "always_up": {"brier": 0.25, "hit_rate": 0.5, "auc": None},
    "momentum": {"brier": None, "hit_rate": 0.625, "auc": None},  # signs only, no probability
    "base_rate": {"brier": 0.2475, "hit_rate": 0.5, "auc": None},
}


def test_best_baseline_lower_is_better_ignores_none() -> None:
    # brier: always_up .25, momentum None (ignored; as 0 it would wrongly win), base_rate .2475
    # lower is better -> base_rate
    assert best_baseline(BASELINES, "brier") == "base_rate"


def test_best_baseline_higher_is_better_and_ties() -> None:
    assert best_baseline(BASELINES, "hit_rate") == "momentum"  # .625 > .5
    without_momentum = {k: v for k, v in BASELINES.items() if k != "momentum"}
    assert best_baseline(without_momentum, "hit_rate") == "always_up"  # tie .5: first wins


def test_best_baseline_errors_and_explicit_direction() -> None:
    with pytest.raises(ValueError, match="auc"):
        best_baseline(BASELINES, "auc")  # every value is None
    # (was "mae", which now has a direction; "turnover" has none in HIGHER_IS_BETTER)
    scores = {"a": {"turnover": 2.0}, "b": {"turnover": 1.0}}
    with pytest.raises(KeyError, match="turnover"):
        best_baseline(scores, "turnover")  # unknown direction
    assert best_baseline(scores, "turnover", higher_is_better=False) == "b"


def test_continuous_family_directions() -> None:
    for name in ("r2", "pearson", "spearman", "ic_mean", "ic_ir", "rank_ic_mean", "rank_ic_ir"):
        assert HIGHER_IS_BETTER[name] is True
    for name in ("ic_hit_rate", "corr"):
        assert HIGHER_IS_BETTER[name] is True
    for name in ("rmse", "mae", "qlike", "log_rmse", "mae_bps", "rmse_bps", "p90_abs_error_bps"):
        assert HIGHER_IS_BETTER[name] is False
    for name in ("bias", "bias_bps", "ic_std", "rank_ic_std"):
        assert name not in HIGHER_IS_BETTER  # no better direction


def test_qlike_is_lower_is_better() -> None:
    vol_baselines = {
        "trailing_vol": {"qlike": 0.25, "bias": 0.0},
        "ewma_vol": {"qlike": 0.125, "bias": 0.5},
        "garch": {"qlike": None, "bias": 0.25},  # failed to fit: ignored
    }
    # qlike: .25 vs .125 (None ignored); lower is better -> ewma_vol
    assert best_baseline(vol_baselines, "qlike") == "ewma_vol"
    model = {"rows": 4, "qlike": 0.0625, "corr": 0.5, "bias": 0.125}
    # default keys: qlike and corr have directions, but only qlike is in both dicts;
    # bias has no direction, so it is not compared. .125 - .0625 = .0625 > 0: model better
    assert improvement(model, vol_baselines["ewma_vol"]) == {"qlike": 0.0625}
