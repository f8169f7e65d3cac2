"""What a parallel launcher buys: a joblib sweep of N runs against the same N runs in a row.

    python benchmarks/bench_sweep.py [--runs 8] [--n-jobs 2] [--epochs 2] [--symbols 8]

Both sides are one `python -m ifns_train -m ...` command over the same small demo registry
(a fresh copy each), sweeping `seed` over N values: the sequential side uses Hydra's basic
launcher (the jobs one after another in one process), the other `hydra/launcher=joblib` with
`n_jobs` worker processes (each pays the imports once). Prints both wall times, the ratio and
the machine; nothing is asserted. Needs the joblib extra: pip install -e '.[joblib]'.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def sweep(root: Path, registry: Path, runs: int, epochs: int, launcher: list[str]) -> float:
    cmd = [sys.executable, "-m", "ifns_train", "-m", f"paths.registry_dir={registry}",
           f"paths.root_dir={root}", "print_config=false", "callbacks=none",
           f"trainer.max_epochs={epochs}", "model.batch_size=256",
           "seed=" + ",".join(str(s) for s in range(1, runs + 1)), *launcher]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"sweep failed ({' '.join(launcher) or 'basic'}):\n{proc.stderr[-3000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--symbols", type=int, default=8)
    args = parser.parse_args()
    import torch

    from ifns_train.data.demo import write_demo

    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template"
        write_demo(template, n_symbols=args.symbols, n_years=3.0)
        walls = {}
        for name, launcher in (
            ("sequential (basic launcher)", []),
            (f"joblib n_jobs={args.n_jobs}",
             ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.n_jobs}"]),
        ):
            root = Path(tmp) / name.split()[0]
            root.mkdir()
            registry = root / "registry"
            shutil.copytree(template, registry)
            walls[name] = sweep(root, registry, args.runs, args.epochs, launcher)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s), "
          f"Python {platform.python_version()}, torch {torch.__version__} "
          f"({torch.get_num_threads()} intra-op threads)")
    print(f"{args.runs} runs of dir_core/mlp, {args.epochs} epochs, demo panel of "
          f"{args.symbols} symbols x 3 years")
    for name, wall in walls.items():
        print(f"  {name:<30} {wall:7.1f} s  ({wall / args.runs:5.1f} s/run)")
    seq, par = walls.values()
    print(f"  speed-up (sequential / joblib): {seq / par:.2f}x")


if __name__ == "__main__":
    main()
