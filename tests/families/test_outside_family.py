"""A sixth family from outside the package: a user's own LightningModule in a package of their
own and a `conf/family/<name>.yaml` in the project's conf/ naming it (`family.module`), with no
edit of ifns_train. It trains, is evaluated against its own baselines, is recorded under its
family id, is listed by ifns-admin, loads again from the registry and is drawn by the Mirror."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from ifns_train.config import CONF_DIR, use_user_conf
from ifns_train.core.errors import ConfigError, RegistryError
from ifns_train.registry import model_registry
from ifns_train.registry.database import Registry
from tests.conftest import FAST
from tests.user_project import user_project

FAMILY_ID = "MF_DIR_SMALL_V1"

MODULE = '''\
"""MF_DIR_SMALL_V1: dir_core's network and loss, with a baseline of its own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ifns_train.data.resolve import Split
from ifns_train.families.dir_core import DirCoreModule


class DirSmallModule(DirCoreModule):
    family_name = "dir_small"
    baseline_names = ("momentum_sign", "always_up")

    @classmethod
    def baselines(cls, train: Split, split: Split, params: Mapping[str, Any]
                  ) -> dict[str, dict[str, np.ndarray]]:
        n = len(split.rows)
        rate = float(train.label.astype(np.float64).mean())
        return {
            "momentum_sign": super().baselines(train, split, params)["momentum_sign"],
            "always_up": {"prob": np.full(n, rate), "pred": np.ones(n)},
        }
'''

FAMILY_YAML = """\
# @package _global_
defaults:
  - override /promotion: dir_small
  - override /labels: direction_20d
  - override /features: core

family:
  name: dir_small
  family_id: MF_DIR_SMALL_V1
  module: userpkg.myfam.DirSmallModule
  description: A small directional family of the user's own.
  roles: [confirmation]
  task: classification
  prediction_type: probabilities
  label_families: [Label_Direction_Horizon_20d_V1]
  feature_families: [Feature_TREND_MTF_V1]
  supported_environments: [offline, paper]
  baselines: [momentum_sign, always_up]
  baseline_params:
    momentum_column: trend_ret_20d
    realised_return_column: Label_ReturnContinuous_Horizon_20d_V1
"""

PROMOTION_YAML = """\
name: dir_small
min_improvement: 0.0
require_significant: true
regime_floor: 0.02
max_calibration_error: 0.05
max_walk_forward_std: 0.03
min_deflated_sharpe: 0.95
max_pbo: 0.5
pbo_blocks: 16
challenger: {rule: non_inferior, margin: 0.005}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder of the user's: their package `userpkg` (on sys.path) and their conf/,
    the working directory and IFNS_ROOT."""
    with user_project(tmp_path / "project", {
        "userpkg/__init__.py": "",
        "userpkg/myfam.py": MODULE,
        "conf/family/dir_small.yaml": FAMILY_YAML,
        "conf/promotion/dir_small.yaml": PROMOTION_YAML,
    }, "userpkg", monkeypatch) as root:
        yield root


def _cfg(registry: Path, out: Path, *overrides: str) -> DictConfig:
    """Composed as the consoles compose (the project's conf/ searched first)."""
    use_user_conf()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=[
            "family=dir_small", f"paths.registry_dir={registry}", f"paths.output_dir={out}",
            "callbacks=none", *FAST, "trainer.max_epochs=1", *overrides])


def test_a_family_from_outside_the_package_trains_records_lists_loads_and_is_drawn(
        project: Path, registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from ifns_train.learners.registered import load_registered
    from ifns_train.run.train import train
    from ifns_train.sxe import admin

    cfg = _cfg(registry, tmp_path / "run")
    assert cfg.family.module == "userpkg.myfam.DirSmallModule"
    assert cfg.promotion.name == "dir_small"  # the user's promotion config

    # Trains and is evaluated against its own baselines.
    summary = train(cfg)
    test = summary["metrics"]["test"]
    assert test["primary_metric"] == "auc" and test["model"]["auc"] is not None
    assert set(test["best_baseline"].values()) <= {"momentum_sign", "always_up"}
    metrics = json.loads((Path(summary["artifact_dir"]) / "metrics.json").read_text())
    assert set(metrics["splits"]["test"]["baselines"]) == {"momentum_sign", "always_up"}

    # Is recorded under its own family id, with its family definition.
    reg = Registry(registry, create=False)
    try:
        record = model_registry.get(reg, summary["model_id"])
        assert record.model_family == FAMILY_ID and record.roles == ["confirmation"]
        (family,) = [f for f in model_registry.family_records(reg) if f.family_id == FAMILY_ID]
        assert family.name == "dir_small" and family.baselines == ["momentum_sign", "always_up"]

        test = record.metrics["test"]  # the record's key figures, model against baselines
        assert test["best_baseline"]["auc"] in ("momentum_sign", "always_up")
        assert test["improvement"]["auc"] == pytest.approx(
            test["model"]["auc"] - test["baseline"]["auc"])

        # Loads again, as ifns-predict and ifns-evaluate on new data load it: the class found
        # from the run's recorded config (family.module), imported again.
        module = load_registered(reg, summary["model_id"]).module
        assert type(module).__module__ == "userpkg.myfam"
        assert type(module).__name__ == "DirSmallModule"
        with torch.no_grad():
            out = module(torch.zeros(3, module.hparams["n_features"])).numpy()
        assert np.isfinite(module.outputs_to_predictions(out)["prob"]).all()
    finally:
        reg.close()

    # Is listed by ifns-admin families.
    capsys.readouterr()
    assert admin.main(["--registry-dir", str(registry), "--json", "families"]) == 0
    listed = {f["family_id"]: f for f in json.loads(capsys.readouterr().out)["families"]}
    assert listed[FAMILY_ID]["name"] == "dir_small"
    assert listed[FAMILY_ID]["counts"]["candidate"] == 1
    assert admin.main(["--registry-dir", str(registry), "families"]) == 0
    assert FAMILY_ID in capsys.readouterr().out

    # Is drawn by the Mirror: in the overview and on a page of its own.
    site = tmp_path / "site"
    assert admin.main(["--registry-dir", str(registry), "mirror", "--out", str(site)]) == 0
    assert FAMILY_ID in (site / "index.html").read_text()
    assert (site / "families" / f"{FAMILY_ID}.html").is_file()
    assert summary["model_id"] in "".join(
        p.read_text(errors="replace") for p in site.rglob("*") if p.is_file()
        and p.suffix in (".html", ".json", ".js"))

    # Where its class cannot be imported any more, loading it is refused, naming both.
    (project / "userpkg" / "myfam.py").unlink()
    for name in [m for m in sys.modules if m == "userpkg" or m.startswith("userpkg.")]:
        monkeypatch.delitem(sys.modules, name)
    reg = Registry(registry, create=False)
    try:
        with pytest.raises(RegistryError, match=rf"^model {summary['model_id']}: family\.module "
                                                r"'userpkg\.myfam\.DirSmallModule' cannot be "):
            load_registered(reg, summary["model_id"])
    finally:
        reg.close()


@pytest.mark.parametrize(("module", "name", "message"), [
    ("userpkg.nothing.DirSmallModule", "dir_small", "cannot be imported as a class: No module"),
    ("collections.OrderedDict", "dir_small", "is not a subclass of"),
    ("userpkg.myfam.DirSmallModule", "dir_tiny", "has family_name 'dir_small', not family.name "
                                                 "'dir_tiny'"),
    ("userpkg.myfam.DirSmallModule", "dir_core", "has family_name 'dir_small', not"),
    ("ifns_train.families.dir_core.DirCoreModule", "dir_small", "has family_name 'dir_core'"),
])
def test_a_wrong_family_module_is_one_config_error(project: Path, registry: Path,
                                                   tmp_path: Path, module: str, name: str,
                                                   message: str) -> None:
    from ifns_train.run.train import train

    cfg = _cfg(registry, tmp_path / "run", f"family.module={module}", f"family.name={name}")
    with pytest.raises(ConfigError, match=r"^family\.module .*" + message) as err:
        train(cfg)
    assert "\n" not in str(err.value)


def test_a_class_may_not_take_a_built_in_familys_name(project: Path) -> None:
    from ifns_train.families import family_class_of

    (project / "userpkg" / "shadow.py").write_text(
        "from ifns_train.families.dir_core import DirCoreModule\n\n\n"
        "class Shadow(DirCoreModule):\n    family_name = 'dir_core'\n")
    with pytest.raises(ConfigError, match="a built-in family's name"):
        family_class_of({"name": "dir_core", "module": "userpkg.shadow.Shadow"})
    # Naming a built-in class itself is the built-in family.
    from ifns_train.families import FAMILIES

    assert family_class_of({"name": "dir_core", "module":
                            "ifns_train.families.dir_core.DirCoreModule"}) is FAMILIES["dir_core"]

