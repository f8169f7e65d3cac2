"""Numeric config values out of range are refused on the composed config, before any work,
with one line naming the key, the bound and the value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from omegaconf import DictConfig, OmegaConf

from ifns_train.config.checks import RANGES, check_ranges, check_tags
from ifns_train.core.errors import ConfigError

REFUSED = {
    "model.lr=-1": "model.lr must be > 0, got -1.0",
    "model.lr=0": "model.lr must be > 0, got 0.0",
    "model.lr=nan": "model.lr must be a finite number > 0, got nan",
    "model.batch_size=0": "model.batch_size must be >= 1, got 0",
    "model.dropout=1.5": "model.dropout must be >= 0 and < 1, got 1.5",
    "model.dropout=1": "model.dropout must be >= 0 and < 1, got 1.0",
    "model.weight_decay=-1": "model.weight_decay must be >= 0, got -1.0",
    "evaluation.calibration_bins=0": "evaluation.calibration_bins must be >= 1, got 0",
    "model.hidden_sizes=[64,0]": "model.hidden_sizes[1] must be >= 1, got 0",
    "evaluation.bootstrap.level=1": "evaluation.bootstrap.level must be > 0 and < 1, got 1.0",
    "evaluation.bootstrap.reps=0": "evaluation.bootstrap.reps must be >= 1, got 0",
    "seed=-1": "seed must be >= 0 and <= 4294967295, got -1",
    "evaluation.seeds=[3,-2]": "evaluation.seeds[1] must be >= 0 and <= 4294967295, got -2",
    "dataset.embargo_days=-1": "dataset.embargo_days must be >= 0, got -1",
}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _container(cfg: DictConfig) -> dict[str, Any]:
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


@pytest.mark.parametrize("override", sorted(REFUSED))
def test_a_value_out_of_range_is_refused_naming_the_key(
    override: str, make_cfg: Callable[..., DictConfig], registry: Path, tmp_path: Path
) -> None:
    before = _files(registry)
    cfg = make_cfg(override)
    with pytest.raises(ConfigError) as info:
        check_ranges(_container(cfg))
    assert str(info.value) == REFUSED[override]
    assert _files(registry) == before  # nothing read into or written to the registry
    assert not Path(cfg.paths.output_dir).exists()


@pytest.mark.parametrize("overrides", [
    (), ("family=risk_vol", "model=gru"), ("family=ret_core", "model=linear"),
    ("family=exec_cost", "model=tcn"), ("experiment=walk_forward",),
    ("model.dropout=0", "model.weight_decay=0", "evaluation.calibration_bins=1"),
])
def test_the_shipped_configs_pass(overrides: tuple[str, ...],
                                  make_cfg: Callable[..., DictConfig]) -> None:
    check_ranges(_container(make_cfg(*overrides)))


def test_every_key_of_the_table_is_in_the_composed_config(
    make_cfg: Callable[..., DictConfig]
) -> None:
    config = _container(make_cfg())
    for key in RANGES:
        node: Any = config
        for part in key.split("."):
            assert part in node, key  # a renamed key must not silently stop being checked
            node = node[part]


def test_a_value_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"model\.lr must be a number, got 'fast'"):
        check_ranges({"model": {"lr": "fast"}})
    with pytest.raises(ConfigError, match=r"model\.batch_size must be a number, got True"):
        check_ranges({"model": {"batch_size": True}})


def test_tags_are_checked_with_the_ranges(make_cfg: Callable[..., DictConfig]) -> None:
    check_ranges(_container(make_cfg("tags=[sweep:lr,v2.1,a_b-c]")))
    check_tags([("a" * 64)])
    for tags, named in (("tags=[ok,'two words']", "tags[1] must be a letter or digit then up "
                                                 "to 63 of [A-Za-z0-9_.:-], got 'two words'"),
                        ("tags=[-lead]", "tags[0]"), (f"tags=[{'a' * 65}]", "tags[0]"),
                        ("tags=['']", "tags[0]")):
        with pytest.raises(ConfigError) as info:
            check_ranges(_container(make_cfg(tags)))
        assert named in str(info.value), tags
    with pytest.raises(ConfigError, match="tags must be a list, got 'solo'"):
        check_tags("solo")
