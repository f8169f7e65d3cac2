"""by_slice on a 6-row example; slice contents and metrics are worked out by hand."""

from __future__ import annotations

import json
from functools import partial

import numpy as np
import pytest

from ifns_train.evaluation.classification import binary_metrics as _binary_metrics
from ifns_train.evaluation.slices import by_slice
from tests.defaults import evaluation

binary_metrics = partial(_binary_metrics, n_bins=evaluation()["calibration_bins"])

#   idx     0     1     2     3     4     5
#   prob    .8    .3    .6    .4    .7    .2
#   pred    1     0     1     0     1     0      (prob >= .5)
#   y       1     0     0     0     1     1
#   regime  bull  bear  bull  bull  bear  side
#   vol     2     1     1     2     2     1
ARRAYS = {
    "prob": np.array([0.8, 0.3, 0.6, 0.4, 0.7, 0.2]),
    "y": np.array([1, 0, 0, 0, 1, 1]),
}
CONTEXT = {
    "regime_tag": np.array(["bull", "bear", "bull", "bull", "bear", "side"], dtype=object),
    "vol_band": np.array([2, 1, 1, 2, 2, 1]),
}


def test_binary_metrics_per_regime_and_vol_band() -> None:
    out = by_slice(binary_metrics, ARRAYS, CONTEXT, min_rows=3)
    assert list(out) == ["regime_tag", "vol_band"]
    regime = out["regime_tag"]
    assert list(regime) == ["bear", "bull", "side"]  # sorted
    # bear = idx 1, 4: pred 0 1, y 0 1 -> 2 / 2 correct; 2 rows < 3 -> small
    assert regime["bear"]["rows"] == 2
    assert regime["bear"]["small_slice"] is True
    assert regime["bear"]["hit_rate"] == pytest.approx(1.0)
    # bull = idx 0, 2, 3: pred 1 1 0, y 1 0 0 -> idx 0, 3 correct = 2 / 3; 3 rows, not small
    assert regime["bull"]["rows"] == 3
    assert regime["bull"]["small_slice"] is False  # 3 == min_rows is enough
    assert regime["bull"]["hit_rate"] == pytest.approx(2 / 3)
    # bull Brier: (.8-1)^2 + .6^2 + .4^2 = .04 + .36 + .16 = .56 -> / 3
    assert regime["bull"]["brier"] == pytest.approx(0.56 / 3)
    # side = idx 5 alone: pred 0, y 1 -> 0 / 1; one class -> AUC undefined
    assert regime["side"]["rows"] == 1
    assert regime["side"]["small_slice"] is True
    assert regime["side"]["hit_rate"] == 0.0
    assert regime["side"]["auc"] is None

    vol = out["vol_band"]
    assert list(vol) == [1, 2]
    assert all(type(k) is int for k in vol)  # plain int, not numpy.int64
    # vol 1 = idx 1, 2, 5: pred 0 1 0, y 0 0 1 -> only idx 1 correct = 1 / 3
    assert vol[1]["rows"] == 3 and vol[1]["small_slice"] is False
    assert vol[1]["hit_rate"] == pytest.approx(1 / 3)
    # vol 2 = idx 0, 3, 4: pred 1 0 1, y 1 0 1 -> 3 / 3
    assert vol[2]["rows"] == 3
    assert vol[2]["hit_rate"] == pytest.approx(1.0)
    # positives .8 .7 vs negative .4: both concordant -> 2 / 2
    assert vol[2]["auc"] == pytest.approx(1.0)
    json.dumps(out, allow_nan=False)


def test_the_runs_min_rows_flags_everything_tiny() -> None:
    min_rows = evaluation()["min_slice_rows"]  # what a run flags small slices under
    out = by_slice(binary_metrics, ARRAYS, {"vol_band": CONTEXT["vol_band"]}, min_rows=min_rows)
    assert [s["small_slice"] for s in out["vol_band"].values()] == [True, True]  # 3 rows each


def test_generic_metric_function_gets_masked_named_arrays() -> None:
    # Not a directional metric: weighted mean of x, with its own argument names.
    def weighted_mean(x: np.ndarray, w: np.ndarray) -> dict:
        return {"rows": len(x), "wmean": float((x * w).sum() / w.sum())}

    arrays = {"x": np.array([1.0, 2.0, 3.0, 4.0]), "w": np.array([1.0, 1.0, 3.0, 1.0])}
    context = {"grp": np.array(["b", "a", "b", "a"])}
    out = by_slice(weighted_mean, arrays, context, min_rows=2)
    # a = idx 1, 3: (2*1 + 4*1) / (1 + 1) = 3.0
    # b = idx 0, 2: (1*1 + 3*3) / (1 + 3) = 10 / 4 = 2.5
    assert out == {
        "grp": {
            "a": {"rows": 2, "wmean": 3.0, "small_slice": False},
            "b": {"rows": 2, "wmean": 2.5, "small_slice": False},
        }
    }


def test_missing_context_values_form_a_none_slice_last() -> None:
    def count(x: np.ndarray) -> dict:
        return {"rows": len(x), "total": float(x.sum())}

    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    context = {
        "tag": np.array(["a", None, "a", np.nan, "b"], dtype=object),
        "band": np.array([1.5, np.nan, 0.5, np.nan, 1.5]),
    }
    out = by_slice(count, {"x": x}, context, min_rows=1)
    # tag: a = idx 0, 2 -> 1 + 4 = 5;  b = idx 4 -> 16;  missing = idx 1, 3 -> 2 + 8 = 10
    assert list(out["tag"]) == ["a", "b", None]
    assert [s["total"] for s in out["tag"].values()] == [5.0, 16.0, 10.0]
    # band: 0.5 = idx 2 -> 4;  1.5 = idx 0, 4 -> 17;  NaN = idx 1, 3 -> 10
    assert list(out["band"]) == [0.5, 1.5, None]
    assert [s["rows"] for s in out["band"].values()] == [1, 2, 2]
    assert [s["total"] for s in out["band"].values()] == [4.0, 17.0, 10.0]
    json.dumps(out, allow_nan=False)


def test_misaligned_lengths_are_rejected() -> None:
    with pytest.raises(ValueError, match="same number of rows"):
        by_slice(binary_metrics, ARRAYS, {"vol_band": np.array([1, 2, 1])}, min_rows=1)
