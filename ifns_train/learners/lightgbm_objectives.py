"""What a gradient-boosted tree is fitted to, family by family: the LightGBM objective that
minimises the family's own loss, the label it is fitted on, and how its raw score becomes the
family's training scale (what `FamilyModule.predictions_from` takes, as a net's output would).

The family's loss (`family.loss`, null: the family's first) decides, as it does for a net; the
family's class says what that loss means, so the table is looked up along the class's MRO (a
family of one's own that subclasses `DirCoreModule` fits as dir_core does):

* `cross_entropy` (dir_core, struct_aware): `binary`; the raw score is the logit, which is
  what these families' sigmoid takes.
* ret_core (`huber`, `mse`): `huber` (delta `family.huber_delta`, in the standardised units
  the net's Huber loss uses) or `regression` (L2), on the target standardised with the
  training mean and std. L2 (or its robust form) rather than a ranking objective: ret_core's
  figures include errors in return units and trading proxies sized by the forecast, both of
  which read a conditional mean; `lambdarank` needs graded integer relevance per date and
  gives scores without units, which would serve the rank IC alone.
* risk_vol `qlike`: `gamma` (log link) on the realised variance y**2: its deviance,
  2 (y/mu - log(y/mu) - 1), is twice QLIKE, so the fit minimises the family's own metric. The
  raw score is the log variance, brought to the family's standardised log variance.
  `log_variance`: L2 on the standardised log variance, the net's loss.
* exec_cost (`huber` in bps): `regression_l1`. The family's primary metric is the MAE in bps,
  whose minimiser is the conditional median; the net's Huber with a 5 bps delta is near it.

`model.params.objective` may name another objective of the same entry (same label, same raw
scale); anything else is refused, naming the key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ifns_train.core.errors import ConfigError
from ifns_train.families.base import FamilyModule, RegressionFamily
from ifns_train.families.dir_core import DirCoreModule
from ifns_train.families.exec_cost import ExecCostModule
from ifns_train.families.risk_vol import RiskVolModule

# The smallest realised volatility a variance is taken of (the net's loss clamps the same).
MIN_VOL = 1e-8

Transform = Callable[[np.ndarray, float, float], np.ndarray]  # (array, target mean, target std)


def _same(values: np.ndarray, mean: float, std: float) -> np.ndarray:
    return values


def _standardised(y: np.ndarray, mean: float, std: float) -> np.ndarray:
    return (y - mean) / std


def _variance(y: np.ndarray, mean: float, std: float) -> np.ndarray:
    return np.maximum(y, MIN_VOL) ** 2


def _standardised_log_variance(y: np.ndarray, mean: float, std: float) -> np.ndarray:
    return (np.log(np.maximum(y, MIN_VOL) ** 2) - mean) / std


def _log_variance_standardised(raw: np.ndarray, mean: float, std: float) -> np.ndarray:
    return (raw - mean) / std


@dataclass(frozen=True)
class Objective:
    """One way of fitting a family's loss with LightGBM."""

    name: str  # LightGBM's objective
    metric: str  # LightGBM's metric of it: early stopping and the learning curves
    label: Transform  # the family's label -> what LightGBM fits
    output: Transform  # LightGBM's raw score -> the family's training scale
    # LightGBM's metric value -> the mean loss per row (its gamma_deviance is a sum, doubled).
    per_row: Callable[[float, int], float] = lambda value, rows: value

    def params(self, huber_delta: float) -> dict[str, object]:
        """The LightGBM parameters this objective sets."""
        extra = {"alpha": huber_delta} if self.name == "huber" else {}
        return {"objective": self.name, "metric": self.metric, **extra}


def _standardised_objectives(*names: str) -> dict[str, Objective]:
    metric = {"regression": "l2", "huber": "huber", "regression_l1": "l1"}
    return {n: Objective(n, metric[n], _standardised, _same) for n in names}


BINARY = {"binary": Objective("binary", "binary_logloss", _same, _same)}
GAMMA = {"gamma": Objective("gamma", "gamma_deviance", _variance, _log_variance_standardised,
                            per_row=lambda value, rows: value / (2.0 * rows))}
LOG_VARIANCE = {n: Objective(n, o.metric, _standardised_log_variance, _same)
                for n, o in _standardised_objectives("regression", "huber",
                                                     "regression_l1").items()}

# class -> family.loss -> the objectives that fit it, the default first.
OBJECTIVES: dict[type[FamilyModule], dict[str, dict[str, Objective]]] = {
    DirCoreModule: {"cross_entropy": BINARY},
    RiskVolModule: {"qlike": GAMMA, "log_variance": LOG_VARIANCE},
    # Huber is left out here: exec_cost's delta is in bps, not in standardised units.
    ExecCostModule: {"huber": _standardised_objectives("regression_l1", "regression")},
    RegressionFamily: {"huber": _standardised_objectives("huber", "regression", "regression_l1"),
                       "mse": _standardised_objectives("regression", "huber", "regression_l1")},
}


def objectives_for(family: type[FamilyModule], loss: str | None) -> dict[str, Objective]:
    """The objectives that fit `family` under `loss` (null: the family's first)."""
    loss = loss or family.losses[0]
    for cls in family.__mro__:
        table = OBJECTIVES.get(cls, {})
        if loss in table:
            return table[loss]
    known = sorted({f"{getattr(c, 'family_name', 'a regression family')} {k}"
                    for c, t in OBJECTIVES.items() for k in t})
    raise ConfigError(f"family.loss {loss!r} of {family.family_name}: lightgbm fits only "
                      f"{', '.join(known)}")


def objective_for(family: type[FamilyModule], loss: str | None, override: str | None
                  ) -> Objective:
    """The objective a run fits: `model.params.objective` if set, else the loss's default."""
    table = objectives_for(family, loss)
    if override is None:
        return next(iter(table.values()))
    if override not in table:
        raise ConfigError(
            f"model.params.objective {override!r} does not fit {family.family_name}'s "
            f"family.loss {loss or family.losses[0]!r}: one of {', '.join(table)}")
    return table[override]
