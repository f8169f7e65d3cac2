"""Where a GPU run's time goes: train models in-process and report what the GPU did.

    python3 benchmarks/gpu_run.py --registry DIR --output DIR [--models mlp gru] [--epochs 3]
        [--precision bf16-mixed] [--cpu] [--json FILE] [OVERRIDE ...]

Each model is trained, evaluated and recorded by `ifns_train.run.train.train` with a config
composed as `python -m ifns_train trainer=gpu model=<m> ...` composes it, in this one process
(imports are paid once and timed from the start of the process). Per model it prints rows per
second (training rows x epochs / seconds of `fit`, validation included), the GPU's busy share
over the run (nvidia-smi or NVML samples every 200 ms), its peak allocated memory, and the
run's phases (`ifns_train.run.timing`). `--cpu` runs the same on the CPU (a dry run of this script).
Lines starting with `SUMMARY` are the figures, one per model.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()  # before the heavy imports: the imports phase starts here

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


class GpuSampler:
    """(time, utilisation %, memory used MiB) of GPU 0 every `period` seconds, in a thread:
    NVML (nvidia-ml-py) where it imports, else `nvidia-smi -lms`; no samples without either."""

    def __init__(self, period: float = 0.2) -> None:
        self.period, self.samples = period, []
        self._stop = threading.Event()
        self._proc: subprocess.Popen[str] | None = None
        self.source = "none"
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            self.source = "nvml"
            target = partial(self._nvml, pynvml, handle)
        except Exception:  # no NVML: nvidia-smi
            if shutil.which("nvidia-smi") is None:
                return
            self._proc = subprocess.Popen(
                ["nvidia-smi", "-i", "0", "--query-gpu=utilization.gpu,memory.used",
                 "--format=csv,noheader,nounits", "-lms", str(int(period * 1000))],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self.source = "nvidia-smi"
            target = self._smi
        threading.Thread(target=target, daemon=True).start()

    def _nvml(self, pynvml: Any, handle: Any) -> None:
        while not self._stop.wait(self.period):
            util = pynvml.nvmlDeviceGetUtilizationRates(handle)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            self.samples.append((time.perf_counter(), float(util.gpu), mem.used / 2**20))

    def _smi(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                util, mem = (float(v) for v in line.split(","))
            except ValueError:
                continue
            self.samples.append((time.perf_counter(), util, mem))

    def window(self, start: float, end: float) -> dict[str, Any]:
        """Mean utilisation and peak memory used over [start, end]."""
        picked = [s for s in list(self.samples) if start <= s[0] <= end]
        if not picked:
            return {"busy_pct": None, "smi_peak_mib": None, "samples": 0}
        return {"busy_pct": round(sum(s[1] for s in picked) / len(picked), 1),
                "smi_peak_mib": round(max(s[2] for s in picked)), "samples": len(picked)}

    def stop(self) -> None:
        self._stop.set()
        if self._proc is not None:
            self._proc.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--models", nargs="+", default=["mlp", "gru"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--precision", default="bf16-mixed")
    parser.add_argument("--cpu", action="store_true", help="trainer=cpu: a dry run")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("overrides", nargs="*", help="more config overrides, for every model")
    args = parser.parse_args()
    sampler = None if args.cpu else GpuSampler()

    import torch
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from ifns_train.config import CONF_DIR
    from ifns_train.run import timing
    from ifns_train.run.train import train

    imports = time.perf_counter() - T0
    timing.CLOCK.mark("imports")  # the run's record holds them, from the process's start
    cuda = torch.cuda.is_available() and not args.cpu
    print(f"torch {torch.__version__}, device "
          f"{torch.cuda.get_device_name(0) if cuda else 'cpu'}, imports {imports:.2f} s, "
          f"GPU samples from {sampler.source if sampler else 'none'}", flush=True)
    results = []
    for model in args.models:
        overrides = [f"paths.registry_dir={args.registry}",
                     f"paths.output_dir={args.output / model}",
                     "trainer=cpu" if args.cpu else "trainer=gpu", f"model={model}",
                     f"++trainer.precision={args.precision}", f"trainer.max_epochs={args.epochs}",
                     "print_config=false", *args.overrides]
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            cfg = compose("config", overrides=overrides)
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        summary = train(cfg)
        end = time.perf_counter()
        record = json.loads((Path(summary["artifact_dir"]) / "train_config.json").read_text())
        training = record["training"]
        phases = training["phase_seconds"]
        rows, epochs = training["train_rows_per_process"], training["epochs_run"]
        fit = phases.get("fit") or float("nan")
        result = {
            "model": model,
            "batch_size": training["batch_size"],
            "precision": training.get("precision"),
            "compile": training.get("compile"),
            "data_device": training.get("data_device"),
            "train_rows": rows,
            "epochs": epochs,
            "rows_per_s": round(rows * epochs / fit) if fit == fit else None,
            "run_s": round(end - start, 2),
            "peak_alloc_mib": round(torch.cuda.max_memory_allocated() / 2**20) if cuda else None,
            "phase_seconds": phases,
            **(sampler.window(start, end) if sampler else {}),
            "config": OmegaConf.to_container(cfg.model),
        }
        results.append(result)
        split = ", ".join(f"{k} {v:.2f}" for k, v in result["phase_seconds"].items())
        print(f"SUMMARY {model}: {result['rows_per_s']} rows/s ({rows} rows x {epochs} epochs "
              f"in {fit:.2f} s fit, batch {result['batch_size']}, {result['precision']}, "
              f"data on {result['data_device']}); GPU busy {result.get('busy_pct')}% of the "
              f"{result['run_s']:.1f} s run; peak allocated {result['peak_alloc_mib']} MiB "
              f"(nvidia-smi peak used {result.get('smi_peak_mib')} MiB); seconds: {split}",
              flush=True)
    if sampler is not None:
        sampler.stop()
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
