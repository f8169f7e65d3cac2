"""Metrics for directional (binary up/down) models.

Every figure is computed for all groups of a layout at once (``binary_scores``: the aggregate
and each regime slice in one pass, see ``grouped``); ``binary_metrics`` is its one-group case.
torchmetrics was used here before and set the definitions kept:

* hit rate, precision and recall from the confusion counts, precision/recall ``None`` when the
  denominator is zero (torchmetrics' ``binary_precision`` returns 0.0 there, which reads as a
  real score);
* AUC is exactly the Mann-Whitney U over n1 * n0, ties counting one half, which is what
  torchmetrics' trapezoidal ``binary_auroc`` computes, but in exact arithmetic: torchmetrics
  builds the ROC curve in float32, so its figures differed from these by up to ~1e-7;
* calibration error (ECE, L1) and the reliability bins exactly as torchmetrics'
  ``binary_calibration_error`` bins them (see below);
* Brier score and clipped log loss.

Bin convention (copied from torchmetrics so that the bins add up to its ECE): edges are
``torch.linspace(0, 1, n_bins + 1)`` in float64 and a probability goes to the bin
``[lower, upper)`` found by ``torch.bucketize(..., right=True)`` (``np.searchsorted(...,
side="right")`` here, the same rule). Two consequences: a probability exactly on an edge
belongs to the bin above it, and ``prob == 1.0`` gets a bin of its own, ``[1.0, 1.0]``.
Edges are the float64 linspace values, so e.g. the 0.3 edge of 10 bins is
0.30000000000000004 and ``prob == 0.3`` lands in ``[0.2, 0.3)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ifns_train.evaluation.grouped import BLOCK, Layout, Scores, ratio
from ifns_train.evaluation.ranking import dense_rank, grouped_auc

LOG_LOSS_EPS = 1e-7
"""Probabilities are clipped to [eps, 1 - eps] so one confident miss gives a large, finite loss."""


def binary_metrics(
    prob: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray | None = None,
    *,
    n_bins: int,
) -> dict[str, Any]:
    """Score P(up) forecasts ``prob`` against outcomes ``y`` (1 = up, 0 = down); the ECE and
    the reliability curve in ``n_bins`` bins (``evaluation.calibration_bins``, no default here).

    ``pred`` is the predicted class; it defaults to ``prob >= 0.5`` but a baseline may
    pass its own (e.g. the sign of past momentum) while still being scored on ``prob``.
    Returns plain Python floats/ints, ``None`` where a metric is undefined.
    """
    rows = np.asarray(prob).shape[0] if np.ndim(prob) == 1 else 0
    return binary_scores(Layout.single(rows), prob, y, pred, n_bins=n_bins).overall()


def binary_scores(
    layout: Layout,
    prob: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray | None = None,
    *,
    n_bins: int,
) -> Scores:
    """``binary_metrics`` for every group of every grouping of ``layout``; the reliability
    bins are the aggregate's (grouping 0) only."""
    prob_a, pred_a = _validate(prob, pred, n_bins)
    y_a, y_f = layout.memo(("labels",), y, lambda: _labels(y, prob_a.shape))
    if prob_a.size != layout.rows:
        raise ValueError(f"prob has {prob_a.size} rows, the layout {layout.rows}")
    cells, n_cells = layout.cells, layout.n_cells
    dense = dense_rank(prob_a)
    edges = calibration_edges(n_bins)
    # Bin n_bins holds prob == 1.0 alone (torchmetrics' extra bin).
    width = n_bins + 1
    # log(p) where y = 1, log(1 - p) where y = 0: the same per row as
    # y log(p) + (1 - y) log(1 - p), with one log instead of two. With a few distinct
    # probabilities (a constant or two-valued baseline) both are worked out per value.
    if dense.values is not None:
        clipped = np.clip(dense.values, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
        log_of_value = np.log(np.stack([1.0 - clipped, clipped], axis=1))
        bin_of_value = calibration_bins(dense.values, edges)
    # Rows per (cell, bin, pred, y): the confusion counts and the bins' label counts. Per
    # (cell, bin), the sum of prob - y: the ECE is its absolute value over the rows, and
    # summing the differences avoids the cancellation of mean(prob) - mean(y) in a
    # calibrated bin. Row by row in blocks (``BLOCK``), each sum accumulated in row order:
    # the same sums as ``np.bincount`` over all rows.
    counts = np.zeros(n_cells * width * 4, dtype=np.int64)
    gap_cells = np.zeros(n_cells * width)
    sq_cells, ll_cells = np.zeros(n_cells), np.zeros(n_cells)
    for start in range(0, layout.rows, BLOCK):
        b = slice(start, start + BLOCK)
        c, yb = cells[b], y_a[b]
        if dense.values is None:
            p = prob_a[b]
            clipped = np.clip(p, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
            log_lik = np.log(np.where(yb == 1, clipped, 1.0 - clipped))
            cell_bin = calibration_bins(p, edges)
        else:
            r = dense.rank[b]
            log_lik = log_of_value[r, yb]
            cell_bin = bin_of_value[r]
        cell_bin += c * width
        index = cell_bin * 4
        index += pred_a[b] * 2
        index += yb
        if counts.size <= BLOCK:
            counts += np.bincount(index, minlength=counts.size)
        else:  # many cells: no block-sized count array per block
            np.add.at(counts, index, 1)
        diff = prob_a[b] - y_f[b]
        np.add.at(gap_cells, cell_bin, diff)
        diff *= diff
        np.add.at(sq_cells, c, diff)
        np.add.at(ll_cells, c, log_lik)
    counts4 = counts.reshape(n_cells, width, 2, 2)
    labels_g = layout.regroup(counts4.sum(axis=2))
    gaps_g = layout.regroup(gap_cells.reshape(n_cells, width))

    figures = []
    for conf, sq, ll, gaps, auc in zip(
        layout.regroup(counts4.sum(axis=1)),
        layout.regroup(sq_cells),
        layout.regroup(ll_cells),
        gaps_g,
        grouped_auc(layout, y_a, dense),
        strict=True,
    ):
        (tn, fn), (fp, tp) = conf.transpose(1, 2, 0)
        rows = conf.sum(axis=(1, 2))
        figures.append({
            "rows": rows,
            "base_rate": ratio(fn + tp, rows),
            "hit_rate": ratio(tp + tn, rows),
            "precision_up": ratio(tp, tp + fp),
            "recall_up": ratio(tp, tp + fn),
            "precision_down": ratio(tn, tn + fn),
            "recall_down": ratio(tn, tn + fp),
            "brier": ratio(sq, rows),
            "log_loss": -ratio(ll, rows),
            "auc": auc,
            "ece": np.where(rows > 0, ratio(np.abs(gaps).sum(axis=1), rows), np.nan),
        })
    curve = _reliability(edges.tolist(), labels_g[0][0], gaps_g[0][0], n_bins)
    return Scores(figures, curves={"reliability": curve})


def calibration_edges(n_bins: int) -> np.ndarray:
    """The ``n_bins + 1`` bin edges of the ECE and the reliability curve: torch's float64
    linspace (see the module docstring)."""
    return torch.linspace(0.0, 1.0, n_bins + 1, dtype=torch.float64).numpy()


def calibration_bins(prob: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each probability's bin, 0 to ``n_bins`` (bin ``n_bins`` holds ``prob == 1.0`` alone):
    ``[lower, upper)`` by ``searchsorted(side="right")``, as torchmetrics bins them."""
    return np.searchsorted(edges, prob, side="right") - 1


def _reliability(edges: list[float], labels: np.ndarray, gaps: np.ndarray,
                 n_bins: int) -> list[dict[str, Any]]:
    """Non-empty calibration bins, binned exactly as torchmetrics' ECE bins them, from
    counts per [bin, y] and the sum of prob - y per bin.

    torchmetrics keeps these per-bin statistics private; they come from the same per-bin
    sums as the ECE. ``np.linspace`` would put some edges one ulp higher (0.6, 0.7 of 10
    bins) and move edge values, hence the torch edges.
    """
    bins = []
    for i in np.flatnonzero(labels.sum(axis=1)).tolist():
        count = int(labels[i].sum())
        bins.append({
            "bin_lower": edges[i],
            # i == n_bins is torchmetrics' extra bin holding prob == 1.0 alone.
            "bin_upper": edges[i + 1] if i < n_bins else edges[n_bins],
            "count": count,
            "mean_prob": float((gaps[i] + labels[i, 1]) / count),
            "frac_up": float(labels[i, 1] / count),
        })
    return bins


def _validate(
    prob: np.ndarray, pred: np.ndarray | None, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Coerce to float64 / int64 1-D arrays and fail loudly on malformed inputs."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    prob_a = np.asarray(prob, dtype=np.float64)
    if prob_a.ndim != 1:
        raise ValueError(f"prob must be 1-D, got shape {prob_a.shape}")
    if prob_a.size and not (prob_a.min() >= 0.0 and prob_a.max() <= 1.0):  # NaN fails too
        raise ValueError("prob must be probabilities in [0, 1] (no NaN)")
    if pred is None:
        pred_a = (prob_a >= 0.5).astype(np.int64)
    else:
        pred_a = as_labels(pred, "pred", prob_a.shape, "prob")
    return np.ascontiguousarray(prob_a), pred_a


def _labels(y: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The outcomes as int64 and as float64 (checked once, shared by every predictor)."""
    y_a = as_labels(y, "y", shape, "prob")
    return y_a, y_a.astype(np.float64)


def as_labels(values: np.ndarray, name: str, shape: tuple[int, ...], other: str) -> np.ndarray:
    """0/1 labels (bool, int or 0.0/1.0 floats) as contiguous int64, of ``shape``."""
    arr = np.asarray(values)
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}, expected {shape} to match {other}")
    if not ((arr == 0) | (arr == 1)).all():
        raise ValueError(f"{name} must contain only 0 and 1")
    return np.ascontiguousarray(arr.astype(np.int64))
