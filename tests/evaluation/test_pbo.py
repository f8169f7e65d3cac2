"""The probability of backtest overfitting by CSCV: noise, a planted edge, a case by hand, the
purge, and the matrices it refuses."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest

from ifns_train.evaluation.pbo import _block_bounds, cscv, indicator, purged_dates


def test_pure_noise_gives_a_pbo_near_one_half() -> None:
    """N = 10 trials of i.i.d. noise: the in-sample and out-of-sample dates are disjoint, so the
    OOS rank of the IS-best trial is uniform on 1..N and P(rank <= (N + 1) / 2) = 1/2 exactly
    (N even: no rank sits on the median). So each matrix's PBO has expectation 0.5; its spread
    is not known in closed form (the 70 halvings of one matrix share dates), so it is measured:
    the mean of R = 120 independent matrices lies within 3 standard errors (sd / sqrt(R), about
    0.013 here; 0.5 / sqrt(R) = 0.046 at worst) of 0.5 (a 0.3% chance of a false failure)."""
    rng = np.random.default_rng(7)
    values = np.array([cscv(rng.normal(size=(160, 10)), 8, 0)["pbo"] for _ in range(120)])
    standard_error = values.std(ddof=1) / math.sqrt(len(values))
    assert 0 < standard_error < 0.05
    assert abs(values.mean() - 0.5) < 3 * standard_error


def test_one_trial_with_an_edge_among_noise_gives_a_pbo_near_zero() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(480, 12))
    matrix[:, 5] += 0.5  # half a standard deviation a date, on every date
    result = cscv(matrix, 16, 5)
    assert result["combinations"] == 12870 and result["trials"] == 12
    assert result["pbo"] < 0.02
    assert result["degradation"]["oos_mean"] > 0.3  # the pick stays good out of sample


def test_a_case_worked_by_hand() -> None:
    """S = 4 blocks of one date, 2 trials, no purge. A = [4, 0, 1, 3], B = [1, 2, 3, 0].
    IS {0,1}: A 2.0, B 1.5 -> A; OOS {2,3}: A 2.0 > B 1.5: rank 2, w = 2/3, logit +ln 2.
    IS {0,2}: A 2.5, B 2.0 -> A; OOS {1,3}: A 1.5 > B 1.0: +ln 2.
    IS {0,3}: A 3.5, B 0.5 -> A; OOS {1,2}: A 0.5 < B 2.5: rank 1, w = 1/3, -ln 2.
    IS {1,2}: A 0.5, B 2.5 -> B; OOS {0,3}: B 0.5 < A 3.5: -ln 2.
    IS {1,3}: A 1.5, B 1.0 -> A; OOS {0,2}: A 2.5 > B 2.0: +ln 2.
    IS {2,3}: A 2.0, B 1.5 -> A; OOS {0,1}: A 2.0 > B 1.5: +ln 2.
    PBO = 2 of 6 logits <= 0 = 1/3; mean logit = (4 - 2) ln 2 / 6 = ln 2 / 3."""
    matrix = np.array([[4, 1], [0, 2], [1, 3], [3, 0]], dtype=float)
    result = cscv(matrix, 4, 0)
    assert result["pbo"] == pytest.approx(1 / 3)
    assert result["logits"]["mean"] == pytest.approx(math.log(2) / 3)
    assert result["combinations"] == 6 and sum(result["logits"]["counts"]) == 6
    # ln 2 = 0.69 falls in the bin [0.5, 1.0), -ln 2 in [-1.0, -0.5).
    edges = result["logits"]["edges"]
    counts = dict(zip(pairwise(edges), result["logits"]["counts"], strict=True))
    assert counts[(0.5, 1.0)] == 4 and counts[(-1.0, -0.5)] == 2
    # The pick's IS means 2, 2.5, 3.5, 2.5, 1.5, 2 against OOS 2, 1.5, 0.5, 0.5, 2.5, 2.
    assert result["degradation"]["is_mean"] == pytest.approx(14 / 6)
    assert result["degradation"]["oos_mean"] == pytest.approx(9 / 6)


def test_ties_share_their_rank() -> None:
    """Two identical trials: the IS pick ties OOS, rank (1 + 2) / 2 = 1.5, w = 1/2, logit 0:
    every halving counts as overfit (logit <= 0)."""
    column = np.arange(8, dtype=float)
    result = cscv(np.column_stack([column, column]), 4, 0)
    assert result["pbo"] == 1.0 and result["logits"]["mean"] == 0.0


def test_the_purge_drops_in_sample_dates_within_the_horizon_of_an_oos_block() -> None:
    # 40 dates in 4 blocks of 10; IS blocks 0 and 2, horizon 3.
    kept = purged_dates(40, 4, 3, np.array([True, False, True, False]))
    # Block 0 loses its last 3 dates (7-9, before OOS block 1); block 2 its first 3 (20-22)
    # and last 3 (27-29), between OOS blocks 1 and 3.
    assert kept.tolist() == [0, 1, 2, 3, 4, 5, 6, 23, 24, 25, 26]
    # IS blocks 0 and 1 side by side: only the edge next to OOS block 2 is purged.
    assert purged_dates(40, 4, 3, np.array([True, True, False, False])).tolist() == list(
        range(17))


def test_the_vectorised_means_are_those_of_the_purged_dates() -> None:
    """Every halving's logit, recomputed date by date from `purged_dates`, matches."""
    rng = np.random.default_rng(11)
    matrix = rng.normal(size=(103, 5))
    result = cscv(matrix, 6, 3)
    bounds = _block_bounds(103, 6)
    logits = []
    for row in indicator(6):
        oos = np.concatenate([np.arange(*bounds[b]) for b in range(6) if not row[b]])
        is_mean = matrix[purged_dates(103, 6, 3, row)].mean(axis=0)
        oos_mean = matrix[oos].mean(axis=0)
        rank = (oos_mean <= oos_mean[np.argmax(is_mean)]).sum()  # no ties in continuous noise
        logits.append(math.log(rank / (6 - rank)))
    assert result["pbo"] == pytest.approx(np.mean(np.array(logits) <= 0))
    assert result["logits"]["mean"] == pytest.approx(np.mean(logits))


@pytest.mark.parametrize(("matrix", "blocks", "horizon", "words"), [
    (np.zeros((40, 1)), 4, 0, "at least 2 trials"),
    (np.zeros((40, 3)), 5, 0, "even"),
    (np.zeros((3, 3)), 4, 0, "cannot be cut into 4 blocks"),
    (np.full((40, 3), np.nan), 4, 0, "non-finite"),
    (np.zeros((8, 3)), 4, 2, "no in-sample date"),
])
def test_matrices_it_cannot_split_are_refused(matrix: np.ndarray, blocks: int, horizon: int,
                                              words: str) -> None:
    with pytest.raises(ValueError, match=words):
        cscv(matrix, blocks, horizon)


def test_blocks_shorter_than_the_purge_are_refused_not_overrun() -> None:
    """132 dates in 16 blocks of 8 with a 20-date purge: a block loses all its dates at an
    edge (never reads past the matrix), and some halving keeps no in-sample date."""
    matrix = np.random.default_rng(0).normal(size=(132, 3))
    with pytest.raises(ValueError, match="leave some combination no in-sample date"):
        cscv(matrix, 16, 20)
