"""The per-date figures of a search's trials, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ifns_train.evaluation.performance_matrix import per_date_figures, performance_matrix
from ifns_train.evaluation.predictions import PredictionArrays

DAYS = np.array(["2024-01-02"] * 3 + ["2024-01-03"] * 3 + ["2024-01-04"] * 3,
                dtype="datetime64[ns]")


def _arrays(y: list[float], score: list[float], key: str = "prob",
            dates: np.ndarray = DAYS) -> PredictionArrays:
    return PredictionArrays(dates=dates, symbols=np.array(["A", "B", "C"] * (len(y) // 3)),
                            y=np.array(y), model={key: np.array(score)}, baselines={},
                            inputs={}, context={})


def test_a_ranking_metric_takes_the_per_date_rank_ic() -> None:
    # Day 1: scores rank 1,2,3, labels 1,2,3: +1. Day 2: labels reversed: -1. Day 3: labels
    # rank (1, 2.5, 2.5) against scores (1, 2, 3): centred (-1, .5, .5) . (-1, 0, 1) = 1.5,
    # norms sqrt(1.5) and sqrt(2): 1.5 / sqrt(3) = 0.866. A constant day would be NaN.
    figures = per_date_figures(_arrays([1, 2, 3, 3, 2, 1, 0, 1, 1],
                                       [.1, .2, .3, .1, .2, .3, .1, .2, .3]), "auc")
    assert figures.tolist() == pytest.approx([1.0, -1.0, 1.5 / math.sqrt(3)])
    flat = per_date_figures(_arrays([1, 1, 1, 0, 1, 0, 0, 1, 1],
                                    [.1, .2, .3, .1, .2, .3, .1, .2, .3]), "auc")
    assert math.isnan(flat.iloc[0])


def test_a_loss_takes_minus_the_per_date_mean_loss() -> None:
    # mae_bps: |pred - y| = (1, 2, 3), (0, 0, 0), (3, 3, 6): minus the means -2, 0, -4.
    figures = per_date_figures(_arrays([0, 0, 0, 5, 5, 5, 0, 0, 0],
                                       [1, 2, 3, 5, 5, 5, 3, -3, 6], key="pred"), "mae_bps")
    assert figures.tolist() == pytest.approx([-2.0, 0.0, -4.0])
    # qlike of pred = y is 0; of pred = y / 2: r = 4, 4 - ln 4 - 1 = 1.614.
    vol = per_date_figures(_arrays([.2] * 9, [.2, .2, .2, .1, .1, .1, .2, .2, .2],
                                   key="pred"), "qlike")
    assert vol.tolist() == pytest.approx([0.0, -(3 - math.log(4)), 0.0])


def test_the_matrix_keeps_the_dates_every_trial_defines() -> None:
    good = _arrays([1, 2, 3, 3, 2, 1, 0, 1, 2], [.1, .2, .3] * 3)
    constant = _arrays([1, 2, 3, 3, 2, 1, 0, 1, 2], [.1, .2, .3, .5, .5, .5, .1, .2, .3])
    dates, matrix, names = performance_matrix({"a": good, "b": constant}, "auc")
    assert names == ["a", "b"] and matrix.shape == (2, 2)  # day 2 is undefined for b
    assert list(dates) == [DAYS[0], DAYS[6]]
    assert matrix[:, 0].tolist() == pytest.approx([1.0, 1.0])


def test_trials_on_other_dates_are_refused() -> None:
    later = DAYS + np.timedelta64(7, "D")
    with pytest.raises(ValueError, match="trial b was tested on other dates"):
        performance_matrix({"a": _arrays([1, 2, 3] * 3, [.1, .2, .3] * 3),
                            "b": _arrays([1, 2, 3] * 3, [.1, .2, .3] * 3, dates=later)},
                           "auc")


def test_labels_of_one_class_leave_no_date_and_say_why() -> None:
    one_class = _arrays([1.0] * 9, [.1, .2, .3] * 3)
    with pytest.raises(ValueError, match="none of the 3 test dates has a per-date figure"):
        performance_matrix({"a": one_class, "b": one_class}, "auc")
