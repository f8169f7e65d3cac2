"""Figures that are not sums, per group: AUC, average ranks and percentiles.

These need the rows in value order within each group. ``np.argsort`` of 5 million float64
takes about 0.85 s on the 2-core machine this was measured on; ``np.sort`` of 64-bit integers
takes 0.08 s (it has a vectorised path; argsort does not). So values are turned into unsigned
integers in the same order (``ordered_bits``), then into dense ranks (``dense_rank``, one sort
per array), and each group's order comes from ``np.sort`` of one packed integer key per row:
group code in the high bits, dense rank below it, then the row's label or row number.

With few distinct values (a constant or two-valued baseline) AUC needs no sort at all: counts
per (cell, value, label) give every grouping's Mann-Whitney U at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ifns_train.evaluation.grouped import Layout, compress

_SIGN = np.uint64(63)
_HIGH = np.uint64(1 << 63)
_ONE = np.uint64(1)
# Count arrays (cells x distinct values x 2 labels for AUC, cells x buckets for percentiles)
# are used when no larger than the rows, or than this.
_COUNT_CELLS = 1 << 12
# AUC's sort keys are uint32 (np.sort: 30 ms for 5 million, against 75 ms for uint64) when
# the group, the dense rank and the label fit these bits.
_NARROW_KEY_BITS = 32


def ordered_bits(values: np.ndarray) -> np.ndarray:
    """uint64 keys whose unsigned order is the numeric order of finite float64 ``values``
    (-0.0 and 0.0 get the same key): the sign bit set for positives, every bit flipped for
    negatives. Non-negative values (probabilities, errors) are in order as they are."""
    bits = (np.asarray(values, dtype=np.float64) + 0.0).view(np.uint64)
    if bits.size == 0 or not (bits >> _SIGN).any():
        return bits
    flip = bits >> _SIGN
    np.negative(flip, out=flip)  # all ones for negatives, 0 otherwise
    flip |= _HIGH
    flip ^= bits
    return flip


def bits_for(n: int) -> int:
    """Bits needed for the integers 0 .. n - 1 (at least 1)."""
    return max(1, int(n - 1).bit_length())


@dataclass(eq=False)
class Dense:
    """Each row's rank among the distinct values (0-based, int64), and their number."""

    rank: np.ndarray
    distinct: int
    values: np.ndarray | None = None  # the distinct values, when few (looked up by rank)
    _row_key: np.ndarray | None = field(default=None, repr=False)

    def row_key(self) -> np.ndarray:
        """``(rank << b) | row``, b the bits of a row number: sorted, rows in value order
        (kept: every grouping's sort key is built from it)."""
        if self._row_key is None:
            n = self.rank.size
            self._row_key = ((self.rank.astype(np.uint64) << np.uint64(bits_for(n)))
                             | np.arange(n, dtype=np.uint64))
        return self._row_key


def dense_rank(values: np.ndarray) -> Dense:
    """The values' dense ranks.

    A few distinct values (a constant or two-valued baseline) are looked up in the sorted
    distinct values of a sample, if that sample holds them all. Otherwise one ``np.sort``
    of keys holding the value's high bits and the row number: rows whose high bits tie may
    be out of order on the low bits, and those runs (rare unless values differ only in their
    last bits) are sorted again exactly.
    """
    v = np.asarray(values, dtype=np.float64) + 0.0  # -0.0 and 0.0 rank alike
    n = v.size
    if n == 0:
        return Dense(np.zeros(0, dtype=np.int64), 0)
    few = np.unique(v[:: max(1, n // 1024)])
    if few.size <= 64:
        rank = np.searchsorted(few, v)
        if (rank < few.size).all() and (few[np.minimum(rank, few.size - 1)] == v).all():
            return Dense(rank.astype(np.int64, copy=False), int(few.size), few)
    u = ordered_bits(v)
    ib = bits_for(n)
    low = np.uint64((1 << ib) - 1)
    key = (u & ~low) | np.arange(n, dtype=np.uint64)
    key.sort()
    order = (key & low).view(np.int64)
    us = u[order]
    bad = np.flatnonzero(us[1:] < us[:-1])
    if bad.size:
        _repair(order, us, key, ib, bad)
    ranks = np.empty(n, dtype=np.int64)
    ranks[0] = 0
    np.cumsum(us[1:] != us[:-1], out=ranks[1:])
    out = np.empty(n, dtype=np.int64)
    out[order] = ranks
    return Dense(out, int(ranks[-1]) + 1)


def _repair(order: np.ndarray, us: np.ndarray, key: np.ndarray, ib: int,
            bad: np.ndarray) -> None:
    """Sort exactly, in place, the runs of keys with equal high bits that hold an inversion
    (``bad``: positions followed by a smaller value). Such runs are short, so each is found
    by widening a window around its inversion, a step at a time."""
    shift = np.uint64(ib)
    lo, hi = bad.copy(), bad + 1  # each run spans [lo, hi]
    for _ in range(64):
        left = lo > 0
        left[left] = (key[lo[left] - 1] >> shift) == (key[lo[left]] >> shift)
        right = hi < key.size - 1
        right[right] = (key[hi[right] + 1] >> shift) == (key[hi[right]] >> shift)
        if not (left.any() or right.any()):
            break
        lo -= left
        hi += right
    else:  # a long run of equal high bits: find the runs in one pass instead
        prefix = key >> shift
        starts = np.flatnonzero(prefix[1:] != prefix[:-1]) + 1
        bounds = np.r_[0, starts, key.size]
        runs = np.searchsorted(starts, bad, side="right")
        lo, hi = bounds[runs], bounds[runs + 1] - 1
    lo, first = np.unique(lo, return_index=True)
    hi = hi[first]
    length = hi - lo + 1
    pos = np.repeat(lo - np.r_[0, np.cumsum(length)[:-1]], length) + np.arange(length.sum())
    sub = np.lexsort((us[pos], np.repeat(np.arange(lo.size), length)))
    order[pos] = order[pos][sub]
    us[pos] = us[pos][sub]


def _group_keys(layout: Layout, i: int, low: np.ndarray, low_bits: int) -> np.ndarray:
    """Keys (group of grouping ``i``, then ``low``), sorted: rows by group, then by ``low``.

    The group sits in the top bits, so the shifted codes are shared by every array sorted
    within grouping ``i``.
    """
    g = layout.groupings[i]
    if g.size == 1:
        return np.sort(low)
    unsigned = low.dtype.type  # uint64, or uint32 (sorted twice as fast) when the key fits
    width = 8 * low.dtype.itemsize
    top = width - bits_for(g.size)
    if top < low_bits:
        raise ValueError(f"{g.size} groups and {low_bits} bits of sort key do not fit "
                         f"{width} bits")
    shifted = layout.memo(("top codes", i, width), None, lambda: (
        layout.codes(i).astype(unsigned) << unsigned(top)))
    key = shifted | low
    key.sort()
    return key


def _offsets(counts: np.ndarray) -> np.ndarray:
    """Position of each group's first row in group order."""
    return np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64)


def grouped_auc(layout: Layout, y: np.ndarray, dense: Dense) -> list[np.ndarray]:
    """ROC AUC per group, per grouping (NaN where a group lacks a class): the Mann-Whitney
    U of positives over negatives, ties counting one half, over n1 * n0.

    Exact: U is a sum of half-integers below 2^52, so the only rounding is the final
    division. ``dense`` ranks the scores; ``y`` is 0/1 (int).
    """
    distinct = max(dense.distinct, 1)  # no rows: one (empty) value
    if layout.n_cells * distinct * 2 <= max(_COUNT_CELLS, layout.rows):
        cube = np.bincount((layout.cells * distinct + dense.rank) * 2 + y,
                           minlength=layout.n_cells * distinct * 2)
        cubes = layout.regroup(cube.reshape(layout.n_cells, distinct * 2))
        return [_auc_from_counts(c.reshape(-1, distinct, 2)) for c in cubes]
    low_bits = bits_for(distinct) + 1
    groups = max(g.size for g in layout.groupings)
    unsigned = np.uint32 if bits_for(groups) + low_bits <= _NARROW_KEY_BITS else np.uint64
    low = (dense.rank.astype(unsigned) << unsigned(1)) | y.astype(unsigned)
    ties = _tie_pairs(layout, y, dense)
    return [
        _auc_from_sorted(_group_keys(layout, i, low, low_bits), counts, tie)
        for i, (counts, tie) in enumerate(zip(layout.counts(), ties, strict=True))
    ]


def _auc_from_counts(c: np.ndarray) -> np.ndarray:
    """AUC per group from counts[group, value, label]."""
    neg, pos = c[..., 0].astype(np.float64), c[..., 1].astype(np.float64)
    below = np.cumsum(neg, axis=1) - neg
    u = (pos * (below + 0.5 * neg)).sum(axis=1)
    return _auc(u, pos.sum(axis=1), neg.sum(axis=1))


def _auc_from_sorted(key: np.ndarray, counts: np.ndarray, tie_pairs: np.ndarray) -> np.ndarray:
    """AUC per group from keys (group, dense rank, label) sorted.

    Within a group, each positive counts the rows before it that are negatives: those below
    its value, and, as a negative sorts before a positive of the same value, all negatives
    tied with it, which count one half (half of the tied pairs is taken off). The positive
    at place p of its group (0-based) has p rows of its group before it, of which the
    positives before it are the rest: so U = (sum of the positives' places) - n1 (n1 - 1) / 2,
    from the positives' positions alone (integers, exact), without a running count of
    negatives over every row.
    """
    positives = np.flatnonzero(key & key.dtype.type(1))
    starts = _offsets(counts)
    # The positives of group g are positives[first[g]:first[g + 1]].
    first = np.asarray(np.searchsorted(positives, np.r_[starts, key.size]))
    n1 = np.diff(first)
    place_sums = np.zeros(counts.size, dtype=np.int64)
    some = n1 > 0
    if some.any():
        place_sums[some] = np.add.reduceat(positives, first[:-1][some]) - n1[some] * starts[some]
    u = place_sums - n1 * (n1 - 1) // 2
    return _auc(u.astype(np.float64) - 0.5 * tie_pairs, n1.astype(np.float64),
                (counts - n1).astype(np.float64))


def _tie_pairs(layout: Layout, y: np.ndarray, dense: Dense) -> list[np.ndarray]:
    """Per grouping, the (positive, negative) pairs with equal scores in each group."""
    if dense.distinct == y.size:
        return [np.zeros(g.size) for g in layout.groupings]
    per_value = np.bincount(dense.rank, minlength=dense.distinct)
    rows = np.flatnonzero(per_value[dense.rank] > 1)  # rows whose value occurs again
    value, _ = compress(dense.rank[rows], dense.distinct)
    n_values = int(value.max()) + 1 if value.size else 1
    out = []
    for i, g in enumerate(layout.groupings):
        cell, ids = compress(layout.codes(i)[rows] * n_values + value, g.size * n_values)
        c = np.bincount(cell * 2 + y[rows], minlength=2 * ids.size).reshape(-1, 2)
        out.append(np.bincount(ids // n_values, c[:, 0] * c[:, 1], g.size))
    return out


def _auc(u: np.ndarray, n1: np.ndarray, n0: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((n1 > 0) & (n0 > 0), u / (n1 * n0), np.nan)


class Centred(NamedTuple):
    """Ranks within the groups of a grouping, less their group's mean rank, in group order:
    ``values[k]`` belongs to row ``order[k]``; rows are sorted by group, then value. ``sxx``
    is their sum of squares per group."""

    order: np.ndarray
    values: np.ndarray
    sxx: np.ndarray

    def by_row(self) -> np.ndarray:
        out = np.empty(self.values.size)
        out[self.order] = self.values
        return out


def centred_ranks(layout: Layout, i: int, dense: Dense) -> Centred:
    """Average ranks within the groups of grouping ``i`` (ties sharing the mean of their
    ranks), less the group's mean rank (m + 1) / 2, and their sum of squares per group.

    Both exact: ranks and their mean are half-integers, and the sum of squares is
    (m^3 - m) / 12 less (t^3 - t) / 12 for each run of t tied values. The same ranks as
    ``regression.average_ranks`` applied to each group's rows on its own.
    """
    n = layout.rows
    counts = layout.counts()[i]
    m = counts.astype(np.float64)
    sxx = m * (m * m - 1) / 12
    if n == 0:
        return Centred(np.zeros(0, dtype=np.int64), np.zeros(0), sxx)
    ib = bits_for(n)
    key = _group_keys(layout, i, dense.row_key(), bits_for(dense.distinct) + ib)
    # Position (0-based, in group order) of each group's mean rank.
    centre = _offsets(counts) + (m - 1) / 2
    new = None
    if dense.distinct < n:  # ties are possible
        value = key >> np.uint64(ib)  # group and dense rank
        new = np.empty(n, dtype=bool)
        new[:1] = True
        np.not_equal(value[1:], value[:-1], out=new[1:])
        del value
    order = (key & np.uint64((1 << ib) - 1)).view(np.int64)
    del key
    if new is None or new.all():
        values = layout.memo(("centred positions", i), None, lambda: (
            np.arange(n, dtype=np.float64) - np.repeat(centre, counts)))
    else:
        starts = np.flatnonzero(new)
        length = np.diff(np.r_[starts, n])
        group = np.searchsorted(np.cumsum(counts), starts, side="right")
        values = np.repeat(starts + (length - 1) / 2 - centre[group], length)
        t = length.astype(np.float64)
        sxx -= np.bincount(group, t * (t * t - 1) / 12, counts.size)
    return Centred(order, values, sxx)


def group_sums(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sum per group of values in group order (each group's rows contiguous)."""
    out = np.zeros(counts.size)
    nonempty = counts > 0
    if nonempty.any():
        out[nonempty] = np.add.reduceat(values, _offsets(counts)[nonempty])
    return out


def grouped_percentile(layout: Layout, values: np.ndarray, q: float) -> list[np.ndarray]:
    """The ``q``-th percentile (0-100) of ``values`` per group, per grouping, as
    ``np.percentile`` (linear interpolation) gives it on each group's values on their own;
    NaN for an empty group.

    Without sorting the rows: values go to buckets by their leading bits (so buckets are
    ordered by value), bucket counts per cell locate the bucket of each wanted order
    statistic in each group, and only the rows of those buckets and groups are sorted.
    """
    u = ordered_bits(values)
    shift = 44  # 20 leading bits: sign, exponent and 8 bits of mantissa
    while True:  # coarser buckets if cells x buckets would not fit
        bucket, _ = compress((u >> np.uint64(shift)).astype(np.intp), 1 << (64 - shift))
        n_buckets = int(bucket.max()) + 1 if bucket.size else 1
        if layout.n_cells * n_buckets <= max(_COUNT_CELLS, layout.rows) or shift >= 60:
            break
        shift += 4
    cell_bucket = layout.cells * n_buckets + bucket
    per_cell = np.bincount(cell_bucket, minlength=layout.n_cells * n_buckets)
    fraction = q / 100
    wanted: list[tuple[int, int, float, int, int]] = []  # grouping, group, index, prev, next
    positions: list[tuple[np.ndarray, int, int]] = []  # group's cells, bucket, rank in it
    for i, (g, per) in enumerate(zip(
            layout.groupings, layout.regroup(per_cell.reshape(layout.n_cells, n_buckets)),
            strict=True)):
        cum = np.cumsum(per, axis=1)
        for grp in np.flatnonzero(cum[:, -1]):
            vi, prev, nxt = _virtual_index(int(cum[grp, -1]), fraction)
            wanted.append((i, int(grp), vi, prev, nxt))
            for k in (prev, nxt):
                b = int(np.searchsorted(cum[grp], k, side="right"))
                positions.append((g.of_cell == grp, b, k - (int(cum[grp, b - 1]) if b else 0)))
    values_at = _values_at(layout, values, bucket, n_buckets, cell_bucket, positions)
    results = [np.full(g.size, np.nan) for g in layout.groupings]
    for j, (i, group, vi, prev, _nxt) in enumerate(wanted):
        results[i][group] = _lerp(values_at[2 * j], values_at[2 * j + 1], vi - prev)
    return results


def _values_at(layout: Layout, values: np.ndarray, bucket: np.ndarray, n_buckets: int,
               cell_bucket: np.ndarray, positions: list[tuple[np.ndarray, int, int]]
               ) -> list[float]:
    """The value at each position: the r-th smallest (0-based) of the rows in the bucket
    whose cells are marked."""
    mark = np.zeros((layout.n_cells, n_buckets), dtype=bool)
    for in_group, b, _r in positions:
        mark[in_group, b] = True
    rows = np.flatnonzero(mark.ravel()[cell_bucket])
    r_cells, r_bucket, r_values = layout.cells[rows], bucket[rows], values[rows]
    out = []
    for in_group, b, r in positions:
        chosen = r_values[in_group[r_cells] & (r_bucket == b)]
        out.append(float(np.partition(chosen, r)[r]))
    return out


def _virtual_index(m: int, q: float) -> tuple[float, int, int]:
    """numpy's linear method: the virtual index (m - 1) * q and its neighbours, clipped."""
    vi = (m - 1) * q
    if vi >= m - 1:
        return vi, m - 1, m - 1
    prev = int(np.floor(vi))
    return vi, prev, prev + 1


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's ``_lerp``: from below for t < 0.5, from above otherwise (monotone, exact at
    the ends)."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def ranks_within(codes: np.ndarray, n_groups: int, values: np.ndarray) -> np.ndarray:
    """1-based average ranks of ``values`` within each group of ``codes`` (0 .. n_groups - 1),
    ties sharing the mean of their ranks, as ``DataFrame.groupby(codes).rank()`` gives them
    (exact: half-integers), by one ``np.sort`` of packed (group, dense rank, row) keys."""
    n = values.size
    if n == 0:
        return np.zeros(0)
    dense = dense_rank(values)
    row_bits, rank_bits = bits_for(n), bits_for(dense.distinct)
    if bits_for(n_groups) + rank_bits + row_bits > 64:
        order = np.lexsort((dense.rank, codes))
        value = codes[order] * np.int64(dense.distinct) + dense.rank[order]
    else:
        key = dense.row_key() | (codes.astype(np.uint64) << np.uint64(rank_bits + row_bits))
        key.sort()
        order = (key & np.uint64((1 << row_bits) - 1)).view(np.int64)
        value = key >> np.uint64(row_bits)  # group and dense rank
    pos = np.arange(n)
    new_group = np.r_[True, codes[order][1:] != codes[order][:-1]]
    new_tie = np.r_[True, value[1:] != value[:-1]]
    group_start = np.maximum.accumulate(np.where(new_group, pos, 0))
    starts = np.flatnonzero(new_tie)
    length = np.diff(np.r_[starts, n])
    # A run of t ties from place p (0-based in its group) shares ranks p + 1 .. p + t.
    first = starts - group_start[starts]
    out = np.empty(n)
    out[order] = np.repeat(first + (length + 1) / 2, length)
    return out


def varies(codes: np.ndarray, n_groups: int, values: np.ndarray) -> np.ndarray:
    """Per group: not all its values equal (False for an empty group)."""
    lo, hi = np.full(n_groups, np.inf), np.full(n_groups, -np.inf)
    np.minimum.at(lo, codes, values)
    np.maximum.at(hi, codes, values)
    return lo < hi
