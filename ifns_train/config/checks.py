"""Ranges of the numeric config values, checked on the composed config before any work.

Why here and not in the schema: Hydra's structured configs check types, not ranges, and
OmegaConf runs no __post_init__ when it composes or overrides (only `OmegaConf.to_object`
would, which the entry points do not use), so `model.lr=-1` composes fine and would fail (or
silently train nonsense) much later. Every bound lives in `RANGES`, one row per key;
`check_ranges` refuses the first value out of its range with one line naming the key, the
bound and the value. It also runs `check_tags`: each of the experiment's `tags` must match
`TAG_PATTERN`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from ifns_train.core.errors import ConfigError, shown


class Bound(NamedTuple):
    """`low`/`high` are None for no bound; `*_open` excludes the bound itself."""

    low: float | None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def holds(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        low = None if self.low is None else f"{'>' if self.low_open else '>='} {_num(self.low)}"
        high = (None if self.high is None
                else f"{'<' if self.high_open else '<='} {_num(self.high)}")
        return " and ".join(p for p in (low, high) if p) or "finite"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


MAX_SEED = 2**32 - 1  # numpy's (and Lightning's seed_everything's) largest seed

# Dotted key -> bound. A key absent from the config, or null (an optional key left unset),
# is not checked; a list key ("model.hidden_sizes") is checked item by item.
RANGES: dict[str, Bound] = {
    "model.lr": Bound(0, low_open=True),
    "model.weight_decay": Bound(0),
    "model.dropout": Bound(0, 1, high_open=True),
    "model.batch_size": Bound(1),
    "model.min_steps_per_epoch": Bound(1),
    "model.min_steps": Bound(0),
    "model.lookback": Bound(1),
    "model.hidden_sizes": Bound(1),
    "family.huber_delta": Bound(0, low_open=True),
    "dataset.embargo_days": Bound(0),
    "dataset.purge_days": Bound(0),
    "labels.horizon_days": Bound(1),
    "evaluation.calibration_bins": Bound(1),
    "evaluation.min_slice_rows": Bound(1),
    "evaluation.cost_bps": Bound(0),
    "evaluation.proxy_band": Bound(0),
    "evaluation.bootstrap.reps": Bound(1),
    "evaluation.bootstrap.level": Bound(0, 1, low_open=True, high_open=True),
    "evaluation.bootstrap.seed": Bound(0),
    "evaluation.walk_forward.folds": Bound(0),
    "evaluation.walk_forward.train_days": Bound(1),
    "evaluation.walk_forward.val_days": Bound(1),
    "evaluation.walk_forward.test_days": Bound(1),
    "promotion.max_pbo": Bound(0, 1),
    "promotion.pbo_blocks": Bound(2),
    "promotion.challenger.margin": Bound(0),
    "seed": Bound(0, MAX_SEED),
    "evaluation.seeds": Bound(0, MAX_SEED),
}


def _lookup(config: Mapping[str, Any], key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def check_ranges(config: Mapping[str, Any]) -> None:
    """Raise ConfigError on the first value of `RANGES` out of its range (or not a number),
    or on a tag `check_tags` refuses.

    `config` is the resolved container (`OmegaConf.to_container(cfg, resolve=True)`); nothing
    is read from disk, so a bad value costs nothing.
    """
    check_tags(config.get("tags"))
    for key, bound in RANGES.items():
        value = _lookup(config, key)
        if value is None:
            continue
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for i, item in items:
            name = key if i is None else f"{key}[{i}]"
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                raise ConfigError(f"{name} must be a number, got {shown(item)}")
            if not bound.holds(item):
                finite = "" if math.isfinite(item) else "a finite number "
                raise ConfigError(f"{name} must be {finite}{bound.describe()}, got {item!r}")


# A tag: a letter or digit, then up to 63 letters, digits and `_ . : -` (no spaces, no commas,
# nothing a shell or a search would split).
TAG_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def check_tags(tags: Any) -> None:
    """Raise ConfigError on a `tags` value that is not a list of tags matching `TAG_PATTERN`
    (None, no tags, passes)."""
    if tags is None:
        return
    if not isinstance(tags, list):
        raise ConfigError(f"tags must be a list, got {shown(tags)}")
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not TAG_PATTERN.fullmatch(tag):
            raise ConfigError(f"tags[{i}] must be a letter or digit then up to 63 of "
                              f"[A-Za-z0-9_.:-], got {shown(tag)}")
