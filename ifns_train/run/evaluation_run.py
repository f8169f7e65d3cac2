"""Evaluate a registered model on new data: another dataset, or a later window of its own.

`python -m ifns_train.cli.evaluate model_id=<id> dataset.id=<ID> [start=... end=...]` scores the
model through the same path as `ifns-predict` and evaluates the predictions with the same
evaluator, settings and baselines as at training (baselines that learn from data, such as a
class prior, learn from the model's own training rows, resolved again exactly as then). The
result is an experiment of kind `evaluation` linked to the model's experiment, with its
prediction table, metrics and pictures (`curves/`, as at training) under `evaluations/`; it
never registers a model. On any dataset, the model's own or another, a window with a row dated
inside the model's train or validation window is refused: the model was fitted or selected on
those dates (or on other series over them), so its figures there are no test. With
`allow_overlap=true` it is evaluated anyway and marked in-sample: `datasets["in_sample"]` of
its experiment record (in-sample rows `rows` of `of`, their `dates`, the model's `windows`) and
the tag `in-sample`, shown by `ifns-evaluate`, `ifns-admin experiments` and the Mirror.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import socket
from dataclasses import replace
from typing import Any

import numpy as np

from ifns_train.core.errors import ConfigError, ContractError, RegistryError
from ifns_train.core.files import atomic_write_json
from ifns_train.data.resolve import Split
from ifns_train.evaluation.predictions import PredictionArrays, prediction_table
from ifns_train.evaluation.report import unscorable
from ifns_train.evaluation.standard import EvaluationSpec, evaluate, key_figures
from ifns_train.families.base import FamilyModule
from ifns_train.registry import artifacts, ids, log
from ifns_train.registry.database import Registry
from ifns_train.registry.publish import Run, experiment_entry
from ifns_train.run import provenance
from ifns_train.run.build import resolve_data
from ifns_train.run.curves import images_of, write_curves
from ifns_train.run.plan import baseline_params
from ifns_train.signals.scoring import (
    SEEN_SPLITS,
    in_sample,
    score_rows,
    scoring_table,
    usable_model,
    window_rows,
)

SPLITS = ("train", "val", "test")
IN_SAMPLE_TAG = "in-sample"  # the tag of an evaluation with rows inside the model's windows


def _training_split(reg: Registry, record: Any, config: dict[str, Any],
                    cls: type[FamilyModule]) -> Split:
    """The model's training rows, resolved as in its run (what fitted baselines learn from):
    its datasets and windows as recorded, its fingerprints verified."""
    dataset = {**config["dataset"], "windows": record.dataset_windows,
               **{f"{s}_dataset_id": getattr(record, f"{s}_dataset_id") for s in SPLITS}}
    data = resolve_data(reg.dir, {**config, "dataset": dataset}, cls, verify=True,
                        generate_demo=False)
    return data.splits["train"]


def overlap(record: Any, dates: np.ndarray) -> dict[str, Any] | None:
    """Of the rows dated `dates`, those inside the model's train or validation window: how
    many, of how many, their first and last date, and the model's windows (None: none)."""
    seen = in_sample(record, dates)
    if not seen.any():
        return None
    days = np.asarray(dates)[seen].astype("datetime64[D]")
    return {"rows": int(seen.sum()), "of": len(dates),
            "dates": [str(days.min()), str(days.max())],
            "windows": {s: list(record.dataset_windows[s]) for s in SEEN_SPLITS}}


def evaluate_new_data(reg: Registry, model_id: str, dataset_id: str, start: str | None = None,
                      end: str | None = None, allow_overlap: bool = False) -> dict[str, Any]:
    """Evaluate a model on `dataset_id` in [start, end] (see the module docstring); a window
    overlapping the model's train or validation window is refused unless `allow_overlap`."""
    record, scorer = usable_model(reg, model_id, "offline")
    entry = log.get(reg, record.experiment_id)
    config = entry.config
    if not config:
        raise RegistryError(f"model {model_id}: its experiment has no stored config")
    folder = reg.dir / record.artifact_path
    recorded = json.loads((folder / "metrics.json").read_text())
    spec: EvaluationSpec = replace(EvaluationSpec.from_dict(recorded["evaluation"]),
                                   promotion=None)  # promotion is judged on the model's own
    cls = scorer.family
    params = baseline_params(config)
    keep = list(dict.fromkeys([*spec.slice_by, *cls.categorical_inputs]))
    table = scoring_table(reg, record, scorer, dataset_id, label_family=record.labels_used[0],
                          horizon_days=record.horizons[0], context_columns=tuple(keep),
                          extra_columns=tuple(cls.baseline_columns(params)),
                          evaluation_columns=tuple(cls.evaluation_columns(params)))
    lookback = scorer.lookback
    known = ~np.isnan(table.label)
    if record.prediction_type == "volatility":
        known &= table.label != 0  # no QLIKE for a zero realised volatility, as in training
    rows = np.flatnonzero(window_rows(table, lookback, start, end) & known)
    if not len(rows):
        raise ContractError(f"dataset {dataset_id} has no row with a known label in "
                            f"[{start or 'start'}, {end or 'end'}]")
    seen = overlap(record, table.dates[rows])
    if seen is not None and not allow_overlap:
        windows = " and ".join(f"{s} {a} to {b}" for s, (a, b) in seen["windows"].items())
        raise ConfigError(
            f"model {model_id} was fitted and selected on {windows}; {seen['rows']} of the "
            f"{seen['of']} rows of {dataset_id} in [{start or 'start'}, {end or 'end'}] are "
            f"dated inside them ({seen['dates'][0]} to {seen['dates'][1]}), so its figures "
            "there would be in-sample: choose a window outside them, or set "
            "allow_overlap=true to evaluate anyway, marked in-sample")
    train = _training_split(reg, record, config, cls)
    split = Split("test", table, rows)
    problem = unscorable(cls.metric_set, split.label, split.dates)
    if problem:  # the same refusal as before a training run, before anything is recorded
        raise ContractError(f"dataset {dataset_id} ({len(rows)} rows in the window), label "
                            f"{record.labels_used[0]}: {problem}")
    arrays = PredictionArrays(
        dates=split.dates, symbols=table.symbols[rows], y=split.label.astype("float64"),
        model=score_rows(scorer, table, rows), baselines=cls.baselines(train, split, params),
        inputs=cls.evaluation_inputs(split, params),
        context={c: split.context[c] for c in keep})

    now = ids.utc_now()
    experiment_id, _ = ids.new_ids("evaluation", record.model_family, now)
    family_id = record.model_family
    window = [str(np.datetime_as_string(split.dates.min(), "D")),
              str(np.datetime_as_string(split.dates.max(), "D"))]
    run_config = copy.deepcopy(config)
    run_config["dataset"] = {**config["dataset"], "id": dataset_id,
                             "windows": {"test": window}}
    if seen is not None:
        run_config["tags"] = list(dict.fromkeys([*(config.get("tags") or []), IN_SAMPLE_TAG]))
    run = Run(experiment_id=experiment_id, model_id=model_id, experiment_name="evaluation",
              family_id=family_id, roles=list(record.roles), started_ts=ids.iso(now),
              config=run_config, config_hash=provenance.config_hash(run_config),
              code_version=provenance.code_version(), run_dir=str(reg.dir),
              artifact_path=f"evaluations/{family_id}/{experiment_id}",
              datasets={"ids": {"test": dataset_id}, "windows": {"test": window},
                        "fingerprints": {dataset_id: table.fingerprint},
                        **({"in_sample": seen} if seen is not None else {})},
              training={}, kind="evaluation", parent_experiment_id=record.experiment_id,
              host=socket.gethostname(), pid=os.getpid())
    log.begin_run(reg, experiment_entry(run, "running", None, {}))
    target = reg.dir / run.artifact_path
    stage = target.parent / f"{artifacts.STAGING_PREFIX}{experiment_id}"
    try:
        evaluation = evaluate({"test": arrays}, spec, {"experiment_id": experiment_id,
                                                       "evaluated_model_id": model_id})
        stage.mkdir(parents=True)
        prediction_table(arrays).to_parquet(stage / "predictions_test.parquet", index=False)
        atomic_write_json(stage / "metrics.json", {
            "schema_version": 1, "model_id": model_id, "experiment_id": experiment_id,
            "family_id": family_id, "task": cls.task, "metric_set": cls.metric_set,
            "label_family": record.labels_used[0],
            "prediction_tables": {"test": "predictions_test.parquet"}, **evaluation})
        write_curves(stage / "curves", evaluation, {"test": arrays}, images=images_of(config))
        stage.rename(target)
        key = key_figures(evaluation)
        log.finish(reg, experiment_entry(run, "completed", ids.iso(ids.utc_now()), key),
                   f"evaluation of {model_id} on {dataset_id}")
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
        log.finish(reg, experiment_entry(run, "failed", ids.iso(ids.utc_now()), {},
                                         error=f"{type(exc).__name__}: {exc}"[:4000]),
                   "evaluation failed")
        raise
    return {"experiment_id": experiment_id, "model_id": model_id, "dataset_id": dataset_id,
            "window": window, "rows": len(rows), "metrics": key,
            "artifact_dir": str(target), "in_sample": seen}
