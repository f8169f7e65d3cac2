"""The score distribution by realised class (directional families): how far apart the
predicted P(up) of the rows that went up and of those that did not lie.

The bins span the scores' own range (a model's P(up) on daily data sits near 0.5, and bins
over [0, 1] would put every row in one or two); each class's histogram is its share of the
class's rows per bin, so classes of different sizes compare. The gap between the classes'
mean scores (the discrimination slope) is given beside the AUC the report holds.

Pure: arrays in, a JSON-ready dict out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

N_BINS = 30


def class_histograms(prob: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> dict[str, Any]:
    """Bin edges over the scores' range, and per class (label 1, label 0): its rows, the
    share of them per bin and its mean score."""
    p, y = np.asarray(prob, np.float64), np.asarray(y, np.float64)
    ok = np.isfinite(p) & np.isfinite(y)
    p, y = p[ok], y[ok]
    lo, hi = (float(p.min()), float(p.max())) if p.size else (0.0, 1.0)
    if hi <= lo:  # a constant score: one bin around it
        lo, hi, n_bins = lo - 0.005, hi + 0.005, 1
    edges = np.linspace(lo, hi, n_bins + 1)
    classes: dict[str, Any] = {}
    for name, value in (("label 1", 1.0), ("label 0", 0.0)):
        scores = p[y == value]
        counts = np.histogram(scores, bins=edges)[0]
        classes[name] = {"rows": int(scores.size),
                         "share": [float(c) / scores.size if scores.size else 0.0
                                   for c in counts],
                         "mean_score": float(scores.mean()) if scores.size else None}
    means = [c["mean_score"] for c in classes.values()]
    notes = [f"no row with {k}" for k, c in classes.items() if not c["rows"]]
    if n_bins == 1:
        notes.append("the score is constant: one bin")
    return {"edges": [float(e) for e in edges], "classes": classes,
            "discrimination_slope": None if None in means else float(means[0] - means[1]),
            "rows_left_out": int((~ok).sum()), "note": "; ".join(notes) or None}
