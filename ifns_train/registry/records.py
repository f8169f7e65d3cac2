"""Records of the registry and the experiment log (spec sections 3.1, 4.1 and 8.1).

Pydantic models with extra fields forbidden: a record is checked before it is written, so a
malformed one never reaches the files other stages read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from ifns_train.errors import RegistryError
from ifns_train.registry import ids
from ifns_train.store import read_document, transaction

MODELS_FILE = "model_registry.json"
EXPERIMENTS_FILE = "experiments_log.json"
ModelStatus = Literal["candidate", "canary", "promoted", "retired"]
ExperimentStatus = Literal["completed", "failed", "selected", "discarded"]
ExperimentKind = Literal["model", "fold", "seed", "placebo"]
ID_PATTERN = ids.ID_RE.pattern


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class StatusChange(_Record):
    status: ModelStatus
    ts: str
    by: str
    reason: str


class FamilyRecord(_Record):
    """The registry's one definition of a model family (spec 3.1)."""

    family_id: str
    name: str
    description: str
    roles: list[str]
    task: str
    prediction_type: str
    input_requirements: dict[str, Any]
    supported_environments: list[str]
    baselines: list[str]


class ModelDraft(_Record):
    """A model record before the registry gives it its version (spec 4.1)."""

    model_id: str = Field(pattern=ID_PATTERN)
    model_family: str
    status: ModelStatus
    created_ts: str
    last_updated_ts: str
    experiment_id: str = Field(pattern=ID_PATTERN)
    roles: list[str] = Field(min_length=1)
    train_dataset_id: str
    val_dataset_id: str
    test_dataset_id: str
    dataset_windows: dict[str, Any]
    dataset_fingerprints: dict[str, str]
    features_used: list[str]
    labels_used: list[str]
    prediction_type: str
    horizons: list[int]
    # Key figures per split, computed from the saved predictions under `metrics_version`;
    # figures of earlier versions are kept in `metrics_history`, never dropped.
    metrics: dict[str, Any]
    metrics_version: int = Field(ge=1)
    metrics_history: list[dict[str, Any]] = Field(default_factory=list)
    supported_environments: list[str]
    resources: dict[str, Any]
    # The schedule actually run: batch size used, steps taken, the epoch and step evaluated.
    training: dict[str, Any]
    artifact_path: str
    code_version: dict[str, Any]
    status_history: list[StatusChange]


class ModelRecord(ModelDraft):
    """One trained model (spec 4.1): a draft with the version the registry gave it."""

    model_version: int = Field(ge=1)


class ExperimentEntry(_Record):
    """One run (spec 8.1); a failed run has an error and no model record."""

    experiment_id: str = Field(pattern=ID_PATTERN)
    experiment_name: str
    timestamp: str
    finished_ts: str
    model_family: str
    roles: list[str]
    proposed_model_id: str = Field(pattern=ID_PATTERN)
    status: ExperimentStatus
    datasets: dict[str, Any]
    features_used: list[str]
    labels_used: list[str]
    hyperparameters: dict[str, Any]
    training: dict[str, Any] = Field(default_factory=dict)
    config_hash: str
    seed: int
    metrics: dict[str, Any]
    artifacts: dict[str, Optional[str]]
    code_version: dict[str, Any]
    error: Optional[str] = None
    # A companion run (walk-forward fold, extra seed, placebo) names the experiment it serves;
    # that experiment lists its companions under `links`, by kind.
    kind: ExperimentKind = "model"
    parent_experiment_id: Optional[str] = None
    links: dict[str, list[str]] = Field(default_factory=dict)


def upsert_experiment(registry_dir: Path, entry: ExperimentEntry) -> None:
    """Add the entry, or replace the one with its experiment_id (a run that failed late)."""
    with transaction(registry_dir / EXPERIMENTS_FILE, {"experiments": []}) as doc:
        doc["experiments"] = [
            e for e in doc["experiments"] if e.get("experiment_id") != entry.experiment_id
        ]
        doc["experiments"].append(entry.model_dump(mode="json"))


def add_model(registry_dir: Path, family: FamilyRecord, draft: ModelDraft) -> ModelRecord:
    """Append a model record; its model_version is the next of its family, given under lock."""
    with transaction(registry_dir / MODELS_FILE, {"families": {}, "models": []}) as doc:
        models = doc["models"]
        if any(m.get("model_id") == draft.model_id for m in models):
            raise ValueError(f"model_id {draft.model_id} is already in the registry")
        if any(m.get("experiment_id") == draft.experiment_id for m in models):
            raise ValueError(f"experiment_id {draft.experiment_id} already has a model")
        version = 1 + max(
            (m.get("model_version", 0) for m in models if m.get("model_family") ==
             family.family_id),
            default=0,
        )
        model = ModelRecord(**draft.model_dump(), model_version=version)
        doc["families"][family.family_id] = family.model_dump(mode="json")
        models.append(model.model_dump(mode="json"))
    return model


def find_model(registry_dir: Path, model_id: str) -> ModelRecord:
    """The registered model with this id, checked against the schema."""
    ids.check_id(model_id, "model_id")
    doc = read_document(registry_dir / MODELS_FILE, {"families": {}, "models": []})
    for model in doc["models"]:
        if model.get("model_id") == model_id:
            return ModelRecord(**model)
    raise RegistryError(f"no model {model_id!r} in {registry_dir / MODELS_FILE}")


def update_metrics(registry_dir: Path, model_id: str, metrics: dict[str, Any], version: int,
                   now: str) -> ModelRecord:
    """Replace a model's key figures with those of a newer metrics version; the earlier ones
    are appended to its metrics_history."""
    with transaction(registry_dir / MODELS_FILE, {"families": {}, "models": []}) as doc:
        for i, raw in enumerate(doc["models"]):
            if raw.get("model_id") != model_id:
                continue
            model = ModelRecord(**raw)
            if version <= model.metrics_version:
                raise RegistryError(
                    f"model {model_id}: metrics version {version} is not newer than its "
                    f"{model.metrics_version}"
                )
            history = [*model.metrics_history, {"metrics_version": model.metrics_version,
                                                "metrics": model.metrics,
                                                "replaced_ts": now}]
            model = model.model_copy(update={"metrics": metrics, "metrics_version": version,
                                             "metrics_history": history,
                                             "last_updated_ts": now})
            doc["models"][i] = ModelRecord(**model.model_dump()).model_dump(mode="json")
            return model
    raise RegistryError(f"no model {model_id!r} in {registry_dir / MODELS_FILE}")


def trial_sharpes(registry_dir: Path, family_id: str, label: str, train_dataset_id: str
                  ) -> list[float]:
    """The annualised proxy Sharpe ratios of the completed trials of one family, label and
    training dataset in the experiment log (placebos are no trials): what a deflated Sharpe
    ratio deflates by."""
    doc = read_document(registry_dir / EXPERIMENTS_FILE, {"experiments": []})
    out = []
    for entry in doc["experiments"]:
        if (entry.get("status") != "completed" or entry.get("kind", "model") == "placebo"
                or entry.get("model_family") != family_id
                or entry.get("labels_used") != [label]
                or entry.get("datasets", {}).get("ids", {}).get("train") != train_dataset_id):
            continue
        sharpe = (entry.get("metrics", {}).get("selection") or {}).get("sharpe_annualised")
        if sharpe is not None:
            out.append(float(sharpe))
    return out
