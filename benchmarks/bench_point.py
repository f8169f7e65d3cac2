"""What one split's point figures and trading proxies cost: `evaluate_split(..., intervals=False)`
(the report, the IC's t-statistics and every predictor's trading proxies) plus the proxies'
per-date series, now against a previous revision of `ifns_train/evaluation` in the same run.

    python benchmarks/bench_point.py [--rows 1000000,5000000] [--sets directional,return,risk,cost]
                                     [--before auto|REV|none] [--repeat 1]

Inputs are `bench_eval.inputs` (dates x 2000 symbols, the model and the family's two usual
baselines, the four context columns as object arrays of shared str), with a directional
model's call (`pred` = prob > 0.5), a realised return for the directional proxies, and the
symbols as object arrays of shared str, as `predictions.read_table` hands them over. The
before package is read from git into a temporary folder (auto: the parent of the commit that
added `evaluation/panel.py`). Ratios: before / now at the same
size; growth: now at the largest size over now at the smallest. Nothing asserts a time.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_eval import SYMBOLS, before_revision, inputs  # noqa: E402

from ifns_train.evaluation.predictions import PredictionArrays  # noqa: E402
from ifns_train.evaluation.standard import EvaluationSpec  # noqa: E402

BASELINES = {"directional": ("class_prior", "momentum_sign"), "return": ("zero", "trailing_mean"),
             "risk": ("trailing_20d", "ewma"), "cost": ("training_median", "trailing_median")}


def point_inputs(metric_set: str, rows: int, seed: int = 0) -> tuple[PredictionArrays, Any]:
    """(arrays, spec) of one split for `evaluate_split`; the spec's settings are the run's."""
    kw = inputs(metric_set, rows, seed)
    n = len(kw["y"])
    extra: dict[str, np.ndarray] = {}
    if metric_set == "directional":
        kw["model"]["pred"] = (kw["model"]["prob"] > 0.5).astype(np.float64)
        rng = np.random.default_rng(seed + 1)
        extra["realised_return"] = 0.02 * (kw["y"] - 0.5) + 0.02 * rng.normal(size=n)
    names = np.array([f"S{k:04d}" for k in range(SYMBOLS)], dtype=object)
    arrays = PredictionArrays(
        dates=kw["inputs"]["dates"], symbols=np.tile(names, n // SYMBOLS + 1)[:n], y=kw["y"],
        model=kw["model"], baselines=kw["baselines"], inputs=extra, context=kw["context"])
    spec = EvaluationSpec(
        metric_set=metric_set, baselines=BASELINES[metric_set], slice_by=tuple(kw["context"]),
        min_rows=kw["min_rows"], n_bins=kw["n_bins"], horizon_days=kw["horizon_days"],
        gate_threshold=None, bootstrap={"reps": 1000, "level": 0.95, "block": "auto",
                                        "method": "stationary", "seed": 0},
        cost_bps=10.0, proxy_band=0.0)
    return arrays, spec


def point_figures(evaluation: Any, arrays: PredictionArrays, spec: Any) -> dict[str, Any]:
    """What is timed: `evaluate_split` without intervals, then the proxies' series."""
    out = evaluation.standard.evaluate_split(arrays, spec, intervals=False)
    out["proxies"] = evaluation.evidence.trading(
        arrays, spec.metric_set, horizon=spec.horizon_days, cost_bps=spec.cost_bps,
        band=spec.proxy_band, series=True)
    return out


def load_before(rev: str) -> Any:
    """The package `ifns_train.evaluation` at `rev`, importable beside today's."""
    name = "ifns_point_before"
    folder = Path(tempfile.mkdtemp()) / name
    folder.mkdir()
    listing = subprocess.run(["git", "-C", str(REPO), "ls-tree", "--name-only", rev,
                              "ifns_train/evaluation/"], capture_output=True, text=True,
                             check=True).stdout.split()
    for path in listing:
        if path.endswith(".py"):
            source = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:{path}"],
                                    capture_output=True, text=True, check=True).stdout
            (folder / Path(path).name).write_text(source.replace("ifns_train.evaluation", name))
    sys.path.insert(0, str(folder.parent))
    return importlib.import_module(name), [importlib.import_module(f"{name}.{m}")
                                           for m in ("standard", "evidence")]


def timed(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="1000000,5000000")
    parser.add_argument("--sets", default="directional,return,risk,cost")
    parser.add_argument("--before", default="auto", help="auto, a git revision, or none")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    now = importlib.import_module("ifns_train.evaluation")
    importlib.import_module("ifns_train.evaluation.evidence")
    rev = before_revision(args.before, "panel.py")
    before = None if rev is None else load_before(rev)[0]
    sizes = [int(r) for r in args.rows.split(",")]
    table = []
    for metric_set in args.sets.split(","):
        for rows in sizes:
            arrays, spec = point_inputs(metric_set, rows)
            point_figures(now, *point_inputs(metric_set, 5000))  # first-call costs
            t_now = timed(lambda a=arrays, s=spec: point_figures(now, a, s), args.repeat)
            t_old = None
            if before is not None:
                point_figures(before, *point_inputs(metric_set, 5000))
                t_old = timed(lambda a=arrays, s=spec: point_figures(before, a, s), args.repeat)
            table.append((metric_set, rows, t_now, t_old))
            print(f"  {metric_set:<12} {rows:>10,} now {t_now:6.2f} s"
                  + ("" if t_old is None else f"  before {t_old:6.2f} s"), flush=True)
            del arrays
    print("\n| metric set | rows | now (s) | before (s) | before / now | growth now |")
    print("|---|---|---|---|---|---|")
    for metric_set, rows, t_now, t_old in table:
        first = next(t for m, r, t, _ in table if m == metric_set and r == sizes[0])
        old = "" if t_old is None else f"{t_old:.2f} | {t_old / t_now:.1f}"
        print(f"| {metric_set} | {rows:,} | {t_now:.2f} | {old or '- | -'} | "
              f"{t_now / first:.1f}x |")


if __name__ == "__main__":
    main()
