"""Spread of a figure over walk-forward folds and seeds, by hand."""

from __future__ import annotations

import math

import pytest

from ifns_train.evaluation.stability import spread, stability


def _run(exp: str, auc: float | None) -> dict:
    return {"experiment_id": exp, "metrics": {"test": {"model": {"auc": auc}}}}


def test_spread_by_hand() -> None:
    # 0.5, 0.6, 0.7: mean 0.6, sample std sqrt((0.01 + 0 + 0.01) / 2) = 0.1.
    out = spread([0.5, None, 0.6, 0.7])
    assert out["n"] == 3 and out["mean"] == pytest.approx(0.6)
    assert out["std"] == pytest.approx(0.1) and (out["min"], out["max"]) == (0.5, 0.7)
    assert spread([0.5])["std"] is None and spread([None])["mean"] is None


def test_folds_and_seeds_include_the_main_run() -> None:
    companions = {"fold": [_run("F1", 0.54), _run("F2", 0.58)], "seed": [_run("S2", 0.60)]}
    out = stability("auc", _run("MAIN", 0.56), companions, complexity={"parameter_count": 9})
    assert [r["experiment_id"] for r in out["walk_forward"]["runs"]] == ["F1", "F2", "MAIN"]
    assert out["walk_forward"]["spread"]["std"] == pytest.approx(0.02)
    assert out["seeds"]["spread"]["std"] == pytest.approx(math.sqrt(0.0008))
    assert out["complexity"] == {"parameter_count": 9}
    assert "walk_forward" not in stability("auc", _run("MAIN", 0.56), {})
