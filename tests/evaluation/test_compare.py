"""improvement / best_baseline with hand-picked numbers (binary fractions, so exact)."""

from __future__ import annotations

import pytest

from ifns_train.evaluation.compare import HIGHER_IS_BETTER, best_baseline, improvement

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


def test_improvement_raw_differences_and_signs() -> None:
    out = improvement(MODEL, BASELINE)
    assert out == {
        "hit_rate": 0.125,  # .625 - .5   > 0: model better (higher is better)
        "auc": 0.25,  # .75 - .5    > 0: model better
        "precision_up": None,  # model None -> undefined
        "brier": -0.0625,  # .1875 - .25 < 0: model better (lower is better)
        "log_loss": -0.25,  # .5 - .75    < 0: model better
        "ece": -0.0625,  # .0625 - .125 < 0: model better
    }
    # recall_* are in neither dict and are skipped; rows/reliability are not default keys.


def test_improvement_worse_model_flips_signs() -> None:
    out = improvement(BASELINE, MODEL, keys=["hit_rate", "brier"])
    assert out == {"hit_rate": -0.125, "brier": 0.0625}  # worse on both


def test_improvement_explicit_keys() -> None:
    assert improvement(MODEL, BASELINE, keys=["rows"]) == {"rows": 0.0}  # 8 - 8
    with pytest.raises(KeyError, match="recall_up"):
        improvement(MODEL, BASELINE, keys=["recall_up"])
    with pytest.raises(TypeError, match="reliability"):
        improvement(MODEL, BASELINE, keys=["reliability"])


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
    scores = {"a": {"mae": 2.0}, "b": {"mae": 1.0}}
    with pytest.raises(KeyError, match="mae"):
        best_baseline(scores, "mae")  # unknown direction
    assert best_baseline(scores, "mae", higher_is_better=False) == "b"
