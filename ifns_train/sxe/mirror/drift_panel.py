"""The drift panel of a model's page: the latest prediction job that scored the model, when
and where it ran, and the features whose scored rows lay farthest from the model's training
rows (PSI and KS from the job's drift report, `signals.drift_gate`), flagged against the soft
and hard thresholds the job ran with.

The panel is put into the model's record before the page's digest is taken, so a new job that
scores the model changes the digest and the page is rendered again.
"""

from __future__ import annotations

from typing import Any

from ifns_train.registry import jobs
from ifns_train.registry.database import Registry

PANEL_KEY = "drift_panel"  # the record's key the page's template reads
REGIME_WORST = 3  # features per regime on the panel


def latest_panels(reg: Registry) -> dict[str, dict[str, Any]]:
    """Model id -> the panel of the newest job that scored it."""
    out: dict[str, dict[str, Any]] = {}
    for job in jobs.jobs(reg, limit=None):  # newest first
        for model_id, model in ((job.get("details") or {}).get("models") or {}).items():
            out.setdefault(model_id, panel(job, model))
    return out


def panel(job: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of one job's report on one model (small: it enters the digest)."""
    report = model.get("drift")
    shown = None
    if report is not None:
        shown = {k: report.get(k) for k in ("reference", "note", "band", "rows",
                                            "reference_rows", "thresholds", "worst",
                                            "overridden")}
        shown["regimes"] = [{"value": value, "rows": g["rows"],
                             "worst": g["worst"][:REGIME_WORST]}
                            for value, g in (report.get("regimes") or {}).items()]
    return {"job_id": job["job_id"], "started_ts": job["started_ts"], "env": job["env"],
            "dataset_id": job["dataset_id"], "report": shown}


def with_panels(records: list[dict[str, Any]], panels: dict[str, dict[str, Any]]
                ) -> list[dict[str, Any]]:
    """Each record with its panel (None: no job scored it) under `PANEL_KEY`."""
    return [{**r, PANEL_KEY: panels.get(r["model_id"])} for r in records]
