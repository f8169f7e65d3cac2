"""Shared fixtures: a small demo registry and configs composed the way the CLI composes them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from ifns_train.config import CONF_DIR
from ifns_train.data.demo import write_demo

pytest_plugins = ["tests.pg", "tests.browser"]  # a real PostgreSQL server, a real Chromium

REPO = Path(__file__).resolve().parents[1]
SMALL = {"n_symbols": 8, "n_years": 3.0}
# Quick but real training: two epochs over the whole small panel.
FAST = ["trainer.max_epochs=2", "model.batch_size=256"]


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
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            return compose(
                "config",
                overrides=[
                    f"paths.registry_dir={registry}",
                    f"paths.output_dir={tmp_path / f'run{next(runs)}'}",
                    "callbacks=none",
                    *FAST,
                    *overrides,
                ],
            )

    return _make


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
            module: str = "ifns_train") -> subprocess.CompletedProcess[str]:
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
