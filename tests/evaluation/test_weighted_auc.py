"""The AUC as a function of date weights on the score grid, against the exact pair matrix and
against every pair counted by hand; the grid's error bound against the error it bounds."""

from __future__ import annotations

import numpy as np
import pytest

import ifns_train.evaluation.weighted_auc as wa
from ifns_train.evaluation.intervals import _weights, date_codes, metric_interval
from tests.defaults import bootstrap

METHOD = bootstrap()["method"]


def _sample(seed: int = 0, n_dates: int = 40, decimals: int | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(score, up, date codes, dates): unequal rows per date, a date effect, ties if rounded."""
    rng = np.random.default_rng(seed)
    dates = np.repeat(np.arange(n_dates), rng.integers(3, 15, n_dates))
    shock = rng.standard_normal(n_dates)[dates]
    up = (shock + rng.standard_normal(dates.size) > 0).astype(np.float64)
    score = 1 / (1 + np.exp(-(0.7 * shock + rng.standard_normal(dates.size))))
    if decimals is not None:
        score = np.round(score, decimals)
    codes, n = date_codes(dates)
    return score, up, codes, n


def _brute(score: np.ndarray, up: np.ndarray, weight: np.ndarray) -> float:
    """Weighted AUC over all (up, down) pairs: 1 if the up row scores higher, 1/2 on a tie."""
    u, d = up == 1, up == 0
    diff = score[u][:, None] - score[d][None, :]
    pair = weight[u][:, None] * weight[d][None, :]
    return float((pair * ((diff > 0) + 0.5 * (diff == 0))).sum() / pair.sum())


def test_bins_keep_the_order_of_the_scores_and_ties_together(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.setattr(wa, "GRID_BINS", 8)
    score = np.random.default_rng(1).random(500)
    score[::5] = 0.5  # a tie across many rows
    bins = wa.score_bins(score)
    assert not bins.exact and bins.bins == 8
    order = np.argsort(score, kind="stable")
    assert np.all(np.diff(bins.bin[order]) >= 0)  # a higher score is never in a lower bin
    assert np.unique(bins.bin[score == 0.5]).size == 1
    assert set(np.unique(bins.bin)) == set(range(8))  # cut at quantiles: every bin is used
    # Few distinct scores: one bin each, in order; 0.0 and -0.0 are one score.
    few = wa.score_bins(np.array([0.55, -0.0, 0.48, 0.55, 0.0]))
    assert few.exact and few.bins == 3
    np.testing.assert_array_equal(few.bin, [2, 0, 1, 2, 0])


@pytest.mark.parametrize("decimals", [None, 2])
def test_the_grid_estimate_is_exact(monkeypatch: pytest.MonkeyPatch, decimals: int | None
                                    ) -> None:
    monkeypatch.setattr(wa, "GRID_BINS", 8)  # far fewer bins than distinct scores
    score, up, codes, n = _sample(decimals=decimals)
    grid = wa.grid_auc(wa.score_bins(score), score, up, codes, n)
    exact = wa.exact_auc(score, up, codes, n)
    assert grid.estimate == pytest.approx(_brute(score, up, np.ones(up.size)), rel=1e-14)
    assert grid.estimate == exact[0]


def test_an_exact_grid_gives_the_pair_matrix_replicates() -> None:
    # Scores on 21 values (at most GRID_BINS): one bin each, the grid is exact.
    score, up, codes, n = _sample(seed=3, decimals=1)
    bins = wa.score_bins(score)
    assert bins.exact
    grid = wa.grid_auc(bins, score, up, codes, n)
    estimate, per_date, replicates = wa.exact_auc(score, up, codes, n)
    w = _weights(n, 4, 200, 0, METHOD)
    np.testing.assert_allclose(grid.replicates(w), replicates(w), rtol=1e-12)
    np.testing.assert_array_equal(grid.error(w), 0.0)
    assert grid.estimate == estimate
    np.testing.assert_allclose(grid.per_date, per_date, rtol=1e-12)
    some = np.random.default_rng(0).integers(0, 4, n).astype(np.float64)
    assert grid.replicates(some[None, :])[0] == pytest.approx(_brute(score, up, some[codes]))


def test_each_replicate_is_within_its_bound_of_the_exact_one(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.setattr(wa, "GRID_BINS", 16)
    score, up, codes, n = _sample(seed=5, n_dates=60)
    grid = wa.grid_auc(wa.score_bins(score), score, up, codes, n)
    exact = wa.exact_auc(score, up, codes, n)[2]
    w = _weights(n, 5, 300, 1, METHOD)
    gap = np.abs(grid.replicates(w) - exact(w))
    bound = grid.error(w)
    assert np.all(gap <= bound + 1e-15)
    assert gap.max() > 0  # 16 bins are coarse: the bound has something to bound
    # On equal-row bins the bound is about 1 / (2 x bins), as the module docstring says.
    assert 0.2 / 16 < bound.mean() < 1.0 / 16


def test_float32_and_float64_products_agree_to_the_last_digit(monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setattr(wa, "GRID_BINS", 32)
    score, up, codes, n = _sample(seed=6)
    w = _weights(n, 4, 100, 2, METHOD)
    single = wa.grid_auc(wa.score_bins(score), score, up, codes, n).replicates(w)
    monkeypatch.setattr(wa, "_FLOAT32_EXACT", 0)  # counts as float64
    double = wa.grid_auc(wa.score_bins(score), score, up, codes, n).replicates(w)
    np.testing.assert_array_equal(single, double)


def test_grid_interval_matches_the_exact_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same interval to 1e-3 (here the grid is coarse: 64 bins for ~4,000 scores), the
    ends within the recorded bound, and the grid's settings recorded."""
    rng = np.random.default_rng(7)
    n_dates, per = 120, 35
    dates = np.repeat(np.arange(n_dates), per)
    shock = rng.standard_normal(n_dates)[dates]
    y = (shock + rng.standard_normal(dates.size) > 0).astype(np.float64)
    prob = 1 / (1 + np.exp(-(0.5 * shock + rng.standard_normal(dates.size))))
    base = np.where(rng.random(dates.size) < 0.5, 0.55, 0.48)  # a momentum sign: 2 values
    kw = {**bootstrap(reps=400), "horizon": 5}
    exact = metric_interval("auc", y, prob, dates, baseline_pred=base, **kw)
    monkeypatch.setattr(wa, "EXACT_CELLS", 0)
    monkeypatch.setattr(wa, "GRID_BINS", 64)
    grid = metric_interval("auc", y, prob, dates, baseline_pred=base, **kw)
    assert "auc_grid" not in exact["model"]
    for side in ("model", "improvement"):
        e, g = exact[side], grid[side]
        assert e is not None and g is not None
        assert g["estimate"] == pytest.approx(e["estimate"], abs=1e-15)
        assert g["block"] == e["block"]
        assert g["auc_grid"]["bins"] == 64
        bound = g["auc_grid"]["max_error"]
        for end in ("low", "high"):
            assert abs(g[end] - e[end]) <= min(bound, 1e-3)
    assert 0 < grid["model"]["auc_grid"]["max_error"] < 0.02
    assert grid["improvement"]["evidence"] == exact["improvement"]["evidence"]


def test_mann_whitney_counts_every_pair() -> None:
    score, up, _, _ = _sample(seed=8, decimals=2)
    u, d = score[up == 1], score[up == 0]
    expected = _brute(score, up, np.ones(up.size)) * u.size * d.size
    assert wa._mann_whitney(u, d) == pytest.approx(expected, abs=1e-9)
    assert wa._mann_whitney(np.array([0.5, 0.7]), np.array([0.5, 0.1])) == 3.5


def test_one_class_is_undefined_on_the_grid() -> None:
    score, _, codes, n = _sample()
    grid = wa.grid_auc(wa.score_bins(score), score, np.ones(score.size), codes, n)
    assert grid.estimate is None
    assert np.isnan(grid.replicates(np.ones((2, n)))).all()


def test_on_grid_only_beyond_the_exact_size() -> None:
    assert not wa.on_grid(23_232, 484)  # the demo's test split stays exact
    assert wa.on_grid(5_000_000, 2_500)
