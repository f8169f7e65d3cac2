"""The data phase with the resolved-data cache (`ifns_train.data.cache`): cold, warm, without it,
against the Parquet read alone.

    python benchmarks/bench_cache.py [--symbols 1000] [--repeat 3] [--registry DIR]
                                     [--baseline REF] [--strace]

Generates the demo panel (`--symbols` x 10 years: 1000 gives 2.52 million rows) into a temporary
registry (or reuses `--registry`), then, `--repeat` times over, each a fresh process resolving the
dataset as a training job does (the demo config's columns, lookback 1):

- `parquet`: the Parquet read alone: the same columns, in the reader's batches, to pandas (no
  checks, no fingerprints, no layout): the least a cold data phase can cost;
- `off`: resolve with the cache off (read, verify, check, lay out in memory);
- `cold`: resolve with the cache on and empty (the first job of a sweep builds the entry);
- `warm`: resolve with the entry there (later jobs map it).

The target: cold at most 2x (warm + parquet); cold less off is what building the
entry costs beyond reading and verifying. `--baseline REF` runs off, cold and warm also with the
package as of git commit REF (extracted to a temporary folder), side by side in the
same sitting; `--strace` counts the write and sync calls of one cold build of each. Prints a
markdown table (min / median / max seconds of `resolve`, peak RSS). Nothing asserts a time; the
machine may be shared, so run it twice.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASET = "DS_DEMO_CORE_V1"
FEATURES = ["Feature_TREND_MTF_V1", "Feature_VOL_LIQ_V1"]
LABEL = "Label_Direction_Horizon_20d_V1"
CONTEXT = ["regime_tag", "structure_state", "vol_band", "symbol_cluster"]

JOB = """
import json, sys, time
from pathlib import Path
registry, mode, dataset = sys.argv[1:4]
features, label, context = map(json.loads, sys.argv[4:])
start = time.perf_counter()
if mode == "parquet":
    import pyarrow.parquet as pq
    from ifns_train.data import reader
    index = json.loads((Path(registry) / "datasets_index.json").read_text())
    entry = index["datasets"][dataset]
    label_column = entry["label_families"][label].get("column", label)
    wanted = reader.Wanted({f: entry["feature_families"][f] for f in features}, label,
                           label_column, "", context, [], [])
    parquet = pq.ParquetFile(Path(registry) / entry["path"], pre_buffer=False,
                             buffer_size=reader.READ_BUFFER)
    rows = 0
    for batch in parquet.iter_batches(batch_size=max(1, reader.CHUNK_BYTES // (
            8 * len(wanted.columns))), columns=wanted.columns, use_threads=False):
        rows += len(batch.to_pandas())
else:
    from ifns_train.data.cache import CacheOptions
    from ifns_train.data.resolve import resolve
    data = resolve(registry, dataset_ids={s: dataset for s in ("train", "val", "test")},
                   windows=None, feature_families=features, label_family=label,
                   horizon_days=20, context_columns=context,
                   cache=CacheOptions(enabled=mode != "off"))
    rows = len(data.splits["train"].table.label)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rows": rows,
                  # VmHWM, not ru_maxrss: the latter keeps the parent's peak across exec
                  "peak_rss_mb": next(int(line.split()[1]) / 1024 for line in
                                      Path("/proc/self/status").read_text().splitlines()
                                      if line.startswith("VmHWM"))}))
"""

MODES = ("parquet", "off", "cold", "warm")


def job(registry: Path, mode: str, code: Path, strace: Path | None = None) -> dict[str, float]:
    """One fresh process resolving with the package found under `code`."""
    if mode == "cold":
        shutil.rmtree(registry / "cache", ignore_errors=True)
    command = [sys.executable, "-c", JOB, str(registry), "parquet" if mode == "parquet" else
               ("off" if mode == "off" else "on"), DATASET, json.dumps(FEATURES), json.dumps(LABEL),
               json.dumps(CONTEXT)]
    if strace is not None:
        command = ["strace", "-f", "-c", "-o", str(strace), "-e",
                   "trace=write,writev,pwrite64,pwritev,fsync,fdatasync,msync", *command]
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run(command, cwd=code, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def syscalls(registry: Path, code: Path) -> str:
    """The write and sync calls of one cold build (strace -c), as `name: calls`."""
    with tempfile.NamedTemporaryFile(suffix=".strace") as trace:
        job(registry, "cold", code, Path(trace.name))
        counts = {m.group(2): int(m.group(1)) for m in re.finditer(
            r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$",
            Path(trace.name).read_text(), re.M)}
    return ", ".join(f"{name} {n:,}" for name, n in sorted(counts.items()) if name != "total")


def baseline_code(ref: str, into: Path) -> Path:
    """The package as of git commit `ref`, extracted under `into`."""
    archive = subprocess.run(["git", "archive", ref, "ifns_train"], cwd=REPO, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


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


def spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--registry", type=Path, default=None)
    parser.add_argument("--baseline", default=None, help="a git commit to compare with")
    parser.add_argument("--strace", action="store_true", help="count write and sync calls")
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
        codes = {"this tree": REPO}
        if args.baseline:
            codes[f"baseline {args.baseline}"] = baseline_code(args.baseline, Path(tmp))
        runs: dict[tuple[str, str], list[dict[str, float]]] = {}
        for _ in range(args.repeat):  # interleaved, so that a busy spell hits every mode
            for name, code in codes.items():
                for mode in MODES if code == REPO else MODES[1:]:
                    runs.setdefault((name, mode), []).append(job(registry, mode, code))
        rows = runs["this tree", "off"][0]["rows"]
        print(f"\nrows: {rows:,} (the table); {args.repeat} runs of each, a fresh process "
              "each; seconds of `resolve` (parquet: of the read alone), min / median / max\n")
        print("| code | data phase | seconds | peak RSS MB |")
        print("|---|---|---|---|")
        for (name, mode), results in runs.items():
            print(f"| {name} | {mode} | {spread([r['seconds'] for r in results])} | "
                  f"{max(r['peak_rss_mb'] for r in results):.0f} |")
        med = {key: statistics.median(r["seconds"] for r in results)
               for key, results in runs.items()}
        parquet = med["this tree", "parquet"]
        print("\n| code | cold / (warm + parquet), target <= 2 | cold / (warm + off) | "
              "cold / off | cold / warm |")
        print("|---|---|---|---|---|")
        for name in codes:
            cold, warm, off = med[name, "cold"], med[name, "warm"], med[name, "off"]
            print(f"| {name} | {cold / (warm + parquet):.2f} | {cold / (warm + off):.2f} | "
                  f"{cold / off:.2f} | {cold / warm:.1f} |")
        if args.strace and shutil.which("strace"):
            print("\n| code | write and sync calls of a cold build (strace -c) |")
            print("|---|---|")
            for name, code in codes.items():
                print(f"| {name} | {syscalls(registry, code)} |")
        size = sum(f.stat().st_size for f in (registry / "cache").rglob("*") if f.is_file())
        print(f"\ncache on disk: {size / 2**20:.0f} MiB ({size / rows:.0f} bytes per row)")


if __name__ == "__main__":
    main()
