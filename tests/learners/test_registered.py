"""A dataset's feature columns against those a model reads: the first difference, in words."""

from __future__ import annotations

from ifns_train.learners.registered import column_mismatch

MODEL = ["ret_5d", "ret_20d", "vol_20d"]


def test_the_same_columns_in_the_same_order_match() -> None:
    assert column_mismatch(list(MODEL), MODEL) is None


def test_each_kind_of_difference_is_named() -> None:
    assert column_mismatch(["ret_5d", "vol_20d"], MODEL) == "lacks feature column 'ret_20d'"
    assert column_mismatch([*MODEL, "volume_z"], MODEL) == \
        "has feature column 'volume_z' the model was not trained on"
    assert column_mismatch(["ret_20d", "ret_5d", "vol_20d"], MODEL) == (
        "has 'ret_20d' as feature column 0, the model was trained with 'ret_5d' there "
        "(a changed order)")
