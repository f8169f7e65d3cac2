"""Model families: one LightningModule per family over the shared base, each with its baselines."""

from __future__ import annotations

from ifns_train.errors import ConfigError
from ifns_train.families.base import FamilyModule
from ifns_train.families.dir_core import DirCoreModule

FAMILIES: dict[str, type[FamilyModule]] = {"dir_core": DirCoreModule}


def family_class(name: str) -> type[FamilyModule]:
    if name not in FAMILIES:
        raise ConfigError(f"unknown family.name {name!r} (known: {', '.join(sorted(FAMILIES))})")
    return FAMILIES[name]
