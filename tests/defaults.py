"""The settings a run gets, read from their one place for tests that call code directly.

Model hyperparameters, the evaluation settings, the label horizon and the family's keys have
no default in the Python code that takes them (`FamilyModule`, the backbones, the evaluation
functions): a run passes the composed config's values. A test that builds a module or calls an
evaluation function takes the same values from here, composed as `python -m ifns_train` composes
them (`ifns_train/conf`, the schema), rather than repeating them as literals.
"""

from __future__ import annotations

import copy
import functools
import inspect
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from ifns_train.config import CONF_DIR

UNUSED = "unused"


@functools.cache
def _composed(overrides: tuple[str, ...]) -> dict[str, Any]:
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        # paths.output_dir is Hydra's run folder, which exists only in a run.
        cfg = compose("config", overrides=[f"paths.output_dir={UNUSED}", *overrides])
    out = OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)  # as a run takes it
    assert isinstance(out, dict)
    return out


def config(*overrides: str) -> dict[str, Any]:
    """The composed config (a fresh copy; interpolations left unresolved), with `overrides`."""
    return copy.deepcopy(_composed(tuple(overrides)))


def evaluation(*overrides: str) -> dict[str, Any]:
    """The `evaluation` group as a run has it."""
    return config(*overrides)["evaluation"]


def bootstrap(**changes: Any) -> dict[str, Any]:
    """`evaluation.bootstrap` (level, reps, seed, block, method), with `changes` (e.g. fewer
    reps for speed): the keyword arguments of `intervals.metric_interval`/`series_interval`."""
    return {**evaluation()["bootstrap"], **changes}


def horizon_days(*overrides: str) -> int:
    """The default run's label horizon (`labels.horizon_days`)."""
    return int(config(*overrides)["labels"]["horizon_days"])


def gate_threshold() -> float:
    """The overlay family's gate (`family=struct_aware`: `baseline_params.gate_threshold`)."""
    return float(config("family=struct_aware")["family"]["baseline_params"]["gate_threshold"])


def report_settings(*overrides: str) -> dict[str, Any]:
    """`report.split_report`'s settings as a run passes them (`run.context.evaluation_spec`)."""
    cfg = config(*overrides)
    ev = cfg["evaluation"]
    return {"min_rows": ev["min_slice_rows"], "n_bins": ev["calibration_bins"],
            "horizon_days": cfg["labels"]["horizon_days"], "gate_threshold": gate_threshold()}


def spec_settings(*overrides: str) -> dict[str, Any]:
    """The `EvaluationSpec` fields a run takes from its config, besides the metric set, the
    baselines and the slices (pass those, and override any of these, as a test needs)."""
    ev = evaluation(*overrides)
    report = report_settings(*overrides)
    return {"min_rows": report["min_rows"], "n_bins": report["n_bins"],
            "horizon_days": report["horizon_days"], "gate_threshold": report["gate_threshold"],
            "bootstrap": dict(ev["bootstrap"]), "cost_bps": float(ev["cost_bps"]),
            "proxy_band": float(ev["proxy_band"])}


def module_kwargs(*overrides: str, **changes: Any) -> dict[str, Any]:
    """`FamilyModule` keyword arguments as a run passes them: the `model` keys the module
    takes and the family's loss settings, from the config composed with `overrides` (e.g.
    "model=linear", "family=exec_cost"), then `changes`."""
    from ifns_train.families.base import FamilyModule

    cfg = config(*overrides)
    takes = inspect.signature(FamilyModule.__init__).parameters
    out = {k: v for k, v in cfg["model"].items() if k in takes}
    out.update(loss=cfg["family"]["loss"], huber_delta=cfg["family"]["huber_delta"])
    return {**out, **changes}


def backbone_kwargs(*overrides: str, **changes: Any) -> dict[str, Any]:
    """`nets.backbones.build_backbone` keyword arguments (lookback, hidden_sizes, dropout) of
    the model composed with `overrides`, then `changes`."""
    model = config(*overrides)["model"]
    return {**{k: model[k] for k in ("lookback", "hidden_sizes", "dropout")}, **changes}
