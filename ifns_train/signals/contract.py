"""The signal contract: what Stage 03 hands to MSI and later stages.

One Parquet table per prediction job, one row per (date, symbol, model_id), with the model's
prediction in its family's own form (`value`: probability of up for directional and structure
models, expected return, forecast volatility, expected cost in bps) and what a consumer needs to
use it without asking the registry again (family, version, role, horizon, prediction type, the
regime and structure context of the row, the model's status when it scored, whether the row is
in-sample for the model, the job). The schema is written here once, as an Arrow schema with a
version in its metadata, and `validate` is what a downstream stage calls. The metadata also holds
the job's drift report (`drift_of`): how far the scored rows lie from each model's training rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ifns_train.core.errors import IfnsError
from ifns_train.registry.ids import ID_RE
from ifns_train.registry.records import ModelStatus

STATUSES = get_args(ModelStatus)  # the lifecycle's statuses, defined once in the records

SIGNAL_SCHEMA_VERSION = 2
# What each version added to the one before: what a table of an older version lacks.
ADDED = {2: "model_status and in_sample"}
VERSION_KEY = b"ifns.signal_schema_version"
# The job's drift report (`signals.drift_gate`), JSON: {"allow_drift", "models": {model_id:
# report}}; a table written before it was kept has none (`drift_of`).
DRIFT_KEY = b"ifns.drift"
KEY = ("date", "symbol", "model_id")
SIGNAL_SCHEMA = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("model_id", pa.string(), nullable=False),
        pa.field("model_family", pa.string(), nullable=False),
        pa.field("model_version", pa.int32(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("horizon", pa.int32(), nullable=False),
        pa.field("prediction_type", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("regime_tag", pa.string()),
        pa.field("structure_state", pa.string()),
        # The model's lifecycle status when it scored (`records.ModelStatus`).
        pa.field("model_status", pa.string(), nullable=False),
        # The row's date lies inside the model's train or validation window: the model was
        # fitted or selected on that date (`signals.scoring.in_sample`).
        pa.field("in_sample", pa.bool_(), nullable=False),
        pa.field("job_id", pa.string(), nullable=False),
    ],
    metadata={VERSION_KEY: str(SIGNAL_SCHEMA_VERSION).encode()},
)
# Prediction types whose value is a probability.
PROBABILITY_TYPES = ("probabilities",)


class SignalError(IfnsError):
    """A signal table that breaks the contract."""


def validate(path: str | Path) -> pa.Table:
    """The signal table at `path`, checked against the contract; a breach raises SignalError
    naming the file and what is wrong."""
    path = Path(path)
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise SignalError(f"{path}: not a readable Parquet table ({exc})") from None
    return check(table, str(path))


def drift_of(table: pa.Table) -> dict[str, Any] | None:
    """The drift report a job wrote into its table's metadata; None for a table without one."""
    blob = (table.schema.metadata or {}).get(DRIFT_KEY)
    return None if blob is None else dict(json.loads(blob))


def check(table: pa.Table, where: str = "signal table") -> pa.Table:
    """`table`, checked against the contract (`where` names it in an error)."""

    version = (table.schema.metadata or {}).get(VERSION_KEY)
    if version is None:
        raise SignalError(f"{where}: no {VERSION_KEY.decode()} in its metadata")
    try:
        number = int(version)
    except ValueError:
        raise SignalError(f"{where}: signal schema version {version!r} is not a "
                          "number") from None
    if number < SIGNAL_SCHEMA_VERSION:
        missing = ", ".join(ADDED[v] for v in range(number + 1, SIGNAL_SCHEMA_VERSION + 1)
                            if v in ADDED)
        raise SignalError(f"{where}: signal schema version {number}, older than this code's "
                          f"{SIGNAL_SCHEMA_VERSION} (it lacks {missing}); score again with "
                          "ifns-predict")
    if number != SIGNAL_SCHEMA_VERSION:
        raise SignalError(f"{where}: signal schema version {number}, newer than this code's "
                          f"{SIGNAL_SCHEMA_VERSION}; upgrade ifns-train to read it")
    names = [f.name for f in SIGNAL_SCHEMA]
    if table.schema.names != names:
        raise SignalError(f"{where}: columns {table.schema.names}, expected {names}")
    for field in SIGNAL_SCHEMA:
        actual = table.schema.field(field.name).type
        if actual != field.type:
            raise SignalError(f"{where}: column {field.name} is {actual}, expected {field.type}")
        if not field.nullable and table[field.name].null_count:
            raise SignalError(f"{where}: column {field.name} has "
                              f"{table[field.name].null_count} missing values")
    value = table["value"].to_numpy(zero_copy_only=False)
    bad = ~np.isfinite(value)
    if bad.any():
        raise SignalError(f"{where}: {int(bad.sum())} values are not finite")
    prob = np.isin(table["prediction_type"].to_numpy(zero_copy_only=False),
                   PROBABILITY_TYPES)
    if ((value[prob] < 0) | (value[prob] > 1)).any():
        raise SignalError(f"{where}: a probability outside [0, 1]")
    for model_id in pc.unique(table["model_id"]).to_pylist():
        if not ID_RE.fullmatch(model_id):
            raise SignalError(f"{where}: invalid model_id {model_id!r}")
    for status in pc.unique(table["model_status"]).to_pylist():
        if status not in STATUSES:
            raise SignalError(f"{where}: model_status {status!r} is not a status (expected "
                              f"one of {', '.join(STATUSES)})")
    keys = table.select(list(KEY)).group_by(list(KEY)).aggregate([([], "count_all")])
    if keys.num_rows != table.num_rows:
        raise SignalError(f"{where}: {table.num_rows - keys.num_rows} duplicate "
                          "(date, symbol, model_id) rows")
    return table
