"""The default run against the script a careful user would write: whole process, paired runs.

    python benchmarks/bench_peer.py [--pairs 5] [--root DIR]

1. A default `python -m ifns_train` run on a fresh root (it writes the demo dataset and warms
   the cache), whose record gives the yardstick's spec: the table, each split's rows (first
   and last date after the purge), the features, the label, the model's settings, the batch
   size and the epochs it trained (`benchmarks/peer_lightning.py`, a bare Lightning script,
   then trains exactly that many, with the same callbacks).
2. `--pairs` pairs of whole processes, the run and the script, their order alternating pair by
   pair; the ratio is taken within each pair, so a machine whose speed drifts still gives a
   fair ratio. Wall time is the process's, from start to exit, as a user waits for it.
3. Where the run's time went: the medians of its recorded phases (`training.phase_seconds` of
   each record: imports, config, data, setup, fit, evaluation, recording) and of the exit the
   job log reports, with how much of the wall they cover; and the script's own split.

Nothing here asserts a time; it prints the figures and a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PEER = REPO / "benchmarks" / "peer_lightning.py"
RECORDED = re.compile(r"recorded (MDL_\S+) .*artifacts in (\S+)")
EXIT = re.compile(r"exit: ([0-9.]+) s after the record")


def run_default(root: Path) -> dict[str, Any]:
    """One default run: wall seconds, its record folder, its phases and its exit."""
    env = {**os.environ, "IFNS_ROOT": str(root)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ifns_train", "print_config=false"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"the default run failed:\n{proc.stderr[-3000:]}")
    match = RECORDED.search(proc.stderr + proc.stdout)
    if match is None:
        raise SystemExit("the default run printed no 'recorded' line")
    folder = Path(match.group(2))
    config = json.loads((folder / "train_config.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    exit_match = EXIT.search(proc.stderr + proc.stdout)
    return {"wall": wall, "folder": folder, "config": config,
            "phases": config["training"]["phase_seconds"],
            "exit": float(exit_match.group(1)) if exit_match else float("nan"),
            "auc": metrics["splits"]["test"]["model"]["auc"]}


def peer_spec(run: dict[str, Any], root: Path) -> dict[str, Any]:
    """What the yardstick trains, read from the run's record (its one source)."""
    config = run["config"]
    resolved = config["resolved_config"]
    registry = Path(resolved["paths"]["registry_dir"])
    index = json.loads((registry / "datasets_index.json").read_text())
    dataset = config["datasets"]["ids"]["train"]
    entry = index["datasets"][dataset]
    [label] = config["labels_used"]
    model, trainer = config["hyperparameters"], config["trainer"]
    return {
        "table": str(registry / entry["path"]),
        "splits": {s: [v["first_date"], v["last_date"]]
                   for s, v in config["datasets"]["splits"].items()},
        "features": [c for cols in config["features_used"].values() for c in cols],
        "label": entry["label_families"][label]["column"],
        "hidden_sizes": model["hidden_sizes"], "dropout": model["dropout"], "lr": model["lr"],
        "weight_decay": model["weight_decay"],
        "batch_size": config["training"]["batch_size"],
        "epochs": config["training"]["epochs_run"],
        "seed": config["seed"],
        "gradient_clip_val": trainer["gradient_clip_val"],
        "log_every_n_steps": trainer["log_every_n_steps"],
        "patience": resolved["callbacks"]["early_stopping"]["patience"],
        "output_dir": str(root / "peer_out"),
    }


def run_peer(spec_path: Path) -> dict[str, Any]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(PEER), str(spec_path)], capture_output=True,
                          text=True, timeout=900)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"the peer script failed:\n{proc.stderr[-3000:]}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("PEER "))
    words = line.split()[1:]
    figures = {k: float(v) for k, v in zip(words[::2], words[1::2], strict=True)}
    return {"wall": wall, **figures}


def spread(values: list[float]) -> str:
    return (f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--root", type=Path, default=None,
                        help="folder of the demo registry and outputs (default: a temporary one)")
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="bench_peer_"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}; root {root}", flush=True)
    first = run_default(root)  # writes the demo dataset, warms the cache
    spec = peer_spec(first, root)
    spec_path = root / "peer_spec.json"
    spec_path.write_text(json.dumps(spec, indent=1))
    run_peer(spec_path)  # its warm-up
    print(f"spec: {spec['epochs']} epochs of batch {spec['batch_size']}, "
          f"{len(spec['features'])} features", flush=True)

    ours: list[dict[str, Any]] = []
    peers: list[dict[str, Any]] = []
    ratios: list[float] = []
    for pair in range(args.pairs):
        if pair % 2 == 0:
            a, b = run_default(root), run_peer(spec_path)
        else:
            b, a = run_peer(spec_path), run_default(root)
        ours.append(a)
        peers.append(b)
        ratios.append(a["wall"] / b["wall"])
        print(f"  pair {pair + 1}: run {a['wall']:.2f} s, script {b['wall']:.2f} s, "
              f"ratio {ratios[-1]:.3f}", flush=True)

    phases = list(ours[0]["phases"])
    medians = {p: statistics.median(r["phases"][p] for r in ours) for p in phases}
    exit_s = statistics.median(r["exit"] for r in ours)
    covered = statistics.median(sum(r["phases"].values()) / r["wall"] for r in ours)
    print("\n| | min / median / max |\n|---|---|")
    print(f"| `python -m ifns_train` wall s | {spread([r['wall'] for r in ours])} |")
    print(f"| peer script wall s | {spread([r['wall'] for r in peers])} |")
    print(f"| ratio (pair by pair) | {spread(ratios)} |")
    print("\nthe run's phases (median s): " + ", ".join(f"{p} {v:.2f}"
                                                     for p, v in medians.items())
          + f"; exit {exit_s:.2f} (job log); the phases cover {covered:.1%} of the wall")
    print("the script's own split (median s): " + ", ".join(
        f"{k} {statistics.median(p[k] for p in peers):.2f}"
        for k in ("imports", "data", "fit", "predict")))
    print(f"test AUC: run {ours[0]['auc']:.4f}, script {peers[0]['auc']:.4f}")


if __name__ == "__main__":
    main()
