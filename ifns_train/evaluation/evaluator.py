"""The evaluator: prediction tables in, the figures of `metrics.json` out. Pure: no Lightning,
no files, so the recorder and `python -m ifns_train.evaluate` compute the very same figures.

`METRICS_VERSION` names the definitions of the figures. It is raised whenever a figure is added
or its definition changes; a model evaluated under an older version keeps those figures (the
re-evaluation archives them) instead of having them silently replaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ifns_train.evaluation.predictions import PredictionArrays
from ifns_train.evaluation.report import key_metrics, split_report

METRICS_VERSION = 1


@dataclass(frozen=True)
class EvaluationSpec:
    """Everything besides the predictions that decides the figures; stored in metrics.json."""

    metric_set: str
    baselines: tuple[str, ...]
    slice_by: tuple[str, ...]
    min_rows: int
    n_bins: int
    horizon_days: int
    gate_threshold: float = 0.5

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> EvaluationSpec:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


def evaluate_split(arrays: PredictionArrays, spec: EvaluationSpec) -> dict[str, Any]:
    """One split's report: the model and the spec's baselines on the same rows, overall and
    per slice."""
    missing = [b for b in spec.baselines if b not in arrays.baselines]
    if missing:
        raise ValueError(f"the prediction table has no baseline {', '.join(missing)}")
    return split_report(
        spec.metric_set,
        y=arrays.y,
        model=arrays.model,
        baselines={b: arrays.baselines[b] for b in spec.baselines},
        context={c: arrays.context[c] for c in spec.slice_by},
        inputs={"dates": arrays.dates, **arrays.inputs},
        min_rows=spec.min_rows,
        n_bins=spec.n_bins,
        horizon_days=spec.horizon_days,
        gate_threshold=spec.gate_threshold,
    )


def evaluate(tables: Mapping[str, PredictionArrays], spec: EvaluationSpec) -> dict[str, Any]:
    """The evaluation part of metrics.json: version, spec and one report per split."""
    return {
        "metrics_version": METRICS_VERSION,
        "evaluation": spec.as_dict(),
        "splits": {name: evaluate_split(arrays, spec) for name, arrays in tables.items()},
    }


def key_figures(evaluation: Mapping[str, Any]) -> dict[str, Any]:
    """Per split, the figures a registry record and a log entry carry."""
    metric_set = evaluation["evaluation"]["metric_set"]
    return {name: key_metrics(metric_set, report)
            for name, report in evaluation["splits"].items()}
