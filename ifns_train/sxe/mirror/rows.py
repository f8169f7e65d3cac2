"""The list rows of the Mirror: one per model (family panels, compare) and one per experiment
(the timeline), flat values only, computed from the records the registry holds.

A row is a list in the order of its `*_COLUMNS`, so a data file names each column once
rather than once per row (10,000 models, 100,000 experiments). A model row's
`hyperparameters` hold only those that differ between the family's models
(`keep_differing`), one table column each, so sweep trials can be told apart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from ifns_train.evaluation.compare import HIGHER_IS_BETTER, as_favourable
from ifns_train.evaluation.promotion import verdict_of
from ifns_train.sxe.figures import dig, key_figures_version, mapping, version_of

MODEL_COLUMNS = (
    "model_id", "model_version", "status", "created_ts", "backbone", "primary_metric",
    "higher_is_better", "test_value", "best_baseline", "baseline_value", "improvement",
    "improvement_low", "improvement_high", "evidence", "val_value", "eligible", "verdict",
    "controls_not_run", "verdict_recorded", "failed_checks", "sharpe", "dsr", "dsr_recorded",
    "trials", "experiment_id", "train_dataset_id", "regimes", "invalid", "hyperparameters",
)
EXPERIMENT_COLUMNS = (
    "experiment_id", "experiment_name", "started_ts", "finished_ts", "model_family", "kind",
    "status", "primary_metric", "higher_is_better", "test_value", "improvement", "evidence",
    "model_id",
    "parent_experiment_id", "error", "sweep", "sweep_page", "tags", "in_sample", "invalid",
)


def primary_figures(metrics: dict[str, Any], split: str = "test",
                    metrics_version: int | None = None) -> dict[str, Any]:
    """The primary metric of `split` from key figures (a record's or a log entry's): the
    model's value, the best baseline and its value, the improvement (positive: the model is
    better) and its interval with its evidence word."""
    rep = mapping(metrics.get(split))
    primary = rep.get("primary_metric")
    interval = mapping(dig(rep, "intervals", primary))
    version = key_figures_version(metrics) if metrics_version is None else metrics_version
    shown = as_favourable(primary if isinstance(primary, str) else None,
                          dig(rep, "improvement", primary), interval.get("low"),
                          interval.get("high"), version)
    return {
        "primary_metric": primary,
        "higher_is_better": HIGHER_IS_BETTER.get(primary) if isinstance(primary, str) else None,
        "value": dig(rep, "model", primary),
        "best_baseline": dig(rep, "best_baseline", primary),
        "baseline_value": dig(rep, "baseline", primary),
        "improvement": shown["improvement"], "low": shown["low"], "high": shown["high"],
        "evidence": shown["evidence"],
    }


HYPERPARAMETERS_AT = MODEL_COLUMNS.index("hyperparameters")


def flat_hyperparameters(hyperparameters: Mapping[str, Any], prefix: str = "model."
                         ) -> dict[str, Any]:
    """The run's `model` config as `model.<key>` (nested keys joined by dots), each value a
    number, a bool, None or text (a list such as hidden_sizes as its JSON text, `[64, 32]`),
    so a table cell and a comparison take it as it is."""
    out: dict[str, Any] = {}
    for key, value in hyperparameters.items():
        if isinstance(value, Mapping):
            out.update(flat_hyperparameters(value, f"{prefix}{key}."))
        elif value is None or isinstance(value, (bool, int, float, str)):
            out[f"{prefix}{key}"] = value
        else:
            out[f"{prefix}{key}"] = json.dumps(value, default=str)
    return out


def keep_differing(rows: list[list[Any]]) -> list[str]:
    """The hyperparameters whose values differ between the models of `rows` (a key some
    models lack counts as differing), in name order; each row's hyperparameters are cut to
    those, so the data file carries no column every model shares."""
    values: dict[str, set[str]] = {}
    for row in rows:
        for key, value in row[HYPERPARAMETERS_AT].items():
            values.setdefault(key, set()).add(json.dumps(value))
    differ = sorted(k for k, seen in values.items()
                    if len(seen) > 1 or any(k not in r[HYPERPARAMETERS_AT] for r in rows))
    for row in rows:
        row[HYPERPARAMETERS_AT] = {k: row[HYPERPARAMETERS_AT].get(k) for k in differ}
    return differ


def model_row(record: dict[str, Any], backbone: str | None,
              regimes: dict[str, list[Any]],
              hyperparameters: Mapping[str, Any] | None = None) -> list[Any]:
    """A model's row: its primary test figure against the best baseline, the verdict of the
    promotion checks and the selection evidence as they stand now (the build puts the
    current ones in `metrics`, the recorded ones in `evidence_now`); `regimes`: slice ->
    [improvement, low, high, evidence] of the test split's regime breakdown."""
    metrics = mapping(record.get("metrics"))
    version = version_of(record.get("metrics_version"))
    test = primary_figures(metrics, metrics_version=version)
    promotion = mapping(metrics.get("promotion"))
    fields = verdict_of(promotion) if promotion else {}
    failed = [c.get("name") for c in promotion.get("checks") or []
              if isinstance(c, dict) and c.get("passed") is False]
    selection = mapping(metrics.get("selection"))
    recorded = mapping(dig(record, "evidence_now", "recorded"))
    values = {
        "model_id": record["model_id"], "model_version": record.get("model_version"),
        "status": record.get("status"), "created_ts": record.get("created_ts"),
        "backbone": backbone, "primary_metric": test["primary_metric"],
        "higher_is_better": test["higher_is_better"], "test_value": test["value"],
        "best_baseline": test["best_baseline"], "baseline_value": test["baseline_value"],
        "improvement": test["improvement"], "improvement_low": test["low"],
        "improvement_high": test["high"], "evidence": test["evidence"],
        "val_value": primary_figures(metrics, "val", version)["value"],
        "eligible": fields.get("eligible"), "verdict": fields.get("verdict"),
        "controls_not_run": fields.get("controls_not_run") or [],
        "verdict_recorded": recorded.get("verdict"), "failed_checks": failed,
        "sharpe": selection.get("sharpe_annualised"),
        "dsr": selection.get("deflated_sharpe_ratio"),
        "dsr_recorded": recorded.get("deflated_sharpe_ratio"),
        "trials": selection.get("trials"),
        "experiment_id": record.get("experiment_id"),
        "train_dataset_id": record.get("train_dataset_id"), "regimes": regimes,
        "invalid": record.get("invalid"),  # why its record failed validation (no figures)
        "hyperparameters": flat_hyperparameters(hyperparameters or {}),
    }
    return [values[c] for c in MODEL_COLUMNS]


def sweep_of(artifacts: dict[str, Any]) -> str | None:
    """The sweep a run was a job of: the Hydra multirun folder it recorded, or for a run
    recorded before that was kept, the parent of a run folder Hydra numbered (`.../7`)."""
    if artifacts.get("sweep_dir"):
        return str(artifacts["sweep_dir"])
    run_dir = artifacts.get("run_dir")
    if isinstance(run_dir, str) and PurePath(run_dir).name.isdigit():
        return str(PurePath(run_dir).parent)
    return None


def experiment_row(entry: dict[str, Any], model_ids: set[str]) -> list[Any]:
    """An experiment's row (`entry`: a `views.experiment_rows` item); `model_id` is set only
    where the registry holds the model it proposed, so every link leads somewhere; `in_sample`
    (true or false) marks an evaluation with rows inside its model's train or validation
    window."""
    test = primary_figures(mapping(entry.get("metrics")))
    model = entry["proposed_model_id"]
    values = {
        **{c: entry.get(c) for c in EXPERIMENT_COLUMNS},
        "primary_metric": test["primary_metric"], "test_value": test["value"],
        "higher_is_better": test["higher_is_better"], "improvement": test["improvement"],
        "evidence": test["evidence"],
        "model_id": model if model in model_ids else None,
        "sweep": sweep_of(mapping(entry.get("artifacts"))),
        "sweep_page": None,  # the slug of its search's page, set by the build where one is drawn
        "in_sample": bool(entry.get("in_sample")),
    }
    return [values[c] for c in EXPERIMENT_COLUMNS]
