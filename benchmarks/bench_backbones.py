"""Trees beside nets: every family with every backbone, on the same purged rows.

    python benchmarks/bench_backbones.py [--families dir_core,...] [--backbones linear,...]
        [--big-symbols 400] [--big-epochs 5] [--skip-big] [--registry DIR]

For each dataset (the demo panel, 48 symbols x 10 years, about 121,000 rows; and a demo of
`--big-symbols` symbols x 10 years, about a million rows at 400), each family and each
backbone (`model=linear|mlp|gru|lightgbm`), one run of `python -m ifns_train` in this process
(`run.train.train`, no logger, no feature attribution, which is not part of the fit and would
dominate a sequence model's run at a million rows; the nets with the default callbacks: early
stopping and the best checkpoint), then:

- fit: the wall time of the fit alone, as the run records it (`resources.train_seconds`):
  Lightning's `fit` for a net; LightGBM's `train` with early stopping for the tree;
- rows/s: the registered model loaded as `ifns-predict` loads it, scoring the dataset's test
  window (the scoring loop's time, best of 3, as `bench_predict.py`);
- the test split's primary metric with its 95% bootstrap interval, as recorded.

The nets train with each option's settings and early stopping on the validation loss, at most
`trainer.max_epochs` epochs (the config's 30), but the GRU on the big demo: at most
`--big-epochs` (a GRU epoch over 700,000 windows of 20 rows takes minutes on 2 cores; said
beside the table). LightGBM: the option's
parameters (`conf/model/lightgbm.yaml`), at most `num_boost_round` rounds with early stopping.
Nothing here asserts a time; it prints one table, in the README's layout, and the rows as JSON
(`--table FILE.json` prints the table of a JSON file written before).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_dir

from ifns_train.config import CONF_DIR
from ifns_train.data.demo import write_demo
from ifns_train.learners.registered import load_registered
from ifns_train.registry import model_registry
from ifns_train.registry.database import Registry
from ifns_train.run.train import train
from ifns_train.signals.scoring import score

FAMILIES = ("dir_core", "ret_core", "risk_vol", "struct_aware", "exec_cost")
BACKBONES = ("linear", "mlp", "gru", "lightgbm")
DEMO = "DS_DEMO_CORE_V1"
BIG = "DS_BENCH_BACKBONES_V1"


def run_one(registry: Path, work: Path, dataset: str, family: str, backbone: str,
            max_epochs: int | None) -> dict[str, Any]:
    out = work / f"{dataset}_{family}_{backbone}"  # a run's own folder, as Hydra's
    overrides = [f"paths.registry_dir={registry}", f"paths.output_dir={out}",
                 f"family={family}", f"model={backbone}", f"dataset.id={dataset}",
                 "logger=none", "print_config=false", f"experiment_name=bench_{backbone}",
                 "evaluation.attribution.enabled=false"]
    if max_epochs is not None:
        overrides.append(f"trainer.max_epochs={max_epochs}")
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    summary = train(cfg)
    reg = Registry(registry, create=False)
    try:
        record = model_registry.get(reg, summary["model_id"])
        scorer = load_registered(reg, record.model_id)
        start = record.dataset_windows["test"][0]
        best = float("inf")
        for _ in range(3):
            timings: dict[str, float] = {}
            scored = score(reg, record, scorer, dataset, start=start, timings=timings)
            best = min(best, timings["scoring_s"])
        metrics = json.loads((registry / record.artifact_path / "metrics.json").read_text())
    finally:
        reg.close()
    test = metrics["splits"]["test"]
    primary = test["primary_metric"]
    interval = test["intervals"]["model"][primary]
    baseline = test["best_baseline"][primary]
    return {"dataset": dataset, "family": family, "backbone": backbone,
            "train_rows": record.resources["train_rows"],
            "fit_s": record.resources["train_seconds"],
            "rows_per_s": len(scored.dates) / best, "metric": primary,
            "value": interval["estimate"], "low": interval["low"], "high": interval["high"],
            "baseline": baseline, "baseline_value": test["baselines"][baseline][primary],
            "stopped_by": record.training.get("stopped_by")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--backbones", default=",".join(BACKBONES))
    parser.add_argument("--big-symbols", type=int, default=400)
    parser.add_argument("--big-epochs", type=int, default=3)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--registry", type=Path, default=None,
                        help="a registry folder to keep (default: a temporary one)")
    parser.add_argument("--table", type=Path, default=None,
                        help="print the table of an earlier run's JSON rows, run nothing")
    args = parser.parse_args()
    if args.table is not None:
        print_table(json.loads(args.table.read_text()))
        return
    work = Path(tempfile.mkdtemp(prefix="bench_backbones_"))
    registry = args.registry or work / "registry"
    datasets: list[tuple[str, int | None]] = [(DEMO, None)]
    if not args.skip_big:
        if not (registry / "datasets").exists() or BIG not in (registry / "datasets_index.json"
                                                              ).read_text(errors="ignore"):
            write_demo(registry, BIG, n_symbols=args.big_symbols)
        datasets.append((BIG, args.big_epochs))
    print(f"# backbones: {platform.platform()}, {platform.processor() or 'cpu'}, python "
          f"{platform.python_version()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)
    rows = []
    for dataset, epochs in datasets:
        for family in args.families.split(","):
            for backbone in args.backbones.split(","):
                began = time.perf_counter()
                row = run_one(registry, work, dataset, family, backbone,
                              epochs if backbone == "gru" else None)
                rows.append(row)
                print(f"  {dataset} {family} {backbone}: fit {row['fit_s']:.1f}s "
                      f"(run {time.perf_counter() - began:.0f}s)", flush=True)
    (work / "bench_backbones.json").write_text(json.dumps(rows, indent=1))
    print_table(rows)
    print(f"\nrows as JSON: {work / 'bench_backbones.json'}")


def print_table(rows: list[dict[str, Any]]) -> None:
    """One line per family and backbone, the demo's figures then the big demo's (the README's
    table); a family's first line names its primary metric and its best baseline on each."""
    by = {(r["family"], r["backbone"], r["dataset"]): r for r in rows}
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    names = ["demo" if d == DEMO else "1M" for d in datasets]
    print("\n| family (metric; best baseline: " + ", ".join(names) + ") | backbone | "
          + " | ".join(f"{n}: fit s | rows/s | test metric (95% interval)" for n in names)
          + " |")
    print("|---|---|" + "---:|---:|---|" * len(datasets))
    for family in dict.fromkeys(r["family"] for r in rows):
        for i, backbone in enumerate(dict.fromkeys(r["backbone"] for r in rows)):
            cells = [by[(family, backbone, d)] for d in datasets]
            first = cells[0]
            label = (f"{family} ({first['metric']}; " + ", ".join(
                f"{c['baseline']} {c['baseline_value']:.4f}" for c in cells) + ")") if i == 0 \
                else ""
            print(f"| {label} | {backbone} | " + " | ".join(
                f"{c['fit_s']:.1f} | {c['rows_per_s'] / 1e6:.2f}M | {c['value']:.4f} "
                f"({_num(c['low'])} to {_num(c['high'])})" for c in cells) + " |")


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    main()
