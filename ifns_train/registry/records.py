"""Records of the registry and the experiment log (spec sections 3.1, 4.1 and 8.1).

Pydantic models with extra fields forbidden: a record is checked before it is written and
again when it is read, so a malformed one never reaches another stage. Each record carries the
`schema_version` of its shape; `upgrade` brings an older record to the current shape, and a
newer one is refused (this code cannot know what its new fields mean).
"""

from __future__ import annotations

import json
from typing import Any, Literal, Optional, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ifns_train.core.errors import RegistryError
from ifns_train.registry import ids

# 1: the JSON registry (model_registry.json, experiments_log.json) before the database.
# 2: running entries (host, pid, no finished_ts yet), the resolved config with each experiment,
#    artifact hashes with each model, status history kept apart from the record.
RECORD_SCHEMA = 2
ModelStatus = Literal["candidate", "canary", "promoted", "retired"]
# env -> the statuses a model must have for its signals to be used there (`ifns-predict env=`):
# live trading only from a promoted model, paper trading from a canary or a promoted one, any
# compliant model offline. Its keys are the environments. Kept beside the statuses, not in the
# lifecycle, so that scoring does not import the lifecycle's gate (half a second).
USABLE_IN: dict[str, tuple[str, ...]] = {
    "offline": get_args(ModelStatus),
    "paper": ("canary", "promoted"),
    "live": ("promoted",),
}
ExperimentStatus = Literal["running", "completed", "failed", "selected", "discarded"]
ExperimentKind = Literal["model", "fold", "seed", "placebo", "reproduction", "evaluation"]
# Runs that register no model: the companions of a run (an earlier walk-forward fold, another
# seed, a placebo control: evidence the main model's record holds, `stability` and `controls`),
# a check of a recorded run, a test on new data. They are no trials for the deflated Sharpe
# ratio, and their folders (under controls/ or evaluations/) are claimed by their entries.
COMPANION_KINDS = ("fold", "seed", "placebo")  # `ifns_train.run.companions`
NO_MODEL_KINDS = (*COMPANION_KINDS, "reproduction", "evaluation")
ID_PATTERN = ids.ID_RE.pattern


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class StatusChange(_Record):
    """One appended row of a model's or an experiment's status history."""

    status: str
    from_status: Optional[str] = None
    ts: str
    by: str
    reason: str
    evidence: list[str] = Field(default_factory=list)
    # A decision's figures (its promotion checks as they stood at the decision); None for
    # other changes and for rows written before they were kept.
    figures: Optional[dict[str, Any]] = None


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

    schema_version: int = RECORD_SCHEMA
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
    # The feature columns, in the order the model reads them: what a dataset must carry to be
    # scored by it (`ifns_train.cli.predict`).
    feature_columns: list[str] = Field(default_factory=list)
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
    # sha256 of every file of the artifact folder, by path relative to it: checked on load.
    artifact_hashes: dict[str, str]
    code_version: dict[str, Any]
    # Filled from the registry's appended history on read; never stored in the record.
    status_history: list[StatusChange] = Field(default_factory=list)


class ModelRecord(ModelDraft):
    """One trained model (spec 4.1): a draft with the version the registry gave it."""

    model_version: int = Field(ge=1)


class ExperimentEntry(_Record):
    """One run (spec 8.1): `running` from its start, then `completed` or `failed` (with the
    error); a sweep's review may mark a completed one `selected` or `discarded`."""

    schema_version: int = RECORD_SCHEMA
    experiment_id: str = Field(pattern=ID_PATTERN)
    experiment_name: str
    timestamp: str
    finished_ts: Optional[str] = None
    host: Optional[str] = None
    pid: Optional[int] = None
    model_family: str
    roles: list[str]
    proposed_model_id: str = Field(pattern=ID_PATTERN)
    status: ExperimentStatus
    datasets: dict[str, Any]
    features_used: list[str]
    labels_used: list[str]
    hyperparameters: dict[str, Any]
    # The resolved config the run was started with: what `reproduce` runs again.
    config: dict[str, Any]
    training: dict[str, Any] = Field(default_factory=dict)
    config_hash: str
    seed: int
    metrics: dict[str, Any]
    artifacts: dict[str, Optional[str]]
    code_version: dict[str, Any]
    error: Optional[str] = None
    # A companion run (walk-forward fold, extra seed, placebo) or a reproduction names the
    # experiment it serves; that experiment lists its companions under `links`, by kind. None
    # of them registers a model (NO_MODEL_KINDS).
    kind: ExperimentKind = "model"
    parent_experiment_id: Optional[str] = None
    links: dict[str, list[str]] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)


def _upgrade_1(kind: str, raw: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 (the JSON registry) -> 2."""
    raw = dict(raw)
    if kind == "experiment":
        raw.setdefault("config", {})
        raw.setdefault("host", None)
        raw.setdefault("pid", None)
    else:
        raw.setdefault("artifact_hashes", {})
        raw.setdefault("metrics_version", 1)
        raw.pop("status_history", None)  # imported as history rows by `migrate`
    raw["schema_version"] = 2
    return raw


UPGRADES = {1: _upgrade_1}


def upgrade(kind: str, raw: dict[str, Any], where: str) -> dict[str, Any]:
    """`raw` brought to RECORD_SCHEMA; a newer record is refused."""
    version = raw.get("schema_version", 1)
    if not isinstance(version, int) or version < 1:
        raise RegistryError(f"{where}: schema_version {version!r} is not a version number")
    if version > RECORD_SCHEMA:
        raise RegistryError(f"{where}: record schema_version {version} is newer than this "
                            f"code's {RECORD_SCHEMA}; upgrade ifns-train to read it")
    while version < RECORD_SCHEMA:
        raw = UPGRADES[version](kind, raw)
        version = raw["schema_version"]
    return raw


def stored(kind: str, text: str, schema: int, where: str) -> dict[str, Any]:
    """A record as stored (JSON text of shape `schema`), parsed and brought to RECORD_SCHEMA."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise RegistryError(f"{where}: record is not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise RegistryError(f"{where}: record is not a JSON object")
    return upgrade(kind, {**raw, "schema_version": schema}, where)


def validated(cls: type[_Record], raw: dict[str, Any], where: str) -> Any:
    """`cls(**raw)`, with an error that names the record and each bad field."""
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(p) for p in err['loc']) or '(record)'}': {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise RegistryError(f"{where}: invalid record: {problems}") from None
