"""Permutation attribution: the within-date block shuffle, and the drop of the primary metric
on planted models whose used inputs are known."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from ifns_train.evaluation.attribution import (
    block_permutation,
    permutation_attribution,
    replicated_once,
)
from ifns_train.evaluation.attribution_view import depends_on
from ifns_train.evaluation.weighted_stats import WeightedStat
from tests.defaults import bootstrap
from tests.evaluation.plain import assert_plain_json

BOOT = bootstrap(reps=200)  # the run's level, method, block rule and seed
COLUMNS = ["a0", "a1", "b0", "b1"]
FAMILIES = {"Feature_A": ["a0", "a1"], "Feature_B": ["b0", "b1"]}
HORIZON = 5


def _messy(n_dates: int = 30, n_symbols: int = 6, seed: int = 1):
    """A panel whose rows are in no order, with gaps, and symbol S5 absent on dates 10-19;
    dates 0-9 (blocks 0 and 1 at horizon 5) and 20-29 hold every symbol."""
    rng = np.random.default_rng(seed)
    day = np.repeat(np.arange(n_dates), n_symbols)
    sym = np.tile(np.arange(n_symbols), n_dates)
    keep = ~((sym == 5) & (day >= 10) & (day < 20))
    keep &= ~((day >= 10) & (day < 20) & (rng.random(day.size) < 0.2))  # more gaps there
    day, sym = day[keep], sym[keep]
    shuffle = rng.permutation(day.size)
    dates = (np.datetime64("2021-01-04") + day[shuffle]).astype("datetime64[ns]")
    symbols = np.array([f"S{s}" for s in sym[shuffle]], dtype=object)
    return dates, symbols


def _mapping(dates: np.ndarray, symbols: np.ndarray, source: np.ndarray, date: np.datetime64
             ) -> dict[str, str]:
    on = np.flatnonzero(dates == date)
    return {symbols[i]: symbols[source[i]] for i in on}


def test_the_permutation_stays_within_each_date() -> None:
    dates, symbols = _messy()
    source = block_permutation(dates, symbols, HORIZON, seed=0)
    assert (dates[source] == dates).all()  # no value crosses dates
    for date in np.unique(dates):  # each date: a permutation of the rows present on it
        on = np.flatnonzero(dates == date)
        assert sorted(source[on].tolist()) == on.tolist()
    assert (source != np.arange(len(source))).mean() > 0.5


def test_one_shuffle_per_block_of_horizon_dates() -> None:
    dates, symbols = _messy()
    source = block_permutation(dates, symbols, HORIZON, seed=0)
    first = np.datetime64("2021-01-04", "ns")
    blocks = [[_mapping(dates, symbols, source, first + np.timedelta64(d, "D"))
               for d in range(b * HORIZON, (b + 1) * HORIZON)] for b in (0, 1, 4, 5)]
    for maps in blocks:  # full dates: one mapping of symbols over the block
        assert all(m == maps[0] for m in maps) and len(maps[0]) == 6
        assert sorted(maps[0].values()) == sorted(maps[0])
    distinct = {tuple(sorted(maps[0].items())) for maps in blocks}
    assert len(distinct) == 4  # each block its own shuffle


def test_the_permutation_is_deterministic_for_a_seed() -> None:
    dates, symbols = _messy()
    a = block_permutation(dates, symbols, HORIZON, seed=7)
    assert (a == block_permutation(dates, symbols, HORIZON, seed=7)).all()
    assert (a != block_permutation(dates, symbols, HORIZON, seed=8)).any()


def _panel(n_dates: int = 120, n_symbols: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    dates = np.repeat(np.arange(n_dates).astype("datetime64[D]").astype("datetime64[ns]"),
                      n_symbols)
    symbols = np.tile(np.array([f"S{i}" for i in range(n_symbols)], dtype=object), n_dates)
    features = rng.normal(size=(dates.size, len(COLUMNS))).astype(np.float32)
    noise = rng.normal(size=dates.size)
    return dates, symbols, features, noise


def _attribute(predict, features, dates, symbols, y, metric_set: str, **changes):
    everything = np.arange(len(dates))
    options = {"metric_set": metric_set, "columns": COLUMNS, "families": FAMILIES,
               "horizon": HORIZON, "bootstrap": BOOT, "reps": 200, "max_features": 64,
               "split": "test", "lookback": 1, **changes}
    return permutation_attribution(predict, features, dates, symbols, everything, everything,
                                   y, **options)


def _reads(column: int, link=lambda x: 1.0 / (1.0 + np.exp(-3.0 * x))):
    def predict(part: np.ndarray, at: np.ndarray, which: np.ndarray
                ) -> Mapping[str, np.ndarray]:
        out = link(part[at, column].astype(np.float64))
        return {"prob": out, "pred": (out >= 0.5).astype(np.float64)}

    return predict


def _carries_only(result: dict, column: str, family: str) -> None:
    features, families = result["features"], result["families"]
    assert next(iter(features)) == column and next(iter(families)) == family
    used = features[column]
    assert used["drop"] > 0 and used["low"] > 0 and used["evidence"] == "better"
    assert used["family"] == family
    for name, entry in features.items():
        if name != column:
            assert (entry["drop"], entry["low"], entry["high"]) == (0.0, 0.0, 0.0), name
            assert entry["evidence"] == "within noise"
    assert families[family]["low"] > 0 and families[family]["columns"] == 2
    other = next(f for f in families if f != family)
    assert (families[other]["drop"], families[other]["low"], families[other]["high"]) \
        == (0.0, 0.0, 0.0)
    assert_plain_json(result)


def test_a_planted_model_reading_one_feature_is_carried_by_it_alone() -> None:
    dates, symbols, features, noise = _panel()
    y = (features[:, 2] + noise > 0).astype(np.float64)  # labels from b0 plus noise
    result = _attribute(_reads(2), features, dates, symbols, y, "directional")
    _carries_only(result, "b0", "Feature_B")
    assert (result["metric"], result["prediction"], result["split"]) == ("auc", "prob", "test")
    assert result["rows"] == len(y) and result["dates"] == 120 and result["skipped"] is None
    assert result["block_dates"] == HORIZON and result["seed"] == BOOT["seed"]
    assert result["bootstrap"]["reps"] == 200 and isinstance(result["bootstrap"]["block"], int)
    # The unpermuted figure is the model's AUC; the used column's drop leaves about chance.
    assert 0.8 < result["full"] < 0.86
    assert result["full"] - result["features"]["b0"]["drop"] == pytest.approx(0.5, abs=0.03)
    again = _attribute(_reads(2), features, dates, symbols, y, "directional")
    assert again == result  # the same digits for the same seed


def _pair_auc(score: np.ndarray, up: np.ndarray) -> float:
    """AUC by counting pairs: P(score of an up row > a down row's), ties counted half."""
    pos, neg = score[up == 1], score[up == 0]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return float(wins / (len(pos) * len(neg)))


def test_the_drop_by_hand() -> None:
    # Two dates, symbols A and B, one block: seed 0 draws keys (0.64, 0.27) for (A, B), so
    # each date's rows in key order are (B, A): A takes B's value and B takes A's.
    dates = np.array(["2021-01-04", "2021-01-04", "2021-01-05", "2021-01-05"],
                     dtype="datetime64[ns]")
    symbols = np.array(["A", "B", "A", "B"], dtype=object)
    assert block_permutation(dates, symbols, 2, seed=0).tolist() == [1, 0, 3, 2]
    x = np.array([[0.9, 0.0], [0.1, 0.0], [0.2, 0.0], [0.6, 0.0]], dtype=np.float32)
    y = np.array([1.0, 0.0, 1.0, 0.0])
    # Before: up rows score 0.9, 0.2; down rows 0.1, 0.6: pairs won 0.9>0.1, 0.9>0.6,
    # 0.2>0.1 = 3 of 4, AUC 0.75. After the swap: up 0.1, 0.6; down 0.9, 0.2: 0.6>0.2 = 1 of 4,
    # AUC 0.25. The drop: 0.5.
    assert _pair_auc(x[:, 0], y) == 0.75 and _pair_auc(x[[1, 0, 3, 2], 0], y) == 0.25
    everything = np.arange(4)
    result = permutation_attribution(
        _reads(0, link=lambda v: v), x, dates, symbols, everything, everything, y,
        metric_set="directional", columns=["x", "z"], families={"Feature_X": ["x", "z"]},
        horizon=2, bootstrap=bootstrap(seed=0), reps=50, max_features=64, split="test",
        lookback=1)
    assert result["full"] == pytest.approx(0.75)
    assert result["features"]["x"]["drop"] == pytest.approx(0.5)
    assert result["features"]["z"]["drop"] == 0.0
    assert result["families"]["Feature_X"]["drop"] == pytest.approx(0.5)


def test_a_bigger_drop_by_hand() -> None:
    # Four symbols over three dates in one block, scored by the pairs count above.
    rng = np.random.default_rng(3)
    dates = np.repeat(np.array(["2021-01-04", "2021-01-05", "2021-01-06"],
                               dtype="datetime64[ns]"), 4)
    symbols = np.tile(np.array(["A", "B", "C", "D"], dtype=object), 3)
    x = rng.normal(size=(12, 1)).astype(np.float32)
    y = (x[:, 0] + rng.normal(scale=0.5, size=12) > 0).astype(np.float64)
    source = block_permutation(dates, symbols, 3, seed=0)
    expected = _pair_auc(x[:, 0], y) - _pair_auc(x[source, 0], y)
    everything = np.arange(12)
    result = permutation_attribution(  # P(up) = sigmoid(3x): the same order as x
        _reads(0), x, dates, symbols, everything, everything, y,
        metric_set="directional", columns=["x"], families={"Feature_X": ["x"]},
        horizon=3, bootstrap=bootstrap(seed=0), reps=50, max_features=64, split="test",
        lookback=1)
    assert expected != 0.0
    assert result["features"]["x"]["drop"] == pytest.approx(expected, abs=1e-12)


def test_a_loss_drops_in_its_favourable_direction() -> None:
    dates, symbols, features, noise = _panel()
    # risk: QLIKE of a volatility forecast exp(a1 / 2) of realised vol exp((a1 + noise) / 2)
    vol = np.exp(0.5 * (features[:, 1] + 0.5 * noise))

    def forecast(f: np.ndarray, at: np.ndarray, which: np.ndarray) -> Mapping[str, np.ndarray]:
        return {"pred": np.exp(0.5 * f[at, 1].astype(np.float64))}

    result = _attribute(forecast, features, dates, symbols, vol, "risk")
    assert result["metric"] == "qlike"
    _carries_only(result, "a1", "Feature_A")
    # cost: MAE in bps of a cost forecast 10 + 3 b1 against 10 + 3 b1 + noise
    cost = 10.0 + 3.0 * features[:, 3] + noise

    def cost_forecast(f: np.ndarray, at: np.ndarray, which: np.ndarray
                      ) -> Mapping[str, np.ndarray]:
        return {"pred": 10.0 + 3.0 * f[at, 3].astype(np.float64)}

    result = _attribute(cost_forecast, features, dates, symbols, cost, "cost")
    assert result["metric"] == "mae_bps"
    _carries_only(result, "b1", "Feature_B")


def test_a_series_metric_rank_ic() -> None:
    dates, symbols, features, noise = _panel()
    ret = 0.01 * features[:, 0] + 0.02 * noise

    def forecast(f: np.ndarray, at: np.ndarray, which: np.ndarray) -> Mapping[str, np.ndarray]:
        return {"pred": f[at, 0].astype(np.float64)}

    result = _attribute(forecast, features, dates, symbols, ret, "return")
    assert result["metric"] == "rank_ic_mean"
    _carries_only(result, "a0", "Feature_A")


def test_too_many_columns_attributes_families_only() -> None:
    dates, symbols, features, noise = _panel(n_dates=40)
    y = (features[:, 2] + noise > 0).astype(np.float64)
    result = _attribute(_reads(2), features, dates, symbols, y, "directional", max_features=3)
    assert result["features"] is None
    assert "max_features=3" in result["skipped"] and "4 feature columns" in result["skipped"]
    assert list(result["families"]) == ["Feature_B", "Feature_A"]
    assert result["families"]["Feature_A"]["drop"] == 0.0


def test_the_features_are_left_as_they_were() -> None:
    dates, symbols, features, noise = _panel(n_dates=30)
    before = features.copy()
    seen: list[np.ndarray] = []

    def predict(f: np.ndarray, at: np.ndarray, which: np.ndarray) -> Mapping[str, np.ndarray]:
        seen.append(f.copy())
        return _reads(2)(f, at, which)

    _attribute(predict, features, dates, symbols, (noise > 0).astype(float), "directional")
    assert (features == before).all()
    assert (seen[0] == before).all()  # the first pass: unpermuted
    for f in seen[1:]:  # every later pass: some column changed, the rest as they were
        changed = [j for j in range(4) if (f[:, j] != before[:, j]).any()]
        assert changed and len(changed) <= 2


def test_parts_give_the_same_figures_as_one_pass() -> None:
    """A split larger than memory is scored in parts of `chunk_bytes`: the same figures."""
    dates, symbols, features, noise = _panel(n_dates=30)
    y = (features[:, 2] + noise > 0).astype(float)
    whole = _attribute(_reads(2), features, dates, symbols, y, "directional")
    parts = _attribute(_reads(2), features, dates, symbols, y, "directional",
                       chunk_bytes=7 * features.shape[1] * features.itemsize)
    assert parts == whole


def test_one_symbol_a_date_is_not_measured_rather_than_measured_as_nothing() -> None:
    """A universe of one symbol: a shuffle within dates moves nothing, so every drop would be
    0 and read "does not lean on it"; the block says it measured nothing, and why."""
    dates, symbols, features, noise = _panel(n_dates=60, n_symbols=1)
    y = (features[:, 2] + noise > 0).astype(float)
    result = _attribute(_reads(2), features, dates, symbols, y, "directional")
    assert result["features"] is None and result["families"] == {}
    assert "no date has two or more rows" in result["skipped"]

    assert depends_on(result, "Feature_A", 0.0) is None  # not measured, not "no"


def test_replicated_once_computes_each_weight_matrix_once() -> None:
    """The unpermuted statistic, paired with every group, is bootstrapped once per weight
    matrix: the same values, shared read-only; a new matrix is computed afresh."""
    calls: list[int] = []

    def replicates(w: np.ndarray) -> np.ndarray:
        calls.append(id(w))
        return w.sum(axis=1) / 3.0

    stat = replicated_once(WeightedStat(0.5, np.zeros(3), replicates,
                                        lambda w: np.zeros(w.shape[0]), 8))
    w1, w2 = np.ones((4, 3)), np.full((4, 3), 2.0)
    first = stat.replicates(w1)
    assert stat.replicates(w1) is first and len(calls) == 1
    np.testing.assert_array_equal(first, np.ones(4))
    with pytest.raises(ValueError):
        first[0] = 0.0  # shared: never changed in place
    np.testing.assert_array_equal(stat.replicates(w2), np.full(4, 2.0))
    assert len(calls) == 2
    assert stat.estimate == 0.5 and stat.bins == 8
    assert stat.error is not None and stat.error(w1) is stat.error(w1)
