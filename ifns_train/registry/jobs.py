"""The log of prediction jobs: who scored which models on which data, when, and how much; and
what else the job knew (`details`: each model's status when it scored, its in-sample rows, the
drift of its rows from its training rows, and whether `allow_drift` was set)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert, select

from ifns_train.core.errors import RegistryError
from ifns_train.registry.database import Registry, dumps
from ifns_train.registry.schema import prediction_jobs


def record_job(reg: Registry, job: dict[str, Any]) -> None:
    """Log a job (`ifns_train.signals.scoring.run_job`'s document)."""
    start, end = job["window"]
    with reg.write() as conn:
        conn.execute(insert(prediction_jobs).values(
            job_id=job["job_id"], actor=job["actor"], started_ts=job["started_ts"],
            finished_ts=job["finished_ts"], model_ids=dumps(job["model_ids"]),
            dataset_id=job["dataset_id"], dataset_fingerprint=job["dataset_fingerprint"],
            window_start=start, window_end=end, env=job["env"], rows=job["rows"],
            output=job["output"], details=dumps(job.get("details") or {})))


def jobs(reg: Registry, model_id: str | None = None, limit: int | None = 100
         ) -> list[dict[str, Any]]:
    """Prediction jobs, newest first (those that scored `model_id`, if given); `details` is
    empty for a job logged before it was kept."""
    query = select(prediction_jobs).order_by(prediction_jobs.c.started_ts.desc())
    with reg.read() as conn:
        rows = [_job(r) for r in conn.execute(query).mappings()]
    if model_id is not None:
        rows = [r for r in rows if model_id in r["model_ids"]]
    return rows[:limit] if limit is not None else rows


def get_job(reg: Registry, job_id: str) -> dict[str, Any]:
    """One logged job; an unknown id is an error naming it."""
    query = select(prediction_jobs).where(prediction_jobs.c.job_id == job_id)
    with reg.read() as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        raise RegistryError(f"no prediction job {job_id!r} in the registry")
    return _job(row)


def _job(row: Any) -> dict[str, Any]:
    return {**row, "model_ids": json.loads(row["model_ids"]),
            "window": [row["window_start"], row["window_end"]],
            "details": json.loads(row["details"]) if row["details"] else {}}
