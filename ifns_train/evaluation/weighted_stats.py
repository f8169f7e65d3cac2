"""Statistics of a sample as functions of date weights: the engine of ``intervals``.

A bootstrap replicate over dates is a vector ``w`` of date weights (how many times each
date was drawn); all replicates a ``(reps, n_dates)`` matrix ``W``. Each statistic here
is precomputed once per sample into a few per-date arrays, after which every replicate
is a small matrix product:

* a mean of per-row values (hit rate, Brier, log loss, MAE, MSE, QLIKE) is
  ``(W @ S) / (W @ n)``, ``S`` and ``n`` each date's sum and row count (RMSE: its root);
* a mean of a per-date series (IC, rank IC) is ``(W @ v) / (W @ 1)`` over defined dates;
* AUC, not a mean, is a weighted Mann-Whitney statistic ``w' C w / ((w . P)(w . N))``,
  ``C`` the date-by-date matrix of correctly ordered (up, down) pairs (``auc_pairs``);
* the calibration error (ECE) is ``sum_b |W @ G[:, b]| / (W @ n)``, ``G[d, b]`` the sum of
  ``prob - y`` over the rows of date d in calibration bin b (binned as ``classification``).

Those equal the metric on the rows of the resampled dates (each date's rows repeated
``w_d`` times), which the tests check against the metric functions themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ROW_METRICS = ("hit_rate", "auc", "brier", "log_loss", "mae", "rmse", "qlike", "mae_bps",
               "ece")
_PROBABILITY_METRICS = ("auc", "brier", "log_loss", "ece")
_BLOCK_PER_DATE = 0.15  # cells in an AUC pair block per date in the sample (auc_pairs)
_BLOCK_MIN = 32  # ... and at least this many
_PAIRS_PER_FLUSH = 1 << 22  # within-block pairs buffered before one bincount (~64 MB)


@dataclass(frozen=True)
class WeightedStat:
    """A statistic of the sample: its full-sample value, its per-date contribution series
    (for the block length; NaN on dates without one) and its value per row of ``W``."""

    estimate: float | None
    per_date: np.ndarray
    replicates: Callable[[np.ndarray], np.ndarray]  # W (reps, n_dates) -> (reps,), NaN undefined

    def minus(self, other: WeightedStat) -> WeightedStat:
        """Paired difference: both sides see the same resampled dates (the same ``W``)."""
        est = None
        if self.estimate is not None and other.estimate is not None:
            est = self.estimate - other.estimate

        def replicates(w: np.ndarray) -> np.ndarray:
            return self.replicates(w) - other.replicates(w)

        return WeightedStat(est, self.per_date - other.per_date, replicates)


def row_metric_stat(
    metric: str, y: np.ndarray, pred: np.ndarray, codes: np.ndarray, n_dates: int,
    n_bins: int | None = None,
) -> WeightedStat:
    """The ``WeightedStat`` of one row metric (AUC, ECE in ``n_bins`` calibration bins, or a
    mean of per-row values). ``n_bins`` (``evaluation.calibration_bins``) is required for the
    ECE and unused otherwise."""
    if metric == "auc":
        return _auc_stat(pred, y, codes, n_dates)
    if metric == "ece":
        return _ece_stat(pred, y, codes, n_dates, n_bins)
    values = _row_values(metric, y, pred)
    counts = np.bincount(codes, minlength=n_dates).astype(np.float64)
    sums = np.bincount(codes, values, minlength=n_dates)
    root = metric == "rmse"
    if values.size == 0:
        return WeightedStat(None, np.empty(0), lambda w: np.full(w.shape[0], np.nan))
    # The full-sample figure is np.mean of the row values, as the metric functions take it.
    mean = float(np.mean(values))
    estimate = math.sqrt(mean) if root else mean

    both = np.column_stack([sums, counts])

    def replicates(w: np.ndarray) -> np.ndarray:
        num_den = w @ both  # one (reps, 2) product: BLAS gemm, far faster than two gemv
        m = num_den[:, 0] / num_den[:, 1]
        return np.sqrt(m) if root else m

    with np.errstate(invalid="ignore"):
        per_date = sums / counts
    return WeightedStat(estimate, per_date, replicates)


def _row_values(metric: str, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-row quantity whose mean is the metric (squared error for RMSE)."""
    if metric == "hit_rate":
        return (pred == y).astype(np.float64)
    if metric == "brier":
        return (pred - y) ** 2
    if metric == "log_loss":
        from ifns_train.evaluation.classification import LOG_LOSS_EPS  # torch: see cli/lazy.py

        p = np.clip(pred, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
        return -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
    if metric in ("mae", "mae_bps"):
        return np.abs(pred - y)
    if metric == "rmse":
        return (pred - y) ** 2
    if metric == "qlike":
        log_r = 2.0 * (np.log(y) - np.log(pred))  # as risk.volatility_metrics: no over/underflow
        return np.exp(log_r) - log_r - 1.0
    raise ValueError(f"no per-row values for metric {metric!r}")


def _auc_stat(score: np.ndarray, y: np.ndarray, codes: np.ndarray, n_dates: int) -> WeightedStat:
    """AUC as a weighted Mann-Whitney statistic, every row weighted by its date's weight.

    AUC(w) = w' C w / ((w . P)(w . N)): ``C[d, e]`` sums, over up rows of date d and down
    rows of date e, 1 if the up row scores higher and 1/2 on a tie, so ``w' C w`` is the
    weighted count of correctly ordered pairs; unit weights give the plain AUC. Undefined
    (NaN) for a replicate without both classes. The per-date series for the block length
    is the date's mean placement (DeLong's structural components): an up row's share of
    down rows scored below it, a down row's share of up rows scored above it; both average
    to the AUC.
    """
    up = (y == 1.0).astype(np.float64)
    pos = np.bincount(codes, up, minlength=n_dates)
    neg = np.bincount(codes, minlength=n_dates) - pos
    c = auc_pairs(score, up, codes, n_dates)
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    if n_pos == 0.0 or n_neg == 0.0:
        return WeightedStat(None, np.full(n_dates, np.nan), lambda w: np.full(w.shape[0], np.nan))
    with np.errstate(invalid="ignore"):
        per_date = (c.sum(axis=1) / n_neg + c.sum(axis=0) / n_pos) / (pos + neg)

    classes = np.column_stack([pos, neg])

    def replicates(w: np.ndarray) -> np.ndarray:
        pos_neg = w @ classes
        return np.einsum("rd,rd->r", w @ c, w) / (pos_neg[:, 0] * pos_neg[:, 1])

    return WeightedStat(float(c.sum() / (n_pos * n_neg)), per_date, replicates)


def _ece_stat(prob: np.ndarray, y: np.ndarray, codes: np.ndarray, n_dates: int,
              n_bins: int | None) -> WeightedStat:
    """The expected calibration error (L1) as ``classification.binary_metrics`` bins it.

    ``G[d, b]`` sums ``prob - y`` over the rows of date d in bin b (bin ``n_bins`` holds
    ``prob == 1.0`` alone); a replicate's ECE is ``sum_b |W @ G[:, b]| / (W @ n)``, the ECE of
    the resampled rows. The estimate sums the differences in row order, as
    ``binary_metrics`` does, so the two agree to the last digit. The per-date series for the
    block length is the date's gap signed by its bin's overall gap, ``(G @ sign(g)) / n``,
    which averages (weighted by rows) to the ECE.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    if prob.size == 0:
        return WeightedStat(None, np.full(n_dates, np.nan), lambda w: np.full(w.shape[0], np.nan))
    width = n_bins + 1
    from ifns_train.evaluation.classification import calibration_bins, calibration_edges

    bins = calibration_bins(prob, calibration_edges(n_bins))
    diff = prob - y
    gaps = np.bincount(bins, diff, minlength=width)
    estimate = float(np.abs(gaps).sum() / prob.size)
    g = np.bincount(codes * width + bins, diff, minlength=n_dates * width).reshape(n_dates, width)
    counts = np.bincount(codes, minlength=n_dates).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_date = (g @ np.sign(gaps)) / counts

    both = np.column_stack([g, counts])

    def replicates(w: np.ndarray) -> np.ndarray:
        out = w @ both
        return np.abs(out[:, :width]).sum(axis=1) / out[:, width]

    return WeightedStat(estimate, per_date, replicates)


def auc_pairs(score: np.ndarray, up: np.ndarray, codes: np.ndarray, n_dates: int) -> np.ndarray:
    """The (n_dates, n_dates) matrix ``C`` of ``_auc_stat``, from one sort by score.

    Rows are sorted by score, grouped into ties (equal scores) and collapsed to (tie group,
    date) cells with up and down counts; ``U_g``/``N_g`` are group g's up/down counts per
    date. Then ``C = 1/2 sum_g U_g N_g' + sum_{g > h} U_g N_h'``:

    * ties: a sparse product, ~one term per cell unless scores repeat a lot;
    * ordered pairs: consecutive groups are cut into blocks of ~``block`` cells; pairs in
      different blocks are one dense product ``Ub' @ (cumulative Nb before each block)``
      (``Ub``, ``Nb``: up/down counts per block and date), pairs inside a block are
      enumerated (at most ``(block + n_dates)²`` per block, as a group has at most one cell
      per date).

    Counts are integers (halves for ties), so every sum is exact in float64. Cost: the sort,
    plus ~rows x block pairs and n_dates² x rows / block multiply-adds in BLAS; ``block`` =
    ``_BLOCK_PER_DATE`` x n_dates balances the two (25,000 rows x 480 dates: ~0.1 s).
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

    bounds = np.searchsorted(block, np.arange(n_blocks + 1))
    has_up, has_down = cell_up > 0, cell_down > 0
    keys: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    pending = 0
    for b in range(n_blocks):
        lo, hi = bounds[b], bounds[b + 1]
        iu = lo + np.flatnonzero(has_up[lo:hi])
        jd = lo + np.flatnonzero(has_down[lo:hi])
        if iu.size and jd.size:
            i, j = np.nonzero(cell_group[iu][:, None] > cell_group[jd][None, :])
            iu, jd = iu[i], jd[j]
            keys.append(cell_date[iu] * n_dates + cell_date[jd])
            weights.append(cell_up[iu] * cell_down[jd])
            pending += i.size
        if keys and (pending > _PAIRS_PER_FLUSH or b == n_blocks - 1):
            pairs = np.bincount(np.concatenate(keys), np.concatenate(weights), n_dates**2)
            c += pairs.reshape(n_dates, n_dates)
            keys, weights, pending = [], [], 0
    return c


def series_stat(v: np.ndarray) -> WeightedStat:
    """Mean of a per-date series (in date order) over its defined (non-NaN) dates."""
    defined = np.isfinite(v).astype(np.float64)
    filled = np.where(defined > 0, v, 0.0)
    estimate = float(np.mean(v[defined > 0])) if defined.any() else None

    both = np.column_stack([filled, defined])

    def replicates(w: np.ndarray) -> np.ndarray:
        num_den = w @ both
        return num_den[:, 0] / num_den[:, 1]

    return WeightedStat(estimate, v, replicates)


# --- validation --------------------------------------------------------------------------------


def check_target(metric: str, y: np.ndarray) -> None:
    """Outcomes as the metric needs them: finite; 0/1 for the directional ones; > 0 for QLIKE."""
    if not np.all(np.isfinite(y)):
        raise ValueError("y must be finite (no NaN or inf)")
    binary = ("hit_rate", *_PROBABILITY_METRICS)
    if metric in binary and not np.all(np.isin(y, (0.0, 1.0))):
        raise ValueError(f"y must contain only 0 and 1 for {metric}")
    if metric == "qlike" and np.any(y <= 0.0):
        raise ValueError("y must be a strictly positive volatility for qlike")


def as_pred(metric: str, pred: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Predictions as a float64 array of ``shape``, checked for what ``metric`` scores."""
    p = np.asarray(pred, dtype=np.float64)
    if p.shape != shape:
        raise ValueError(f"predictions have shape {p.shape}, expected {shape} to match y")
    if not np.all(np.isfinite(p)):
        raise ValueError("predictions must be finite (no NaN or inf)")
    if metric == "hit_rate" and not np.all(np.isin(p, (0.0, 1.0))):
        raise ValueError("hit_rate takes a predicted class (0 or 1)")
    if metric in _PROBABILITY_METRICS and not np.all((p >= 0.0) & (p <= 1.0)):
        raise ValueError(f"{metric} takes probabilities in [0, 1]")
    if metric == "qlike" and np.any(p <= 0.0):
        raise ValueError("qlike takes strictly positive volatility forecasts")
    return np.ascontiguousarray(p)
