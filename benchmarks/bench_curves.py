"""What the pictures of curves/ cost: in the run, and outside it.

    python benchmarks/bench_curves.py [--repeat 5] [--root DIR]

One default run (the demo, `dir_core` MLP) is trained into a temporary root (or `--root`, an
IFNS_ROOT that holds one already), then, on its saved prediction tables and metrics.json, in
this one process and side by side (best and median of `--repeat`):

* json: `write_curves` + `write_learning_curves` as a run calls them now
  (`evaluation.curves.images=false`): the numbers of the 9 pictures, written;
* images: the same with `images=true`: each PNG drawn in the run too, as every run did before;
* render: `ifns-admin curves`' drawing of the 9 pictures from the recorded JSON alone
  (`sxe.admin_curves.draw_all`, hashes checked), the matplotlib import excluded (paid once);
* recording: the run's own `training.phase_seconds.recording` from train_config.json, where
  the run records that phase.

A markdown table; ratios are to `json`. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ifns_train.evaluation.predictions import read_table  # noqa: E402
from ifns_train.registry import artifacts  # noqa: E402
from ifns_train.run.curves import write_curves, write_learning_curves  # noqa: E402
from ifns_train.sxe.admin_curves import draw_all  # noqa: E402


def model_folder(root: Path) -> Path:
    folders = sorted((root / "registry" / "models" / "MF_DIR_CORE_V1").iterdir())
    return folders[-1]


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--root", type=Path, help="an IFNS_ROOT holding a default run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_curves_"))
    root = args.root or work / "root"
    if args.root is None:
        subprocess.run([sys.executable, "-m", "ifns_train", "print_config=false"], cwd=REPO,
                       env={**os.environ, "IFNS_ROOT": str(root)}, check=True,
                       capture_output=True)
    folder = model_folder(root)
    metrics = json.loads((folder / "metrics.json").read_text())
    train = json.loads((folder / "train_config.json").read_text())["training"]
    tables = {s: read_table(pd.read_parquet(folder / f"predictions_{s}.parquet"), s)
              for s in ("val", "test")}
    history = {1: {"train_loss": 0.70, "val_loss": 0.69}, 2: {"train_loss": 0.68,
                                                              "val_loss": 0.685}}

    def curves(images: bool) -> None:
        out = work / f"curves_{images}"
        write_curves(out, metrics, tables, images=images)
        write_learning_curves(out, history, 2, images=images)

    curves(True)  # imports (matplotlib, the evaluation's lazy ones) paid before timing
    hashes = artifacts.folder_hashes(folder)  # as recorded: the folder is the run's
    pictures = work / "pictures"
    rows = {"json (a run now)": timed(lambda: curves(False), args.repeat),
            "images (images=true; every run before)": timed(lambda: curves(True), args.repeat),
            "render: ifns-admin curves' drawing": timed(
                lambda: draw_all(folder, hashes, folder.name, pictures), args.repeat)}
    base = min(rows["json (a run now)"])
    print(f"Pictures of the default model ({len(list(pictures.iterdir()))} drawn by the "
          f"render), best and median of {args.repeat}; this machine, one sitting\n")
    print("| what | best s | median s | best / json |")
    print("|---|---:|---:|---:|")
    for name, times in rows.items():
        print(f"| {name} | {min(times):.3f} | {statistics.median(times):.3f} | "
              f"{min(times) / base:.2f} |")
    phases = train.get("phase_seconds") or {}
    if "recording" in phases:
        print(f"\nThe run's recording phase (train_config.json): {phases['recording']:.3f} s "
              f"(phases: {phases})")


if __name__ == "__main__":
    main()
