"""Reproduce a recorded experiment: run its stored config again and compare, figure by figure.

The run is an experiment of its own (kind `reproduction`, linked to the original), which
registers no model: a reproduction is evidence about a model, not another model. It refuses to
start when a dataset's fingerprint no longer matches the one recorded (the data changed, so a
difference would prove nothing), runs without the companions (their figures, the trial count
of the deflated Sharpe ratio and the complexity are the original run's evidence inputs, reused),
and on CPU must match the record to the last digit.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from ifns_train.config.schema import LIGHTNING_LEARNER
from ifns_train.core.errors import RegistryError
from ifns_train.data.index import load_index
from ifns_train.registry import log
from ifns_train.registry.database import Registry
from ifns_train.run.companions import relocated
from ifns_train.run.provenance import leaves
from ifns_train.run.train import train

REPRODUCIBLE = ("completed", "selected", "discarded")


def check_fingerprints(reg: Registry, experiment_id: str, recorded: dict[str, str]) -> None:
    datasets = load_index(reg.dir)["datasets"]
    for dataset_id, fingerprint in sorted(recorded.items()):
        now = (datasets.get(dataset_id) or {}).get("fingerprint")
        if now != fingerprint:
            raise RegistryError(
                f"experiment {experiment_id}: dataset {dataset_id} has fingerprint {now} in the "
                f"index, not the recorded {fingerprint}; the data changed, so it cannot be "
                "reproduced"
            )


# Keys added to the config after configs were first stored, with the value that does what a run
# did before each existed: a stored config without them is run as it ran (none changes a figure
# the reproduction compares; the attribution and the pictures are beside the figures).
ADDED_KEYS: dict[tuple[str, ...], Any] = {
    ("model", "learner"): LIGHTNING_LEARNER,
    ("model", "params"): None,
    ("evaluation", "attribution", "enabled"): False,
    ("evaluation", "curves", "images"): False,
}


def with_added_keys(config: dict[str, Any]) -> dict[str, Any]:
    """The stored config with each of `ADDED_KEYS` it lacks (a config of an older version)."""
    for path, value in ADDED_KEYS.items():
        node = config
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node.setdefault(path[-1], value)
    return config


# A control trained on permuted labels, a check of a run, a scoring of a model on new data:
# none is a training run of its own config to run again.
NOT_REPRODUCIBLE = ("placebo", "reproduction", "evaluation")


def reproduce(reg: Registry, experiment_id: str, output_dir: Path) -> dict[str, Any]:
    entry = log.get(reg, experiment_id)
    if entry.status not in REPRODUCIBLE or entry.kind in NOT_REPRODUCIBLE:
        raise RegistryError(f"experiment {experiment_id} is a {entry.status} {entry.kind} run; "
                            "only a completed model run can be reproduced")
    if not entry.config:
        raise RegistryError(f"experiment {experiment_id} has no stored config (recorded before "
                            "configs were kept); it cannot be reproduced")
    check_fingerprints(reg, experiment_id, entry.datasets.get("fingerprints") or {})
    metrics_path = reg.dir / (entry.artifacts.get("metrics") or "")
    try:
        evidence = json.loads(metrics_path.read_text())["evidence_inputs"]
    except (OSError, ValueError, KeyError) as exc:
        raise RegistryError(f"experiment {experiment_id}: no evidence inputs in {metrics_path} "
                            f"({exc})") from None
    config = relocated(with_added_keys(copy.deepcopy(entry.config)),
                       entry.config["paths"]["output_dir"], str(output_dir))
    config["paths"]["registry_dir"] = str(reg.dir)
    config.setdefault("registry", {})["url"] = reg.url
    ev = config["evaluation"]
    ev.update(placebo=False, seeds=[])
    ev["walk_forward"]["folds"] = 0

    summary = train(OmegaConf.create(config), reproduction={
        "parent_experiment_id": experiment_id,
        "evidence": {k: v for k, v in evidence.items() if k != "experiment_id"}})
    recorded, reproduced = leaves(entry.metrics), leaves(summary["metrics"])
    figures = [{"name": name, "recorded": recorded.get(name), "reproduced": reproduced.get(name),
                "match": name in recorded and name in reproduced
                and recorded[name] == reproduced[name]}
               for name in sorted(set(recorded) | set(reproduced))]
    mismatches = sum(not f["match"] for f in figures)
    return {"experiment_id": experiment_id, "reproduction_id": summary["experiment_id"],
            "status": "differs" if mismatches else "matches", "mismatches": mismatches,
            "figures": figures, "artifact_dir": summary["artifact_dir"]}
