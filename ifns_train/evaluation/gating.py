"""Does a structure-aware overlay improve a primary directional signal by vetoing calls?

The primary model calls up (1) or down (0) on every row; the overlay gives P(up). A row
*passes the gate* when the overlay agrees with the call with at least ``threshold``
confidence. Trading only the gated rows is worth it when the gated hit rate beats the
primary's overall hit rate by enough to pay for the lost coverage.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np

from ifns_train.evaluation.grouped import Layout, Scores, ratio


def gating_effect(
    primary_up: np.ndarray,
    y: np.ndarray,
    overlay_prob: np.ndarray,
    threshold: float,
) -> dict[str, Any]:
    """Hit rate of the primary call overall and on the rows the overlay lets through.

    A row passes when ``overlay_prob >= threshold`` for an up call, or when the
    overlay's P(down) = ``1 - overlay_prob >= threshold`` for a down call (the same as
    ``overlay_prob <= 1 - threshold``; written on P(down) so that the two sides round
    alike, e.g. at threshold 0.9 a down call with prob 0.1 passes just as an up call
    with 0.9 does, whereas ``1 - 0.9`` is 0.09999999999999998 in floating point). Both
    bounds are inclusive, so at 0.5 a prob of exactly 0.5 passes either call.

    ``threshold`` (the family's ``baseline_params.gate_threshold``; no default here) must lie
    in [0.5, 1]: below 0.5 the gate would pass rows where the
    overlay leans against the call. ``gated_hit_rate`` and ``hit_rate_change`` (gated
    minus primary) are None when no row passes.
    """
    rows = np.asarray(primary_up).shape[0] if np.ndim(primary_up) == 1 else 0
    return gating_scores(Layout.single(rows), primary_up, y, overlay_prob, threshold).overall()


def gating_scores(
    layout: Layout,
    primary_up: np.ndarray,
    y: np.ndarray,
    overlay_prob: np.ndarray,
    threshold: float,
) -> Scores:
    """``gating_effect`` for every group of every grouping of ``layout``."""
    up, y_a, prob = _validate(primary_up, y, overlay_prob, threshold)
    if up.size != layout.rows:
        raise ValueError(f"primary_up has {up.size} rows, the layout {layout.rows}")
    hits = up == y_a
    passed = np.where(up == 1, prob >= threshold, (1.0 - prob) >= threshold)
    # Per cell: rows by (passed, hit) = 0: neither, 1: hit, 2: passed, 3: both.
    both = np.bincount(layout.cells * 4 + (passed * 2 + hits), minlength=layout.n_cells * 4)
    figures = []
    for c in layout.regroup(both.reshape(layout.n_cells, 4)):
        rows = c.sum(axis=1)
        gated = c[:, 2] + c[:, 3]
        primary = ratio(c[:, 1] + c[:, 3], rows)
        gated_rate = ratio(c[:, 3], gated)
        figures.append({
            "rows": rows,
            "primary_hit_rate": primary,
            "gated_rows": gated,
            "coverage": ratio(gated, rows),
            "gated_hit_rate": gated_rate,
            "hit_rate_change": gated_rate - primary,
            "threshold": np.full(rows.size, float(threshold)),
        })
    return Scores(figures, ints=("rows", "gated_rows"))


def _validate(
    primary_up: np.ndarray, y: np.ndarray, overlay_prob: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """0/1 int64 calls and outcomes, float64 probabilities in [0, 1], all the same shape."""
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, Real)
        or not math.isfinite(float(threshold))
        or not 0.5 <= threshold <= 1.0
    ):
        raise ValueError(f"threshold must be a number in [0.5, 1], got {threshold!r}")
    up = _as_labels(primary_up, "primary_up", None)
    y_a = _as_labels(y, "y", up.shape)
    prob = np.asarray(overlay_prob, dtype=np.float64)
    if prob.shape != up.shape:
        raise ValueError(
            f"overlay_prob has shape {prob.shape}, expected {up.shape} to match primary_up"
        )
    if not np.all((prob >= 0.0) & (prob <= 1.0)):  # also rejects NaN
        raise ValueError("overlay_prob must be probabilities in [0, 1] (no NaN)")
    return up, y_a, prob


def _as_labels(values: np.ndarray, name: str, shape: tuple[int, ...] | None) -> np.ndarray:
    """0/1 labels (bool, int or 0.0/1.0 floats) as int64; 1-D, or ``shape`` when given."""
    arr = np.asarray(values)
    if shape is None and arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}, expected {shape} to match primary_up")
    if not ((arr == 0) | (arr == 1)).all():
        raise ValueError(f"{name} must contain only 0 and 1")
    return arr.astype(np.int64)
