"""How long a run takes to start: from the command to its first training step.

    python benchmarks/bench_startup.py [--repeats 3] [--workdir DIR]

Each figure is the median wall time of `--repeats` fresh processes, set against the floor any
run pays, importing torch and lightning:

1. ``python -c "import torch, lightning"``
2. ``python -c "import ifns_train.run.train"``, each until the import is done (no teardown)
3. ``python -m ifns_train ...`` (the CLI on a small demo registry made beforehand, one CPU
   device) until Lightning's first ``on_train_batch_start``: a callback of this module prints
   the time then and ends the process, so the run's rest (training, evaluation) is not timed.

Nothing here asserts a time; run it on the machine whose start-up matters (a GPU machine loads
more CUDA libraries), and compare with ``python -X importtime -c "import ifns_train.run.train"``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MARK = "IFNS_FIRST_TRAINING_STEP"


def first_step_callback() -> Any:
    """A Lightning callback (for `+callbacks.first_step._target_`) that prints the wall-clock
    time at the first training batch and ends the process; built on call, so that importing
    this module costs nothing in the timed run."""
    import lightning.pytorch as pl

    class FirstStep(pl.Callback):
        def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                 batch: Any, batch_idx: int) -> None:
            print(f"{MARK} {time.time():.6f}", flush=True)
            os._exit(0)  # the rest of the run is not start-up

    return FirstStep()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds from starting `cmd` to its exit, or to its first-step mark when it prints
    one, and the CPU seconds it used (less sensitive to other load on the machine)."""
    start, cpu = time.time(), cpu_seconds()
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    end, cpu = time.time(), cpu_seconds() - cpu
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed:\n{done.stderr[-3000:]}")
    for line in done.stdout.splitlines():
        if line.startswith(MARK):
            return float(line.split()[1]) - start, cpu
    return end - start, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the demo registry and run folders here (default: temporary)")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as tmp:
        work = args.workdir or Path(tmp)
        template = work / "registry_template"
        if not template.exists():
            subprocess.run([sys.executable, "-c",
                            "import sys; from ifns_train.data.demo import write_demo; "
                            "write_demo(sys.argv[1], n_symbols=8, n_years=3.0)", str(template)],
                           cwd=REPO, env=env, check=True)

        def cli() -> list[str]:
            registry = work / "registry"
            shutil.rmtree(registry, ignore_errors=True)  # a fresh copy: not timed
            shutil.copytree(template, registry)
            return [sys.executable, "-m", "ifns_train", f"paths.registry_dir={registry}",
                    f"hydra.run.dir={work / 'run'}", "trainer=cpu", "callbacks=none",
                    "+callbacks.first_step._target_=benchmarks.bench_startup."
                    "first_step_callback", "print_config=false"]

        def imports(modules: str) -> list[str]:
            # Marked and ended like the run, so that no case pays the interpreter's teardown.
            return [sys.executable, "-c", f"import {modules}; import os, time; "
                    f"print('{MARK}', time.time(), flush=True); os._exit(0)"]

        cases = {
            "import torch + lightning": lambda: imports("torch, lightning"),
            "import ifns_train.run.train": lambda: imports("ifns_train.run.train"),
            "command to first training step": cli,
        }
        timed(cases["import torch + lightning"](), env)  # warm the file cache
        results = {}
        for name, make in cases.items():
            runs = [timed(make(), env) for _ in range(args.repeats)]
            results[name] = tuple(statistics.median(r[i] for r in runs) for i in (0, 1))
    floor = results["import torch + lightning"]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; median of "
          f"{args.repeats} fresh processes (CPU: user + system)")
    print(f"{'':32} {'wall s':>7} {'ratio':>6} {'CPU s':>7} {'ratio':>6}")
    for name, (wall, cpu) in results.items():
        print(f"{name:32} {wall:7.2f} {wall / floor[0]:6.2f} {cpu:7.2f} {cpu / floor[1]:6.2f}")


if __name__ == "__main__":
    main()
