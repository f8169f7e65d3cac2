"""What the recorder knows of a run before it starts (`RunContext`): its config and ids, the
registry it writes to, the data once resolved, the schedule once trained, its companions; and
how that becomes the registry's `Run` and the evaluation's spec and inputs."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import to_absolute_path

from ifns_train.data.resolve import ResolvedData
from ifns_train.evaluation.standard import EvaluationSpec
from ifns_train.registry import ids, log
from ifns_train.registry.database import Registry
from ifns_train.registry.publish import Run
from ifns_train.registry.records import NO_MODEL_KINDS


def sweep_dir() -> str | None:
    """The folder of the Hydra sweep this run is a job of (None outside a multirun): what
    groups a sweep's runs in the log."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return to_absolute_path(HydraConfig.get().sweep.dir)


@dataclass
class RunContext:
    """What the recorder knows of a run before it starts."""

    config: dict[str, Any]
    experiment_id: str
    model_id: str
    registry: Registry
    output_dir: Path
    started: Any
    code_version: dict[str, Any]
    config_hash: str
    data: ResolvedData | None = None
    # Baseline and family-specific evaluation inputs (family.baseline_params and the horizon).
    params: dict[str, Any] = field(default_factory=dict)
    # The training schedule as run (batch size used, steps taken), known once fit has ended.
    training: dict[str, Any] = field(default_factory=dict)
    # "model", a companion of another run ("fold", "seed", "placebo") or a "reproduction" of a
    # recorded experiment: of these only "model" registers a model (`NO_MODEL_KINDS`); the
    # others' artifacts go to controls/, and a companion's figures are the evidence of the
    # run it serves (its `stability` and `controls`), not a model anyone may use.
    kind: str = "model"
    parent_experiment_id: str | None = None
    # The summaries of this run's companions, by kind (see `ifns_train.run.companions`).
    companions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # How a placebo's labels were permuted, per split.
    placebo: dict[str, str] | None = None
    # A reproduction's evidence inputs: the original run's, so its figures can match.
    evidence: dict[str, Any] | None = None

    @property
    def registry_dir(self) -> Path:
        return self.registry.dir

    @property
    def family(self) -> dict[str, Any]:
        return self.config["family"]

    @property
    def registers_model(self) -> bool:
        return self.kind not in NO_MODEL_KINDS

    @property
    def artifact_rel(self) -> str:
        if not self.registers_model:  # evidence of a control or a check, not a model to use
            return f"controls/{self.family['family_id']}/{self.experiment_id}"
        return f"models/{self.family['family_id']}/{self.model_id}"

    def run(self) -> Run:
        return Run(
            experiment_id=self.experiment_id,
            model_id=self.model_id,
            experiment_name=self.config["experiment_name"],
            family_id=self.family["family_id"],
            roles=self.family["roles"],
            started_ts=ids.iso(self.started),
            config=self.config,
            config_hash=self.config_hash,
            code_version=self.code_version,
            run_dir=str(self.output_dir),
            artifact_path=self.artifact_rel,
            datasets=self.datasets(),
            training=self.training,
            kind=self.kind,
            parent_experiment_id=self.parent_experiment_id,
            links={k: [c["experiment_id"] for c in v] for k, v in self.companions.items()},
            host=socket.gethostname(),
            pid=os.getpid(),
            sweep_dir=sweep_dir(),
        )

    def datasets(self) -> dict[str, Any]:
        """Dataset ids, windows and fingerprints, and the split report once resolved."""
        data = self.data
        if data is None:
            cfg = self.config["dataset"]
            return {"ids": {s: cfg.get(f"{s}_dataset_id") for s in ("train", "val", "test")},
                    "windows": cfg.get("windows"), "fingerprints": {}}
        return {
            "ids": data.dataset_ids,
            "windows": {s: r["window"] for s, r in data.report["splits"].items()},
            "fingerprints": data.fingerprints,
            "purge_gap_days": data.report["purge_gap_days"],
            "splits": data.report["splits"],
        }

    def evaluation_spec(self, metric_set: str) -> EvaluationSpec:
        ev = self.config["evaluation"]
        assert self.data is not None
        return EvaluationSpec(
            metric_set=metric_set,
            baselines=tuple(self.family["baselines"]),
            slice_by=tuple(ev["slice_by"]),
            min_rows=ev["min_slice_rows"],
            n_bins=ev["calibration_bins"],
            horizon_days=self.data.horizon_days,
            gate_threshold=self.params.get("gate_threshold"),  # the overlay family's only
            bootstrap=dict(ev["bootstrap"]),
            cost_bps=float(ev["cost_bps"]),
            proxy_band=float(ev["proxy_band"]),
            promotion=dict(self.config["promotion"]),
        )

    def evidence_inputs(self, complexity: dict[str, Any]) -> dict[str, Any]:
        """What the evaluation reads besides the tables (recorded with the figures)."""
        assert self.data is not None
        if self.evidence is not None:
            return {**self.evidence, "experiment_id": self.experiment_id,
                    "complexity": complexity}
        return {
            "experiment_id": self.experiment_id,
            "trials": log.trials(self.registry, self.family["family_id"],
                                 self.data.label_family, self.data.dataset_ids["train"]),
            "companions": {kind: [{k: run.get(k) for k in
                                   ("experiment_id", "model_id", "metrics", "placebo")}
                                  for run in runs]
                           for kind, runs in self.companions.items()},
            "complexity": complexity,
        }
