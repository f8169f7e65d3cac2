"""Companion runs of an experiment: walk-forward folds, extra seeds and a placebo control.

Why: one train/test split says little about how stable a model is (spec 7.2) or whether the
pipeline can fool itself. Each companion is a run and an experiment of its own, linked to the
main experiment (`parent_experiment_id`); the main model's evidence holds their figures
(`stability`, `controls`) and its promotion checks use them. A companion registers no model and
is no trial for the deflated Sharpe ratio (its kinds, `records.COMPANION_KINDS`, are of
`NO_MODEL_KINDS`): its weights and figures are kept under controls/ as evidence, and only the
main run's model is registered. They run before the main run, so the main record is written
once, complete.

* `evaluation.walk_forward`: the dataset's dates are cut into folds (`walk_forward_windows`);
  the earlier folds are companions (kind `fold`) and the last fold is the main run.
* `evaluation.seeds`: the same config with each other seed (kind `seed`).
* `evaluation.placebo`: the same config trained on permuted labels (kind `placebo`,
  `data.placebo`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ifns_train.core.errors import ConfigError
from ifns_train.data.resolve import dataset_dates
from ifns_train.data.splits import walk_forward_windows


@dataclass
class CompanionPlan:
    runs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    main_windows: dict[str, list[str]] | None = None


def relocated(node: Any, old: str, new: str) -> Any:
    """`node` with every string under the run folder `old` moved under `new`."""
    if isinstance(node, dict):
        return {k: relocated(v, old, new) for k, v in node.items()}
    if isinstance(node, list):
        return [relocated(v, old, new) for v in node]
    if isinstance(node, str) and (node == old or node.startswith(old + "/")):
        return new + node[len(old):]
    return node


def _variant(config: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(config)
    for path, value in changes.items():
        node = out
        *parents, key = path.split("__")
        for parent in parents:
            node = node[parent]
        node[key] = value
    return out


def companion_configs(config: dict[str, Any]) -> CompanionPlan:
    """The companion runs the config asks for, in the order they run."""
    ev, ds = config["evaluation"], config["dataset"]
    plan = CompanionPlan()
    wf = ev["walk_forward"]
    if wf["folds"] > 0:
        if ds["train_dataset_id"] != ds["test_dataset_id"]:
            raise ConfigError("evaluation.walk_forward needs one dataset for the three splits "
                              "(dataset.id)")
        dates = dataset_dates(Path(config["paths"]["registry_dir"]), ds["train_dataset_id"],
                              ds["generate_demo_if_missing"])
        windows = walk_forward_windows(np.unique(dates), folds=wf["folds"],
                                       scheme=wf["scheme"], train_days=wf["train_days"],
                                       val_days=wf["val_days"], test_days=wf["test_days"])
        plan.main_windows = windows[-1]
        plan.runs += [("fold", _variant(config, dataset__windows=w)) for w in windows[:-1]]
        config = _variant(config, dataset__windows=windows[-1])
    plan.runs += [("seed", _variant(config, seed=s))
                  for s in dict.fromkeys(ev["seeds"]) if s != config["seed"]]
    if ev["placebo"]:
        plan.runs.append(("placebo", _variant(config)))
    # Each companion writes its checkpoints and logs in a folder of its own in the run folder.
    out = config["paths"]["output_dir"]
    plan.runs = [(kind, relocated(variant, out, f"{out}/companions/{i:02d}_{kind}"))
                 for i, (kind, variant) in enumerate(plan.runs)]
    return plan

