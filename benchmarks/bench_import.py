"""What an OHLCV import costs at the size of a real universe: wall time and peak memory.

    python benchmarks/bench_import.py [--symbols 1000] [--days 3150] [--before auto|REV|none]
                                      [--workdir DIR]

1. Writes a realistic long CSV (``Date,Symbol,Open,High,Low,Close,Adj Close,Volume``, one block
   of rows per symbol, a tenth of the symbols listed later than the others) from the demo's
   market simulator (`ifns_train.data.demo.simulate_market`: GARCH volatility, fat tails,
   regimes, a common factor), with Yahoo-like rounding and a quarterly dividend in Adj Close.
2. Imports it with `import_ohlcv` in a child process per implementation, so that each peak is
   the child's own (``ru_maxrss`` of that process, read by the child when the import is done).
   ``--before`` also runs the previous implementation, the single-module importer
   ``ifns_train/data/ohlcv.py`` read from git (``auto``: the last commit that had it), loaded
   from a temporary folder at run time: the before and after figures come from the same run.
3. Prints wall time and peak memory against the file size and against the output table (the
   in-memory Arrow size of the table that is written, read back from its Parquet file), also
   without the memory the child holds before the import starts (Python, pandas, pyarrow), and
   whether both implementations wrote the same table (same fingerprint).

Nothing here asserts a time; it prints ratios measured in one run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OLD_MODULE = "ifns_train/data/ohlcv.py"
MB = 1024 * 1024


def write_prices(path: Path, n_symbols: int, n_days: int, seed: int) -> int:
    """The benchmark's long CSV; returns its row count."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from ifns_train.data.demo import simulate_market

    sim = simulate_market(n_symbols, n_days, seed)
    rng = np.random.default_rng(seed + 1)
    close, high, low = (x.to_numpy() for x in (sim.close, sim.high, sim.low))
    prev = np.vstack([close[:1], close[:-1]])
    sigma = np.abs(np.log(close / prev)).mean(axis=0)
    open_ = np.clip(prev * np.exp(rng.normal(0.0, 0.3, close.shape) * sigma), low, high)
    dates = pd.bdate_range("2011-01-03", periods=n_days).strftime("%Y-%m-%d").to_numpy()
    quarter = np.arange(n_days) // 63
    # Adj Close: a 0.4% dividend each quarter, so earlier prices are adjusted down.
    factor = 0.996 ** (quarter[-1] - quarter)
    width = max(4, len(str(n_symbols)))
    listed = np.zeros(n_symbols, dtype=int)
    late = rng.choice(n_symbols, n_symbols // 10, replace=False)
    listed[late] = rng.integers(0, n_days // 2, late.size)
    rows = 0
    header = "Date,Symbol,Open,High,Low,Close,Adj Close,Volume\n"
    with path.open("wb") as out:
        out.write(header.encode())
        for j in range(n_symbols):
            s = slice(listed[j], n_days)
            part = pa.table({
                "Date": dates[s],
                "Symbol": np.full(n_days - listed[j], f"T{j:0{width}d}"),
                "Open": np.round(open_[s, j], 4),
                "High": np.ceil(high[s, j] * 1e4) / 1e4,
                "Low": np.floor(low[s, j] * 1e4) / 1e4,
                "Close": np.round(close[s, j], 4),
                "Adj Close": np.round(close[s, j] * factor[s], 6),
                "Volume": np.round(sim.volume.to_numpy()[s, j]).astype(np.int64),
            })
            pacsv.write_csv(part, out, pacsv.WriteOptions(include_header=False,
                                                          quoting_style="none"))
            rows += part.num_rows
    return rows


def previous_source(rev: str) -> str | None:
    """The single-module importer at `rev` ('auto': the last commit that had the file)."""
    def show(r: str) -> str | None:
        done = subprocess.run(["git", "show", f"{r}:{OLD_MODULE}"], cwd=REPO,
                              capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else None

    if rev != "auto":
        return show(rev)
    last = subprocess.run(["git", "rev-list", "-1", "HEAD", "--", OLD_MODULE], cwd=REPO,
                          capture_output=True, text=True).stdout.strip()
    if not last:
        return None
    return show(last) or show(f"{last}^")


def child(module_path: str, csv: str, registry: str) -> None:
    """Run one import in this process and print its figures as JSON (the --child mode)."""
    import pandas  # noqa: F401  (imported before the baseline, as the import needs them)
    import pyarrow  # noqa: F401

    if module_path == "current":
        from ifns_train.data.ohlcv import import_ohlcv
    else:
        spec = importlib.util.spec_from_file_location("ifns_ohlcv_before", module_path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        import_ohlcv = module.import_ohlcv
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    entry, report = import_ohlcv([csv], "DS_BENCH_V1", registry)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"wall_s": wall, "peak_kb": peak, "baseline_kb": baseline,
                      "rows": entry["rows"], "rows_read": report["rows_read"],
                      "fingerprint": entry["fingerprint"],
                      "path": str(Path(registry) / entry["path"])}))


def run(name: str, module_path: str, csv: Path, work: Path) -> dict[str, Any]:
    registry = work / f"registry_{name}"
    shutil.rmtree(registry, ignore_errors=True)  # a fresh registry for each run
    start = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", module_path, str(csv),
                           str(registry)], cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{name}: the import failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = elapsed
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--days", type=int, default=3150, help="trading days per symbol")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--before", default="auto",
                        help="git revision of the previous importer, 'auto' or 'none'")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the CSV and registries here (default: a temporary folder)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.generate:
        path, n_symbols, n_days, seed = args.generate
        write_prices(Path(path), int(n_symbols), int(n_days), int(seed))
        return

    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="bench_import_") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        csv = work / f"prices_{args.symbols}x{args.days}_s{args.seed}.csv"
        if not csv.exists():
            # In a child too: a process started from a big one inherits its peak (ru_maxrss).
            start = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--generate", str(csv), str(args.symbols),
                            str(args.days), str(args.seed)], cwd=REPO, check=True)
            print(f"wrote {csv.name} in {time.perf_counter() - start:.1f} s")
        size = csv.stat().st_size
        impls = {"after": "current"}
        if args.before != "none":
            source = previous_source(args.before)
            if source is None:
                print(f"no previous importer at {args.before!r}: only the current one is run")
            else:
                old = Path(tmp) / "ohlcv_before.py"
                old.write_text(source)
                impls = {"before": str(old), **impls}
        results = {name: run(name, path, csv, work) for name, path in impls.items()}
        table = pq.read_table(results["after"]["path"])
        out_bytes = table.nbytes
        parquet = Path(results["after"]["path"]).stat().st_size
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        print(f"\nmachine: {os.cpu_count()} cores, {memory:.0f} GiB memory; python "
              f"{sys.version.split()[0]}")
        print(f"file: {size / MB:,.1f} MiB, {results['after']['rows_read']:,} rows, "
              f"{args.symbols} symbols; output table: "
              f"{results['after']['rows']:,} rows x {table.num_columns} columns, "
              f"{out_bytes / MB:,.1f} MiB in Arrow ({parquet / MB:,.1f} MiB Parquet)")
        print(f"{'':8} {'wall s':>8} {'peak MiB':>9} {'of which imports':>17} "
              f"{'peak/file':>10} {'peak/output':>12} {'(peak-imports)/output':>22}")
        for name, r in results.items():
            peak, base = r["peak_kb"] * 1024, r["baseline_kb"] * 1024
            print(f"{name:8} {r['wall_s']:8.1f} {peak / MB:9,.0f} {base / MB:17,.0f} "
                  f"{peak / size:10.1f} {peak / out_bytes:12.2f} "
                  f"{(peak - base) / out_bytes:22.2f}")
        if len(results) == 2:
            same = results["before"]["fingerprint"] == results["after"]["fingerprint"]
            print(f"same table before and after: {'yes' if same else 'NO'} "
                  f"({results['after']['fingerprint']})")


if __name__ == "__main__":
    main()
