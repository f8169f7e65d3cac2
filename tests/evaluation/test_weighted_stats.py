"""The calibration error (ECE) as a statistic of date weights: the bootstrap's ECE is the ECE
of the resampled rows, binned exactly as `classification.binary_metrics` bins it."""

from __future__ import annotations

import numpy as np
import pytest

from ifns_train.evaluation.classification import binary_metrics
from ifns_train.evaluation.intervals import date_codes, date_weights, metric_interval
from ifns_train.evaluation.weighted_stats import WeightedStat, row_metric_stat
from tests.defaults import bootstrap, evaluation

N_BINS = evaluation()["calibration_bins"]  # the run's calibration bins
METHOD = bootstrap()["method"]


def _sample(seed: int = 0, n_dates: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unequal rows per date; probabilities on and around the bin edges, and some 1.0."""
    rng = np.random.default_rng(seed)
    dates = np.repeat(np.arange(n_dates), rng.integers(2, 9, n_dates))
    prob = rng.random(dates.size)
    prob[::7] = np.round(prob[::7], 1)  # exactly on the edges (0.3 goes to [0.2, 0.3))
    prob[::11] = 1.0  # a bin of its own
    y = (rng.random(dates.size) < prob).astype(np.float64)
    return dates, y, prob


def test_the_estimate_is_binary_metrics_ece() -> None:
    dates, y, prob = _sample()
    codes, n_dates = date_codes(dates)
    stat = row_metric_stat("ece", y, prob, codes, n_dates, n_bins=N_BINS)
    assert stat.estimate == binary_metrics(prob, y, n_bins=N_BINS)["ece"]  # to the last digit
    for n_bins in (3, 15):
        stat = row_metric_stat("ece", y, prob, codes, n_dates, n_bins=n_bins)
        assert stat.estimate == pytest.approx(binary_metrics(prob, y, n_bins=n_bins)["ece"],
                                              rel=1e-14)
    out = metric_interval("ece", y, prob, dates, horizon=3, n_bins=N_BINS, **bootstrap(reps=200))
    assert out["model"]["estimate"] == binary_metrics(prob, y, n_bins=N_BINS)["ece"]
    assert out["model"]["low"] <= out["model"]["high"]


def test_a_replicate_is_the_ece_of_the_dates_rows_repeated() -> None:
    dates, y, prob = _sample(seed=1, n_dates=20)
    codes, weights = date_weights(dates, block=3, reps=5, seed=4, method=METHOD)
    got = row_metric_stat("ece", y, prob, codes, 20, n_bins=N_BINS).replicates(weights)
    for r in range(5):
        # Each date's rows repeated as often as the replicate drew the date.
        rows = np.concatenate([np.flatnonzero(codes == d).repeat(int(weights[r, d]))
                               for d in range(20)])
        assert got[r] == pytest.approx(binary_metrics(prob[rows], y[rows], n_bins=N_BINS)["ece"],
                                       rel=1e-12)


def test_ece_by_hand() -> None:
    # Ten bins. Date 0: P(up) 0.15 (down), 0.18 (up), both in bin [0.1, 0.2):
    # gap 0.15 + 0.18 - 1 = -0.67.
    # Date 1: 0.62 (up) in [0.6, 0.7): gap -0.38; 1.0 (up) alone in the 1.0 bin: gap 0.
    # ECE = (|-0.67| + |-0.38| + 0) / 4 rows = 1.05 / 4 = 0.2625.
    # Date 0 drawn twice, date 1 never: |2 x -0.67| / 4 rows = 0.335.
    # Date 1 drawn twice: (|2 x -0.38| + 0) / 4 rows = 0.19.
    prob = np.array([0.15, 0.18, 0.62, 1.0])
    y = np.array([0.0, 1.0, 1.0, 1.0])
    codes = np.array([0, 0, 1, 1])
    stat = row_metric_stat("ece", y, prob, codes, 2, n_bins=10)
    assert stat.estimate == pytest.approx(0.2625, abs=1e-15)
    got = stat.replicates(np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 2.0]]))
    np.testing.assert_allclose(got, [0.2625, 0.335, 0.19], rtol=1e-14)
    # The per-date series (block length) is each date's gap signed as its bin's overall gap.
    np.testing.assert_allclose(stat.per_date, [0.67 / 2, 0.38 / 2], rtol=1e-14)


def test_ece_refuses_what_it_cannot_score() -> None:
    dates = np.repeat(np.arange(3), 2)
    boot = bootstrap()
    with pytest.raises(ValueError, match="0 and 1"):
        metric_interval("ece", np.full(6, 0.5), np.full(6, 0.5), dates, horizon=1,
                        n_bins=N_BINS, **boot)
    with pytest.raises(ValueError, match="probabilities"):
        metric_interval("ece", np.ones(6), np.full(6, 1.5), dates, horizon=1, n_bins=N_BINS,
                        **boot)
    with pytest.raises(ValueError, match="n_bins"):
        metric_interval("ece", np.ones(6), np.full(6, 0.5), dates, horizon=1, n_bins=0, **boot)
    with pytest.raises(ValueError, match="n_bins"):  # the ECE has no default number of bins
        metric_interval("ece", np.ones(6), np.full(6, 0.5), dates, horizon=1, **boot)


def test_a_paired_difference_adds_the_error_bounds_of_its_sides() -> None:
    def stat(value: float, error: float | None) -> WeightedStat:
        return WeightedStat(value, np.zeros(3), lambda w: np.full(w.shape[0], value),
                            None if error is None else (lambda w: np.full(w.shape[0], error)),
                            None if error is None else 8)

    w = np.ones((2, 3))
    both = stat(0.6, 1e-4).minus(stat(0.5, 2e-4))
    assert both.error is not None and both.bins == 8
    np.testing.assert_allclose(both.error(w), 3e-4)
    np.testing.assert_allclose(both.replicates(w), 0.1)
    one = stat(0.6, 1e-4).minus(stat(0.5, None))
    assert one.error is not None
    np.testing.assert_allclose(one.error(w), 1e-4)
    assert stat(0.6, None).minus(stat(0.5, None)).error is None
