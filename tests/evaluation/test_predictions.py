"""The prediction table is taken apart into exactly the arrays it was made from."""

from __future__ import annotations

import numpy as np
import pytest

from ifns_train.evaluation.predictions import (
    PredictionArrays,
    non_finite,
    prediction_table,
    read_table,
)


def _arrays() -> PredictionArrays:
    return PredictionArrays(
        dates=np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[ns]"),
        symbols=np.array(["A", "B"], dtype=object),
        y=np.array([1.0, 0.0]),
        model={"prob": np.array([0.7, 0.2]), "pred": np.array([1.0, 0.0])},
        baselines={"momentum_sign": {"prob": np.array([0.6, 0.6]), "pred": np.ones(2)},
                   "a:b": {"pred": np.zeros(2)}},
        inputs={"primary_up": np.array([1.0, 0.0])},
        context={"regime_tag": np.array(["bull_calm", "bear_calm"], dtype=object)},
    )


def test_round_trip() -> None:
    arrays = _arrays()
    table = prediction_table(arrays)
    assert list(table.columns[:5]) == ["date", "symbol", "label", "model:prob", "model:pred"]
    back = read_table(table)
    assert back.model.keys() == arrays.model.keys()
    # A baseline name may hold ':' itself: the key is what follows the last one.
    assert set(back.baselines) == {"momentum_sign", "a:b"}
    np.testing.assert_array_equal(back.baselines["momentum_sign"]["prob"], [0.6, 0.6])
    np.testing.assert_array_equal(back.inputs["primary_up"], [1.0, 0.0])
    assert back.context["regime_tag"].tolist() == ["bull_calm", "bear_calm"]
    assert (back.dates == arrays.dates).all() and len(back) == 2


def test_bad_tables_are_refused() -> None:
    table = prediction_table(_arrays())
    with pytest.raises(ValueError, match=r"x\.parquet: no column label"):
        read_table(table.drop(columns=["label"]), "x.parquet")
    with pytest.raises(ValueError, match="no model prediction column"):
        read_table(table.drop(columns=["model:prob", "model:pred"]))
    arrays = _arrays()
    arrays.context["label"] = arrays.context.pop("regime_tag")
    with pytest.raises(ValueError, match="collides"):
        prediction_table(arrays)


def test_non_finite_counts() -> None:
    assert non_finite({"a": np.array([1.0, np.nan, np.inf]), "b": np.zeros(3)}) == {"a": 2}
