"""The grouped primitives against plain references: masks, np.unique, brute-force pair counts,
np.percentile, scipy's ranks; every path (few values, sort, repair, buckets) exercised."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import rankdata

from ifns_train.evaluation import grouped, ranking
from ifns_train.evaluation.grouped import Layout, encode, factorize
from ifns_train.evaluation.ranking import (
    centred_ranks,
    dense_rank,
    grouped_auc,
    grouped_percentile,
    ordered_bits,
)


def _layout(rng: np.random.Generator, n: int) -> tuple[Layout, dict[str, np.ndarray]]:
    """Two columns: 'a' with a value of one row ('lone') and 'b' with 3 values."""
    a = rng.choice(np.array(["x", "y", "z"], dtype=object), n)
    a[rng.integers(n)] = "lone"
    b = rng.integers(0, 3, n)
    context = {"a": a, "b": b}
    return Layout.of_columns(context, n), context


def _masks(layout: Layout, context: dict[str, np.ndarray], i: int) -> list[np.ndarray]:
    """Row masks of grouping i's groups, from the raw column (the reference)."""
    g = layout.groupings[i]
    if g.name is None:
        return [np.ones(layout.rows, dtype=bool)]
    return [np.asarray(context[g.name] == key) for key in g.keys]


def test_encode_sorts_keys_and_puts_missing_last_as_one_key() -> None:
    values = np.array(["b", None, "a", np.nan, "b", float("nan")], dtype=object)
    codes, keys = encode("tag", values)
    assert keys == ["a", "b", None]
    assert codes.tolist() == [1, 2, 0, 2, 1, 2]
    codes, keys = encode("band", np.array([2, 1, 2, 3]))
    assert keys == [1, 2, 3] and all(type(k) is int for k in keys)
    with pytest.raises(ValueError, match="mixes value types"):
        encode("bad", np.array(["a", 1], dtype=object))


def test_encode_of_a_long_object_column_merges_equal_values_held_by_distinct_objects() -> None:
    # Above 65,536 rows object columns are hashed by object address; equal strings that are
    # distinct objects, and NaN objects, must still become one key each.
    n = 70_000
    rng = np.random.default_rng(0)
    values = np.array(["bull", "bear"], dtype=object)[rng.integers(0, 2, n)]
    values[5] = "".join(["bu", "ll"])  # equal to "bull", another object
    values[7] = float("nan")
    values[9] = float("nan")  # another NaN object
    values[11] = None
    codes, keys = encode("regime", values)
    assert keys == ["bear", "bull", None]
    expected = np.where(values == "bear", 0, np.where(values == "bull", 1, 2))
    assert (codes == expected).all()
    assert codes[[5, 7, 9, 11]].tolist() == [1, 2, 2, 2]


def test_layout_counts_and_sums_equal_masked_sums() -> None:
    rng = np.random.default_rng(1)
    n = 500
    layout, context = _layout(rng, n)
    x = rng.normal(size=n)
    assert [g.name for g in layout.groupings] == [None, "a", "b"]
    assert layout.groupings[1].keys == ("lone", "x", "y", "z")
    for i, (counts, sums) in enumerate(zip(layout.counts(), layout.sums(x), strict=True)):
        masks = _masks(layout, context, i)
        assert counts.tolist() == [int(m.sum()) for m in masks]
        assert sums == pytest.approx([x[m].sum() for m in masks], rel=1e-12)
    assert layout.counts()[1][0] == 1  # the lone row


def test_refine_splits_each_group_by_the_codes_code_major() -> None:
    layout = Layout.of_columns({"a": np.array(["p", "q", "p", "q", "p"], dtype=object)}, 5)
    dates = np.array([0, 0, 1, 1, 1])
    by_date = layout.refine(dates, 2)
    # grouping "a" (2 groups): refined id = date * 2 + group
    assert by_date.counts()[1].tolist() == [1, 1, 2, 1]  # (d0,p) (d0,q) (d1,p) (d1,q)
    assert by_date.counts()[0].tolist() == [2, 3]


def test_moments_and_pearson_equal_the_masked_two_pass_figures() -> None:
    rng = np.random.default_rng(2)
    n = 400
    layout, context = _layout(rng, n)
    x = np.round(rng.normal(size=n), 1)  # ties
    y = 0.5 * x + rng.normal(size=n)
    for i, r in enumerate(grouped.correlate(layout, x, y, y)):
        for g, mask in enumerate(_masks(layout, context, i)):
            if mask.sum() < 2:
                assert math.isnan(r[g])  # the lone row
            else:
                assert r[g] == pytest.approx(np.corrcoef(x[mask], y[mask])[0, 1], rel=1e-12)


def test_torchmetrics_variance_rule_sets_big_groups_with_one_outlier_to_nan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only groups of over 1 / (2 bound) rows are checked; with the bound raised to 0.1 that is
    # 6 rows. x = 0 0 0 0 0 0 0 10: mean 1.25, largest deviation 8.75, M2 = 7 * 1.5625 +
    # 76.5625 = 87.5, sample variance 12.5, 12.5 / 8.75^2 = 0.163 >= 0.1: kept; with 0.2: NaN.
    x = np.array([0.0] * 7 + [10.0])
    y = np.arange(8.0)
    layout = Layout.single(8)
    monkeypatch.setattr(grouped, "TM_VARIANCE_BOUND", 0.1)
    assert not math.isnan(grouped.correlate(layout, x, y, y)[0][0])
    monkeypatch.setattr(grouped, "TM_VARIANCE_BOUND", 0.2)
    assert math.isnan(grouped.correlate(Layout.single(8), x, y, y)[0][0])


@pytest.mark.parametrize(
    "kind", ["continuous", "ties", "few", "last_bits", "one_run", "signed", "empty"])
def test_dense_rank_equals_np_unique(kind: str) -> None:
    rng = np.random.default_rng(3)
    values = {
        "continuous": rng.normal(size=50_000),
        "ties": np.round(rng.normal(size=50_000), 2),
        "few": np.where(rng.random(50_000) < 0.3, 0.45, 0.55),
        # differ only in the last bits, so the packed sort key ties and must be repaired
        "last_bits": 1.0 + rng.integers(0, 1 << 20, 50_000) * 2.0**-52,
        # ... all of them: one run of 50,000 keys, repaired in one pass
        "one_run": 1.0 + rng.integers(0, 1 << 12, 50_000) * 2.0**-52,
        "signed": np.r_[rng.normal(size=1000), -0.0, 0.0, -1e-300, 1e-300],
        "empty": np.zeros(0),
    }[kind]
    d = dense_rank(values)
    distinct, inverse = np.unique(values, return_inverse=True)  # -0.0 == 0.0 here too
    assert d.distinct == distinct.size
    assert (d.rank == inverse.reshape(-1)).all()


def test_ordered_bits_preserve_order_across_signs() -> None:
    v = np.array([-np.inf, -3.0, -1e-300, -0.0, 0.0, 1e-300, 2.0, np.inf])
    u = ordered_bits(v)
    assert (np.diff(u.astype(object)) >= 0).all()  # non-decreasing as unsigned integers
    assert u[3] == u[4]  # -0.0 and 0.0


def test_centred_ranks_equal_average_ranks_per_group() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    layout, context = _layout(rng, n)
    x = np.round(rng.normal(size=n), 1)  # many ties
    for i in range(len(layout.groupings)):
        r = centred_ranks(layout, i, dense_rank(x))
        by_row = r.by_row()
        for g, mask in enumerate(_masks(layout, context, i)):
            ranks = rankdata(x[mask])  # average ranks for ties
            assert by_row[mask] == pytest.approx(ranks - ranks.mean(), abs=1e-9)
            assert r.sxx[g] == pytest.approx(((ranks - ranks.mean()) ** 2).sum(), rel=1e-12)


def _brute_auc(score: np.ndarray, y: np.ndarray) -> float:
    pos, neg = score[y == 1], score[y == 0]
    if not pos.size or not neg.size:
        return math.nan
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (pos.size * neg.size)


@pytest.mark.parametrize("path", ["counts", "sorted", "sorted-64"])
def test_grouped_auc_equals_pair_counts(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    n = 1500
    layout, context = _layout(rng, n)
    score = np.round(rng.random(n), 2)  # ties, including positive-negative ties
    y = (rng.random(n) < 0.3 + 0.4 * score).astype(np.int64)
    # One value of "b" holds only positives: AUC undefined there.
    y[context["b"] == 2] = 1
    if path != "counts":
        monkeypatch.setattr(ranking, "_COUNT_CELLS", 0)
    if path == "sorted-64":  # keys too wide for uint32
        monkeypatch.setattr(ranking, "_NARROW_KEY_BITS", 0)
    for i, auc in enumerate(grouped_auc(layout, y, dense_rank(score))):
        for g, mask in enumerate(_masks(layout, context, i)):
            expected = _brute_auc(score[mask], y[mask])
            if math.isnan(expected):
                assert math.isnan(auc[g])
            else:
                assert auc[g] == expected or auc[g] == pytest.approx(expected, rel=1e-15)
    assert math.isnan(grouped_auc(layout, y, dense_rank(score))[2][2])


@pytest.mark.parametrize("coarse", [False, True])
def test_grouped_percentile_equals_np_percentile(coarse: bool,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(6)
    n = 5000
    layout, context = _layout(rng, n)
    values = np.abs(rng.standard_t(3, size=n) * 10)  # heavy tail
    values[::2] = np.round(values[::2], 1)  # ties, and zeros
    shifts = []
    if coarse:  # too many (cell, bucket) pairs allowed: buckets by fewer leading bits
        monkeypatch.setattr(ranking, "_COUNT_CELLS", 1)
        compress = ranking.compress
        monkeypatch.setattr(ranking, "compress",
                            lambda raw, n_raw: shifts.append(n_raw) or compress(raw, n_raw))
    for i, p90 in enumerate(grouped_percentile(layout, values, 90)):
        for g, mask in enumerate(_masks(layout, context, i)):
            assert p90[g] == np.percentile(values[mask], 90)  # exactly numpy's figure
    assert len(shifts) == (2 if coarse else 0)  # 20 leading bits, then 16


@pytest.mark.parametrize("m", [1, 2, 3, 7, 10, 11, 19, 101, 1000])
def test_linear_percentile_mirrors_numpy_for_every_size(m: int) -> None:
    rng = np.random.default_rng(m)
    for _ in range(20):
        v = np.sort(rng.normal(size=m))
        vi, prev, nxt = ranking._virtual_index(m, 0.9)
        assert ranking._lerp(v[prev], v[nxt], vi - prev) == np.percentile(v, 90)


@pytest.mark.parametrize("late", [100, 70_000])
def test_factorize_finds_each_shared_object_wherever_it_first_appears(late: int) -> None:
    """Object columns of shared str are factorized by address; the object of each code is
    read from a row holding it, found in a short prefix or, for a value first seen late,
    by a scatter over every row."""
    n = 80_000
    values = np.array(["up", "down"], dtype=object)[np.arange(n) % 2]
    values[late] = "flat"
    values[late + 3] = float("nan")
    codes, objects = factorize(values)
    assert [objects[c] for c in codes[[0, 1, late]]] == ["up", "down", "flat"]
    known = np.ones(n, dtype=bool)
    known[late + 3] = False  # NaN equals nothing
    assert (np.asarray(objects, dtype=object)[codes][known] == values[known]).all()
    assert encode("c", values)[1] == ["down", "flat", "up", None]
