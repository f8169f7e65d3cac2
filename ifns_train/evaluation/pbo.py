"""The probability of backtest overfitting (PBO) of a search, by combinatorially symmetric
cross-validation (CSCV; Bailey, Borwein, López de Prado and Zhu, 2014).

Why: a search that tries N configurations and keeps the best on its own figures selects, in
part, for luck. CSCV asks how often the configuration that looks best on one half of the dates
is below the median on the other half: if the search's choice carried skill, it stays good out
of sample; if it carried luck, its out-of-sample rank is a coin toss. That share, over every
way of halving the dates, is the PBO: about 0.5 for a search among equals (noise), near 0
where one configuration is truly better, above 0.5 where the in-sample best is reliably worse
out of sample (an overfit search).

The dates (rows of the performance matrix, a per-date figure of each trial, higher better) are
cut into S contiguous blocks; each of the C(S, S/2) choices of S/2 blocks is the in-sample
(IS) half, the rest the out-of-sample (OOS) half. Labels span `horizon` dates, so an IS date
within `horizon` dates of an OOS block would have its label window reach into the OOS dates
(or theirs into its): those IS dates are purged, on both sides of every IS/OOS boundary. The
OOS dates are kept whole. Per half, a trial's statistic is the mean of its per-date figures.

Pure numpy: the per-block sums (whole, and without the `horizon` dates at either or both ends)
times a (combinations x blocks) indicator matrix give every combination's means at once.
"""

from __future__ import annotations

from itertools import combinations
from math import comb
from typing import Any

import numpy as np

# Fixed histogram bins of the logits (width 0.5); values beyond them count in the outer bins.
# |logit| <= ln(N), so up to ~150 trials fall inside.
LOGIT_EDGES = tuple(float(e) for e in np.linspace(-5.0, 5.0, 21))
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _block_bounds(dates: int, blocks: int) -> list[tuple[int, int]]:
    """Contiguous blocks of (nearly) equal length: the first `dates % blocks` one longer."""
    size, extra = divmod(dates, blocks)
    bounds, start = [], 0
    for b in range(blocks):
        end = start + size + (1 if b < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


def _check(matrix: np.ndarray, blocks: int, horizon: int) -> None:
    if matrix.ndim != 2:
        raise ValueError(f"the performance matrix must be dates x trials, not {matrix.shape}")
    dates, trials = matrix.shape
    if trials < 2:
        raise ValueError(f"PBO needs at least 2 trials, got {trials}")
    if blocks < 2 or blocks % 2:
        raise ValueError(f"the number of blocks S must be even and at least 2, got {blocks}")
    if horizon < 0:
        raise ValueError(f"the label horizon must be >= 0 dates, got {horizon}")
    if dates < blocks:
        raise ValueError(f"{dates} date(s) cannot be cut into {blocks} blocks; use fewer "
                         "blocks")
    if not np.all(np.isfinite(matrix)):
        bad = int((~np.isfinite(matrix)).sum())
        raise ValueError(f"the performance matrix has {bad} non-finite figure(s)")


def indicator(blocks: int) -> np.ndarray:
    """(C(S, S/2) x S) booleans: row c marks the in-sample blocks of combination c."""
    rows = list(combinations(range(blocks), blocks // 2))
    out = np.zeros((len(rows), blocks), dtype=bool)
    for c, chosen in enumerate(rows):
        out[c, list(chosen)] = True
    return out


def purged_dates(dates: int, blocks: int, horizon: int, in_sample: np.ndarray
                 ) -> np.ndarray:
    """The date indices one combination keeps in sample (`in_sample`: S booleans): the IS
    blocks less the `horizon` dates next to each OOS neighbour. A reference for `cscv`'s
    vectorised sums, and what the purge's test reads."""
    keep: list[int] = []
    for b, (start, end) in enumerate(_block_bounds(dates, blocks)):
        if not in_sample[b]:
            continue
        if b > 0 and not in_sample[b - 1]:
            start += horizon
        if b < blocks - 1 and not in_sample[b + 1]:
            end -= horizon
        keep.extend(range(start, max(start, end)))
    return np.asarray(keep, dtype=int)


def _trimmed_sums(matrix: np.ndarray, bounds: list[tuple[int, int]], horizon: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per block the sums (4 x S x N) and counts (4 x S) of its figures: whole, without its
    first `horizon` dates, without its last, without both."""
    cumulative = np.vstack([np.zeros(matrix.shape[1]), np.cumsum(matrix, axis=0)])
    sums = np.zeros((4, len(bounds), matrix.shape[1]))
    counts = np.zeros((4, len(bounds)))
    for b, (start, end) in enumerate(bounds):
        for k, (cut_left, cut_right) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
            lo = min(end, start + horizon * cut_left)  # a block shorter than the purge: empty
            hi = max(lo, end - horizon * cut_right)
            sums[k, b] = cumulative[hi] - cumulative[lo]
            counts[k, b] = hi - lo
    return sums, counts


def _relative_rank(oos: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """The OOS rank of each combination's chosen trial among the N (1 = worst .. N = best,
    ties averaged), over N + 1: in (0, 1)."""
    mine = oos[np.arange(len(chosen)), chosen][:, None]
    below = (oos < mine).sum(axis=1)
    tied = (oos == mine).sum(axis=1)  # the chosen trial itself included
    return (below + (tied + 1) / 2.0) / (oos.shape[1] + 1)


def _degradation(is_best: np.ndarray, oos_best: np.ndarray) -> dict[str, Any]:
    """How the chosen trial's figure falls from in sample to out of sample: the means over
    the combinations, the OLS slope of OOS on IS, and the share of combinations where its
    OOS figure is below zero."""
    slope = intercept = None
    if np.ptp(is_best) > 0:
        slope, intercept = (float(v) for v in np.polyfit(is_best, oos_best, 1))
    return {"is_mean": float(is_best.mean()), "oos_mean": float(oos_best.mean()),
            "slope": slope, "intercept": intercept,
            "oos_below_zero": float((oos_best < 0).mean())}


def cscv(matrix: np.ndarray, blocks: int, horizon: int) -> dict[str, Any]:
    """The PBO of the trials whose per-date figures (higher better) are the columns of
    `matrix` (T dates x N trials, dates in order), over `blocks` (S, even) contiguous blocks,
    IS dates within `horizon` dates of an OOS block purged.

    Returns `pbo`, `blocks`, `trials`, `dates`, `combinations`, `horizon`, `logits`
    (`edges`, `counts` of a fixed-bin histogram, `mean`, `quantiles`), `degradation`, and
    `in_sample_dates` (the fewest and most a combination kept after the purge). ValueError
    for a matrix that cannot be split so: too few dates, fewer than 2 trials, non-finite
    figures, or a purge that leaves some combination no in-sample date.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    _check(matrix, blocks, horizon)
    dates, trials = matrix.shape
    bounds = _block_bounds(dates, blocks)
    sums, counts = _trimmed_sums(matrix, bounds, horizon)
    in_sample = indicator(blocks)
    oos_block = ~in_sample
    left = np.zeros_like(in_sample)
    left[:, 1:] = oos_block[:, :-1]
    right = np.zeros_like(in_sample)
    right[:, :-1] = oos_block[:, 1:]
    is_sum = np.zeros((len(in_sample), trials))
    is_count = np.zeros(len(in_sample))
    for k, (cut_left, cut_right) in enumerate(((False, False), (True, False), (False, True),
                                               (True, True))):
        mask = (in_sample & (left == cut_left) & (right == cut_right)).astype(np.float64)
        is_sum += mask @ sums[k]
        is_count += mask @ counts[k]
    if is_count.min() < 1:
        shortest = min(end - start for start, end in bounds)
        raise ValueError(
            f"{dates} dates in {blocks} blocks (the shortest {shortest} dates) leave some "
            f"combination no in-sample date once {horizon} date(s) are purged at each "
            f"boundary; use fewer blocks or more dates")
    oos_sum = oos_block.astype(np.float64) @ sums[0]
    oos_count = oos_block.astype(np.float64) @ counts[0]
    is_mean = is_sum / is_count[:, None]
    oos_mean = oos_sum / oos_count[:, None]
    chosen = np.argmax(is_mean, axis=1)
    w = _relative_rank(oos_mean, chosen)
    logits = np.log(w / (1.0 - w))
    edges = np.asarray(LOGIT_EDGES)
    histogram, _ = np.histogram(np.clip(logits, edges[0], edges[-1]), bins=edges)
    rows = np.arange(len(chosen))
    return {
        "pbo": float((logits <= 0).mean()),
        "blocks": blocks,
        "trials": trials,
        "dates": dates,
        "combinations": comb(blocks, blocks // 2),
        "horizon": horizon,
        "in_sample_dates": {"min": int(is_count.min()), "max": int(is_count.max())},
        "logits": {"edges": list(LOGIT_EDGES), "counts": [int(c) for c in histogram],
                   "mean": float(logits.mean()),
                   "quantiles": {f"{q:g}": float(v) for q, v in
                                 zip(QUANTILES, np.quantile(logits, QUANTILES),
                                     strict=True)}},
        "degradation": _degradation(is_mean[rows, chosen], oos_mean[rows, chosen]),
    }
