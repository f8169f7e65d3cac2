"""Memory of a run against the size of its dataset: read into memory, or out of core.

    python benchmarks/bench_memory.py [--symbols 400 800] [--width 384] [--limit-gib 1]

For each `--symbols` count, writes the demo panel (4 years) with `--width` more float32
feature columns (`tests.memory.write_wide_dataset`), then runs `ifns-train` (dir_core MLP, one
epoch, the trend family plus the wide one) in a fresh process three ways: the table read into
memory (`dataset.cache=false`); out of core, cache cold (the chunked reader writes the cache
entry) and warm (it maps it), with `dataset.shuffle_buffer_mb=64`. Each prints its wall time
and its peak resident anonymous memory (sampled every 50 ms from /proc: what the process
cannot give back; mapped table pages are not in it). Two sizes give each mode's bytes per row.
Last, the largest dataset out of core under a kernel memory limit of `--limit-gib` (a cgroup,
root only), and read into memory under the same limit. Nothing asserts a figure; run it twice
on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.memory import (  # noqa: E402
    WIDE_FAMILY,
    drop_page_cache,
    run_limited,
    why_no_cgroup,
    write_wide_dataset,
)

MODES = {"in memory": ["dataset.cache=false"],
         "out of core, cold": ["dataset.shuffle_buffer_mb=64"],
         "out of core, warm": ["dataset.shuffle_buffer_mb=64"]}


def run(registry: Path, cwd: Path, limit: int, overrides: list[str]) -> tuple[float, int, int]:
    """(seconds, peak anonymous bytes, exit code) of one run."""
    drop_page_cache(registry)
    start = time.perf_counter()
    done = run_limited(
        ["ifns_train", f"paths.registry_dir={registry}", "dataset.id=DS_WIDE_V1",
         "dataset.generate_demo_if_missing=false", "features.name=wide",
         f"features.families=[Feature_TREND_MTF_V1,{WIDE_FAMILY}]", "trainer.max_epochs=1",
         "print_config=false", "callbacks=none", *overrides], limit, cwd, timeout=3600)
    return time.perf_counter() - start, done.peak_anon, done.result.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, nargs="+", default=[400, 800])
    parser.add_argument("--width", type=int, default=384)
    parser.add_argument("--limit-gib", type=float, default=1.0)
    args = parser.parse_args()
    if why_no_cgroup():
        sys.exit(f"bench_memory needs a memory cgroup: {why_no_cgroup()}")
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, {ram / 2**30:.1f} GiB RAM; "
          f"Python {platform.python_version()}")
    rows_by_size, peaks = [], {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        for symbols in args.symbols:
            registry = Path(tmp) / f"registry{symbols}"
            start = time.perf_counter()
            added = write_wide_dataset(registry, "DS_WIDE_V1", symbols=symbols, years=4.0,
                                       width=args.width)
            rows = added // (4 * args.width)
            rows_by_size.append(rows)
            table = rows * (args.width + 8) * 4
            print(f"\n{rows:,} rows x {args.width + 8} features ({table / 2**30:.2f} GiB of "
                  f"float32 features), written in {time.perf_counter() - start:.0f} s")
            for mode, overrides in MODES.items():
                seconds, peak, code = run(registry, Path(tmp), ram, overrides)
                peaks[mode].append(peak)
                print(f"  {mode:18} {seconds:6.1f} s  peak anonymous {peak / 2**20:6.0f} MiB"
                      f"  exit {code}")
            last = registry
        if len(rows_by_size) > 1:
            print()
            span = rows_by_size[-1] - rows_by_size[0]
            for mode, values in peaks.items():
                slope = (values[-1] - values[0]) / span
                fixed = values[0] - slope * rows_by_size[0]
                print(f"{mode:18} {slope:6.0f} bytes a row over {fixed / 2**20:5.0f} MiB")
        limit = int(args.limit_gib * 2**30)
        shutil.rmtree(last / "cache", ignore_errors=True)
        print(f"\nunder a {args.limit_gib:g} GiB memory cgroup, {rows_by_size[-1]:,} rows:")
        for mode, overrides in (("out of core, cold", MODES["out of core, cold"]),
                                ("out of core, warm", MODES["out of core, warm"]),
                                ("in memory", MODES["in memory"])):
            seconds, peak, code = run(last, Path(tmp), limit, overrides)
            print(f"  {mode:18} {seconds:6.1f} s  peak anonymous {peak / 2**20:6.0f} MiB"
                  f"  exit {code}{' (killed)' if code == -9 else ''}")


if __name__ == "__main__":
    main()
