"""What recording and querying cost at scale: the registry database against the JSON store.

    python benchmarks/bench_registry.py [--experiments 100000] [--models 10000] [--url URL]
                                        [--json-experiments 10000]

One real run (the small demo, one epoch) gives a realistic experiment entry and model record;
they are cloned with new ids into a registry of `--experiments` log entries (a tenth of them
failed) and `--models` models over five families, in the database (SQLite in a temporary folder,
or `--url` for PostgreSQL) and in the JSON documents the registry used to rewrite on every run
(`model_registry.json`, `experiments_log.json`, under a file lock, as `ifns_train.core.files` does).
The JSON store holds `--json-experiments` entries (and models in the same ratio): at 100,000
entries of today's size its log alone would be over a gigabyte, and every operation on it reads
all of it, so its times at full scale are its times here multiplied by the ratio of sizes.
Then, in one run, each operation is timed on both (median of `--repeat`):

* record one more run: enter it as running, then complete it with its model (the database:
  two transactions; the JSON store: read and rewrite both documents);
* list models of a family by created time (the newest 50), and sorted by a key figure;
* filter models by feature family and status; search experiments by status and by text;
* fetch one model by id.

Ratios are JSON / database. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ifns_train.core.files import read_document, transaction  # noqa: E402
from ifns_train.registry import ids, log, model_registry  # noqa: E402
from ifns_train.registry.database import Registry, dumps  # noqa: E402
from ifns_train.registry.model_registry import flat_metrics  # noqa: E402
from ifns_train.registry.records import (  # noqa: E402
    ExperimentEntry,
    FamilyRecord,
    ModelDraft,
    ModelRecord,
)
from ifns_train.registry.schema import experiments, history, model_inputs, models  # noqa: E402

FAMILIES = ("MF_DIR_CORE_V1", "MF_RET_CORE_V1", "MF_RISK_VOL_V1", "MF_STRUCT_AWARE_V1",
            "MF_EXEC_COST_V1")


def template(work: Path) -> tuple[ExperimentEntry, ModelRecord, FamilyRecord]:
    """A real experiment entry, model record and family, from one quick demo run."""
    registry = work / "template"
    subprocess.run([sys.executable, "-m", "ifns_train", f"paths.registry_dir={registry}",
                    "dataset=demo", "trainer.max_epochs=1", "callbacks=none", "logger=none",
                    f"hydra.run.dir={work / 'run'}"], cwd=work, check=True,
                   capture_output=True)
    reg = Registry(registry, create=False)
    (row,) = model_registry.search(reg, limit=None)
    return (log.get(reg, row["experiment_id"]), row["record"],
            model_registry.family_records(reg)[0])


def clones(entry: ExperimentEntry, model: ModelRecord, n_exp: int, n_models: int
           ) -> tuple[list[ExperimentEntry], list[ModelRecord]]:
    entries, records = [], []
    base = entry.model_dump()
    for i in range(n_exp):
        family = FAMILIES[i % len(FAMILIES)]
        eid, mid = f"EXP_bench_{i:07d}", f"MDL_bench_{i:07d}"
        failed = i % 10 == 9
        ts = f"2026-{1 + i * 12 // n_exp:02d}-01T00:00:{i % 60:02d}.{i:06d}Z"
        entries.append(ExperimentEntry(**{**base, "experiment_id": eid,
                                          "proposed_model_id": mid, "model_family": family,
                                          "timestamp": ts, "finished_ts": ts,
                                          "status": "failed" if failed else "completed",
                                          "metrics": {} if failed else base["metrics"],
                                          "error": "ValueError: bench" if failed else None}))
    made = [e for e in entries if e.status == "completed"][:n_models]
    raw = model.model_dump()
    for i, e in enumerate(made):
        metrics = copy.deepcopy(raw["metrics"])
        metrics["test"]["model"][metrics["test"]["primary_metric"]] = 0.5 + (i % 997) / 10000
        records.append(ModelRecord(**{**raw, "model_id": e.proposed_model_id,
                                      "experiment_id": e.experiment_id,
                                      "model_family": e.model_family, "model_version": i + 1,
                                      "created_ts": e.timestamp, "last_updated_ts": e.timestamp,
                                      "metrics": metrics, "status_history": []}))
    return entries, records


def fill_database(reg: Registry, entries: list[ExperimentEntry], records: list[ModelRecord]
                  ) -> None:
    """Bulk insert, in chunks (the benchmark times what comes after, not this)."""
    with reg.write() as conn:
        for start in range(0, len(entries), 5000):
            chunk = entries[start:start + 5000]
            conn.execute(insert(experiments), [{"experiment_id": e.experiment_id,
                                                **log._columns(e)} for e in chunk])
            conn.execute(insert(history), [
                {"subject": "experiment", "subject_id": e.experiment_id, "from_status": None,
                 "to_status": e.status, "actor": "bench", "ts": e.timestamp, "reason": "bench",
                 "evidence": "[]"} for e in chunk])
        for start in range(0, len(records), 5000):
            chunk = records[start:start + 5000]
            conn.execute(insert(models), [{
                "model_id": m.model_id, "model_family": m.model_family,
                "model_version": m.model_version, "status": m.status,
                "experiment_id": m.experiment_id, "created_ts": m.created_ts,
                "last_updated_ts": m.last_updated_ts, "artifact_path": m.artifact_path,
                "key_metrics": dumps(flat_metrics(m.metrics, m.metrics_version)),
                "record_schema": 2,
                "record": dumps(m.model_dump(mode="json",
                                             exclude={"status", "status_history"}))}
                for m in chunk])
            conn.execute(insert(model_inputs),
                         [r for m in chunk for r in model_registry._inputs(m)])


def fill_json(folder: Path, entries: list[ExperimentEntry], records: list[ModelRecord]
              ) -> None:
    folder.mkdir(parents=True)
    (folder / "experiments_log.json").write_text(json.dumps(
        {"schema_version": 1, "experiments": [e.model_dump(mode="json") for e in entries]},
        indent=2))
    (folder / "model_registry.json").write_text(json.dumps(
        {"schema_version": 1, "families": {},
         "models": [m.model_dump(mode="json") for m in records]}, indent=2))


def timed(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--experiments", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--url", default=None, help="a PostgreSQL URL instead of SQLite")
    parser.add_argument("--json-experiments", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_registry_"))
    entry, model, family = template(work)
    entries, records = clones(entry, model, args.experiments, args.models)
    reg = Registry(work / "db", args.url)
    start = time.perf_counter()
    fill_database(reg, entries, records)
    fill_s = time.perf_counter() - start
    n_json = min(args.json_experiments, args.experiments)
    n_json_models = n_json * args.models // args.experiments
    fill_json(work / "json", entries[:n_json], records[:n_json_models])
    json_dir = work / "json"
    counter = iter(range(10**6))
    primary = f"test.{model.metrics['test']['primary_metric']}"

    def db_record() -> None:
        n = next(counter)
        e = entry.model_copy(update={"experiment_id": f"EXP_new_{n:06d}",
                                     "proposed_model_id": f"MDL_new_{n:06d}",
                                     "status": "running", "finished_ts": None,
                                     "timestamp": ids.iso(ids.utc_now())})
        log.begin_run(reg, e)
        draft = ModelDraft(**model.model_dump(exclude={"model_version", "status_history"})
                           | {"model_id": e.proposed_model_id,
                              "experiment_id": e.experiment_id})
        model_registry.publish(reg, family, e.model_copy(update={
            "status": "completed", "finished_ts": ids.iso(ids.utc_now())}), draft)

    def json_record() -> None:
        n = next(counter)
        e = entry.model_dump(mode="json") | {"experiment_id": f"EXP_json_{n:06d}"}
        with transaction(json_dir / "experiments_log.json", {"experiments": []}) as doc:
            doc["experiments"].append({**e, "status": "running"})
        with transaction(json_dir / "experiments_log.json", {"experiments": []}) as doc:
            doc["experiments"][-1]["status"] = "completed"
        with transaction(json_dir / "model_registry.json", {"families": {}, "models": []}
                         ) as doc:
            doc["models"].append(model.model_dump(mode="json")
                                 | {"model_id": f"MDL_json_{n:06d}"})

    def json_models() -> list[dict[str, Any]]:
        return read_document(json_dir / "model_registry.json",
                             {"families": {}, "models": []})["models"]

    def json_log() -> list[dict[str, Any]]:
        return read_document(json_dir / "experiments_log.json", {"experiments": []})[
            "experiments"]

    ops: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "record one more run": (db_record, json_record),
        "list newest 50 models of a family": (
            lambda: model_registry.search(reg, family="MF_RET_CORE_V1", limit=50,
                                          records=False),
            lambda: sorted((m for m in json_models() if m["model_family"] == "MF_RET_CORE_V1"),
                           key=lambda m: m["created_ts"], reverse=True)[:50]),
        "models sorted by a key figure": (
            lambda: model_registry.search(reg, family="MF_DIR_CORE_V1", sort=primary,
                                          limit=50, records=False),
            lambda: sorted((m for m in json_models() if m["model_family"] == "MF_DIR_CORE_V1"),
                           key=lambda m: m["metrics"]["test"]["model"].get(
                               primary.split(".")[1]) or 0, reverse=True)[:50]),
        "models by feature family and status": (
            lambda: model_registry.search(reg, feature="Feature_VOL_LIQ_V1",
                                          status="candidate", limit=50, records=False),
            lambda: [m for m in json_models() if "Feature_VOL_LIQ_V1" in m["features_used"]
                     and m["status"] == "candidate"][:50]),
        "failed experiments (newest 50)": (
            lambda: log.search(reg, status="failed", limit=50),
            lambda: [e for e in json_log() if e["status"] == "failed"][-50:]),
        "experiments by text": (
            lambda: log.search(reg, text="bench_00999", limit=50),
            lambda: [e for e in json_log() if "bench_00999" in e["experiment_id"]][:50]),
        "one model by id": (
            lambda: model_registry.get(reg, records[n_json_models // 2].model_id),
            lambda: next(m for m in json_models()
                         if m["model_id"] == records[n_json_models // 2].model_id)),
    }
    sizes = {p.name: p.stat().st_size / 2**20 for p in json_dir.glob("*.json")}
    print(f"# registry at scale: {args.experiments:,} experiments, {args.models:,} models in "
          f"the database; the JSON store with {n_json:,} experiments")
    print(f"machine: {platform.platform()}, python {platform.python_version()}, "
          f"backend {reg.backend}; database filled in {fill_s:.1f} s; JSON documents "
          + ", ".join(f"{k} {v:.0f} MiB" for k, v in sizes.items()))
    print(f"{'operation':40s} {'database':>10s} {'JSON':>10s} {'JSON/db':>8s}"
          f" {'JSON x size':>12s}")
    scale = args.experiments / n_json
    for name, (db_op, json_op) in ops.items():
        db_s, json_s = timed(db_op, args.repeat), timed(json_op, args.repeat)
        print(f"{name:40s} {db_s * 1000:8.1f}ms {json_s * 1000:8.0f}ms {json_s / db_s:8.0f}"
              f" {json_s * scale / db_s:12.0f}")



if __name__ == "__main__":
    main()
