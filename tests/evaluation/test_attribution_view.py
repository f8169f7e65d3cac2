"""The one reading of a model's feature attribution: rows by drop, the tree's gain shares,
the `--depends-on` rule, "not measured" and the picture's numbers, on planted blocks whose
figures are written out by hand."""

from __future__ import annotations

import json

import pytest

from ifns_train.evaluation.attribution_view import (
    ATTRIBUTION_SINCE,
    depends_on,
    family_rows,
    feature_rows,
    picture_data,
    summary,
)
from tests.registry.factory import planted_attribution

VOL, TREND = "Feature_VOL_LIQ_V1", "Feature_TREND_MTF_V1"


def test_rows_by_drop_with_the_family_and_gain() -> None:
    block = planted_attribution(VOL, 0.04, tree=True)
    rows = feature_rows(block)
    assert [r["name"] for r in rows] == ["vol_20d", "trend_20d", "liq_ratio", "trend_60d"]
    assert rows[0] == {"name": "vol_20d", "drop": 0.04, "low": pytest.approx(0.03),
                       "high": pytest.approx(0.05), "evidence": "better",
                       "reading": "leans on it", "gain": 0.7, "family": VOL}
    assert [r["name"] for r in feature_rows(block, top=2)] == ["vol_20d", "trend_20d"]
    families = family_rows(block)
    assert [f["name"] for f in families] == [VOL, TREND]
    # a family's gain: its columns' shares summed (0.7 + 0.1; 0.15 + 0.05)
    assert families[0]["gain"] == pytest.approx(0.8) and families[1]["gain"] == pytest.approx(0.2)
    assert families[0]["columns"] == 2 and families[1]["reading"] == "within noise"


def test_a_net_has_no_gain_and_a_missing_drop_sorts_last() -> None:
    block = planted_attribution(VOL)
    block["features"]["liq_ratio"]["drop"] = float("nan")
    rows = feature_rows(block)
    assert rows[-1]["name"] == "liq_ratio" and rows[-1]["drop"] is None
    assert all(r["gain"] is None for r in rows + family_rows(block))


def test_depends_on_is_the_low_end_above_the_threshold() -> None:
    block = planted_attribution(VOL, 0.04)  # the family: 0.041, interval 0.031 to 0.051
    assert depends_on(block, VOL, 0.0) is True
    assert depends_on(block, VOL, 0.03) is True
    assert depends_on(block, VOL, 0.035) is False  # the drop is above, its interval is not
    assert depends_on(block, TREND, 0.0) is False  # within noise: -0.0029 to 0.0031
    assert depends_on(block, TREND, -0.01) is True
    assert depends_on(block, "Feature_NOPE_V1", 0.0) is False
    assert depends_on(None, VOL, 0.0) is None  # not measured
    block["families"][VOL].update(low=None, high=None)
    assert depends_on(block, VOL, 0.0) is False  # no interval: no claim


def test_not_measured_says_why() -> None:
    before = summary({"model_id": "m"}, ATTRIBUTION_SINCE - 1, 5)
    assert before == {"measured": False, "words": "not measured (recorded before metrics "
                                                  f"version {ATTRIBUTION_SINCE})"}
    off = summary({"model_id": "m"}, ATTRIBUTION_SINCE, 5)
    assert not off["measured"] and "attribution was off" in off["words"]


def test_summary_of_a_measured_model() -> None:
    view = summary({"attribution": planted_attribution(VOL, tree=True)}, ATTRIBUTION_SINCE, 2)
    assert view["measured"] and view["tree"] and view["skipped"] is None
    assert (view["metric"], view["full"], view["level"], view["rows"]) == ("auc", 0.58, 0.95,
                                                                           1440)
    assert [f["name"] for f in view["features"]] == ["vol_20d", "trend_20d"]
    assert view["features_total"] == 4 and len(view["families"]) == 2
    skipped = summary({"attribution": planted_attribution(VOL, per_feature=False)}, 5, 2)
    assert skipped["features"] == [] and "max_features" in skipped["skipped"]
    assert [f["name"] for f in skipped["families"]] == [VOL, TREND]


def test_picture_data_is_strict_json_with_its_notes() -> None:
    block = planted_attribution(VOL, tree=True)
    block["families"][TREND]["high"] = float("inf")
    data = picture_data(block, top=3)
    json.dumps(data, allow_nan=False)
    assert data["gain"] and [r["name"] for r in data["features"]] == [
        "vol_20d", "trend_20d", "liq_ratio"]
    assert data["families"][1]["high"] is None
    assert data["note"] == "the 3 features of largest drop of 4"
    assert data["title"] == "feature attribution (test split, auc 0.5800)"
    data = picture_data(planted_attribution(VOL, per_feature=False), top=3)
    assert data["features"] == [] and data["note"].startswith("per feature not measured: ")
