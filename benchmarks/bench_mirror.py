"""What building the Mirror costs at scale: 10,000 models and 100,000 experiments.

    python benchmarks/bench_mirror.py [--experiments 100000] [--models 10000] [--url URL]

One real run (the small demo, one epoch) gives a realistic experiment entry, model record and
artifact folder (metrics.json, train_config.json, the pictures of curves/); they are cloned with
new ids into a registry (SQLite in a temporary folder, or `--url` for PostgreSQL), each model
with its own artifact folder of hard links to the template's files, so every model page reads a
real metrics.json. Then, in one run:

* read: the whole registry read as the build reads it (records, log rows, proposals): the
  floor under any build;
* full build: the site written into an empty folder;
* no change: the same build again (every page up to date);
* one new run: one more experiment and model recorded, then the build again.

Figures: seconds, files written, the largest page and data file, the peak memory; ratios are
against the read. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_registry import clones, fill_database, template  # noqa: E402

from ifns_train.registry import lifecycle, views  # noqa: E402
from ifns_train.registry.database import Registry  # noqa: E402
from ifns_train.registry.records import ModelRecord  # noqa: E402
from ifns_train.sxe.mirror import site  # noqa: E402


def own_folders(reg: Registry, source: Path, records: list[ModelRecord]) -> list[ModelRecord]:
    """Each model its own artifact folder: hard links to the template's files."""
    files = [p for p in source.rglob("*") if p.is_file() and p.suffix in (".json", ".png")]
    out = []
    for record in records:
        rel = f"models/{record.model_family}/{record.model_id}"
        for path in files:
            target = reg.dir / rel / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)
        out.append(record.model_copy(update={"artifact_path": rel}))
    return out


def read_all(reg: Registry) -> None:
    views.model_records(reg)
    for _ in views.experiment_rows(reg):
        pass
    lifecycle.proposals_of(reg)


def largest(out: Path, pattern: str) -> tuple[str, int]:
    sizes = [(p.stat().st_size, str(p.relative_to(out))) for p in out.glob(pattern)]
    size, name = max(sizes)
    return name, size


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--url", help="a PostgreSQL registry URL (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mirror-") as tmp:
        work = Path(tmp)
        entry, model, _family = template(work)
        source = work / "template" / model.artifact_path
        reg = Registry(work / "registry", args.url, create=True)
        entries, records = clones(entry, model, args.experiments + 1, args.models + 1)
        new_entry, new_record = entries.pop(), records.pop()
        newest = "2027-01-01T00:00:00.000000Z"  # a new run is the newest in the log
        new_entry = new_entry.model_copy(update={"timestamp": newest, "finished_ts": newest})
        new_record = new_record.model_copy(update={
            "created_ts": newest, "last_updated_ts": newest,
            "model_id": new_entry.proposed_model_id, "experiment_id": new_entry.experiment_id,
            "model_family": new_entry.model_family})
        fill_database(reg, entries, own_folders(reg, source, records))
        from ifns_train.registry.model_registry import _upsert_family
        with reg.write() as conn:
            _upsert_family(conn, _family)
            for fam in sorted({r.model_family for r in records} - {_family.family_id}):
                _upsert_family(conn, _family.model_copy(update={"family_id": fam}))

        read_s, _ = timed(lambda: read_all(reg))
        out = work / "site"
        full_s, full = timed(lambda: site.build(reg, out))
        page, page_bytes = largest(out, "**/*.html")
        data, data_bytes = largest(out, "data/*.js")
        same_s, same = timed(lambda: site.build(reg, out))
        fill_database(reg, [new_entry], own_folders(reg, source, [new_record]))
        one_s, one = timed(lambda: site.build(reg, out))
        files = sum(1 for p in out.rglob("*") if p.is_file())
        total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        reg.close()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; registry {'PostgreSQL' if args.url else 'SQLite'}")
    print(f"registry: {args.models:,} models, {args.experiments:,} experiments")
    print(f"read the registry         {read_s:7.2f} s   (1.00x)")
    print(f"full build                {full_s:7.2f} s   ({full_s / read_s:.2f}x read), "
          f"{len(full.written):,} files written")
    print(f"again, nothing changed    {same_s:7.2f} s   ({same_s / read_s:.2f}x read), "
          f"{len(same.written)} written, {same.skipped:,} model pages up to date")
    print(f"after one new run         {one_s:7.2f} s   ({one_s / read_s:.2f}x read), "
          f"{len(one.written)} written: {', '.join(sorted(one.written))}")
    print(f"site: {files:,} files, {total / 2**20:.0f} MiB (pictures are hard links); largest "
          f"page {page} {page_bytes / 1024:.0f} KiB; largest data file {data} "
          f"{data_bytes / 1024:.0f} KiB")
    print(f"peak memory (this process): {peak:.0f} MiB")


if __name__ == "__main__":
    main()
