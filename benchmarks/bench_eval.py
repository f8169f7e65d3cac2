"""What evaluating a split costs: `split_report` against two other ways of slicing the same figures,
and `evaluate_split` with its bootstrap intervals against today's evaluator.

    python benchmarks/bench_eval.py [--rows 5000000] [--before-rows 500000]
                                    [--sets directional,return,risk,cost] [--before auto|REV|none]
                                    [--intervals-rows 1000000,5000000]
                                    [--intervals-sets directional] [--intervals-before REV|none]
                                    [--intervals-before-max-rows N] [--repeat N]
                                    [--skip-report] [--skip-intervals]

For each metric set, on synthetic predictions of realistic shape (dates x symbols, a model and
the family's two usual baselines, labels correlated with the predictions, and the four context
columns as object arrays of shared str, as the data module hands them over: regime_tag 4
values by date, structure_state 4 by row, vol_band 3 by row, symbol_cluster 6 by symbol), it
times in one run:

* ``grouped``: `split_report` (each column encoded once, every slice from grouped sums);
* ``pandas``: the same per-slice figures with ``DataFrame.groupby(column).apply``, calling the
  set's metric function on each slice of each column for each predictor;
* ``before``: the previous `split_report`, read from git (``auto``: the parent of the commit
  that added ``ifns_train/evaluation/grouped.py``, or HEAD while that file is uncommitted) and
  loaded from a temporary folder at run time. It turns each row's slice value into a key in
  Python and takes minutes at 5 million rows, so it runs on ``--before-rows`` rows, and the
  grouped evaluator is timed again at that size for its ratio.

Then `split_report` on one split of the demo's size (23,232 rows) and of 385,000 rows, before
and after (directional set, best of 3). Ratios are to ``grouped`` at the same size; nothing
here asserts a time. The machine is shared: run it twice and report both.

Intervals: `evaluate_split` as a run calls it on its test split, with the
bootstrap intervals (the composed config's `evaluation.bootstrap`: 1,000 stationary-bootstrap
replicates), the four slice columns, the model and the set's two baselines, at each of
``--intervals-rows``, and without intervals for the intervals' share; once with this tree's
evaluator and once with ``--intervals-before``'s (default: the one before the score grid, the
parent of the commit that added ``evaluation/weighted_auc.py``; `git archive` into a temporary
folder), each in a fresh process (``IFNS_BENCH_CODE`` names the
tree it imports) after a small warm-up (imports, arch), timed inside it. A markdown table:
rows, seconds before and now, their ratio, and the growth from the smallest to the largest
size. ``--intervals-before-max-rows`` skips the old evaluator above that size (~30 s at 5M).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
# The ifns_train measured: this tree, or an older one unpacked by the intervals' comparison.
CODE = Path(os.environ.get("IFNS_BENCH_CODE", REPO))
sys.path.insert(0, str(CODE))

from ifns_train.evaluation.report import METRIC_SETS, split_report  # noqa: E402


def run_settings() -> dict[str, Any]:
    """`split_report`'s settings as the default run passes them, from the composed config
    (their one place): evaluation.min_slice_rows, evaluation.calibration_bins, the label's
    horizon."""
    from hydra import compose, initialize_config_dir

    from ifns_train.config import CONF_DIR

    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["paths.output_dir=unused"])
    return {"min_rows": cfg.evaluation.min_slice_rows, "n_bins": cfg.evaluation.calibration_bins,
            "horizon_days": cfg.labels.horizon_days}


SETTINGS = run_settings()

OLD_FILES = ("__init__", "classification", "compare", "cost", "gating", "regression", "report",
             "risk", "slices")
SYMBOLS = 2000


def context(n_dates: int, n_symbols: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The four context columns, long format (date-major), as object arrays of shared str."""
    def names(values: list[str], codes: np.ndarray) -> np.ndarray:
        return np.array(values, dtype=object)[codes]

    regime = np.zeros(n_dates, dtype=np.int64)  # a persistent Markov regime per date
    for t in range(1, n_dates):
        regime[t] = regime[t - 1] if rng.random() < 0.98 else rng.integers(4)
    n = n_dates * n_symbols
    return {
        "regime_tag": names(["bear_calm", "bear_volatile", "bull_calm", "bull_volatile"],
                            np.repeat(regime, n_symbols)),
        "structure_state": names(["breakout", "downtrend", "range", "uptrend"],
                                 rng.choice(4, n, p=[0.1, 0.3, 0.3, 0.3])),
        "vol_band": names(["high", "low", "mid"], rng.integers(0, 3, n)),
        "symbol_cluster": names([f"C{k}" for k in range(6)],
                                np.tile(rng.integers(0, 6, n_symbols), n_dates)),
    }


def inputs(metric_set: str, rows: int, seed: int = 0) -> dict[str, Any]:
    """`split_report` keyword arguments: ``rows`` predictions over dates x SYMBOLS."""
    rng = np.random.default_rng(seed)
    n_symbols = min(SYMBOLS, rows)
    n_dates = -(-rows // n_symbols)
    n = n_dates * n_symbols
    dates = np.repeat(np.datetime64("2014-01-02") + np.arange(n_dates), n_symbols)
    signal = rng.normal(size=n)  # what the model partly sees
    past = 0.3 * signal + rng.normal(size=n)  # a trailing figure the baselines use
    noise = rng.normal(size=n)
    if metric_set == "directional":
        y = (0.25 * signal + noise > 0).astype(np.float64)
        up = past > 0
        model = {"prob": 1.0 / (1.0 + np.exp(-0.4 * signal - 0.05 * rng.normal(size=n)))}
        baselines = {
            "class_prior": {"prob": np.full(n, 0.52), "pred": np.ones(n)},
            "momentum_sign": {"prob": np.where(up, 0.55, 0.48), "pred": up.astype(np.float64)},
        }
    elif metric_set == "return":
        y = 0.02 * (0.15 * signal + noise)
        model = {"pred": 0.003 * signal + 0.001 * rng.normal(size=n)}
        baselines = {"zero": {"pred": np.zeros(n)}, "trailing_mean": {"pred": 0.002 * past}}
    elif metric_set == "risk":
        vol = 0.25 * np.exp(0.3 * signal)
        y = vol * np.exp(0.3 * noise)
        baselines = {"trailing_20d": {"pred": vol * np.exp(0.25 * rng.normal(size=n))},
                     "ewma": {"pred": vol * np.exp(0.2 * rng.normal(size=n))}}
        model = {"pred": vol * np.exp(0.15 * rng.normal(size=n))}
    elif metric_set == "cost":
        level = np.exp(2.5 + 0.6 * signal)
        y = np.round(level * np.exp(0.6 * noise), 2)
        baselines = {"training_median": {"pred": np.full(n, float(np.median(y)))},
                     "trailing_median": {"pred": np.round(level * np.exp(0.4 * past), 1)}}
        model = {"pred": level * np.exp(0.2 * rng.normal(size=n))}
    else:
        raise ValueError(metric_set)
    cut = slice(0, rows)
    return {
        "y": y[cut],
        "model": {k: v[cut] for k, v in model.items()},
        "baselines": {b: {k: v[cut] for k, v in p.items()} for b, p in baselines.items()},
        "context": {k: v[cut] for k, v in context(n_dates, n_symbols, rng).items()},
        "inputs": {"dates": dates[cut]},
        **SETTINGS,
    }


def pandas_slices(metric_set: str, kw: dict[str, Any]) -> dict[str, Any]:
    """The same per-slice figures with groupby().apply: the set's metric function per slice."""
    ms = METRIC_SETS[metric_set]
    fn = partial(ms.fn, **{k: kw[k] for k in ms.options})
    shared = {"y": kw["y"], **{k: kw["inputs"][k] for k in ms.inputs}}
    predictors = {"model": kw["model"], **kw["baselines"]}
    out: dict[str, Any] = {}
    for name, preds in predictors.items():
        arrays = {**shared, **preds}
        frame = pd.DataFrame({**arrays, **kw["context"]})
        out[name] = {"overall": fn(**arrays)}
        for column in kw["context"]:
            grouped = frame.groupby(column, sort=True, dropna=False)[list(arrays)]
            out[name][column] = grouped.apply(
                lambda g, a=list(arrays): fn(**{k: g[k].to_numpy() for k in a})).to_dict()
    return out


def load_before(rev: str) -> Callable[..., dict[str, Any]]:
    """The previous `split_report`, loaded from git at ``rev`` into a temporary package."""
    name = "ifns_eval_before"
    folder = Path(tempfile.mkdtemp()) / name
    folder.mkdir()
    for f in OLD_FILES:
        source = subprocess.run(
            ["git", "-C", str(REPO), "show", f"{rev}:ifns_train/evaluation/{f}.py"],
            capture_output=True, text=True, check=True).stdout
        (folder / f"{f}.py").write_text(source.replace("ifns_train.evaluation", name))
    sys.path.insert(0, str(folder.parent))
    return importlib.import_module(f"{name}.report").split_report


def before_revision(choice: str, added_file: str = "grouped.py") -> str | None:
    """``auto``: the parent of the commit that added ``ifns_train/evaluation/<added_file>``
    (HEAD while that file is uncommitted)."""
    if choice == "none":
        return None
    if choice != "auto":
        return choice
    added = subprocess.run(
        ["git", "-C", str(REPO), "log", "-1", "--format=%H", "--diff-filter=A", "--",
         f"ifns_train/evaluation/{added_file}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return f"{added}^" if added else "HEAD"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def split_arrays(metric_set: str, rows: int) -> tuple[Any, Any]:
    """(PredictionArrays, EvaluationSpec) of one test split as a run evaluates it: `inputs`
    with symbols, the directional model's class call and a realised return for the proxies,
    the settings and bootstrap of the composed config."""
    from hydra import compose, initialize_config_dir

    from ifns_train.config import CONF_DIR
    from ifns_train.evaluation.predictions import PredictionArrays
    from ifns_train.evaluation.standard import EvaluationSpec

    kw = inputs(metric_set, rows)
    n_symbols = min(SYMBOLS, rows)
    names = np.array([f"S{i:04d}" for i in range(n_symbols)], dtype=object)
    symbols = np.tile(names, -(-rows // n_symbols))[:rows]
    model = dict(kw["model"])
    extra: dict[str, np.ndarray] = {}
    if metric_set == "directional":
        model["pred"] = (model["prob"] > 0.5).astype(np.float64)
        rng = np.random.default_rng(11)
        extra["realised_return"] = np.where(kw["y"] == 1, 1.0, -1.0) * np.abs(
            rng.normal(0.0, 0.02, rows))
    arrays = PredictionArrays(dates=kw["inputs"]["dates"], symbols=symbols, y=kw["y"],
                              model=model, baselines=kw["baselines"], inputs=extra,
                              context=kw["context"])
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["paths.output_dir=unused"])
    ev = cfg.evaluation
    spec = EvaluationSpec(
        metric_set=metric_set, baselines=tuple(kw["baselines"]), slice_by=tuple(kw["context"]),
        min_rows=kw["min_rows"], n_bins=kw["n_bins"], horizon_days=kw["horizon_days"],
        gate_threshold=None, bootstrap=dict(ev.bootstrap), cost_bps=float(ev.cost_bps),
        proxy_band=float(ev.proxy_band))
    return arrays, spec


def interval_child(metric_set: str, rows: int, repeat: int) -> None:
    """In a fresh process: `evaluate_split` with and without intervals; JSON on stdout."""
    from ifns_train.evaluation.standard import evaluate_split

    warm, spec = split_arrays(metric_set, 20_000)
    evaluate_split(warm, spec)  # imports (arch, scipy) and first calls out of the way
    arrays, spec = split_arrays(metric_set, rows)
    out: dict[str, float] = {}
    for label, with_intervals in (("without", False), ("with", True)):
        out[label] = min(timed(lambda w=with_intervals: evaluate_split(arrays, spec, w))[0]
                         for _ in range(repeat))
    print(json.dumps(out))


def run_interval_child(code: Path, metric_set: str, rows: int, repeat: int) -> dict[str, float]:
    env = {**os.environ, "IFNS_BENCH_CODE": str(code)}
    done = subprocess.run(
        [sys.executable, __file__, "--interval-child", f"{metric_set}:{rows}:{repeat}"],
        env=env, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def unpack(rev: str) -> Path:
    """The package at git revision ``rev``, unpacked into a temporary folder."""
    folder = Path(tempfile.mkdtemp())
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "ifns_train"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def intervals_bench(args: argparse.Namespace) -> None:
    """The intervals' comparison of the module docstring."""
    sizes = [int(r) for r in args.intervals_rows.split(",")]
    rev = before_revision(args.intervals_before, "weighted_auc.py")
    before = None if rev is None else unpack(rev)
    print(f"\nevaluate_split with intervals; before: {rev}", flush=True)
    results: list[tuple[str, int, dict[str, float], dict[str, float] | None]] = []
    for metric_set in args.intervals_sets.split(","):
        for rows in sizes:
            now = run_interval_child(REPO, metric_set, rows, args.repeat)
            old = None
            if before is not None and (not args.intervals_before_max_rows
                                       or rows <= args.intervals_before_max_rows):
                old = run_interval_child(before, metric_set, rows, args.repeat)
            results.append((metric_set, rows, now, old))
            print(f"  {metric_set:<12} {rows:>10,} rows: now {now['with']:.2f} s "
                  f"(without intervals {now['without']:.2f} s)"
                  + ("" if old is None else f", before {old['with']:.2f} s "
                     f"(without {old['without']:.2f} s)"), flush=True)

    def cell(value: float | None) -> str:
        return "" if value is None else f"{value:.2f}"

    print("\n| metric set | rows | before s | now s | before / now | now without intervals s "
          "| now: growth from the smallest size | before: growth |")
    print("|---|---|---|---|---|---|---|---|")
    for metric_set, rows, now, old in results:
        first = next(r for r in results if r[0] == metric_set)
        growth_now = now["with"] / first[2]["with"]
        growth_old = None if old is None or first[3] is None else old["with"] / first[3]["with"]
        old_s = None if old is None else old["with"]
        print(f"| {metric_set} | {rows:,} | {cell(old_s)} | {now['with']:.2f} | "
              f"{cell(None if old_s is None else old_s / now['with'])} | {now['without']:.2f} | "
              f"{growth_now:.1f}x | {cell(growth_old)}{'x' if growth_old else ''} |")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--interval-child":
        child_set, child_rows, child_repeat = sys.argv[2].split(":")
        interval_child(child_set, int(child_rows), int(child_repeat))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--before-rows", type=int, default=500_000)
    parser.add_argument("--sets", default="directional,return,risk,cost")
    parser.add_argument("--before", default="auto", help="auto, a git revision, or none")
    parser.add_argument("--no-pandas", action="store_true")
    parser.add_argument("--intervals-rows", default="1000000,5000000")
    parser.add_argument("--intervals-sets", default="directional")
    parser.add_argument("--intervals-before", default="auto",
                        help="the evaluator before (auto: the parent of the commit that added "
                             "evaluation/weighted_auc.py), a git revision, or none")
    parser.add_argument("--intervals-before-max-rows", type=int, default=0,
                        help="run the old evaluator only up to this many rows (0: always)")
    parser.add_argument("--repeat", type=int, default=1, help="best of N (intervals)")
    parser.add_argument("--skip-report", action="store_true", help="only the intervals")
    parser.add_argument("--skip-intervals", action="store_true", help="only split_report")
    args = parser.parse_args()
    if not args.skip_intervals:
        intervals_bench(args)
    if args.skip_report:
        return
    rev = before_revision(args.before)
    before = load_before(rev) if rev else None
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy "
          f"{np.__version__}, pandas {pd.__version__}; before: {rev or '(not run)'}")
    for metric_set in args.sets.split(","):  # first-call costs (imports, torch) out of the way
        split_report(metric_set, **inputs(metric_set, 5000))
    table: list[tuple[str, str, int, float, float]] = []

    def run(metric_set: str, label: str, rows: int, seconds: float, base: float) -> None:
        table.append((metric_set, label, rows, seconds, seconds / base))
        print(f"  {metric_set:<12} {label:<8} {rows:>10,} rows {seconds:>8.2f} s "
              f"ratio {seconds / base:>6.1f}", flush=True)

    for metric_set in args.sets.split(","):
        kw = inputs(metric_set, args.rows)
        t_new, _ = timed(lambda kw=kw, m=metric_set: split_report(m, **kw))
        run(metric_set, "grouped", args.rows, t_new, t_new)
        if not args.no_pandas:
            t_pd, _ = timed(lambda kw=kw, m=metric_set: pandas_slices(m, kw))
            run(metric_set, "pandas", args.rows, t_pd, t_new)
        del kw
        if before is not None:
            kw = inputs(metric_set, args.before_rows)
            t_small, _ = timed(lambda kw=kw, m=metric_set: split_report(m, **kw))
            run(metric_set, "grouped", args.before_rows, t_small, t_small)
            t_old, _ = timed(lambda kw=kw, m=metric_set: before(m, **kw))
            run(metric_set, "before", args.before_rows, t_old, t_small)
            del kw

    print("\nsplit_report, one split (directional set; the README's demo split and 385k rows):")
    for rows in (23_232, 385_000):
        kw = inputs("directional", rows)
        t_new = min(timed(lambda kw=kw: split_report("directional", **kw))[0] for _ in range(3))
        line = f"  {rows:>9,} rows: grouped {t_new:.3f} s"
        if before is not None:
            t_old = min(timed(lambda kw=kw: before("directional", **kw))[0] for _ in range(3))
            line += f", before {t_old:.3f} s ({t_old / t_new:.0f}x)"
        print(line, flush=True)

    print("\n| metric set | implementation | rows | seconds | ratio |")
    print("|---|---|---|---|---|")
    for metric_set, label, rows, seconds, ratio_ in table:
        print(f"| {metric_set} | {label} | {rows:,} | {seconds:.2f} | {ratio_:.1f} |")


if __name__ == "__main__":
    main()
