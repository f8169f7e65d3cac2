"""Sweep start-up with and without the resolved-data cache (`ifns_train.data.cache`).

    python benchmarks/bench_cache.py [--symbols 1000] [--jobs 3] [--registry DIR]

Generates the demo panel (`--symbols`, 10 years) into a temporary registry (or reuses
`--registry`), then runs `--jobs` jobs one after the other, each a fresh process resolving the
dataset as a training job does (the demo config's columns, lookback 1): first with the cache
off, then with it on (the first job builds the entry: cold; later ones map it: warm). Each job
prints the seconds `resolve` took and its peak RSS. Nothing here asserts a time; the machine
may be shared, so run it twice.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

JOB = """
import json, sys, time
from pathlib import Path
from ifns_train.data.cache import CacheOptions
from ifns_train.data.resolve import resolve
start = time.perf_counter()
data = resolve(sys.argv[1], dataset_ids={s: "DS_DEMO_CORE_V1" for s in ("train", "val", "test")},
               windows=None, feature_families=["Feature_TREND_MTF_V1", "Feature_VOL_LIQ_V1"],
               label_family="Label_Direction_Horizon_20d_V1", horizon_days=20,
               context_columns=["regime_tag", "structure_state", "vol_band", "symbol_cluster"],
               cache=CacheOptions(enabled=sys.argv[2] == "on"))
seconds = time.perf_counter() - start
rows = len(data.splits["train"].table.label)
print(json.dumps({"seconds": seconds, "rows": rows,
                  # VmHWM, not ru_maxrss: the latter keeps the parent's peak across exec
                  "peak_rss_mb": next(int(line.split()[1]) / 1024 for line in
                                      Path("/proc/self/status").read_text().splitlines()
                                      if line.startswith("VmHWM"))}))
"""


def job(registry: Path, cache: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", JOB, str(registry), cache], cwd=REPO,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    mem = ""
    try:
        kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
        mem = f", {kb / 2**20:.1f} GiB RAM"
    except (OSError, StopIteration):
        pass
    import numpy
    import pyarrow

    return (f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs{mem}; "
            f"Python {platform.python_version()}, numpy {numpy.__version__}, "
            f"pyarrow {pyarrow.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--registry", type=Path, default=None)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="bench_cache_") as tmp:
        registry = args.registry or Path(tmp) / "registry"
        if not (registry / "datasets_index.json").exists():
            from ifns_train.data.demo import write_demo

            start = time.perf_counter()
            write_demo(registry, n_symbols=args.symbols)
            print(f"generated the demo ({args.symbols} symbols) in "
                  f"{time.perf_counter() - start:.1f} s")
        shutil.rmtree(registry / "cache", ignore_errors=True)
        runs = {"off": [job(registry, "off") for _ in range(args.jobs)],
                "on": [job(registry, "on") for _ in range(args.jobs)]}
        rows = runs["off"][0]["rows"]
        print(f"rows: {rows:,}; {args.jobs} jobs per mode, each a fresh process")
        for mode, results in runs.items():
            for i, r in enumerate(results):
                kind = "cold" if i == 0 else "warm"
                print(f"cache {mode:3} job {i + 1} ({kind}): {r['seconds']:7.2f} s resolve, "
                      f"peak RSS {r['peak_rss_mb']:7.0f} MB")
        off = sum(r["seconds"] for r in runs["off"]) / len(runs["off"])
        cold = runs["on"][0]["seconds"]
        warm = sum(r["seconds"] for r in runs["on"][1:]) / max(1, len(runs["on"]) - 1)
        print(f"mean without cache {off:.2f} s; with cache: cold {cold:.2f} s "
              f"({cold / off:.2f}x of no cache), warm {warm:.2f} s "
              f"({off / warm:.1f}x faster than no cache)")
        size = sum(f.stat().st_size for f in (registry / "cache").rglob("*") if f.is_file())
        print(f"cache on disk: {size / 2**20:.0f} MiB ({size / rows:.0f} bytes per row)")


if __name__ == "__main__":
    main()
