"""Model families: one LightningModule per family over the shared base, each with its baselines."""

from __future__ import annotations

from ifns_train.errors import ConfigError
from ifns_train.families.base import FamilyModule
from ifns_train.families.dir_core import DirCoreModule
from ifns_train.families.exec_cost import ExecCostModule
from ifns_train.families.ret_core import RetCoreModule
from ifns_train.families.risk_vol import RiskVolModule
from ifns_train.families.struct_aware import StructAwareModule

FAMILIES: dict[str, type[FamilyModule]] = {
    cls.family_name: cls
    for cls in (DirCoreModule, RetCoreModule, RiskVolModule, StructAwareModule, ExecCostModule)
}


def family_class(name: str) -> type[FamilyModule]:
    if name not in FAMILIES:
        raise ConfigError(f"unknown family.name {name!r} (known: {', '.join(sorted(FAMILIES))})")
    return FAMILIES[name]
