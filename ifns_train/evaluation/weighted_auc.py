"""The AUC as a function of date weights: exact where that is cheap, on a score grid beyond.

A replicate of the date bootstrap weights every row by its date's weight ``w_d``; its AUC is
the weighted Mann-Whitney statistic over (up, down) pairs, 1 when the up row scores higher
and 1/2 on a tie. Two ways to make a replicate a small product instead of a re-sort:

* **exact** (``exact_auc``): ``AUC(w) = w' C w / ((w . P)(w . N))`` with ``C[d, e]`` the
  correctly ordered pairs (up in date d, down in date e) from one sort (``auc_pairs``). Why
  not always: building ``C`` costs about rows x n_dates (pairs inside blocks of ~0.15 x
  n_dates tie groups, a dense product across them), 17 s at 5 million rows over 2,500 dates.
* **grid** (``grid_auc``): per-date counts of up and down rows over ``GRID_BINS`` bins of the
  score, ``U[d, k]`` and ``N[d, k]``; a replicate is ``a = w U``, ``b = w N`` (one matrix
  product for all replicates) and ``AUC(w) = sum_k a_k (sum_{j<k} b_j + b_k / 2) / (sum a)(sum
  b)``: linear in rows (bincounts) plus reps x n_dates x bins, whatever the rows.

The rule (``on_grid``): exact while rows x n_dates is at most ``EXACT_CELLS``; the grid
beyond. Every split of the demo data (23,232 rows over 484 dates) and every period of
``period_figures`` stays exact, so their figures are what they were.

The grid's error. When the sample's scores take at most ``GRID_BINS`` distinct values (the
baselines: a class prior has 1, a momentum sign 2), each value is its own bin and the grid is
exact. Otherwise the bins are cut at ``GRID_BINS`` quantiles of the split's scores (a bin: a
range of scores, so about equal rows of the split each, and a score in exactly one bin), and
pairs inside one bin count as ties (1/2) where the truth is 1 or 0 (or 1/2): a replicate's
AUC is off by at most ``max_error(w) = 1/2 x (sum_k a_k b_k) / ((sum a)(sum b))``, the
weighted share of up-down pairs that share a bin, about ``1 / (2 x GRID_BINS)`` (2.4e-4) with
equal-row bins, and in practice far less, since pairs inside a bin are about half right
either way. The bound is computed for every replicate; an interval's ends (quantiles of the
replicates) move by at most its largest value, which the interval records (``auc_grid``).
The estimate stays exact (Mann-Whitney on the sorted scores of each class); the per-date
series, which only chooses the block length, is taken on the grid. The split's bins serve
its slices too (``ScoreBins.take``), so the split's scores are sorted once.

Counts are integers (halves for ties) well below 2**53, so every sum of counts here is exact
in float64, in any order: the pair matrix (and so the exact path's estimate and per-date
series), the grid's estimate and its products ``w U``, ``w N`` are the same to the last bit
however they are summed, which is why ``auc_pairs`` could be rewritten without changing a
figure.

No GPU path: at 5 million rows the product is ~0.1 s of a 2-core CPU; the costs that remain
are passes over the rows (bincounts, sorts), which a device would add a copy to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

EXACT_CELLS = 1 << 26
"""rows x n_dates up to which the AUC's replicates use the exact pair matrix (~0.1 s to build)."""
GRID_BINS = 2048
"""Score bins of the grid beyond ``EXACT_CELLS`` (the replicates' product: reps x dates x 2 x
bins multiply-adds, ~0.15 s at 1,000 x 2,500 dates)."""
_BLOCK_PER_DATE = 0.15  # cells in an AUC pair block per date in the sample (auc_pairs)
_BLOCK_MIN = 32  # ... and at least this many
_PAIRS_PER_FLUSH = 1 << 22  # within-block pairs enumerated before one bincount (~200 MB)
_FINE = 1 << 20  # cells of the table from a score to its grid bin (score_bins)
_FLOAT32_EXACT = 1 << 24  # counts of rows below this are exact in float32, and their sums

Replicates = Callable[[np.ndarray], np.ndarray]  # W (reps, n_dates) -> (reps,), NaN undefined


def on_grid(rows: int, n_dates: int) -> bool:
    """Whether a sample this size takes the score grid (see the module docstring)."""
    return rows * n_dates > EXACT_CELLS


@dataclass(frozen=True)
class ScoreBins:
    """The grid bin of each row's score (0 .. ``bins`` - 1, in the order of the scores) and
    whether each bin holds one distinct score (``exact``). A split's bins serve its slices
    (``take``): any order-preserving bins make the grid's AUC, and its bound says how good."""

    bin: np.ndarray
    bins: int
    exact: bool

    def take(self, rows: np.ndarray | slice) -> ScoreBins:
        return ScoreBins(self.bin[rows], self.bins, self.exact)


def score_bins(score: np.ndarray) -> ScoreBins:
    """The grid bins of ``score`` (see the module docstring): one per distinct score when
    there are at most ``GRID_BINS``, found by hashing; else cut at ``GRID_BINS`` quantiles of
    the sorted scores, a row's bin read from a table over ``_FINE`` equal cells of the
    scores' range (no search per row: a cell across a cut joins the lower bin, which keeps
    the bins in score order)."""
    s = np.sort(score)
    distinct = s[np.r_[True, s[1:] != s[:-1]]] if s.size else s
    if distinct.size <= GRID_BINS:
        codes, uniques = pd.factorize(score)
        # searchsorted, not an argsort of the uniques: 0.0 and -0.0 share one bin.
        rank = np.searchsorted(distinct, uniques)[codes]
        return ScoreBins(np.asarray(rank, dtype=np.int64), int(distinct.size), True)
    cuts = s[np.arange(1, GRID_BINS) * s.size // GRID_BINS]
    low, scale = s[0], _FINE / (s[-1] - s[0])
    table = np.searchsorted(cuts, low + np.arange(_FINE) / scale, "right")
    cell = np.minimum(((score - low) * scale).astype(np.int64), _FINE - 1)
    return ScoreBins(table[cell], GRID_BINS, False)


def exact_auc(score: np.ndarray, up: np.ndarray, codes: np.ndarray, n_dates: int
              ) -> tuple[float | None, np.ndarray, Replicates]:
    """(estimate, per-date series, replicates) from the exact pair matrix; the estimate None
    (and the replicates NaN) without both classes. The per-date series for the block length
    is the date's mean placement (DeLong's structural components): an up row's share of down
    rows scored below it, a down row's share of up rows scored above it; both average to the
    AUC."""
    return auc_of_pairs(auc_pairs(score, up, codes, n_dates), up, codes, n_dates)


def auc_of_pairs(c: np.ndarray, up: np.ndarray, codes: np.ndarray, n_dates: int
                 ) -> tuple[float | None, np.ndarray, Replicates]:
    """``exact_auc`` from its pair matrix ``c``, however it was counted (exact counts: the
    same figures to the last bit; ``period_figures`` counts a small period's densely)."""
    pos = np.bincount(codes, up, minlength=n_dates)
    neg = np.bincount(codes, minlength=n_dates) - pos
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    if n_pos == 0.0 or n_neg == 0.0:
        return None, np.full(n_dates, np.nan), lambda w: np.full(w.shape[0], np.nan)
    with np.errstate(invalid="ignore"):
        per_date = (c.sum(axis=1) / n_neg + c.sum(axis=0) / n_pos) / (pos + neg)

    classes = np.column_stack([pos, neg])

    def replicates(w: np.ndarray) -> np.ndarray:
        pos_neg = w @ classes
        return np.einsum("rd,rd->r", w @ c, w) / (pos_neg[:, 0] * pos_neg[:, 1])

    return float(c.sum() / (n_pos * n_neg)), per_date, replicates


@dataclass(frozen=True)
class GridAuc:
    """The AUC on the score grid: as ``exact_auc`` plus the grid's ``bins`` and ``error``, the
    bound on each replicate's error (0 where each bin holds one distinct score)."""

    estimate: float | None
    per_date: np.ndarray
    replicates: Replicates
    error: Replicates
    bins: int


def grid_auc(bins: ScoreBins, score: np.ndarray, up: np.ndarray, codes: np.ndarray,
             n_dates: int) -> GridAuc:
    """The AUC of rows on the score grid ``bins`` (module docstring).

    The counts ``[U | N]`` are one bincount of (date, class, bin); the replicates one matrix
    product, in float32 when no sum of counts can reach 2**24 (exact there, and twice as
    fast), else float64."""
    k = bins.bins
    cls = up.astype(np.int64)
    column = bins.bin + k * (1 - cls)  # the up rows' bins, then the down rows'
    counts = np.bincount(codes * (2 * k) + column, minlength=n_dates * 2 * k)
    by_column = np.bincount(column, minlength=2 * k).astype(np.float64)
    ups, downs = by_column[:k], by_column[k:]
    n_pos, n_neg = float(ups.sum()), float(downs.sum())
    if n_pos == 0.0 or n_neg == 0.0:
        def undefined(w: np.ndarray) -> np.ndarray:
            return np.full(w.shape[0], np.nan)
        return GridAuc(None, np.full(n_dates, np.nan), undefined, undefined, k)
    # An up row's share of the down rows below it, a down row's of the up rows above it, on
    # the grid (pairs in one bin 1/2); each averages to the AUC.
    below = np.cumsum(downs) - 0.5 * downs
    above = n_pos - (np.cumsum(ups) - 0.5 * ups)
    share = np.r_[below / n_neg, above / n_pos]
    with np.errstate(invalid="ignore"):
        per_date = np.bincount(codes, share[column], minlength=n_dates) \
            / np.bincount(codes, minlength=n_dates)
    if bins.exact:
        estimate = float(ups @ below) / (n_pos * n_neg)
    else:
        is_up = up == 1.0
        estimate = _mann_whitney(score[is_up], score[~is_up]) / (n_pos * n_neg)
    most = int(np.bincount(codes, minlength=n_dates).max())
    dtype = np.float32 if most * n_dates < _FLOAT32_EXACT else np.float64
    matrix: np.ndarray = counts.astype(dtype).reshape(n_dates, 2 * k)
    last: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def both(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values, error bounds) of one product; memoised for the last read-only ``w`` (the
        bootstrap's weights are), as the interval reads both from the same weights."""
        hit = last.get("w")
        if hit is not None and hit[0] is w:
            return hit[1], hit[2]
        ab = (w.astype(dtype) @ matrix).astype(np.float64)
        a, b = ab[:, :k], ab[:, k:]
        denominator = a.sum(axis=1) * b.sum(axis=1)
        values = np.einsum("rk,rk->r", a, np.cumsum(b, axis=1) - 0.5 * b) / denominator
        error = (np.zeros(w.shape[0]) if bins.exact
                 else 0.5 * np.einsum("rk,rk->r", a, b) / denominator)
        if not w.flags.writeable:
            last["w"] = (w, values, error)
        return values, error

    return GridAuc(estimate, per_date, lambda w: both(w)[0], lambda w: both(w)[1], k)


def _mann_whitney(up_scores: np.ndarray, down_scores: np.ndarray) -> float:
    """The (up, down) pairs where the up row scores higher, ties 1/2: exact, from two sorts
    and one search (a second only for the up rows that tie a down row)."""
    if down_scores.size == 0:
        return 0.0
    ups, downs = np.sort(up_scores), np.sort(down_scores)
    below = np.searchsorted(downs, ups, "left")
    tied = np.flatnonzero(downs[np.minimum(below, downs.size - 1)] == ups)
    ties = np.searchsorted(downs, ups[tied], "right") - below[tied]
    return float(2 * int(below.sum()) + int(ties.sum())) / 2.0


def auc_pairs(score: np.ndarray, up: np.ndarray, codes: np.ndarray, n_dates: int) -> np.ndarray:
    """The (n_dates, n_dates) matrix ``C`` of ``exact_auc``, from one sort by score.

    Rows are sorted by score, grouped into ties (equal scores) and collapsed to (tie group,
    date) cells with up and down counts; ``U_g``/``N_g`` are group g's up/down counts per
    date. Then ``C = 1/2 sum_g U_g N_g' + sum_{g > h} U_g N_h'``:

    * ties: a sparse product, ~one term per cell unless scores repeat a lot;
    * ordered pairs: consecutive groups are cut into blocks of ~``block`` cells; pairs in
      different blocks are one dense product ``Ub' @ (cumulative Nb before each block)``
      (``Ub``, ``Nb``: up/down counts per block and date), pairs inside a block are
      enumerated, all blocks at once (each up cell with the down cells of earlier groups in
      its block: at most ``block + n_dates`` of them, as a group has at most one cell per
      date), ``_PAIRS_PER_FLUSH`` pairs per bincount.

    Counts are integers (halves for ties), so every sum is exact in float64. Cost: the sort,
    plus ~rows x block pairs and n_dates² x rows / block multiply-adds in BLAS; ``block`` =
    ``_BLOCK_PER_DATE`` x n_dates balances the two (25,000 rows x 480 dates: ~10 ms).
    """
    from scipy import sparse

    c = np.zeros((n_dates, n_dates))
    if score.size == 0:
        return c
    order = np.lexsort((codes, score))
    s, d, u = score[order], codes[order], up[order]
    group = np.cumsum(np.r_[True, s[1:] != s[:-1]]) - 1
    key = group * n_dates + d
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    cell_group, cell_date = group[start], d[start]  # sorted by group, then date
    cell_up = np.add.reduceat(u, start)
    cell_down = np.diff(np.r_[start, s.size]) - cell_up
    n_groups = int(cell_group[-1]) + 1

    shape = (n_groups, n_dates)
    ups = sparse.csr_matrix((cell_up, (cell_group, cell_date)), shape=shape)
    downs = sparse.csr_matrix((cell_down, (cell_group, cell_date)), shape=shape)
    c += 0.5 * (ups.T @ downs).toarray()  # tied pairs count 1/2

    size = max(_BLOCK_MIN, int(_BLOCK_PER_DATE * n_dates))
    first_cell = np.searchsorted(cell_group, np.arange(n_groups))
    block = (first_cell // size)[cell_group]  # whole groups; non-decreasing along the cells
    n_blocks = int(block[-1]) + 1
    flat = block * n_dates + cell_date
    up_b = np.bincount(flat, cell_up, n_blocks * n_dates).reshape(n_blocks, n_dates)
    down_b = np.bincount(flat, cell_down, n_blocks * n_dates).reshape(n_blocks, n_dates)
    c += up_b.T @ (np.cumsum(down_b, axis=0) - down_b)  # up in a later block than the down

    # Inside a block: up cell i against the down cells among [block start, its group's first
    # cell), numbered among the down cells only (``before[x]``: down cells before cell x).
    downs_at = np.flatnonzero(cell_down > 0)
    before = np.r_[0, np.cumsum(cell_down > 0)]
    lo = before[np.searchsorted(block, np.arange(n_blocks))[block]]
    hi = before[first_cell[cell_group]]
    iu = np.flatnonzero((cell_up > 0) & (hi > lo))
    span = hi[iu] - lo[iu]
    ends = np.cumsum(span)
    first = 0
    while first < iu.size:
        done = ends[first - 1] if first else 0
        last = max(first + 1, int(np.searchsorted(ends, done + _PAIRS_PER_FLUSH, "right")))
        part, width = iu[first:last], span[first:last]
        i = np.repeat(part, width)
        j = downs_at[np.arange(ends[last - 1] - done)
                     - np.repeat(ends[first:last] - width - done - lo[part], width)]
        pairs = np.bincount(cell_date[i] * n_dates + cell_date[j], cell_up[i] * cell_down[j],
                            n_dates**2)
        c += pairs.reshape(n_dates, n_dates)
        first = last
    return c
