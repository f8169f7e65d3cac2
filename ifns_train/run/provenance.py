"""What makes a run reproducible: seeds, deterministic kernels, code and package versions."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from ifns_train.config.schema import LIGHTNING_LEARNER, SHUFFLE_BUFFER_MB

PACKAGES = ("ifns-train", "torch", "lightning", "hydra-core", "omegaconf", "torchmetrics",
            "numpy", "pandas", "pyarrow")
REPO_DIR = Path(__file__).resolve().parents[1]


def seed_everything(seed: int) -> None:
    """Seed every generator and refuse non-deterministic kernels."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    pl.seed_everything(seed, workers=True, verbose=False)
    torch.use_deterministic_algorithms(True)


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO_DIR, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def code_version() -> dict[str, Any]:
    """Git commit and dirty flag where the code runs from a checkout; versions of packages."""
    commit = _git("rev-parse", "HEAD")
    dirty = None
    if commit is not None:
        status = _git("status", "--porcelain", "--untracked-files=no")
        dirty = bool(status) if status is not None else None
    packages: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {"git_commit": commit, "git_dirty": dirty, "packages": packages}


def config_hash(config: dict[str, Any]) -> str:
    """Hash of the experiment definition: the config before interpolation, without the paths,
    registry and loggers, which say where a run writes, not what it computes."""
    stable = {k: v for k, v in config.items() if k not in ("paths", "registry", "logger")}
    blob = json.dumps(stable, sort_keys=True, default=str).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


# Top-level keys that say how a run is executed or labelled, not what it computes: left out of
# the config hash, so that a resumed run (`ckpt_path`) has the hash its interrupted run had.
RUN_ONLY_KEYS = ("ckpt_path", "print_config", "tags")
# Keys under `dataset` that say where resolved data is cached or held, not which data: not
# hashed either, so configs hash as they did before these keys existed, whatever their values.
RUN_ONLY_DATASET_KEYS = ("cache", "cache_dir", "cache_keep", "device_resident")
# Keys under `evaluation` that say how a run's pictures are kept, not what it computes.
RUN_ONLY_EVALUATION_KEYS = ("curves",)


def definition(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a config its hash covers: without the keys that say how a run is executed
    or labelled (`RUN_ONLY_KEYS`), and without `init_from` and `family.module` when unset,
    `model.compile` when off, `model.learner` when Lightning, `model.params` when empty and
    `dataset.shuffle_buffer_mb` at its default, nor `evaluation.curves`
    (`RUN_ONLY_EVALUATION_KEYS`), so that a config that does not use them
    hashes as it did before the keys existed."""
    out = {k: v for k, v in config.items() if k not in RUN_ONLY_KEYS}
    if out.get("init_from") is None:
        out.pop("init_from", None)
    if isinstance(out.get("family"), dict) and out["family"].get("module") is None:
        out["family"] = {k: v for k, v in out["family"].items() if k != "module"}
    if isinstance(out.get("model"), dict):
        out["model"] = {k: v for k, v in out["model"].items()
                        if (k, v) not in (("compile", False), ("learner", LIGHTNING_LEARNER))
                        and not (k == "params" and not v)}
    if isinstance(out.get("dataset"), dict):
        out["dataset"] = {k: v for k, v in out["dataset"].items()
                          if k not in RUN_ONLY_DATASET_KEYS
                          and (k, v) != ("shuffle_buffer_mb", SHUFFLE_BUFFER_MB)}
    if isinstance(out.get("evaluation"), dict):
        out["evaluation"] = {k: v for k, v in out["evaluation"].items()
                             if k not in RUN_ONLY_EVALUATION_KEYS}
    return out


def leaves(node: Any, path: str = "") -> dict[str, Any]:
    """A nested document's leaves by dotted path."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(leaves(value, f"{path}{key}."))
        return out
    return {path.rstrip("."): node}
