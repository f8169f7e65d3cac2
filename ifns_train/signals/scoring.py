"""Scoring registered models: the model found, audited and allowed in its environment, the
dataset checked against what it was trained on, the rows scored in large batches, the signal
table written and the job logged (what `ifns-predict` runs; spec section 10: other stages
reference models through the registry, never by file paths)."""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from ifns_train.config.schema import PredictConfig
from ifns_train.core.errors import ConfigError, ContractError, RegistryError
from ifns_train.core.files import chmod_like_open
from ifns_train.data.index import CONTEXT_COLUMNS, get_entry
from ifns_train.data.module import encode
from ifns_train.data.resolve import load_table
from ifns_train.learners.base import Scorer, score_positions
from ifns_train.learners.registered import column_mismatch, load_registered
from ifns_train.registry import ids, model_registry
from ifns_train.registry.audit import audit_model
from ifns_train.registry.jobs import record_job
from ifns_train.registry.records import USABLE_IN
from ifns_train.signals.contract import DRIFT_KEY, SIGNAL_SCHEMA, check
from ifns_train.signals.drift_gate import (
    REGIME_COLUMN,
    DriftError,
    DriftLimits,
    assess,
    load_reference,
    refusal,
    warnings,
)

ENVIRONMENTS = tuple(USABLE_IN)
# The windows of a model's record it was fitted and selected on: a row dated inside one is
# in-sample for it, whatever the dataset.
SEEN_SPLITS = ("train", "val")
log = logging.getLogger("ifns_train")


@dataclass
class Scored:
    """One model's predictions on the rows of a dataset it could score."""
    record: Any  # ModelRecord
    dates: Any  # datetime64[ns] array
    symbols: Any
    predictions: dict[str, Any]  # the family's named prediction arrays
    context: dict[str, Any]
    fingerprint: str
    in_sample: Any  # bool array: the row's date lies inside the model's train or val window

    @property
    def value(self) -> Any:
        """The prediction in the family's own form: the probability where there is one."""
        return self.predictions.get("prob", self.predictions["pred"])


def usable_model(reg: Any, model_id: str, env: str) -> tuple[Any, Scorer]:
    """(record, scorer) of a registered model that may be used in `env`: supported there, of
    a status `env` allows (`USABLE_IN`), compliant, its model files intact."""
    if env not in ENVIRONMENTS:
        raise ConfigError(f"env {env!r}: expected one of {', '.join(ENVIRONMENTS)}")
    record = model_registry.get(reg, model_id)
    if env not in record.supported_environments:
        raise RegistryError(f"model {model_id} does not support env={env} (its environments: "
                            f"{', '.join(record.supported_environments)})")
    if record.status not in USABLE_IN[env]:
        raise RegistryError(f"model {model_id} is {record.status}: env={env} needs a "
                            f"{' or '.join(USABLE_IN[env])} model")
    finding = audit_model(reg, record)
    if not finding.compliant:
        raise RegistryError(f"model {model_id} is non-compliant and may not be used: "
                            + "; ".join(finding.reasons))
    return record, load_registered(reg, model_id)


def scoring_table(reg: Any, record: Any, scorer: Scorer, dataset_id: str, *,
                  label_family: str | None = None, horizon_days: int | None = None,
                  context_columns: tuple[str, ...] = (), extra_columns: tuple[str, ...] = (),
                  evaluation_columns: tuple[str, ...] = (), verify: bool = True,
                  cache: dict[Any, Any] | None = None) -> Any:
    """The dataset's table as the model reads it: its feature families, checked to give
    exactly the model's feature columns in its order, the context the model and the caller
    need; a label only when asked (scoring new data needs none). With `cache`, models of one
    job that read the same columns share one read and verification of the table."""
    if not record.feature_columns:
        raise RegistryError(f"model {record.model_id} was recorded without its feature columns "
                            "(before they were kept); it cannot score new data")
    present = get_entry(reg.dir, dataset_id).get("context_columns", [])
    context = [c for c in CONTEXT_COLUMNS if c in present]
    columns = list(dict.fromkeys([*context, *context_columns,
                                  *scorer.family.categorical_inputs]))
    key = (dataset_id, tuple(record.features_used), label_family, horizon_days,
           tuple(columns), tuple(extra_columns), tuple(evaluation_columns), verify)
    if cache is not None and key in cache:
        table, chosen = cache[key]
    else:
        table, chosen, _ = load_table(
            reg.dir, dataset_id, feature_families=list(record.features_used),
            label_family=label_family, horizon_days=horizon_days, context_columns=columns,
            extra_columns=list(extra_columns), evaluation_columns=list(evaluation_columns),
            verify=verify, generate_demo=False)
        if cache is not None:
            cache[key] = (table, chosen)
    mismatch = column_mismatch([c for cols in chosen.values() for c in cols],
                               list(record.feature_columns))
    if mismatch:
        raise ContractError(f"dataset {dataset_id} {mismatch} (model {record.model_id})")
    return table


def score_rows(scorer: Scorer, table: Any, rows: Any,
               batch_size: int = PredictConfig.batch_size,
               timings: dict[str, float] | None = None) -> dict[str, Any]:
    """The model's named predictions on `rows` of `table` (each with the model's lookback of
    its symbol's rows), in large batches without gradients, as the training predict pass."""
    vocab = scorer.vocab
    categorical = list(scorer.family.categorical_inputs)
    index = np.asarray(rows, dtype=np.int64)
    codes = torch.from_numpy(np.stack([encode(table.context[c], vocab[c]) for c in categorical],
                                      axis=1))[index] if categorical else None
    began = time.perf_counter()
    raw = score_positions(scorer, table.features, index, codes, batch_size)
    if timings is not None:
        timings["scoring_s"] = time.perf_counter() - began
    return scorer.predictions(raw)


def in_sample(record: Any, dates: Any) -> Any:
    """Per date, whether it lies inside the model's train or validation window (inclusive ISO
    dates of `record.dataset_windows`): rows the model was fitted or selected on, or rows of
    another dataset over those dates."""
    day = np.asarray(dates).astype("datetime64[D]")
    inside = np.zeros(len(day), dtype=bool)
    for split in SEEN_SPLITS:
        first, last = (np.datetime64(str(d), "D") for d in record.dataset_windows[split])
        inside |= (day >= first) & (day <= last)
    return inside


def window_rows(table: Any, lookback: int, start: str | None, end: str | None) -> Any:
    """Rows dated in [start, end] that have `lookback` rows of their symbol."""
    keep = table.history >= lookback - 1
    day = table.dates.astype("datetime64[D]")
    for bound, op in ((start, np.greater_equal), (end, np.less_equal)):
        if bound is not None:
            try:
                keep &= op(day, np.datetime64(str(bound), "D"))
            except ValueError:
                raise ConfigError(f"date {bound!r} is not a date (YYYY-MM-DD)") from None
    return keep


def scored_rows(table: Any, scorer: Scorer, dataset_id: str, start: str | None,
                end: str | None) -> Any:
    """The positions of the rows `score` scores; none is an error naming the window."""
    lookback = scorer.lookback
    rows = np.flatnonzero(window_rows(table, lookback, start, end))
    if not len(rows):
        raise ContractError(f"dataset {dataset_id} has no row in [{start or 'start'}, "
                            f"{end or 'end'}] with the model's lookback ({lookback} rows of "
                            "its symbol)")
    return rows


def drift_report(reg: Any, record: Any, scorer: Scorer, dataset_id: str, start: str | None,
                 end: str | None, limits: DriftLimits, cache: dict[Any, Any] | None = None
                 ) -> dict[str, Any]:
    """The drift of the rows `score` would score against the model's training rows
    (`drift_gate.assess`), from the same (cached) read of the table."""
    table = scoring_table(reg, record, scorer, dataset_id, cache=cache)
    rows = scored_rows(table, scorer, dataset_id, start, end)
    context = {c: table.context[c][rows] for c in (REGIME_COLUMN,) if c in table.context}
    return assess(load_reference(reg.dir, record), table.features[rows],
                  list(record.feature_columns), context, limits)


def score(reg: Any, record: Any, scorer: Scorer, dataset_id: str, start: str | None = None,
          end: str | None = None, batch_size: int = PredictConfig.batch_size, verify: bool = True,
          timings: dict[str, float] | None = None, cache: dict[Any, Any] | None = None
          ) -> Scored:
    """The model's predictions on every row of the dataset in [start, end] that has the
    model's lookback of its symbol's own rows (`timings` gets the scoring loop's seconds)."""
    table = scoring_table(reg, record, scorer, dataset_id, verify=verify, cache=cache)
    rows = scored_rows(table, scorer, dataset_id, start, end)
    context = [c for c in ("regime_tag", "structure_state") if c in table.context]
    dates = table.dates[rows]
    return Scored(record=record, dates=dates, symbols=table.symbols[rows],
                  predictions=score_rows(scorer, table, rows, batch_size, timings),
                  context={c: table.context[c][rows] for c in context},
                  fingerprint=table.fingerprint, in_sample=in_sample(record, dates))


def signal_table(scored: list[Scored], job_id: str) -> Any:
    """The job's signal table, sorted by (date, symbol, model_id)."""
    parts = []
    for s in scored:
        n, rec = len(s.dates), s.record
        columns = {
            "date": pa.array(s.dates.astype("datetime64[D]"), pa.date32()),
            "symbol": pa.array(s.symbols.astype(str)),
            "model_id": pa.array(np.full(n, rec.model_id)),
            "model_family": pa.array(np.full(n, rec.model_family)),
            "model_version": pa.array(np.full(n, rec.model_version), pa.int32()),
            "role": pa.array(np.full(n, rec.roles[0])),
            "horizon": pa.array(np.full(n, rec.horizons[0]), pa.int32()),
            "prediction_type": pa.array(np.full(n, rec.prediction_type)),
            "value": pa.array(np.asarray(s.value, dtype=np.float64)),
            **{c: pa.array(s.context[c].astype(str)) if c in s.context
               else pa.nulls(n, pa.string()) for c in ("regime_tag", "structure_state")},
            "model_status": pa.array(np.full(n, rec.status)),
            "in_sample": pa.array(s.in_sample, pa.bool_()),
            "job_id": pa.array(np.full(n, job_id)),
        }
        parts.append(pa.Table.from_pydict(columns, schema=SIGNAL_SCHEMA))
    table = pa.concat_tables(parts).sort_by([("date", "ascending"), ("symbol", "ascending"),
                                             ("model_id", "ascending")])
    return check(table.replace_schema_metadata(SIGNAL_SCHEMA.metadata), "the job's signals")


def run_job(reg: Any, model_ids: list[str], dataset_id: str, output: Path, *,
            drift: DriftLimits, start: str | None = None, end: str | None = None,
            env: str = "offline", batch_size: int = PredictConfig.batch_size,
            actor: str = "ifns-predict") -> dict[str, Any]:
    """Score every model, write the signal table, log the job (with each model's status when
    it scored, its in-sample rows and the drift of its rows, also in the table's metadata);
    everything is checked before anything is scored, the drift included: a refusal writes
    and logs nothing, as any other."""
    if not model_ids:
        raise ConfigError("model_id: name at least one registered model")
    if len(set(model_ids)) != len(model_ids):
        raise ConfigError(f"model_id: {', '.join(model_ids)} names a model twice")
    loaded = [usable_model(reg, m, env) for m in model_ids]
    started = ids.utc_now()
    job_id = f"JOB_{started.strftime('%Y%m%dT%H%M%S')}_{secrets.token_hex(4)}"
    tables: dict[Any, Any] = {}  # one read of the dataset for models reading the same columns
    reports = {record.model_id: drift_report(reg, record, scorer, dataset_id, start, end, drift,
                                             tables) for record, scorer in loaded}
    refused = [why for m, r in reports.items() if (why := refusal(m, r, env, drift.allow_drift))]
    if refused:
        raise DriftError("; ".join(refused))
    for model_id, report in reports.items():
        report["overridden"] = refusal(model_id, report, env, False) is not None
        for line in warnings(model_id, report):
            log.warning("%s", line)
    scored = [score(reg, record, scorer, dataset_id, start, end, batch_size, cache=tables)
              for record, scorer in loaded]
    table = signal_table(scored, job_id)
    blob = {"allow_drift": drift.allow_drift, "models": reports}
    table = table.replace_schema_metadata({**table.schema.metadata,
                                           DRIFT_KEY: json.dumps(blob).encode()})
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    pq.write_table(table, tmp)
    chmod_like_open(tmp)
    tmp.replace(output)
    job = {"job_id": job_id, "actor": actor, "started_ts": ids.iso(started),
           "finished_ts": ids.iso(ids.utc_now()), "model_ids": model_ids,
           "dataset_id": dataset_id, "dataset_fingerprint": scored[0].fingerprint,
           "window": [None if start is None else str(start), None if end is None else str(end)],
           "env": env, "rows": table.num_rows, "output": str(output),
           "details": {"allow_drift": drift.allow_drift, "models": {s.record.model_id: {
               "status": s.record.status, "in_sample_rows": int(s.in_sample.sum()),
               "drift": reports[s.record.model_id]} for s in scored}}}
    record_job(reg, job)
    return job
