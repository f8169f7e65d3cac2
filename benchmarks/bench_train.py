"""What the framework costs: Lightning + index-sliced batches against a hand-written loop.

    python benchmarks/bench_train.py [--epochs 12] [--repeats 5] [--accelerator cpu] [--skip-cli]
        [--model mlp|gru|linear|tcn] [--precision bf16-mixed] [--registry DIR | --symbols N]
        [--batch-size N] [--skip-dataloader]

1. Training time of a dir_core model (default: the MLP; default demo panel and batch size)
   through `pl.Trainer` + `PanelDataModule`, against a plain PyTorch loop over the same
   tensors, model, batch size and epochs, and against a per-sample `DataLoader(TensorDataset)`
   feeding the same plain loop (lookback 1 only). On a GPU both the framework and the plain
   loop keep the training split on the device and gather batches there. Steady state is the
   median time from the start of one epoch to the start of the next, after the first: it
   holds everything done per epoch (the steps, every hook, end-of-epoch logging, the next
   epoch's shuffle) and nothing done once (set-up, warm-up). Each way is warmed up once,
   then timed `--repeats` times in turn, and medians are compared, so the ratios hold on a
   busy machine as long as the load is even.
2. The wall time of the default `python -m ifns_train` run against the time it takes only to
   import its libraries, with the run's own phases (`training.phase_seconds`, from its summary).
Nothing here asserts a time; it prints ratios measured in one run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from itertools import pairwise
from pathlib import Path

import lightning.pytorch as pl
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, TensorDataset

from ifns_train.config import CONF_DIR
from ifns_train.data.demo import write_demo
from ifns_train.data.module import PanelDataModule, lookback_windows
from ifns_train.families.dir_core import DirCoreModule
from ifns_train.learners.lightning_build import batch_size_for, build_module
from ifns_train.run.build import resolve_data, vocabulary

BATCH = 0  # set from the default config (or --batch-size) in main()
PRECISION = "32-true"  # --precision


def default_config(model: str = "mlp") -> dict:
    """The default experiment's config with `model=<model>`, as `python -m ifns_train`
    composes it."""
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["paths.output_dir=unused", f"model={model}"])
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)


def build(registry: Path, config: dict):
    """The default run's data and a builder of its module, wired as a run wires them."""
    data = resolve_data(registry, config, DirCoreModule)
    vocab = vocabulary(data, DirCoreModule)
    return data, partial(build_module, config, DirCoreModule, data, vocab)


def new_model(data, make) -> DirCoreModule:
    torch.manual_seed(0)
    return make()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class EpochStarts(pl.Callback):
    """Wall time at the start of each training epoch."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.times = device, []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        _sync(self.device)
        self.times.append(time.perf_counter())


def steady(starts: list[float]) -> float:
    """Median epoch period after the first epoch."""
    return statistics.median(b - a for a, b in pairwise(starts[1:]))


def framework(data, make, epochs: int, device: torch.device) -> tuple[float, float]:
    """(whole fit in seconds, steady-state epoch period), without validation or checkpoints."""
    model = new_model(data, make)
    dm = PanelDataModule(data, batch_size=BATCH, seed=0)
    timer = EpochStarts(device)
    trainer = pl.Trainer(
        accelerator=device.type.replace("cuda", "gpu"), devices=1, max_epochs=epochs,
        logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0,
        deterministic=True, callbacks=[timer], precision=PRECISION,
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    _sync(device)
    return time.perf_counter() - start, steady(timer.times)


def plain(data, make, epochs: int, device: torch.device,
          per_sample: bool = False) -> tuple[float, float]:
    """The same training as a hand-written loop: shuffle, slice (on the device), step."""
    model = new_model(data, make).to(device)
    opt = model.configure_optimizers()
    train, lookback = data.splits["train"], data.lookback
    table = torch.from_numpy(train.table.features)
    rows: torch.Tensor | None = torch.from_numpy(train.rows)
    if per_sample:  # host tensors, one sample at a time
        x, y = table[rows], torch.from_numpy(train.label.copy())
    else:  # the split on the device: a batch is a gather there
        table, rows = table.to(device), rows.to(device)
        y = torch.from_numpy(train.label.copy()).to(device)
        # lookback 1: the split's rows copied out; else window i ends at row i + lookback - 1
        x = table[rows] if lookback == 1 else lookback_windows(table, lookback)
        rows = None if lookback == 1 else rows - (lookback - 1)
    gen = torch.Generator().manual_seed(0)
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True, generator=gen) \
        if per_sample else None
    autocast = partial(torch.autocast, device.type, dtype=torch.bfloat16,
                       enabled=PRECISION == "bf16-mixed")
    model.train()
    starts = []
    start = time.perf_counter()
    for _ in range(epochs):
        _sync(device)
        starts.append(time.perf_counter())
        if loader is not None:
            batches = iter(loader)
        else:
            order = torch.randperm(len(y), generator=gen).to(y.device)
            picks = (order[i:i + BATCH] for i in range(0, len(y), BATCH))
            batches = ((x[p if rows is None else rows[p]], y[p]) for p in picks)
        for xb, yb in batches:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            with autocast():
                loss = model.loss(model(xb), yb)
            loss.backward()
            opt.step()
    _sync(device)
    return time.perf_counter() - start, steady(starts)


def timed_command(cmd: list[str], cwd: Path) -> tuple[float, str]:
    """(wall seconds, what it printed)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, proc.stdout + proc.stderr


def main() -> None:
    global BATCH, PRECISION
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=0,
                        help="default: the batch the default run uses (model.batch_size, capped "
                        "so that an epoch has model.min_steps_per_epoch steps)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--accelerator", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--model", choices=["mlp", "gru", "linear", "tcn"], default="mlp")
    parser.add_argument("--precision", choices=["32-true", "bf16-mixed"], default="32-true")
    parser.add_argument("--registry", type=Path, default=None,
                        help="a registry already holding the demo dataset (else one is written)")
    parser.add_argument("--symbols", type=int, default=48, help="demo symbols when written")
    parser.add_argument("--skip-dataloader", action="store_true",
                        help="leave out the per-sample DataLoader (slow on a large panel)")
    args = parser.parse_args()
    PRECISION = args.precision
    if args.epochs < 4:
        parser.error("--epochs must be at least 4: the first epoch is not steady")
    device = torch.device("cuda" if args.accelerator == "gpu" else "cpu")
    config = default_config(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        registry = args.registry or Path(tmp) / "registry"
        if args.registry is None:
            write_demo(registry, n_symbols=args.symbols)
        data, make = build(registry, config)
        BATCH = args.batch_size or batch_size_for(
            len(data.splits["train"].rows), config["model"]["batch_size"],
            config["model"]["min_steps_per_epoch"])
        print(f"torch {torch.__version__}, {args.accelerator}, threads {torch.get_num_threads()}, "
              f"model {args.model}, precision {PRECISION}, "
              f"train rows {len(data.splits['train'].rows)}, batch {BATCH}, "
              f"epochs {args.epochs}, {args.repeats} repeats")
        runs = {
            "lightning + index batches": partial(framework, data, make,
                                                 device=device),
            "plain loop + index batches": partial(plain, data, make, device=device),
        }
        if not args.skip_dataloader and data.lookback == 1:
            runs["plain loop + DataLoader(TensorDataset)"] = partial(
                plain, data, make, device=device, per_sample=True)
        for fn in runs.values():  # warm-up
            fn(4)
        whole: dict[str, list[float]] = {name: [] for name in runs}
        epoch: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, fn in runs.items():
                total, period = fn(args.epochs)
                whole[name].append(total)
                epoch[name].append(period)
        base = "plain loop + index batches"
        b_whole, b_epoch = statistics.median(whole[base]), statistics.median(epoch[base])
        print(f"{'':42s} {'whole fit':>10s} {'ratio':>6s} {'per epoch (steady)':>19s} "
              f"{'ratio':>6s}")
        for name in runs:
            w, e = statistics.median(whole[name]), statistics.median(epoch[name])
            print(f"{name:42s} {w:9.3f}s {w / b_whole:6.3f} {e * 1e3:16.2f} ms "
                  f"{e / b_epoch:6.3f}")
        spread = sorted(f"{f / p:.3f}" for f, p in zip(
            epoch["lightning + index batches"], epoch[base], strict=True))
        print(f"steady-state ratio of each repeat: {', '.join(spread)}")
        f_epoch = statistics.median(epoch["lightning + index batches"])
        steps = -(-len(data.splits["train"].rows) // BATCH)
        print(f"SUMMARY framework vs plain loop, {args.model} on {args.accelerator} "
              f"({PRECISION}, batch {BATCH}, {steps} steps/epoch): steady epoch "
              f"{f_epoch * 1e3:.1f} vs {b_epoch * 1e3:.1f} ms, ratio {f_epoch / b_epoch:.3f} "
              f"(plain step {b_epoch / steps * 1e3:.2f} ms)")

        if not args.skip_cli:
            imports = "import torch, lightning, hydra, omegaconf, torchmetrics, pandas, pyarrow"
            t_import, _ = timed_command([sys.executable, "-c", imports], Path(tmp))
            cli_registry = Path(tmp) / "cli_registry"
            cli = [sys.executable, "-m", "ifns_train", f"paths.registry_dir={cli_registry}"]
            if args.accelerator == "gpu":
                cli.append("trainer=gpu")
            t_first, _ = timed_command(cli, Path(tmp))
            t_run, printed = timed_command(cli, Path(tmp))
            # The run's own phases (its record's training.phase_seconds), as its summary says.
            phases = next((line.split(" - time: ", 1)[1] for line in printed.splitlines()
                           if " - time: " in line), "(no time line)")
            print(f"library import time                        {t_import:7.3f} s")
            print(f"default run, first (generates demo data)   {t_first:7.3f} s")
            print(f"default run, demo data present             {t_run:7.3f} s   "
                  f"({t_run - t_import:.3f} s beyond imports)")
            print(f"  its phases: {phases}")


if __name__ == "__main__":
    main()
