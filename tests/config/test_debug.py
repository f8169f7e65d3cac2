"""The `debug=` presets: each composes into a quick smoke run that registers nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig

from ifns_train.config import CONF_DIR
from ifns_train.run.plan import smoke_test_keys
from ifns_train.run.train import train
from tests.registry.docs import log_doc, models_doc

PRESETS = ("fdr", "overfit", "limit", "profiler")


def test_the_presets_are_the_shipped_ones() -> None:
    assert sorted(p.stem for p in (CONF_DIR / "debug").glob("*.yaml")) == sorted(PRESETS)


@pytest.mark.parametrize("preset", PRESETS)
def test_a_preset_runs_and_registers_nothing(preset: str, make_cfg: Callable[..., DictConfig],
                                             registry: Path) -> None:
    cfg = make_cfg(f"debug={preset}")
    assert smoke_test_keys(dict(cfg.trainer)), "a debug preset must be a smoke test"
    summary = train(cfg)
    assert summary["smoke_test"] and summary["steps_taken"] > 0
    assert models_doc(registry)["models"] == []
    assert log_doc(registry)["experiments"] == []
    assert not list(registry.glob("models/*"))


def test_no_preset_by_default_and_a_preset_wins_over_an_experiment(
    make_cfg: Callable[..., DictConfig]
) -> None:
    assert smoke_test_keys(dict(make_cfg().trainer)) == []
    cfg = make_cfg("experiment=walk_forward", "debug=fdr")
    assert cfg.trainer.fast_dev_run is True and cfg.experiment_name == "walk_forward"
