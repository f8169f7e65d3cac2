"""Metrics for directional (binary up/down) models.

torchmetrics does the parts it already has: the confusion counts
(``binary_stat_scores``), ranking (``binary_auroc``) and calibration error
(``binary_calibration_error``). Written by hand here, because torchmetrics lacks them:

* precision/recall as exact ratios of those counts, ``None`` when the denominator is
  zero (torchmetrics' ``binary_precision`` returns 0.0 there, which reads as a real
  score, and returns float32);
* Brier score and clipped log loss (torchmetrics has no binary version of either);
* the reliability-curve bins, which torchmetrics computes internally but does not return.

Bin convention (copied from torchmetrics so that the bins add up to its ECE): edges are
``torch.linspace(0, 1, n_bins + 1)`` in float64 and a probability goes to the bin
``[lower, upper)`` found by ``torch.bucketize(..., right=True)``. Two consequences:
a probability exactly on an edge belongs to the bin above it, and ``prob == 1.0`` gets
a bin of its own, ``[1.0, 1.0]``. Edges are the float64 linspace values, so e.g. the
0.3 edge of 10 bins is 0.30000000000000004 and ``prob == 0.3`` lands in ``[0.2, 0.3)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torchmetrics.functional.classification import (
    binary_auroc,
    binary_calibration_error,
    binary_stat_scores,
)

LOG_LOSS_EPS = 1e-7
"""Probabilities are clipped to [eps, 1 - eps] so one confident miss gives a large, finite loss."""


def binary_metrics(
    prob: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray | None = None,
    n_bins: int = 10,
) -> dict[str, Any]:
    """Score P(up) forecasts ``prob`` against outcomes ``y`` (1 = up, 0 = down).

    ``pred`` is the predicted class; it defaults to ``prob >= 0.5`` but a baseline may
    pass its own (e.g. the sign of past momentum) while still being scored on ``prob``.
    Returns plain Python floats/ints, ``None`` where a metric is undefined.
    """
    prob_a, y_a, pred_a = _validate(prob, y, pred, n_bins)
    rows = int(prob_a.size)
    if rows == 0:
        return _empty_metrics()

    prob_t = torch.from_numpy(prob_a)
    y_t = torch.from_numpy(y_a)
    tp, fp, tn, fn, _support = (
        int(v) for v in binary_stat_scores(torch.from_numpy(pred_a), y_t).tolist()
    )
    clipped = np.clip(prob_a, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
    log_loss = -np.mean(y_a * np.log(clipped) + (1 - y_a) * np.log(1.0 - clipped))
    # binary_auroc warns and returns 0 with one class; AUC is undefined there.
    # Its result is float32 (torchmetrics builds the ROC curve in float32).
    single_class = bool(y_a.min() == y_a.max())
    auc = None if single_class else float(binary_auroc(prob_t, y_t))
    return {
        "rows": rows,
        "base_rate": float(y_a.mean()),
        "hit_rate": (tp + tn) / rows,
        "precision_up": _ratio(tp, tp + fp),
        "recall_up": _ratio(tp, tp + fn),
        "precision_down": _ratio(tn, tn + fn),
        "recall_down": _ratio(tn, tn + fp),
        "brier": float(np.mean((prob_a - y_a) ** 2)),
        "log_loss": float(log_loss),
        "auc": auc,
        "ece": float(binary_calibration_error(prob_t, y_t, n_bins=n_bins, norm="l1")),
        "reliability": _reliability_bins(prob_a, y_a, n_bins),
    }


def _reliability_bins(prob: np.ndarray, y: np.ndarray, n_bins: int) -> list[dict[str, Any]]:
    """Non-empty calibration bins, binned exactly as torchmetrics' ECE bins them.

    Hand-written: torchmetrics keeps these per-bin statistics private. Uses the same
    float64 ``torch.linspace`` edges and ``torch.bucketize(right=True)``; ``np.linspace``
    would put some edges one ulp higher (0.6, 0.7 of 10 bins) and move edge values.
    """
    edges_t = torch.linspace(0.0, 1.0, n_bins + 1, dtype=torch.float64)
    idx = (torch.bucketize(torch.from_numpy(prob), edges_t, right=True) - 1).numpy()
    edges = edges_t.tolist()
    bins = []
    for i in np.unique(idx).tolist():
        mask = idx == i
        bins.append(
            {
                "bin_lower": edges[i],
                # i == n_bins is torchmetrics' extra bin holding prob == 1.0 alone.
                "bin_upper": edges[i + 1] if i < n_bins else edges[n_bins],
                "count": int(mask.sum()),
                "mean_prob": float(prob[mask].mean()),
                "frac_up": float(y[mask].mean()),
            }
        )
    return bins


def _ratio(num: int, den: int) -> float | None:
    """``num / den``, or None when undefined (e.g. precision with no predicted ups)."""
    return num / den if den else None


def _empty_metrics() -> dict[str, Any]:
    """Zero rows: every metric is undefined, but the keys stay stable for the caller."""
    keys = (
        "base_rate",
        "hit_rate",
        "precision_up",
        "recall_up",
        "precision_down",
        "recall_down",
        "brier",
        "log_loss",
        "auc",
        "ece",
    )
    return {"rows": 0, **dict.fromkeys(keys), "reliability": []}


def _validate(
    prob: np.ndarray, y: np.ndarray, pred: np.ndarray | None, n_bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coerce to float64 / int64 1-D arrays and fail loudly on malformed inputs."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    prob_a = np.asarray(prob, dtype=np.float64)
    if prob_a.ndim != 1:
        raise ValueError(f"prob must be 1-D, got shape {prob_a.shape}")
    if not np.all((prob_a >= 0.0) & (prob_a <= 1.0)):  # also rejects NaN
        raise ValueError("prob must be probabilities in [0, 1] (no NaN)")
    y_a = _as_labels(y, "y", prob_a.shape)
    if pred is None:
        pred_a = (prob_a >= 0.5).astype(np.int64)
    else:
        pred_a = _as_labels(pred, "pred", prob_a.shape)
    return np.ascontiguousarray(prob_a), y_a, pred_a


def _as_labels(values: np.ndarray, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """0/1 labels (bool, int or 0.0/1.0 floats) as contiguous int64."""
    arr = np.asarray(values)
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}, expected {shape} to match prob")
    if not np.all(np.isin(arr, (0, 1))):
        raise ValueError(f"{name} must contain only 0 and 1")
    return np.ascontiguousarray(arr.astype(np.int64))
