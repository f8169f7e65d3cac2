"""gating_effect on a hand-checked 8-row example."""

from __future__ import annotations

import json
from functools import partial

import numpy as np
import pytest

from ifns_train.evaluation.gating import gating_effect
from ifns_train.evaluation.report import split_report
from ifns_train.evaluation.slices import by_slice
from tests.defaults import report_settings
from tests.evaluation.plain import assert_plain_json

#   idx       0    1    2    3    4    5    6    7
#   primary   1    1    1    1    0    0    0    0
#   y         1    1    0    0    0    1    1    0
#   hit       Y    Y    N    N    Y    N    N    Y      -> primary hit rate 4 / 8 = .5
#   overlay  .8   .75  .6   .9   .25  .3   .5   .1     (P(up))
PRIMARY = np.array([1, 1, 1, 1, 0, 0, 0, 0])
Y = np.array([1, 1, 0, 0, 0, 1, 1, 0])
PROB = np.array([0.8, 0.75, 0.6, 0.9, 0.25, 0.3, 0.5, 0.1])


def test_gate_at_075_keeps_confident_agreement_including_boundaries() -> None:
    # up calls pass with prob >= .75:   idx 0 (.8), 1 (.75, boundary), 3 (.9); not 2 (.6)
    # down calls pass with prob <= .25: idx 4 (.25, boundary), 7 (.1); not 5 (.3), 6 (.5)
    # gated = {0, 1, 3, 4, 7}: hits Y Y N Y Y -> 4 / 5 = .8
    m = gating_effect(PRIMARY, Y, PROB, threshold=0.75)
    assert m == {
        "rows": 8,
        "primary_hit_rate": 0.5,
        "gated_rows": 5,
        "coverage": 5 / 8,
        "gated_hit_rate": pytest.approx(0.8),
        "hit_rate_change": pytest.approx(0.3),  # .8 - .5
        "threshold": 0.75,
    }


def test_half_threshold_passes_every_agreeing_row() -> None:
    # .5: up calls need prob >= .5 (all of .8 .75 .6 .9), down calls prob <= .5 (all of
    # .25 .3 .5 .1; .5 itself passes) -> all 8 rows, gated hit rate = primary = .5
    m = gating_effect(PRIMARY, Y, PROB, threshold=0.5)
    assert m["gated_rows"] == 8 and m["coverage"] == 1.0
    assert m["gated_hit_rate"] == 0.5
    assert m["hit_rate_change"] == 0.0
    assert m["threshold"] == 0.5


def test_disagreeing_overlay_blocks_the_row() -> None:
    # up call with overlay .3 and down call with overlay .7: the overlay leans the other way
    m = gating_effect(np.array([1, 0]), np.array([1, 0]), np.array([0.3, 0.7]), threshold=0.5)
    assert m["gated_rows"] == 0
    assert m["primary_hit_rate"] == 1.0  # both calls right
    assert m["gated_hit_rate"] is None and m["hit_rate_change"] is None
    assert m["coverage"] == 0.0
    json.dumps(m, allow_nan=False)


def test_threshold_one_passes_only_certain_overlays() -> None:
    # nothing in PROB is 1.0 or 0.0 -> no row passes
    m = gating_effect(PRIMARY, Y, PROB, threshold=1.0)
    assert m["gated_rows"] == 0 and m["gated_hit_rate"] is None
    # prob 1.0 for an up call, 0.0 for a down call: both pass; hits: idx 0 Y, idx 1 N
    m = gating_effect(np.array([1, 0]), np.array([1, 1]), np.array([1.0, 0.0]), threshold=1.0)
    assert m["gated_rows"] == 2 and m["gated_hit_rate"] == 0.5


def test_down_side_boundary_rounds_like_the_up_side() -> None:
    # threshold .9: up call at .9 passes (.9 >= .9); a down call at .1 must pass too.
    # 1 - .9 is 0.09999999999999998 < .1 in floating point, so the gate compares P(down)
    # = 1 - .1 = .9 (exactly the double .9) with the threshold instead.
    m = gating_effect(np.array([1, 0]), np.array([1, 0]), np.array([0.9, 0.1]), threshold=0.9)
    assert m["gated_rows"] == 2


def test_empty_input() -> None:
    m = gating_effect(np.array([], dtype=int), np.array([], dtype=int), np.array([]),
                      threshold=0.5)
    assert m == {
        "rows": 0,
        "primary_hit_rate": None,
        "gated_rows": 0,
        "coverage": None,
        "gated_hit_rate": None,
        "hit_rate_change": None,
        "threshold": 0.5,
    }


def test_output_is_plain_json() -> None:
    m = gating_effect(PRIMARY.astype(bool), Y.astype(float), PROB.astype(np.float32), 0.75)
    assert_plain_json(m)
    assert None not in m.values()


@pytest.mark.parametrize(
    ("primary", "y", "prob", "threshold"),
    [
        ([1, 0], [1, 0], [0.6, 0.4], 0.4),  # below .5: would pass disagreeing rows
        ([1, 0], [1, 0], [0.6, 0.4], 1.5),
        ([1, 0], [1, 0], [0.6, 0.4], float("nan")),
        ([1, 0], [1, 0], [0.6, 0.4], True),
        ([1, 2], [1, 0], [0.6, 0.4], 0.5),  # primary not 0/1
        ([1, 0], [1, 0.5], [0.6, 0.4], 0.5),  # y not 0/1
        ([1, 0], [1, 0], [0.6, 1.2], 0.5),  # prob out of range
        ([1, 0], [1, 0], [0.6, float("nan")], 0.5),
        ([1, 0], [1, 0, 1], [0.6, 0.4], 0.5),  # length mismatch
        ([1, 0], [1, 0], [0.6], 0.5),
        ([[1, 0]], [[1, 0]], [[0.6, 0.4]], 0.5),  # 2-D
    ],
)
def test_rejects_malformed_input(primary: list, y: list, prob: list, threshold: float) -> None:
    with pytest.raises(ValueError):
        gating_effect(np.array(primary), np.array(y), np.array(prob), threshold)


def test_overlay_report_gating_equals_gating_effect_on_each_regime() -> None:
    # The report's gating (overall and per regime, in one pass) against gating_effect on the
    # whole split and on each regime's rows (by_slice): counts, so exactly equal.
    rng = np.random.default_rng(11)
    n = 2000
    prob = np.round(rng.random(n), 2)
    y = (rng.random(n) < prob).astype(float)
    primary = (rng.random(n) < 0.5).astype(float)
    regime = np.array(["bear", "bull", "calm"], dtype=object)[rng.integers(0, 3, n)]
    regime[:5] = None  # missing regimes form their own slice, last
    rep = split_report("overlay", y=y, model={"prob": prob}, baselines={},
                       context={"regime_tag": regime, "vol": rng.integers(0, 3, n)},
                       inputs={"primary_up": primary},
                       **{**report_settings(), "min_rows": 500, "gate_threshold": 0.6})
    arrays = {"primary_up": primary, "y": y, "overlay_prob": prob}
    effect = partial(gating_effect, threshold=0.6)
    expected = {**effect(**arrays),
                "slices": by_slice(effect, arrays, {"regime_tag": regime}, min_rows=500)}
    assert rep["gating"] == expected
    assert list(rep["gating"]["slices"]["regime_tag"]) == ["bear", "bull", "calm", None]
    assert_plain_json(rep["gating"]["slices"]["regime_tag"]["bear"])
