"""The registry database's tables and their versioned migrations (SQLAlchemy Core).

Records are stored whole as JSON text (`record`), and the fields people and stages filter on are
columns beside them, so listing 10,000 models reads a few columns rather than every document.
Status is a column, and each change of it is an appended `history` row that nothing updates or
deletes (triggers refuse it), so the lifecycle of every model can be audited.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.schema import CreateColumn

from ifns_train.registry.key_metrics import flat_metrics

SCHEMA_VERSION = 3
ID = String(160)
TS = String(32)

metadata = MetaData()

schema_info = Table(
    "schema_info", metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_ts", TS, nullable=False),
)

families = Table(
    "families", metadata,
    Column("family_id", String(64), primary_key=True),
    Column("record", Text, nullable=False),
)

experiments = Table(
    "experiments", metadata,
    Column("experiment_id", ID, primary_key=True),
    Column("experiment_name", String(64), nullable=False),
    Column("model_family", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("parent_experiment_id", ID),
    Column("proposed_model_id", ID, nullable=False),
    Column("label_family", String(128)),
    Column("train_dataset_id", String(128)),
    Column("started_ts", TS, nullable=False),
    Column("finished_ts", TS),
    Column("host", String(255)),
    Column("pid", Integer),
    Column("error", Text),
    # The completed run's proxy Sharpe ratio (the model's own, net; shown and sorted by).
    Column("sharpe", Float),
    # Version 3: the annualised Sharpe ratio of the series its deflated Sharpe ratio is
    # computed on (the proxy's net excess over its best baseline, mean over start offsets):
    # what the deflated Sharpe ratio of a search deflates by. Null before version 3.
    Column("trial_sharpe", Float),
    Column("record_schema", Integer, nullable=False),
    Column("record", Text, nullable=False),
    Index("ix_experiments_family_started", "model_family", "started_ts"),
    Index("ix_experiments_status", "status"),
    Index("ix_experiments_trials", "model_family", "label_family", "train_dataset_id"),
    Index("ix_experiments_parent", "parent_experiment_id"),
)

models = Table(
    "models", metadata,
    Column("model_id", ID, primary_key=True),
    Column("model_family", String(64), nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("experiment_id", ID, ForeignKey("experiments.experiment_id"), nullable=False,
           unique=True),
    Column("created_ts", TS, nullable=False),
    Column("last_updated_ts", TS, nullable=False),
    Column("artifact_path", String(512), nullable=False),
    # Flat key figures ("test.auc": 0.58, "promotion.eligible": 1.0) to sort and filter by.
    Column("key_metrics", Text, nullable=False),
    Column("record_schema", Integer, nullable=False),
    Column("record", Text, nullable=False),
    UniqueConstraint("model_family", "model_version", name="uq_models_family_version"),
    Index("ix_models_family_created", "model_family", "created_ts"),
    Index("ix_models_status", "status"),
)

# What each model depends on: its datasets, feature families, label families and roles (the
# spec's "which models depend on which data definitions?").
model_inputs = Table(
    "model_inputs", metadata,
    Column("model_id", ID, ForeignKey("models.model_id"), nullable=False),
    Column("kind", String(16), nullable=False),  # dataset | feature | label | role
    Column("name", String(160), nullable=False),
    Index("ix_model_inputs_lookup", "kind", "name"),
    Index("ix_model_inputs_model", "model_id"),
)

history = Table(
    "history", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("subject", String(16), nullable=False),  # model | experiment
    Column("subject_id", ID, nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("ts", TS, nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON list of ids
    # Version 3: the figures a decision was made on (JSON; null for other changes).
    Column("figures", Text),
    Index("ix_history_subject", "subject", "subject_id"),
)

proposals = Table(
    "proposals", metadata,
    Column("proposal_id", ID, primary_key=True),
    Column("model_id", ID, ForeignKey("models.model_id"), nullable=False),
    Column("action", String(16), nullable=False),  # promote | rollback
    Column("from_status", String(16), nullable=False),
    Column("to_status", String(16), nullable=False),
    Column("role", String(64)),
    Column("actor", String(255), nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("ts", TS, nullable=False),
    Column("state", String(16), nullable=False),  # open | applied | refused
    Column("decided_ts", TS),
    Column("decision", Text),
    Index("ix_proposals_model", "model_id"),
)

# Links of an experiment to a SEL recommendation or a DRA decision (spec 9.2).
links = Table(
    "links", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("experiment_id", ID, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("kind", String(8), nullable=False),  # sel | dra
    Column("ref", String(255), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("ts", TS, nullable=False),
    Index("ix_links_experiment", "experiment_id"),
)

# The tables of schema version 1, as `_v1` created them (later versions add their own).
V1_TABLES = (schema_info, families, experiments, models, model_inputs, history, proposals, links)

# Version 2: an experiment's tags (`tags=[...]` in its config), one row each, to search by.
experiment_tags = Table(
    "experiment_tags", metadata,
    Column("experiment_id", ID, ForeignKey("experiments.experiment_id"), primary_key=True),
    Column("tag", Text, primary_key=True),
    Index("ix_experiment_tags_tag", "tag"),
)

# Version 2 too: each prediction job (`ifns-predict`): who ran it, when, which models, on
# which data (with its fingerprint), how many signal rows, written where.
prediction_jobs = Table(
    "prediction_jobs", metadata,
    Column("job_id", ID, primary_key=True),
    Column("actor", String(255), nullable=False),
    Column("started_ts", TS, nullable=False),
    Column("finished_ts", TS, nullable=False),
    Column("model_ids", Text, nullable=False),  # JSON list
    Column("dataset_id", String(128), nullable=False),
    Column("dataset_fingerprint", String(80), nullable=False),
    Column("window_start", String(10)),
    Column("window_end", String(10)),
    Column("env", String(16), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("output", Text, nullable=False),
    # Version 3: what else the job knew (JSON): each model's status when it scored, in-sample
    # rows.
    Column("details", Text),
    Index("ix_prediction_jobs_started", "started_ts"),
)

APPEND_ONLY = ("history",)


def as_tuples(result: Iterable[Any]) -> list[tuple[Any, ...]]:
    """A query's rows as plain tuples of Any: the tables are Core tables without Python types,
    so this is what their values are to the type checker (SQLAlchemy 2.1 deprecates
    `Result.tuples()`, which said the same)."""
    return [tuple(row) for row in result]


def append_only_guards(dialect: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The triggers that keep the APPEND_ONLY tables append-only, by name: (table, the
    operations it refuses). `_append_only` creates them and `ifns-admin doctor` checks that
    each is still there, so a guard dropped by hand is found."""
    if dialect == "sqlite":  # one trigger per operation
        return {f"{t}_no_{op.lower()}": (t, (op,)) for t in APPEND_ONLY
                for op in ("UPDATE", "DELETE")}
    if dialect == "postgresql":  # one row trigger for both, with a function of its name
        return {f"{t}_append_only": (t, ("UPDATE", "DELETE")) for t in APPEND_ONLY}
    return {}


def _append_only(conn: Connection) -> None:
    """Refuse UPDATE and DELETE on the history, in the database itself."""
    for name, (table, ops) in append_only_guards(conn.dialect.name).items():
        if conn.dialect.name == "sqlite":
            conn.execute(text(
                f"CREATE TRIGGER {name} BEFORE {ops[0]} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            ))
        else:
            conn.execute(text(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
            ))
            conn.execute(text(
                f"CREATE TRIGGER {name} BEFORE {' OR '.join(ops)} ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {name}()"
            ))


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=list(V1_TABLES))
    _append_only(conn)


def _v2(conn: Connection) -> None:
    """The tag table, filled from the tags the stored experiment records already carry; the
    prediction job log."""
    experiment_tags.create(conn)
    prediction_jobs.create(conn)
    rows = []
    for experiment_id, record in as_tuples(conn.execute(select(experiments.c.experiment_id,
                                                               experiments.c.record))):
        try:
            tags = json.loads(record).get("tags")
        except (ValueError, AttributeError):  # left to the record's own check on read
            continue
        if isinstance(tags, list):
            rows += [{"experiment_id": experiment_id, "tag": tag}
                     for tag in dict.fromkeys(t for t in tags if isinstance(t, str))]
    if rows:
        conn.execute(insert(experiment_tags), rows)


# Columns added by version 3, by table. Version 1 and 2 steps create their tables from the
# definitions above, which already hold them, so the step adds only what a table lacks.
V3_COLUMNS = {experiments: ("trial_sharpe",), history: ("figures",),
              prediction_jobs: ("details",)}


def _v3(conn: Connection) -> None:
    """The trial statistic of the deflated Sharpe ratio, the figures of a decision, the
    details of a prediction job; and the sort keys (`key_metrics`, derived from each record)
    of models recorded before improvements had one sign convention, derived again."""
    inspector = inspect(conn)
    for table, names in V3_COLUMNS.items():
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for name in names:
            if name not in present:
                column = CreateColumn(table.c[name]).compile(dialect=conn.dialect)
                conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column}"))
    for model_id, record in as_tuples(conn.execute(select(models.c.model_id,
                                                          models.c.record))):
        try:
            raw = json.loads(record)
            keys = flat_metrics(raw["metrics"], int(raw.get("metrics_version", 1)))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # left to the record's own check on read (doctor names it)
        conn.execute(update(models).where(models.c.model_id == model_id)
                     .values(key_metrics=json.dumps(keys, separators=(",", ":"))))


# version -> the step that brings a database from version - 1 to it.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1, 2: _v2, 3: _v3}


def current_version(conn: Connection) -> int:
    """The schema version of the database (0: empty)."""
    if not conn.dialect.has_table(conn, "schema_info"):
        return 0
    return conn.execute(select(schema_info.c.version).order_by(
        schema_info.c.version.desc()).limit(1)).scalar_one_or_none() or 0
