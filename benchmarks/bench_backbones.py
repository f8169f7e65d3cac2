"""Trees beside nets: every family with every backbone, on the same purged rows.

    python benchmarks/bench_backbones.py [--families dir_core,...] [--backbones linear,...]
        [--big-symbols 400] [--big-epochs 5] [--skip-big] [--registry DIR]

For each dataset (the demo panel, 48 symbols x 10 years, about 121,000 rows; and a demo of
`--big-symbols` symbols x 10 years, about a million rows at 400), each family and each
backbone (`model=linear|mlp|gru|lightgbm`), one run of `python -m ifns_train` in this process
(`run.train.train`, no logger; the nets with the default callbacks: early stopping and the
best checkpoint), then:

- fit: the wall time of the fit alone, as the run records it (`resources.train_seconds`):
  Lightning's `fit` for a net; LightGBM's `train` with early stopping for the tree;
- rows/s: the registered model loaded as `ifns-predict` loads it, scoring the dataset's test
  window (the scoring loop's time, best of 3, as `bench_predict.py`);
- the test split's primary metric with its 95% bootstrap interval, as recorded.

The nets train with each option's settings and early stopping on the validation loss, at most
`trainer.max_epochs` epochs (the config's 30 on the demo; `--big-epochs` on the big demo, so that
the GRU's runs end within minutes on a laptop: said beside the table). LightGBM: the option's
parameters (`conf/model/lightgbm.yaml`), at most `num_boost_round` rounds with early stopping.
Nothing here asserts a time; it prints one table, in the README's layout.
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
    overrides = [f"paths.registry_dir={registry}", f"paths.output_dir={work / 'out'}",
                 f"family={family}", f"model={backbone}", f"dataset.id={dataset}",
                 "logger=none", "print_config=false", f"experiment_name=bench_{backbone}"]
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
    parser.add_argument("--big-epochs", type=int, default=5)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--registry", type=Path, default=None,
                        help="a registry folder to keep (default: a temporary one)")
    args = parser.parse_args()
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
                              None if backbone == "lightgbm" else epochs)
                rows.append(row)
                print(f"  {dataset} {family} {backbone}: fit {row['fit_s']:.1f}s "
                      f"(run {time.perf_counter() - began:.0f}s)", flush=True)
    (work / "bench_backbones.json").write_text(json.dumps(rows, indent=1))
    print("\n| data (train rows) | family | backbone | fit s | predict rows/s | test primary "
          "metric (95% interval) | best baseline |")
    print("|---|---|---|---:|---:|---|---|")
    for r in rows:
        print(f"| {'demo' if r['dataset'] == DEMO else 'big demo'} ({r['train_rows']:,}) | "
              f"{r['family']} | {r['backbone']} | {r['fit_s']:.1f} | {r['rows_per_s']:,.0f} | "
              f"{r['metric']} {r['value']:.4f} ({_num(r['low'])} to {_num(r['high'])}) | "
              f"{r['baseline']} {r['baseline_value']:.4f} |")
    print(f"\nrows as JSON: {work / 'bench_backbones.json'}")


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    main()
