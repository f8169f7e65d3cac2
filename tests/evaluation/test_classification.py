"""binary_metrics on tiny examples; every expected value is worked out by hand below."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy.stats import rankdata
from torchmetrics.functional.classification import binary_auroc, binary_calibration_error

from ifns_train.evaluation import classification
from ifns_train.evaluation.classification import binary_metrics
from ifns_train.evaluation.grouped import Layout
from tests.defaults import evaluation
from tests.evaluation.plain import assert_plain_json

N_BINS = evaluation()["calibration_bins"]  # the run's calibration bins

# Main example, 8 rows. Default pred = prob >= 0.5 (0.5 itself counts as "up").
#   idx   0    1    2    3    4    5    6    7
#   prob  0.9  0.8  0.7  0.6  0.5  0.4  0.4  0.1
#   y     1    1    0    0    1    1    0    0
#   pred  1    1    1    1    1    0    0    0
#   TP = {0,1,4} = 3, FP = {2,3} = 2, FN = {5} = 1, TN = {6,7} = 2
PROB = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.4, 0.1])
Y = np.array([1, 1, 0, 0, 1, 1, 0, 0])


def test_counts_based_metrics() -> None:
    m = binary_metrics(PROB, Y, n_bins=N_BINS)
    assert m["rows"] == 8
    assert m["base_rate"] == pytest.approx(4 / 8)  # y = 1 at idx 0, 1, 4, 5
    assert m["hit_rate"] == pytest.approx(5 / 8)  # (TP + TN) / 8 = (3 + 2) / 8
    assert m["precision_up"] == pytest.approx(3 / 5)  # TP / (TP + FP) = 3 / (3 + 2)
    assert m["recall_up"] == pytest.approx(3 / 4)  # TP / (TP + FN) = 3 / (3 + 1)
    assert m["precision_down"] == pytest.approx(2 / 3)  # TN / (TN + FN) = 2 / (2 + 1)
    assert m["recall_down"] == pytest.approx(2 / 4)  # TN / (TN + FP) = 2 / (2 + 2)


def test_brier_and_log_loss() -> None:
    m = binary_metrics(PROB, Y, n_bins=N_BINS)
    # (prob - y)^2: .01 .04 .49 .36 .25 .36 .16 .01 -> sum 1.68 -> / 8 = 0.21
    assert m["brier"] == pytest.approx(0.21)
    # -log(p) where y = 1, -log(1 - p) where y = 0:
    #   y = 1: idx 0 p .9, idx 1 p .8, idx 4 p .5, idx 5 p .4  -> log .9, log .8, log .5, log .4
    #   y = 0: idx 2 p .7, idx 3 p .6, idx 6 p .4, idx 7 p .1  -> log .3, log .4, log .6, log .9
    #   = (2 * 0.10536 + 0.22314 + 0.69315 + 2 * 0.91629 + 1.20397 + 0.51083) / 8
    #   = 4.67439 / 8 = 0.58430
    expected = (
        -(
            2 * math.log(0.9)
            + math.log(0.8)
            + math.log(0.5)
            + 2 * math.log(0.4)
            + math.log(0.3)
            + math.log(0.6)
        )
        / 8
    )
    assert m["log_loss"] == pytest.approx(expected)
    assert m["log_loss"] == pytest.approx(0.58430, abs=1e-5)


def test_log_loss_clips_certain_misses() -> None:
    # prob 1.0 with y = 0 and prob 0.0 with y = 1 are clipped to 1 - 1e-7 / 1e-7:
    # each costs -log(1e-7) = 16.1181, so the mean is 16.1181 (finite, not inf).
    m = binary_metrics(np.array([1.0, 0.0]), np.array([0, 1]), n_bins=N_BINS)
    assert m["log_loss"] == pytest.approx(-math.log(1e-7), rel=1e-6)
    assert m["log_loss"] == pytest.approx(16.1181, abs=1e-4)


def test_auc_counts_concordant_pairs_with_a_tie() -> None:
    m = binary_metrics(PROB, Y, n_bins=N_BINS)
    # positives (y=1): .9 .8 .5 .4     negatives (y=0): .7 .6 .4 .1     4 x 4 = 16 pairs
    #   .9 beats all 4 -> 4;  .8 beats all 4 -> 4
    #   .5 beats .4, .1 (loses to .7, .6) -> 2
    #   .4 beats .1, ties .4 (counts 1/2), loses to .7, .6 -> 1.5
    #   AUC = (4 + 4 + 2 + 1.5) / 16 = 11.5 / 16 = 0.71875
    assert m["auc"] == pytest.approx(0.71875)


def test_ece_and_reliability_bins_match_torchmetrics_edges() -> None:
    # n_bins = 4: edges 0, .25, .5, .75, 1 (exact in binary). torchmetrics' convention:
    # bins are [lower, upper), so .25 / .5 / .75 go UP a bin, and 1.0 gets its own bin.
    prob = np.array([0.1, 0.2, 0.25, 0.5, 0.7, 0.75, 0.9, 1.0])
    y = np.array([0, 1, 0, 1, 1, 1, 1, 0])
    m = binary_metrics(prob, y, n_bins=4)
    # [0, .25):    .1 .2   y 0 1  count 2  mean_prob .15   frac_up .5  |sum y - sum p| = .7
    # [.25, .5):   .25     y 0    count 1  mean_prob .25   frac_up 0                  = .25
    # [.5, .75):   .5 .7   y 1 1  count 2  mean_prob .6    frac_up 1                  = .8
    # [.75, 1):    .75 .9  y 1 1  count 2  mean_prob .825  frac_up 1                  = .35
    # [1, 1]:      1.0     y 0    count 1  mean_prob 1     frac_up 0                  = 1.0
    # ECE = sum(count * |frac_up - mean_prob|) / 8 = (.7 + .25 + .8 + .35 + 1.0) / 8 = .3875
    # (1.0 merged into [.75, 1] would give 0.3; edges closed on the right would give 0.3.)
    expected_bins = [
        (0.0, 0.25, 2, 0.15, 0.5),
        (0.25, 0.5, 1, 0.25, 0.0),
        (0.5, 0.75, 2, 0.6, 1.0),
        (0.75, 1.0, 2, 0.825, 1.0),
        (1.0, 1.0, 1, 1.0, 0.0),
    ]
    got = [
        (b["bin_lower"], b["bin_upper"], b["count"], b["mean_prob"], b["frac_up"])
        for b in m["reliability"]
    ]
    assert len(got) == len(expected_bins)
    for g, e in zip(got, expected_bins, strict=False):
        assert g[2] == e[2]
        assert g[:2] + g[3:] == pytest.approx(e[:2] + e[3:])
    assert m["ece"] == pytest.approx(0.3875)
    # Second opinion: torchmetrics itself on the same data.
    tm = binary_calibration_error(
        torch.tensor(prob, dtype=torch.float64), torch.tensor(y), n_bins=4, norm="l1"
    )
    assert m["ece"] == pytest.approx(float(tm))
    # The hand-written bins must add up to the same ECE.
    from_bins = sum(b["count"] * abs(b["frac_up"] - b["mean_prob"]) for b in m["reliability"])
    assert from_bins / 8 == pytest.approx(m["ece"])


def test_main_example_ece_with_ten_bins() -> None:
    # n_bins = 10, every prob sits on an edge and goes to the bin starting there:
    #   [.1,.2): .1 y0 -> .1   [.4,.5): .4 .4 y 1 0 -> |1 - .8| = .2   [.5,.6): .5 y1 -> .5
    #   [.6,.7): .6 y0 -> .6   [.7,.8): .7 y0 -> .7   [.8,.9): .8 y1 -> .2   [.9,1): .9 y1 -> .1
    #   ECE = (.1 + .2 + .5 + .6 + .7 + .2 + .1) / 8 = 2.4 / 8 = 0.3
    m = binary_metrics(PROB, Y, n_bins=10)
    assert m["ece"] == pytest.approx(0.3)
    assert [b["count"] for b in m["reliability"]] == [1, 2, 1, 1, 1, 1, 1]
    assert [b["bin_lower"] for b in m["reliability"]] == pytest.approx(
        [0.1, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    )
    tm = binary_calibration_error(torch.tensor(PROB), torch.tensor(Y), n_bins=10)
    assert m["ece"] == pytest.approx(float(tm))


def test_float_rounded_edge_follows_torchmetrics() -> None:
    # torch.linspace(0, 1, 11) puts the 0.3 edge at 0.30000000000000004 > 0.3, so 0.3 falls
    # in [0.2, 0.3) together with 0.25; 0.35 is alone in [0.3, 0.4).
    #   [.2,.3): .25 .3  y 1 0  |1 - .55| = .45      [.3,.4): .35 y 0  |0 - .35| = .35
    #   ECE = (.45 + .35) / 3 = 0.26667   (with 0.3 in the upper bin it would be 1.4 / 3)
    prob = np.array([0.25, 0.3, 0.35])
    y = np.array([1, 0, 0])
    m = binary_metrics(prob, y, n_bins=10)
    assert [b["count"] for b in m["reliability"]] == [2, 1]
    assert m["reliability"][0]["bin_lower"] == pytest.approx(0.2)
    assert m["ece"] == pytest.approx(0.8 / 3)
    tm = binary_calibration_error(torch.tensor(prob), torch.tensor(y), n_bins=10)
    assert m["ece"] == pytest.approx(float(tm))


def test_no_predicted_ups_gives_none_precision() -> None:
    # prob .1 .2 .3 .4 -> pred all 0;  y 0 1 0 1.  TP = FP = 0, FN = 2, TN = 2
    m = binary_metrics(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1]),
                       n_bins=N_BINS)
    assert m["precision_up"] is None  # 0 / 0
    assert m["recall_up"] == 0.0  # 0 / (0 + 2)
    assert m["precision_down"] == pytest.approx(0.5)  # 2 / (2 + 2)
    assert m["recall_down"] == pytest.approx(1.0)  # 2 / (2 + 0)
    assert m["hit_rate"] == pytest.approx(0.5)  # 2 / 4
    # positives .2 .4 vs negatives .1 .3: .2>.1, .2<.3, .4>.1, .4>.3 -> 3 / 4
    assert m["auc"] == pytest.approx(0.75)


def test_single_class_gives_none_auc_and_down_recall() -> None:
    # y all up; prob .2 .6 .7 .9 -> pred 0 1 1 1. TP = 3, FN = 1, TN = FP = 0
    m = binary_metrics(np.array([0.2, 0.6, 0.7, 0.9]), np.array([1, 1, 1, 1]),
                       n_bins=N_BINS)
    assert m["auc"] is None  # no negatives to rank against
    assert m["recall_down"] is None  # TN / (TN + FP) = 0 / 0
    assert m["precision_down"] == 0.0  # TN / (TN + FN) = 0 / 1
    assert m["recall_up"] == pytest.approx(0.75)  # 3 / 4
    assert m["base_rate"] == 1.0
    json.dumps(m, allow_nan=False)


def test_explicit_pred_overrides_threshold() -> None:
    # A momentum baseline: constant prob .6 (would predict all up), own signs 1 0 0 0.
    #   y 1 1 0 0: TP = 1 (idx 0), FN = 1 (idx 1), TN = 2 (idx 2, 3), FP = 0
    prob = np.array([0.6, 0.6, 0.6, 0.6])
    y = np.array([1, 1, 0, 0])
    m = binary_metrics(prob, y, pred=np.array([1, 0, 0, 0]), n_bins=N_BINS)
    assert m["hit_rate"] == pytest.approx(0.75)  # (1 + 2) / 4
    assert m["precision_up"] == pytest.approx(1.0)  # 1 / (1 + 0)
    assert m["recall_up"] == pytest.approx(0.5)  # 1 / (1 + 1)
    assert m["precision_down"] == pytest.approx(2 / 3)  # 2 / (2 + 1)
    assert m["recall_down"] == pytest.approx(1.0)  # 2 / (2 + 0)
    # Brier still scores prob: (.4^2 * 2 + .6^2 * 2) / 4 = (.32 + .72) / 4 = 0.26
    assert m["brier"] == pytest.approx(0.26)
    # all probs tie: every one of the 4 pos/neg pairs is a tie -> AUC = 0.5
    assert m["auc"] == pytest.approx(0.5)


def test_output_is_plain_json() -> None:
    m = binary_metrics(PROB.astype(np.float32), Y.astype(bool), n_bins=N_BINS)
    assert_plain_json(m)
    assert isinstance(m["rows"], int) and isinstance(m["reliability"][0]["count"], int)
    json.dumps(m, allow_nan=False)


def test_empty_input_is_all_none() -> None:
    m = binary_metrics(np.array([]), np.array([]), n_bins=N_BINS)
    assert m["rows"] == 0
    assert m["reliability"] == []
    assert all(v is None for k, v in m.items() if k not in ("rows", "reliability"))
    json.dumps(m, allow_nan=False)


@pytest.mark.parametrize(
    ("prob", "y", "pred"),
    [
        ([0.5, 1.2], [0, 1], None),  # prob out of range
        ([0.5, float("nan")], [0, 1], None),  # NaN prob
        ([0.5, 0.5], [0, 2], None),  # y not binary
        ([0.5, 0.5], [0, 1, 1], None),  # length mismatch
        ([0.5, 0.5], [0, 1], [1, -1]),  # pred not binary
    ],
)
def test_rejects_malformed_input(prob: list, y: list, pred: list | None) -> None:
    with pytest.raises(ValueError):
        binary_metrics(np.array(prob), np.array(y), None if pred is None else np.array(pred),
                       n_bins=N_BINS)


def test_random_inputs_against_independent_references() -> None:
    # 3,000 rows, probabilities on a 0.01 grid (ties between classes): AUC is the exact
    # Mann-Whitney U from scipy's average ranks (torchmetrics' float32 ROC agrees to 1e-6);
    # ECE equals torchmetrics' binary_calibration_error; Brier and log loss plain numpy.
    rng = np.random.default_rng(7)
    prob = np.round(rng.random(3000), 2)
    y = (rng.random(3000) < prob).astype(np.int64)
    m = binary_metrics(prob, y, n_bins=N_BINS)
    ranks = rankdata(prob)
    n1, n0 = y.sum(), (1 - y).sum()
    assert m["auc"] == pytest.approx((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0),
                                     rel=1e-14)
    assert m["auc"] == pytest.approx(float(binary_auroc(torch.tensor(prob), torch.tensor(y))),
                                     abs=1e-6)
    tm_ece = float(binary_calibration_error(torch.tensor(prob), torch.tensor(y), n_bins=N_BINS))
    assert m["ece"] == pytest.approx(tm_ece, rel=1e-12, abs=1e-14)
    assert m["brier"] == pytest.approx(np.mean((prob - y) ** 2), rel=1e-12)
    clipped = np.clip(prob, 1e-7, 1 - 1e-7)
    assert m["log_loss"] == pytest.approx(
        -np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)), rel=1e-12)
    assert sum(b["count"] for b in m["reliability"]) == 3000


@pytest.mark.parametrize("n_values", [3, 3000])  # few cells; more (cell, bin) pairs than BLOCK
def test_binary_scores_do_not_depend_on_the_block_size(
        n_values: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are scored in blocks; every sum is accumulated in row order, so the figures are
    bit-identical to one block of all rows, with few or many distinct probabilities."""
    rng = np.random.default_rng(n_values)
    n = 20_000
    context = {"a": rng.integers(0, n_values, n).astype(object),
               "b": np.where(rng.random(n) < 0.5, "x", None).astype(object)}
    for prob in (rng.random(n), np.where(rng.random(n) < 0.5, 0.25, 1.0)):
        y = (rng.random(n) < prob).astype(np.int64)
        figures = []
        for block in (7, 1000, 10**9):
            monkeypatch.setattr(classification, "BLOCK", block)
            scores = classification.binary_scores(Layout.of_columns(context, n), prob, y,
                                                   n_bins=10)
            figures.append((scores.figures, scores.curves))
        for other in figures[1:]:
            assert other[1] == figures[0][1]
            for got, expected in zip(other[0], figures[0][0], strict=True):
                for key in expected:
                    np.testing.assert_array_equal(got[key], expected[key])
