"""Stability (spec 7.2): how much a model's figure moves with the training window and the seed.

Pure: the primary figures of the main run and of its companion runs (walk-forward folds, other
seeds; `ifns_train.run.companions`) in, their spread out. A model whose test figure changes sign
from one fold or seed to the next is telling its reader that the figure is mostly noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def spread(values: Sequence[float | None]) -> dict[str, Any]:
    """n, mean, sample std (ddof=1), min and max of the defined values; None where undefined."""
    present = [float(v) for v in values if v is not None]
    n = len(present)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None}
    mean = sum(present) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in present) / (n - 1)) if n > 1 else None
    return {"n": n, "mean": mean, "std": std, "min": min(present), "max": max(present)}


def _figure(summary: Mapping[str, Any], split: str, metric: str) -> float | None:
    return summary["metrics"][split]["model"].get(metric)


def stability(
    metric: str,
    main: Mapping[str, Any],
    companions: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    split: str = "test",
    complexity: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The spread of `metric` on `split` over the walk-forward folds (the earlier folds and the
    main run, which is the last fold) and over the seeds (the main run's and the others').

    `main` and each companion are run summaries: {"experiment_id", "metrics": {split: key
    figures}}.
    """
    out: dict[str, Any] = {"metric": metric, "split": split, "complexity": dict(complexity or {})}
    for kind, name in (("fold", "walk_forward"), ("seed", "seeds")):
        runs = [*companions.get(kind, []), main]
        if len(runs) < 2:
            continue
        out[name] = {
            "metric": metric,
            "runs": [{"experiment_id": r["experiment_id"], "value": _figure(r, split, metric)}
                     for r in runs],
            "spread": spread([_figure(r, split, metric) for r in runs]),
        }
    return out
