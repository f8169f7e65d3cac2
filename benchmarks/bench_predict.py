"""Prediction throughput of a registered model, on CPU: rows scored per second.

    python benchmarks/bench_predict.py [--symbols 400] [--years 10] [--batch 65536]

Two models are trained quickly on the small demo panel (an MLP, and a GRU with a lookback of 20
rows), registered, then score a demo dataset of `--symbols` x `--years` (about a million rows at
the defaults) through `ifns_train.signals.scoring.score`, the code `ifns-predict` runs. Reported
per model: the whole call (read the Parquet table, verify its column fingerprints, check the
contract and the feature columns, build the windows, score) and the scoring loop alone (the
forward passes in batches without gradients), best of `--repeat`.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from ifns_train.data.demo import write_demo  # noqa: E402
from ifns_train.registry import model_registry  # noqa: E402
from ifns_train.registry.database import Registry  # noqa: E402
from ifns_train.signals.scoring import score, usable_model  # noqa: E402

MODELS = {"mlp": [], "gru": ["model=gru", "model.lookback=20"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, default=400)
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=65536)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_predict_"))
    registry = work / "registry"
    for name, overrides in MODELS.items():
        subprocess.run([sys.executable, "-m", "ifns_train", f"paths.registry_dir={registry}",
                        "trainer.max_epochs=1", "callbacks=none", "logger=none",
                        f"experiment_name=bench_{name}", f"hydra.run.dir={work / name}",
                        *overrides], cwd=work, check=True, capture_output=True)
    write_demo(registry, "DS_BENCH_PREDICT_V1", n_symbols=args.symbols, n_years=args.years)
    reg = Registry(registry, create=False)
    print(f"# prediction throughput: {platform.platform()}, python "
          f"{platform.python_version()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'model':6s} {'rows':>10s} {'whole call':>11s} {'rows/s':>11s} {'scoring':>9s} "
          f"{'rows/s':>11s}")
    for row in sorted(model_registry.search(reg, limit=None),
                      key=lambda r: r["record"].experiment_id):
        record, scorer = usable_model(reg, row["model_id"], "offline")
        name = "gru" if scorer.lookback > 1 else "mlp"
        whole, loop = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            scored = score(reg, record, scorer, "DS_BENCH_PREDICT_V1", batch_size=args.batch,
                           timings=(timings := {}))
            whole.append(time.perf_counter() - start)
            loop.append(timings["scoring_s"])
        n = len(scored.dates)
        print(f"{name:6s} {n:10,d} {min(whole):10.2f}s {n / min(whole):11,.0f} "
              f"{min(loop):8.2f}s {n / min(loop):11,.0f}")


if __name__ == "__main__":
    main()
