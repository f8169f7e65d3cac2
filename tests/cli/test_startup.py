"""A training run imports only what it uses before its first step.

Lightning itself imports torchmetrics (and through it torchmetrics.text, scipy.signal and,
where installed, matplotlib), so those are measured against `import lightning.pytorch`: what
`ifns_train.run.train` adds on top must hold none of them, nor the pictures of the recorder, and
none of the optional loggers or the econometrics libraries may be loaded at all.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

PROBE = """
import json, sys
import lightning.pytorch
before = set(sys.modules)
import ifns_train.run.train
print(json.dumps({"added": sorted(set(sys.modules) - before), "all": sorted(sys.modules)}))
"""
NEVER = ("arch", "statsmodels", "tensorboard", "tensorboardX", "mlflow", "transformers")
NOT_ADDED = ("matplotlib", "torchmetrics", "scipy.stats", "PIL", "ifns_train.run.curves")


def _top(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.slow
def test_importing_train_loads_nothing_heavy_beyond_lightning() -> None:
    # A fresh interpreter: this one has imported everything the other tests use.
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True,
                          text=True, check=True)
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert [m for m in modules["all"] if _top(m, NEVER)] == []
    assert [m for m in modules["added"] if _top(m, NOT_ADDED)] == []
