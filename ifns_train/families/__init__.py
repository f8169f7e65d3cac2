"""Model families: one LightningModule per family over the shared base, each with its baselines.

The five built-in families are `FAMILIES`, chosen by `family.name`. A family of one's own is a
subclass of `FamilyModule` in one's own package, named by the family config's `module` key (a
dotted class path, e.g. `module: mypkg.families.DirSmallModule` in `conf/family/dir_small.yaml`
at the project root); `family_class_of` imports it and checks it.

- `base.py`: `FamilyModule`, the shared base: normalisation fitted on train rows, backbone, loss.
- `dir_core.py`: MF_DIR_CORE_V1: the probability that the forward 20-day return is positive.
- `ret_core.py`: MF_RET_CORE_V1: the continuous forward 20-day log return.
- `risk_vol.py`: MF_RISK_VOL_V1: realised volatility over the next 20 trading days.
- `struct_aware.py`: MF_STRUCT_AWARE_V1: 20-day direction conditioned on market structure.
- `exec_cost.py`: MF_EXEC_COST_V1: the realised cost, in bps, of executing an order next day.
- `loading.py`: a registered model loaded for use, its checkpoint hash-checked before unpickling.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hydra.utils import get_class

from ifns_train.core.errors import ConfigError
from ifns_train.evaluation.report import METRIC_SETS
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
# Class attributes a family declares (FamilyModule has no default for them).
DECLARED = ("family_name", "task", "metric_set", "losses")
TASKS = ("classification", "regression")


def family_class(name: str) -> type[FamilyModule]:
    if name not in FAMILIES:
        raise ConfigError(f"unknown family.name {name!r} (known: {', '.join(sorted(FAMILIES))}; "
                          "a family of your own names its class in family.module)")
    return FAMILIES[name]


def family_class_of(family: Mapping[str, Any]) -> type[FamilyModule]:
    """The class of the family a config's `family` group names: the class `family.module`
    names (a dotted path, imported), else the built-in family `family.name`."""
    path = family.get("module")
    name = family["name"]
    if not path:
        return family_class(name)
    cls = _import_class(str(path))
    where = f"family.module {path!r}"
    if not (isinstance(cls, type) and issubclass(cls, FamilyModule)):
        raise ConfigError(f"{where} is not a subclass of "
                          "ifns_train.families.base.FamilyModule")
    missing = [a for a in DECLARED if not hasattr(cls, a)]
    if missing:
        raise ConfigError(f"{where} does not declare {', '.join(missing)} (class attributes "
                          "every family sets, as the built-in families do)")
    if cls.family_name != name:
        raise ConfigError(f"{where} has family_name {cls.family_name!r}, not family.name "
                          f"{name!r}: they must be the same")
    if name in FAMILIES and cls is not FAMILIES[name]:
        raise ConfigError(f"{where}: {name!r} is a built-in family's name; give the class "
                          "(family_name) and family.name a name of their own")
    if cls.task not in TASKS:
        raise ConfigError(f"{where} has task {cls.task!r}, not one of {', '.join(TASKS)}")
    if cls.metric_set not in METRIC_SETS:
        raise ConfigError(f"{where} has metric_set {cls.metric_set!r}, not one of "
                          f"{', '.join(METRIC_SETS)}")
    return cls


def _import_class(path: str) -> Any:
    """hydra.utils.get_class, its error as one line (Hydra also logs it: silenced here)."""
    hydra_log = logging.getLogger("hydra.utils")
    disabled, hydra_log.disabled = hydra_log.disabled, True
    try:
        return get_class(path)
    except Exception as exc:
        cause = exc.__cause__ or exc
        reason = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        hint = ("; make the package that defines it importable (installed, or its folder on "
                "PYTHONPATH)" if isinstance(cause, ImportError) else "")
        raise ConfigError(f"family.module {path!r} cannot be imported as a class: {reason}"
                          f"{hint}") from None
    finally:
        hydra_log.disabled = disabled
