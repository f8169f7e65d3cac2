"""The Mirror's build: the registry read once, each page rendered only when its inputs changed.

Layout of the output folder:

  index.html                   family overview: roles, description, inputs, models per status
  families/<FAMILY>.html       the family's models, sortable and filterable, paged in the browser
  models/<MODEL>.html          one model (its pictures' JSON and recorded PNGs under
                               models/<MODEL>/)
  pictures/<hash>.png          the pictures rendered from their JSON, by its recorded hash
  timeline.html                the experiment log, newest first, in shards loaded on demand
  sweeps/<slug>.html           a search: its trials and its PBO (sweep_page.py)
  compare.html                 models side by side (compare.html?m=<FAMILY>~<MODEL>&m=...)
  data/*.js                    the rows of those tables, as script files (no fetch on file://)
  assets/                      the style and the script, from this package

Pages hold no script of their own and the data files hold JSON that cannot end a script, so a
value such as `<script>` in a name shows as text.

Model records are validated as every reader validates them (`views.model_records`): one that
fails is shown as invalid, its row and page saying why and no figure of it, and the build goes
on; so is an experiment whose record cannot be read. A model's promotion checks are shown as
they stand at the build (`registry.current`), beside those recorded where they differ.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment

from ifns_train.registry import current, lifecycle, model_registry, searches, views
from ifns_train.registry.database import Registry
from ifns_train.sxe.common import MODEL_STATUSES
from ifns_train.sxe.mirror.drift_panel import latest_panels, with_panels
from ifns_train.sxe.mirror.model_page import ModelJob, render_all
from ifns_train.sxe.mirror.render import ASSETS, asset, code_digest, data_file, environment
from ifns_train.sxe.mirror.rows import (
    EXPERIMENT_COLUMNS,
    MODEL_COLUMNS,
    experiment_row,
    keep_differing,
    model_row,
)
from ifns_train.sxe.mirror.sweep_page import pages as sweep_pages
from ifns_train.sxe.mirror.sweep_page import write_sweeps
from ifns_train.sxe.mirror.writer import SiteWriter, digest

SHARD_ROWS = 5_000  # experiments per timeline data file, oldest first: new runs touch the last
# What of an experiment the model pages use (its test window for the folds table).
EXPERIMENT_FACTS = ("experiment_id", "experiment_name", "status", "started_ts", "kind",
                    "parent_experiment_id", "test_window")


@dataclass
class BuildReport:
    out: Path
    models: int
    experiments: int
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: int = 0
    seconds: float = 0.0
    invalid: list[str] = field(default_factory=list)  # the records shown as invalid, why

    def as_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "models": self.models, "experiments": self.experiments,
                "files_written": len(self.written), "files_unchanged": self.unchanged,
                "pages_skipped": self.skipped, "seconds": round(self.seconds, 3),
                "invalid_records": self.invalid}


def build(reg: Registry, out: Path) -> BuildReport:
    """Write (or bring up to date) the site of `reg` in `out`."""
    started = time.perf_counter()
    env = environment()
    writer = SiteWriter(out, code_digest(env))
    for name in ASSETS:
        writer.text(f"assets/{name}", asset(name))
    families = [f.model_dump() for f in model_registry.family_records(reg)]
    records = views.model_records(reg)
    model_ids = {r["model_id"] for r in records}
    facts: dict[str, dict[str, Any]] = {}
    timeline: list[list[Any]] = []
    backbones: dict[str, Any] = {}
    hyperparameters: dict[str, dict[str, Any]] = {}  # of each model's run, for its row
    children: dict[str, list[str]] = {}
    for entry in views.experiment_rows(reg):
        row = experiment_row(entry, model_ids)
        timeline.append(row)
        facts[entry["experiment_id"]] = {
            **{k: entry.get(k) for k in EXPERIMENT_FACTS if k in entry},
            "sweep": row[EXPERIMENT_COLUMNS.index("sweep")]}
        if entry["parent_experiment_id"]:
            children.setdefault(entry["parent_experiment_id"], []).append(
                entry["experiment_id"])
        if entry["proposed_model_id"] in model_ids:
            backbones[entry["proposed_model_id"]] = entry["backbone"]
            hyperparameters[entry["proposed_model_id"]] = entry["hyperparameters"]
    proposals: dict[str, list[dict[str, Any]]] = {}
    for p in lifecycle.proposals_of(reg):
        proposals.setdefault(p["model_id"], []).append(p)

    searched: current.TrialCache = {}  # the log's trials and the searches' PBO, read once
    records = with_panels(_current(reg, records, searched),
                          latest_panels(reg))  # drift: in the digest
    _link_searches(timeline, facts, searched)
    regimes: dict[str, dict[str, list[Any]]] = {}
    jobs = []
    for record in records:
        if record["invalid"]:
            writer.text(f"models/{record['model_id']}.html", env.get_template(
                "invalid_model.html").render(root="../", record=record,
                                             title=record["model_id"]))
            regimes[record["model_id"]] = {}
            continue
        companions = sorted(children.get(record["experiment_id"], []))
        shown = {e: facts[e] for e in (record["experiment_id"], *companions) if e in facts}
        mine = proposals.get(record["model_id"], [])
        job = ModelJob(record, mine, shown, companions, digest(record, mine, shown))
        cached = writer.fresh(job.rel, job.key)
        if cached is None:
            jobs.append(job)
        else:
            regimes[record["model_id"]] = cached.get("regimes", {})
    for job, (figures, written, unchanged) in render_all(reg.dir, out, jobs):
        writer.page(job.rel, job.key, {"regimes": figures}, written, unchanged)
        regimes[job.record["model_id"]] = figures
    by_family: dict[str, list[list[Any]]] = {f["family_id"]: [] for f in families}
    for record in records:
        row = model_row(record, backbones.get(record["model_id"]),
                        regimes[record["model_id"]], hyperparameters.get(record["model_id"]))
        by_family.setdefault(record["model_family"], []).append(row)
    counts = {fam: dict.fromkeys(MODEL_STATUSES, 0) for fam in by_family}
    for record in records:
        family_counts = counts[record["model_family"]]
        family_counts[record["status"]] = family_counts.get(record["status"], 0) + 1
    open_proposals = [p for ps in proposals.values() for p in ps if p["state"] == "open"]
    invalid_at = EXPERIMENT_COLUMNS.index("invalid")
    latest = max((r["last_updated_ts"] for r in records), default=None)

    for family in families:
        fid = family["family_id"]
        rows = by_family.get(fid, [])
        writer.text(f"data/models-{fid}.js", data_file(
            f"models-{fid}", {"columns": MODEL_COLUMNS, "rows": rows,
                              "hyperparameters": keep_differing(rows)}))
        writer.text(f"families/{fid}.html", env.get_template("family.html").render(
            root="../", family=family, counts=counts.get(fid, {}), title=fid))
    _timeline(env, writer, timeline)
    write_sweeps(env, writer, reg, searched)
    writer.text("index.html", env.get_template("index.html").render(
        root="", families=families, counts=counts, total=len(records),
        experiments=len(timeline), latest=latest, proposals=open_proposals,
        title="Stage 03 Mirror"))
    writer.text("compare.html", env.get_template("compare.html").render(
        root="", title="Compare models", families=[f["family_id"] for f in families]))
    writer.finish()
    invalid = [r["invalid"] for r in records if r["invalid"]]
    invalid += [row[invalid_at] for row in timeline if row[invalid_at]]
    return BuildReport(out, len(records), len(timeline), writer.written, writer.unchanged,
                       writer.skipped, time.perf_counter() - started, invalid)


def _link_searches(timeline: list[list[Any]], facts: dict[str, dict[str, Any]],
                   searched: current.TrialCache) -> None:
    """Point each experiment of a search whose page the build draws (a search a model's checks
    were made current for: `write_sweeps`) at that page, in the timeline and the model pages."""
    drawn = {search: searches.slug(*search) for search in sweep_pages(searched)}
    sweep_at, page_at, id_at, family_at = (
        EXPERIMENT_COLUMNS.index(c) for c in ("sweep", "sweep_page", "experiment_id",
                                              "model_family"))
    for row in timeline:
        page = drawn.get((searches.resolved(row[sweep_at]), row[family_at])) \
            if row[sweep_at] else None
        row[page_at] = page
        if row[id_at] in facts:
            facts[row[id_at]]["sweep_page"] = page


def _current(reg: Registry, records: list[dict[str, Any]], cache: current.TrialCache
             ) -> list[dict[str, Any]]:
    """Each valid record with its promotion checks and selection evidence as they stand at
    this build (`registry.current`: the trials the log holds now; one query per family, label
    and dataset) in its `metrics`, and the recorded ones beside them (`evidence_now`). The
    moment itself is left out, so a page changes only when a figure does."""
    out = []
    for record in records:
        if record["invalid"]:
            out.append(record)
            continue
        now = current.evidence_now(reg, record, cache)
        metrics = {**record["metrics"], "promotion": now["promotion"],
                   "selection": now["selection"]}
        out.append({**record, "metrics": metrics, "evidence_now": {
            k: now[k] for k in ("recorded_ts", "recorded", "current", "changed", "stale")}})
    return out


def _timeline(env: Environment, writer: SiteWriter, rows: list[list[Any]]) -> None:
    """The log in shards of SHARD_ROWS, oldest first (so a new run rewrites only the last
    shard), and an index of the shards' time ranges, families and statuses."""
    ts_at = EXPERIMENT_COLUMNS.index("started_ts")
    rows = sorted(rows, key=lambda r: (r[ts_at], r[0]))
    shards = []
    for k, start in enumerate(range(0, len(rows), SHARD_ROWS)):
        chunk = rows[start:start + SHARD_ROWS]
        name = f"experiments-{k:04d}"
        writer.text(f"data/{name}.js", data_file(name, {"columns": EXPERIMENT_COLUMNS,
                                                       "rows": chunk}))
        shards.append({"name": name, "rows": len(chunk), "first": chunk[0][ts_at],
                       "last": chunk[-1][ts_at]})
    family_at, status_at = (EXPERIMENT_COLUMNS.index(c) for c in ("model_family", "status"))
    index = {"shards": shards, "families": sorted({r[family_at] for r in rows}),
             "statuses": sorted({r[status_at] for r in rows}), "total": len(rows)}
    writer.text("data/timeline.js", data_file("timeline", index))
    writer.text("timeline.html", env.get_template("timeline.html").render(
        root="", title="Experiment timeline", total=len(rows)))
