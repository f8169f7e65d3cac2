"""A registry as the CLI leaves it after a sweep over the five families, a promotion proposal
and a failed run, and its Mirror built by `ifns-admin mirror`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from ifns_train.registry.database import Registry
from tests.conftest import FAST, run_cli


@pytest.fixture(scope="module")
def swept(five_family_sweep: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("swept")
    root = work / "registry"
    # The session's sweep over the five families (tests/conftest.py), copied: this adds to it.
    proc = five_family_sweep["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    shutil.copytree(five_family_sweep["registry"], root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IFNS_REGISTRY")}
    common = [f"paths.registry_dir={root}", *FAST]
    proc = run_cli(*common, "dataset.id=DS_MISSING_V1", cwd=work, env=env)
    assert proc.returncode == 1 and "DS_MISSING_V1" in proc.stderr
    reg = Registry(root)
    from ifns_train.registry import model_registry

    model = model_registry.search(reg, family="MF_DIR_CORE_V1", limit=1)[0]["model_id"]
    admin = ("--registry-dir", str(root))
    proc = run_cli(*admin, "models", "propose", model, "--to", "canary", "--reason",
                   "beats momentum in every regime", cwd=work, env=env,
                   module="ifns_train.sxe.admin")
    assert proc.returncode == 0, proc.stderr
    out = work / "site"
    proc = run_cli(*admin, "mirror", "--out", str(out), cwd=work, env=env,
                   module="ifns_train.sxe.admin")
    assert proc.returncode == 0 and "mirror: 5 model(s), 6 experiment(s)" in proc.stdout, \
        proc.stdout + proc.stderr
    yield {"out": out, "reg": reg, "root": root}
    reg.close()
