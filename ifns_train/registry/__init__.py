"""The model registry, experiment log and their records: locked, atomic, schema-checked.

Stage 03 grants no promotion power: a status changes only through `lifecycle.decide` (DRA's
`ifns-decide`), and every change is an appended history row that nothing updates or deletes.

- `database.py`: the store of record: SQLite (default) or PostgreSQL, through SQLAlchemy Core.
- `schema.py`: the database's tables and their versioned migrations; the history append-only.
- `records.py`: the records (pydantic), checked on write and on read; `upgrade` of older shapes.
- `ids.py`: experiment and model ids, checked before any path use (they become folder names).
- `log.py`: the experiment log (spec 8.1): runs from their start to their outcome, and links.
- `model_registry.py`: the model registry (spec 4.1); `publish`, the transaction of a model.
- `publish.py`: a run's experiment-log entry and model record, built as typed records.
- `artifacts.py`: artifact folders and their hashes, checked when a model is loaded or audited.
- `key_metrics.py`: a model record's key figures as flat sort keys, to sort and filter cheaply.
- `lifecycle.py`: statuses, proposals and `decide`: one guarded decision at a time per family.
- `current.py`: evidence recomputed when used (the deflated Sharpe by the log's trials now).
- `audit.py`: the compliance audit (spec 8.2): what a model must have to be eligible.
- `doctor.py`: `ifns-admin doctor`: what a crash or a hand edit left inconsistent; its repair.
- `views.py`: whole-registry reads, one query per table (the Mirror, doctor, export).
- `documents.py`: the spec's JSON documents: exported from the database, imported once.
- `jobs.py`: the log of prediction jobs: who scored which models on which data, when.
- the fault points where a test kills a run or holds a decision (`IFNS_FAULT_AT`) are in
  `core/faults.py`, shared with the dataset cache.
"""
