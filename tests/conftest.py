"""Shared fixtures: a small demo registry and configs composed the way the CLI composes them."""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from ifns_train.config import CONF_DIR
from ifns_train.data.demo import write_demo
from tests.inprocess import run_in_process

pytest_plugins = ["tests.pg", "tests.browser"]  # a real PostgreSQL server, a real Chromium

REPO = Path(__file__).resolve().parents[1]
SMALL = {"n_symbols": 8, "n_years": 3.0}
# Quick but real training: two epochs over the whole small panel. The feature attribution (a
# scoring pass and an interval per feature, on every run) only where a test is about it, with
# `ATTRIBUTION` after these.
FAST = ["trainer.max_epochs=2", "model.batch_size=256", "evaluation.attribution.enabled=false"]
ATTRIBUTION = "evaluation.attribution.enabled=true"


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`-n N`) each worker trains with one torch thread, and so do the
    processes it starts: N workers on N cores, not N x cores threads fighting for them."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = "1"
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the slow tests first (in their order): the workers take the long ones
    while there is still short work to even out their ends. A run without -n keeps the order."""
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def small_registry_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("registry_template")
    write_demo(root, **SMALL)
    write_demo(root, dataset_id="DS_OTHER_V1", seed=7, **SMALL)
    return root


@pytest.fixture
def registry(small_registry_template: Path, tmp_path: Path) -> Path:
    """A fresh registry per test holding the small demo panel and DS_OTHER_V1."""
    root = tmp_path / "registry"
    shutil.copytree(small_registry_template, root)
    return root


@pytest.fixture
def make_cfg(registry: Path, tmp_path: Path) -> Callable[..., DictConfig]:
    runs = iter(range(1_000))

    def _make(*overrides: str) -> DictConfig:
        return _compose(registry, tmp_path / f"run{next(runs)}", *overrides)

    return _make


def _compose(registry: Path, output_dir: Path, *overrides: str) -> DictConfig:
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=[f"paths.registry_dir={registry}",
                                            f"paths.output_dir={output_dir}",
                                            "callbacks=none", *FAST, *overrides])


def _settled(root: Path) -> None:
    """The SQLite database in one file (its write-ahead log folded in), fit to be copied."""
    db = root / "registry.db"
    if db.exists():
        with closing(sqlite3.connect(db)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _moved(value: Any, old: str, new: str) -> Any:
    """`value` with every path under the folder `old` moved under `new`."""
    if isinstance(value, str):
        return new + value[len(old):] if value == old or value.startswith(old + os.sep) else value
    if isinstance(value, dict):
        return {k: _moved(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_moved(v, old, new) for v in value]
    return value


def _once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], Any]
          ) -> Any:
    """`make(folder)` once a test session, its result kept (pickled) beside what it made in
    `folder`. Under pytest-xdist, once for all the workers: the first to ask makes it under a
    file lock in the session's shared temp folder; the others wait for it and read it. Nothing
    may change what is in `folder`: a test copies what it changes."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, done = shared / f"once-{name}", shared / f"once-{name}.pickle"
    with FileLock(str(shared / f"once-{name}.lock")):
        if not done.is_file():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed attempt left
            folder.mkdir()
            result = make(folder)
            done.write_bytes(pickle.dumps(result))
    return pickle.loads(done.read_bytes())


@pytest.fixture
def trained(registry: Path, small_registry_template: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Callable[..., dict[str, Any]]:
    """`trained(*overrides)`: what `train(make_cfg(*overrides))` returns, as the first thing a
    test does with its registry, without training again: the run is made once a session (see
    `_once`) into a template registry, and the template copied into this test's registry (the
    summary's paths under the template moved to this registry). The record's own config still
    names the template's folders; a test that reads those paths must train itself."""

    def make(overrides: tuple[str, ...], work: Path) -> tuple[Path, dict[str, Any]]:
        from ifns_train.run.train import train

        root = work / "registry"
        shutil.copytree(small_registry_template, root)
        summary = train(_compose(root, work / "run0", *overrides))
        _settled(root)
        return root, summary

    def _trained(*overrides: str) -> dict[str, Any]:
        assert not (registry / "registry.db").exists(), \
            "trained() must come before anything else opens this test's registry"
        key = hashlib.sha256(repr(overrides).encode()).hexdigest()[:12]
        root, summary = _once(tmp_path_factory, f"trained-{key}",
                              lambda work: make(overrides, work))
        shutil.rmtree(registry)
        shutil.copytree(root, registry)
        return _moved(summary, str(root), str(registry))

    return _trained


# Every family in one multirun.
FAMILIES = "dir_core,ret_core,risk_vol,struct_aware,exec_cost"
# DDP with the weights held at their seeded initialisation (tests/run/test_ddp.py says why).
DDP_FROZEN = ["trainer.max_epochs=1", "model.batch_size=256", "model.lr=1e-30",
              "callbacks=none", "print_config=false"]


@pytest.fixture(scope="session")
def five_family_sweep(small_registry_template: Path, tmp_path_factory: pytest.TempPathFactory
                      ) -> dict[str, Any]:
    """`python -m ifns_train -m family=<the five>` on a copy of the small registry, once a
    session (see `_once`): {"work": its folder, "registry": the registry, "proc": the
    command's result}. Read it; a test that changes it copies the registry first."""

    def make(work: Path) -> dict[str, Any]:
        root = work / "registry"
        shutil.copytree(small_registry_template, root)
        env = {k: v for k, v in os.environ.items() if not k.startswith("IFNS_REGISTRY")}
        proc = run_cli("-m", f"family={FAMILIES}", f"paths.registry_dir={root}", *FAST,
                       f"hydra.sweep.dir={work / 'sweep'}", cwd=work, env=env)
        _settled(root)
        return {"work": work, "registry": root, "proc": proc}

    return _once(tmp_path_factory, "five_families", make)


@pytest.fixture(scope="session")
def ddp_run(small_registry_template: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, Any]:
    """One run of `trainer=ddp_sim` (DDP on two CPU processes over gloo) with DDP_FROZEN, once
    a session (see `_once`): {"registry": its registry, "proc": the command's result}. In a
    new process: Lightning's DDP starts rank 1 by running the command line again."""

    def make(work: Path) -> dict[str, Any]:
        root = work / "registry"
        shutil.copytree(small_registry_template, root)
        proc = run_process(f"paths.registry_dir={root}", "trainer=ddp_sim", *DDP_FROZEN,
                           cwd=work)
        _settled(root)
        return {"registry": root, "proc": proc}

    return _once(tmp_path_factory, "ddp", make)


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
            module: str = "ifns_train") -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS...` run in this process (tests/inprocess.py): what the console
    does with its command line, without a new interpreter's 3-5 s of imports."""
    return run_in_process(*args, cwd=cwd, env=env, module=module)


def run_process(*args: str, cwd: Path, env: dict[str, str] | None = None,
                module: str = "ifns_train") -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS...` in a new process: for the tests where the process is the
    point (its exit code from the interpreter, DDP's relaunch, a multirun launcher's workers)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
