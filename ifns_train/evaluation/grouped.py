"""Grouped array operations: every slice of every context column scored in one pass.

Scoring a slice by masking the rows and calling the metric function again costs a pass over
all rows per slice, per column and per predictor, and turning each row's slice value into a key
through Python cost more than the metrics themselves (15 of 17 s on 385,000 rows). Here each
context column is encoded once (``encode``), the columns' codes are combined into *cells* (the
distinct combinations of slice values that occur), and a figure that is a sum (a count, a sum
of squared errors, a centred cross product) is summed per cell with one ``np.bincount`` and
then per slice from the cells' sums: every column in one pass over the rows. Figures that are
not sums (AUC, ranks, percentiles) are in ``ranking``.

A metric function's aggregate is the one-group case of the same code (``Layout.single``), so
each figure has one definition, whether scored overall or per slice.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import numpy as np
import pandas as pd

T = TypeVar("T")

BLOCK = 1 << 14
"""Rows per block where a figure needs many element-wise steps per row (a predictor's
binary scores, a strategy's book): on blocks, the temporaries stay in the processor's cache
(a few times faster than passes over millions of rows), and each sum is accumulated in row
order with ``np.add.at``, as ``np.bincount`` adds, so the figures do not depend on it."""


@dataclass(frozen=True)
class Grouping:
    """One way of splitting the rows: overall (one group, ``name`` None) or by a column.

    ``keys`` are the groups' slice values (plain Python scalars, sorted, None for missing
    values, last); ``of_cell`` gives the group of each cell of the layout.
    """

    name: str | None
    keys: tuple[Any, ...]
    of_cell: np.ndarray

    @property
    def size(self) -> int:
        return len(self.keys)


class Layout:
    """Rows split into cells, and each grouping as a map from cells to its groups.

    Cells are the observed combinations of every grouping's group, so a sum per cell can be
    re-summed into any grouping without touching the rows again. A layout also remembers
    what was computed from an array (``memo``), so the labels shared by the model and its
    baselines are ranked or summed once.
    """

    def __init__(self, cells: np.ndarray, n_cells: int, groupings: Sequence[Grouping]) -> None:
        self.cells = cells
        self.n_cells = n_cells
        self.groupings = tuple(groupings)
        self.rows = int(cells.size)
        self._memo: dict[tuple[Any, ...], tuple[Any, Any]] = {}

    @classmethod
    def single(cls, rows: int) -> Layout:
        """Every row in one group: the aggregate."""
        return cls(np.zeros(rows, dtype=np.intp), 1,
                   [Grouping(None, (None,), np.zeros(1, dtype=np.intp))])

    @classmethod
    def of_columns(cls, columns: Mapping[str, np.ndarray], rows: int) -> Layout:
        """The overall grouping, then one per column (keys as ``encode`` gives them).

        The columns' codes are combined into one integer per row (mixed radix), and the
        combinations that occur are numbered once at the end.
        """
        cells = np.zeros(rows, dtype=np.intp)
        n_cells = 1
        digits: list[np.ndarray] = []  # each column's code (+ 1) in each cell
        encoded = []
        for name, values in columns.items():
            codes, keys, remap = _encode(name, values)
            if codes.size != rows:
                raise ValueError(f"context[{name!r}] has {codes.size} rows, expected {rows}")
            codes += 1  # 0: missing
            codes *= n_cells
            cells += codes
            digits = [np.tile(d, remap.size) for d in digits]
            digits.append(np.repeat(np.arange(remap.size), n_cells))
            n_cells *= remap.size
            encoded.append((name, tuple(keys), remap))
            if n_cells > 1 << 20:  # number the combinations that occur before going on
                cells, ids = compress(cells, n_cells)
                digits, n_cells = [d[ids] for d in digits], ids.size
        if encoded:
            cells, ids = compress(cells, n_cells)
            digits, n_cells = [d[ids] for d in digits], ids.size
        groupings = [Grouping(None, (None,), np.zeros(n_cells, dtype=np.intp))]
        groupings += [Grouping(name, keys, remap[d])
                      for (name, keys, remap), d in zip(encoded, digits, strict=True)]
        return cls(cells, n_cells, groupings)

    def refine(self, codes: np.ndarray, size: int) -> Layout:
        """Each grouping split further by ``codes`` (0 .. size - 1), e.g. by date: refined
        group ``d * g.size + g`` is group g's rows with code d (code-major, so that rows
        stored by date stay close together in memory)."""
        cells, ids = compress(codes * self.n_cells + self.cells, size * self.n_cells)
        digit, parent = np.divmod(ids, self.n_cells)
        return Layout(cells, ids.size, [
            Grouping(g.name, tuple(range(g.size * size)), digit * g.size + g.of_cell[parent])
            for g in self.groupings
        ])

    def memo(self, key: tuple[Any, ...], array: Any, compute: Callable[[], T]) -> T:
        """``compute()``, once per ``key`` and ``array`` object (None: once per ``key``): the
        array must not change while the layout is in use (one evaluation)."""
        full = (*key, id(array))
        hit = self._memo.get(full)
        if hit is None or hit[0] is not array:
            hit = (array, compute())
            self._memo[full] = hit
        return hit[1]

    def codes(self, i: int) -> np.ndarray:
        """The group of each row in grouping ``i``."""
        of_cell = self.groupings[i].of_cell
        if self.n_cells == 1:
            return np.full(self.rows, of_cell[0], dtype=np.intp)
        return of_cell[self.cells]

    def cell_counts(self) -> np.ndarray:
        return self.memo(("cell_counts",), None,
                         lambda: np.bincount(self.cells, minlength=self.n_cells))

    def counts(self) -> list[np.ndarray]:
        """Rows per group, per grouping (int64)."""
        return self.memo(("counts",), None, lambda: self.regroup(self.cell_counts()))

    def sums(self, weights: np.ndarray) -> list[np.ndarray]:
        """Sum of ``weights`` per group, per grouping: one pass over the rows."""
        return self.regroup(np.bincount(self.cells, weights, self.n_cells))

    def regroup(self, per_cell: np.ndarray) -> list[np.ndarray]:
        """A per-cell sum (first axis: cells) summed into each grouping's groups."""
        width = math.prod(per_cell.shape[1:])
        flat = per_cell.reshape(self.n_cells, width)
        out = []
        for g in self.groupings:
            index = (g.of_cell[:, None] * width + np.arange(width)).ravel()
            summed = np.bincount(index, flat.ravel(), g.size * width)
            out.append(summed.astype(per_cell.dtype, copy=False)
                       .reshape(g.size, *per_cell.shape[1:]))
        return out


def compress(raw: np.ndarray, n_raw: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0 .. k - 1 for the k distinct values of ``raw`` (ints in [0, n_raw)), in the
    order of those values, and the values themselves: combinations that never occur get
    no code."""
    if n_raw <= max(4 * raw.size, 1 << 16):
        present = np.flatnonzero(np.bincount(raw, minlength=n_raw))
        remap = np.zeros(n_raw, dtype=np.intp)
        remap[present] = np.arange(present.size)
        return remap[raw], present
    codes, ids = pd.factorize(raw, sort=True)
    return codes.astype(np.intp, copy=False), np.asarray(ids, dtype=np.intp)


def encode(column: str, values: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """(code per row, keys): keys are the distinct values as plain Python scalars, sorted,
    with missing values (None, NaN, NaT, pandas NA) as one key None, last.

    One hashing pass over the rows (``factorize``); the few distinct values are then
    converted and sorted in Python, so no row goes through Python.
    """
    codes, keys, remap = _encode(column, values)
    return remap[codes + 1], keys


def _encode(column: str, values: np.ndarray) -> tuple[np.ndarray, list[Any], np.ndarray]:
    """(raw code per row, -1 for missing; sorted keys; position in the keys of each raw code
    + 1, entry 0 for missing)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"context[{column!r}] must be 1-D, got shape {arr.shape}")
    codes, uniques = factorize(arr)
    keys = [_to_key(u) for u in uniques]
    present = {k for k in keys if k is not None}
    try:
        distinct: list[Any] = sorted(present)
    except TypeError as exc:
        raise ValueError(f"context[{column!r}] mixes value types that cannot be sorted") from exc
    if None in keys or (codes < 0).any():
        distinct.append(None)
    position = {k: i for i, k in enumerate(distinct)}
    remap = np.array([len(distinct) - 1] + [position[k] for k in keys], dtype=np.intp)
    return codes, distinct, remap


def factorize(arr: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """(codes, one object per code), -1 for a missing value, like ``pandas.factorize``.

    An object array of str, as the data module hands context columns over, shares one str
    object per distinct value among millions of cells; hashing the cells' object addresses
    then costs a fifth of hashing the strings (``pandas.factorize`` on the objects). Distinct
    objects with equal values, and NaN objects, are merged by ``encode`` afterwards. With
    many distinct objects it hashes the values instead.
    """
    if arr.dtype == object and arr.size > 1 << 16:
        arr = np.ascontiguousarray(arr)
        buffer = (ctypes.c_char * arr.nbytes).from_address(arr.ctypes.data)
        # Any buffer works; numpy's stubs name only a few types before Python 3.12.
        addresses_of = np.frombuffer(buffer, dtype=np.uintp)  # type: ignore[call-overload]
        codes, addresses = pd.factorize(addresses_of)
        if len(addresses) <= 1 << 12:
            # A row holding each object: codes number the objects in order of first
            # appearance, so all have appeared by the first row of the last code, usually
            # early (the rows are stored by date); else a scatter over every row.
            last = int(np.argmax(codes == len(addresses) - 1))
            if last < 1 << 16:
                one = np.unique(codes[: last + 1], return_index=True)[1]
            else:
                one = np.zeros(len(addresses), dtype=np.intp)
                one[codes] = np.arange(codes.size)
            return codes.astype(np.intp, copy=False), arr[one].tolist()
    codes, uniques = pd.factorize(arr)
    return codes.astype(np.intp, copy=False), list(np.asarray(uniques, dtype=object))


def _to_key(value: Any) -> Any:
    """Plain Python scalar for JSON; None for missing (None, NaN, NaT, pandas NA)."""
    if isinstance(value, np.generic):
        value = value.item()
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    return value


class Spread(NamedTuple):
    """One array's per-cell sums, means, centred sums of squares and extrema, and each
    row's deviation from its cell's mean (for cross products with another array)."""

    dev: np.ndarray
    total: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


class Moments(NamedTuple):
    """One array's rows, mean, centred sum of squares and extrema, per group."""

    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @property
    def varies(self) -> np.ndarray:
        """Not all values of the group equal (and the group not empty)."""
        return self.lo < self.hi

    def largest_deviation(self) -> np.ndarray:
        """The largest absolute deviation from the mean, per group."""
        return np.maximum(self.hi - self.mean, self.mean - self.lo)


def spread(layout: Layout, x: np.ndarray) -> Spread:
    """Per-cell statistics of ``x`` (two-pass: centred on each cell's mean)."""
    n_c = layout.cell_counts()
    total = np.bincount(layout.cells, x, layout.n_cells)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / n_c
    dev = x - mean[layout.cells]
    lo, hi = np.full(layout.n_cells, np.inf), np.full(layout.n_cells, -np.inf)
    np.minimum.at(lo, layout.cells, x)
    np.maximum.at(hi, layout.cells, x)
    return Spread(dev, total, mean, np.bincount(layout.cells, dev * dev, layout.n_cells), lo, hi)


def moments(layout: Layout, s: Spread) -> list[Moments]:
    """Per grouping, ``s`` combined over each group's cells exactly (Chan, Golub and
    LeVeque): M2_g = sum of M2_c + n_c (mean_c - mean_g)^2, so the cancellation of the
    one-pass sum-of-squares formula never arises."""
    n_c = layout.cell_counts()
    out = []
    for g, n in zip(layout.groupings, layout.counts(), strict=True):
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.bincount(g.of_cell, s.total, g.size) / n
        e = s.mean - mean[g.of_cell]
        lo, hi = np.full(g.size, np.inf), np.full(g.size, -np.inf)
        np.minimum.at(lo, g.of_cell, s.lo)
        np.maximum.at(hi, g.of_cell, s.hi)
        out.append(Moments(n, mean, np.bincount(g.of_cell, s.m2 + n_c * e * e, g.size), lo, hi))
    return out


def co_moments(layout: Layout, sx: Spread, sy: Spread, mx: list[Moments],
               my: list[Moments]) -> list[np.ndarray]:
    """Centred sum of cross products of two arrays per group, per grouping (as ``moments``)."""
    per_cell = np.bincount(layout.cells, sx.dev * sy.dev, layout.n_cells)
    n_c = layout.cell_counts()
    return [
        np.bincount(g.of_cell, per_cell + n_c * (sx.mean - x.mean[g.of_cell])
                    * (sy.mean - y.mean[g.of_cell]), g.size)
        for g, x, y in zip(layout.groupings, mx, my, strict=True)
    ]


def correlate(layout: Layout, x: np.ndarray, y: np.ndarray, y_key: object) -> list[np.ndarray]:
    """``pearson`` of ``x`` and ``y`` per group, per grouping; what comes from ``y`` alone is
    kept on the layout under ``y_key`` (the caller's labels, shared by every predictor)."""
    sx = spread(layout, x)
    sy = layout.memo(("spread",), y_key, lambda: spread(layout, y))
    mx = moments(layout, sx)
    my = layout.memo(("moments",), y_key, lambda: moments(layout, sy))
    return [pearson(sxy, a, b)
            for sxy, a, b in zip(co_moments(layout, sx, sy, mx, my), mx, my, strict=True)]


# torchmetrics' Pearson gives NaN (we: None) when a side's variance, over the square of its
# largest absolute deviation from the mean, is below this. That ratio is at least 1 / (n - 1),
# so the rule can only fire in a group of more than 1 / bound + 1 (67 million) rows.
TM_VARIANCE_BOUND = math.sqrt(float(np.finfo(np.float64).eps))


def pearson(sxy: np.ndarray, x: Moments, y: Moments) -> np.ndarray:
    """Pearson r per group as torchmetrics' ``pearson_corrcoef`` gives it, NaN where it is
    undefined: fewer than 2 rows, a constant side (all values equal), or torchmetrics'
    near-zero-variance rule (``tm_variance_ok``)."""
    ok = (x.n >= 2) & x.varies & y.varies
    for m in (x, y):
        ok &= tm_variance_ok(m.n, m.m2, m.largest_deviation)
    return correlation(sxy, x.m2, y.m2, ok)


def tm_variance_ok(n: np.ndarray, m2: np.ndarray,
                   largest_deviation: Callable[[], np.ndarray]) -> np.ndarray:
    """False where torchmetrics' rule sets a correlation to NaN: the sample variance over
    the square of the largest absolute deviation from the mean is under the bound. That
    ratio is at least 1 / (n - 1), so only groups of over 1 / (2 bound) rows (a factor 2 of
    margin) are checked, and ``largest_deviation()`` is only called for them."""
    big = n - 1 >= 0.5 / TM_VARIANCE_BOUND
    if not big.any():
        return np.ones(n.size, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        return ~big | (m2 / (n - 1) / largest_deviation() ** 2 >= TM_VARIANCE_BOUND)


def correlation(sxy: np.ndarray, sxx: np.ndarray, syy: np.ndarray,
                ok: np.ndarray) -> np.ndarray:
    """sxy / sqrt(sxx syy) clipped to [-1, 1] (rounding can overshoot by an ulp), NaN where
    not ``ok`` or not finite."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0)
    return np.where(ok & np.isfinite(r), r, np.nan)


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` as float64, NaN where ``den`` is 0 (an undefined figure)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)


def cells_of(scores: Mapping[str, np.ndarray], ints: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Per-group dicts of plain Python values from arrays of per-group figures: NaN becomes
    None (outputs stay strict JSON), names in ``ints`` become int."""
    names = list(scores)
    columns = [np.asarray(scores[k]).tolist() for k in names]
    return [
        {k: (int(v) if k in ints else None if v != v else float(v))
         for k, v in zip(names, row, strict=True)}
        for row in zip(*columns, strict=True)
    ]


@dataclass(frozen=True)
class Scores:
    """A metric function's figures for every group of every grouping of a layout:
    ``figures[i][name]`` holds one value per group of grouping ``i`` (NaN: undefined);
    ``curves`` are the aggregate's extras (grouping 0 must be the overall one)."""

    figures: list[dict[str, np.ndarray]]
    ints: tuple[str, ...] = ("rows",)
    curves: Mapping[str, Any] = field(default_factory=dict)

    def groups(self, i: int) -> list[dict[str, Any]]:
        """Grouping ``i`` as one plain dict per group (``cells_of``)."""
        return cells_of(self.figures[i], self.ints)

    def overall(self) -> dict[str, Any]:
        """The aggregate: the one group of grouping 0, with the curves."""
        return {**self.groups(0)[0], **self.curves}
