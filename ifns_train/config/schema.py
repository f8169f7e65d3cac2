"""Structured config: the typed shape of an experiment.

Registered in Hydra's ConfigStore as `base_config` and listed first in
`ifns_train/conf/config.yaml`, so every YAML file and command-line override is merged into typed,
closed nodes: a misspelt key or a wrong type fails at composition, before any work, with a
message that names the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

# Each default is set in one place (tests/config/test_defaults.py holds every group to it):
# - model:, evaluation:, promotion:, labels:, features:, trainer: their values live in the
#   group's YAML options (ifns_train/conf/<group>/*.yaml); the fields below are MISSING (a
#   type, no value), except keys no option sets (model.min_steps_per_epoch, ...);
# - dataset:, family: (its optional keys) and the top-level keys: their defaults are the
#   fields below; an option file sets a key only to choose another value.
# Python code that takes one of these values (FamilyModule, the backbones, the evaluation
# functions, PanelDataModule) has it as a required argument, or defaults to a constant here.

# The default of `dataset.shuffle_buffer_mb` (MiB), also `PanelDataModule`'s.
SHUFFLE_BUFFER_MB = 1024
# The default of `model.learner`: the nets, fitted by Lightning (`ifns_train.learners`).
LIGHTNING_LEARNER = "ifns_train.learners.lightning"
# The default of `dataset.device_resident` (auto, true or false), also `PanelDataModule`'s.
DEVICE_RESIDENT = "auto"


class Role(str, Enum):
    """The five model roles of the spec (section 3.2); nothing else is accepted."""

    primary_directional = "primary_directional"
    confirmation = "confirmation"
    risk_overlay = "risk_overlay"
    structure_aware_overlay = "structure_aware_overlay"
    execution_cost = "execution_cost"


class Environment(str, Enum):
    offline = "offline"
    paper = "paper"
    live = "live"


class Task(str, Enum):
    classification = "classification"
    regression = "regression"


@dataclass
class FamilyConfig:
    name: str = MISSING
    family_id: str = MISSING
    # The family's LightningModule, a dotted class path (`mypkg.families.MyFamily`) for a family
    # of one's own: a subclass of ifns_train.families.base.FamilyModule whose `family_name` is
    # `name`, importable where it runs. null: the built-in family called `name`.
    module: Optional[str] = None
    description: str = ""
    roles: List[Role] = MISSING
    task: Task = MISSING
    prediction_type: str = MISSING
    supported_environments: List[Environment] = field(
        default_factory=lambda: [Environment.offline]
    )
    # Input requirements: the label families it can learn, the feature families it needs.
    label_families: List[str] = MISSING
    feature_families: List[str] = field(default_factory=list)
    baselines: List[str] = field(default_factory=list)
    # Inputs of the baselines and of family-specific evaluation (column names, constants).
    baseline_params: Dict[str, Any] = field(default_factory=dict)
    # Training loss; null takes the family's default (each family lists the ones it knows).
    loss: Optional[str] = None
    # Huber transition point, in units of the standardised target.
    huber_delta: float = 1.0


@dataclass
class WindowConfig:
    start: str = MISSING
    end: str = MISSING


@dataclass
class SplitWindowsConfig:
    train: WindowConfig = MISSING
    val: WindowConfig = MISSING
    test: WindowConfig = MISSING


@dataclass
class DatasetConfig:
    # One id fills the three split ids below unless they are set one by one.
    id: Optional[str] = None
    train_dataset_id: str = "${.id}"
    val_dataset_id: str = "${.id}"
    test_dataset_id: str = "${.id}"
    # Date windows; null takes the split metadata of the dataset index entry.
    windows: Optional[SplitWindowsConfig] = None
    # Extra trading days dropped after each purge gap (the purge itself is the label horizon).
    embargo_days: int = 5
    # Purge gap in trading days; null means the label horizon, less than it is refused.
    purge_days: Optional[int] = None
    # Generate the embedded demo dataset on the first run that asks for it.
    generate_demo_if_missing: bool = True
    verify_fingerprint: bool = True
    # Keep resolved, verified tables memory-mapped for later runs on this machine (a sweep's
    # jobs read and verify a dataset once); `ifns_train.data.cache`. Not part of the config hash.
    cache: bool = True
    # The cache folder; null is `<paths.registry_dir>/cache`.
    cache_dir: Optional[str] = None
    # Entries kept (most recently used first) when a new one is written.
    cache_keep: int = 8
    # Keep the split tensors on the training device and gather batches there (no host-to-device
    # copy per step): auto (on a GPU), true or false. Same batches either way; not hashed.
    device_resident: Any = DEVICE_RESIDENT
    # The train rows are shuffled in one permutation when the train split's table span fits
    # this many MiB, else in chunked order (groups of chunks that fit it, shuffled within);
    # evaluation splits larger than it are read from the table rather than copied out. Bounds
    # the host memory of a table larger than memory; hashed (it sets the order of big splits).
    shuffle_buffer_mb: int = SHUFFLE_BUFFER_MB


@dataclass
class FeaturesConfig:
    name: str = MISSING
    families: List[str] = MISSING


@dataclass
class LabelsConfig:
    name: str = MISSING
    target: str = MISSING
    horizon_days: int = MISSING


@dataclass
class ModelConfig:
    # The values of the keys down to batch_size live in the model group's options only
    # (ifns_train/conf/model/*.yaml; the default run's: mlp.yaml). The net keys (hidden_sizes
    # to batch_size) are null in an option whose learner is not a net (lightgbm.yaml).
    # A net of `ifns_train.nets.backbones` (linear, mlp, gru, tcn), or the name a learner gives
    # its model (lightgbm); checked by the learner.
    backbone: str = MISSING
    hidden_sizes: Optional[List[int]] = MISSING
    dropout: Optional[float] = MISSING
    # Rows of past history per symbol fed to the backbone; 1 means the current row only.
    lookback: int = MISSING
    optimizer: Optional[str] = MISSING
    lr: Optional[float] = MISSING
    weight_decay: Optional[float] = MISSING
    # The largest training batch; capped so that an epoch has at least `min_steps_per_epoch`
    # optimiser steps (a small dataset is trained, not skipped in one step per epoch).
    batch_size: Optional[int] = MISSING
    # The module that fits, saves and loads the model (`ifns_train.learners.base`): Lightning
    # for the nets; an option of another library names its own (lightgbm.yaml). Hashed only
    # when not Lightning.
    learner: str = LIGHTNING_LEARNER
    # The learner's own settings, passed to its library as they are (lightgbm.yaml: LightGBM's
    # parameters); empty for the nets, whose settings are the keys above. Hashed when set.
    params: Dict[str, Any] = field(default_factory=dict)
    min_steps_per_epoch: int = 16
    # Optimiser steps before early stopping may end training (Lightning's Trainer min_steps).
    min_steps: int = 100
    # torch.compile the backbone for training (kept in the checkpoint's hyperparameters;
    # predictions outside a Trainer run it eagerly). Hashed only when true.
    compile: bool = False


@dataclass
class BootstrapConfig:
    reps: int = MISSING
    level: float = MISSING
    # "auto": Politis-White on the per-date series, never shorter than the label horizon.
    block: Any = MISSING
    method: str = MISSING
    seed: int = MISSING


@dataclass
class WalkForwardConfig:
    folds: int = MISSING  # 0: no walk-forward evaluation
    scheme: str = MISSING  # expanding | rolling
    train_days: int = MISSING
    val_days: int = MISSING
    test_days: int = MISSING


@dataclass
class AttributionConfig:
    """Permutation feature attribution on the test split (`evaluation.attribution`)."""

    enabled: bool = MISSING
    reps: int = MISSING  # bootstrap replicates of each drop's interval
    # Per feature only up to this many columns (each costs a scoring pass of the split);
    # above it, per feature family only.
    max_features: int = MISSING


@dataclass
class CurvesConfig:
    """The pictures of curves/ (`evaluation.curves`): their JSON is always recorded."""

    images: bool = MISSING  # draw each PNG in the run too (else rendered outside it)


@dataclass
class EvaluationConfig:
    # The values of every key live in ifns_train/conf/evaluation/default.yaml only.
    slice_by: List[str] = MISSING
    min_slice_rows: int = MISSING
    calibration_bins: int = MISSING
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)
    cost_bps: float = MISSING
    cost_model_id: Optional[str] = MISSING
    proxy_band: float = MISSING
    placebo: bool = MISSING
    seeds: List[int] = MISSING
    walk_forward: WalkForwardConfig = field(default_factory=WalkForwardConfig)
    attribution: AttributionConfig = field(default_factory=AttributionConfig)
    curves: CurvesConfig = field(default_factory=CurvesConfig)


class ChallengerRule(str, Enum):
    superior = "superior"
    non_inferior = "non_inferior"


@dataclass
class ChallengerConfig:
    """How a challenger must compare with the promoted holder of its role, on the rows both
    scored (`ifns-decide --to promoted`): `superior`, the paired improvement's interval lies
    wholly above `margin`; `non_inferior`, it lies wholly above -`margin`."""

    rule: ChallengerRule = MISSING
    margin: float = MISSING  # in the primary metric's units, >= 0


@dataclass
class PromotionConfig:
    """Pre-DRA promotion checks (spec 7.3) of a family; evidence only, never a status change."""

    name: str = MISSING
    # The improvement over the best baseline on the primary metric, in its favourable direction.
    min_improvement: float = MISSING
    require_significant: bool = MISSING
    # How far a regime slice (of adequate size) may fall behind its best baseline on the primary
    # metric, in the metric's units.
    regime_floor: float = MISSING
    max_calibration_error: Optional[float] = MISSING
    max_walk_forward_std: Optional[float] = MISSING
    min_deflated_sharpe: Optional[float] = MISSING
    # The probability of backtest overfitting of the search a model was selected from (CSCV),
    # at most this; null: not checked.
    max_pbo: Optional[float] = MISSING
    # The contiguous blocks of test dates the PBO splits (S, even): C(S, S/2) halvings.
    pbo_blocks: int = MISSING
    challenger: ChallengerConfig = field(default_factory=ChallengerConfig)


@dataclass
class PathsConfig:
    # The project root (`${ifns_root:}`, or IFNS_ROOT): registry/ and outputs/ live under it.
    root_dir: str = MISSING
    registry_dir: str = MISSING
    output_dir: str = MISSING


@dataclass
class RegistryConfig:
    # The database of record: null is SQLite in paths.registry_dir (or $IFNS_REGISTRY_URL);
    # postgresql://user@host/db for a registry shared by a team or a cluster.
    url: Optional[str] = None


@dataclass
class Config:
    family: FamilyConfig = MISSING
    dataset: DatasetConfig = MISSING
    features: FeaturesConfig = MISSING
    labels: LabelsConfig = MISSING
    model: ModelConfig = MISSING
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    promotion: PromotionConfig = MISSING
    paths: PathsConfig = MISSING
    registry: RegistryConfig = field(default_factory=RegistryConfig)
    # Lightning's own Trainer keyword arguments; keys are checked against its signature.
    trainer: Dict[str, Any] = field(default_factory=dict)
    # `_target_` specs instantiated by Hydra: Lightning callbacks and loggers.
    callbacks: Dict[str, Any] = field(default_factory=dict)
    logger: Dict[str, Any] = field(default_factory=dict)
    seed: int = 42
    experiment_name: str = "default"
    # Free-text note kept in the experiment log.
    notes: str = ""
    # Print the resolved config as a tree when a run starts (rank 0 only).
    print_config: bool = True
    # Labels kept with the experiment and searchable (`ifns-admin experiments search --tag`);
    # each matches `checks.TAG_PATTERN`.
    tags: List[str] = field(default_factory=list)
    # A Lightning checkpoint of an interrupted run (e.g. its checkpoints/last.ckpt): that
    # experiment continues, same ids, same config. Not part of the config hash.
    ckpt_path: Optional[str] = None
    # A registered model_id whose weights start a new experiment (a fine-tune), recorded as
    # its parent. Exclusive of ckpt_path.
    init_from: Optional[str] = None


@dataclass
class EvaluateRegistryPaths:
    root_dir: str = MISSING
    registry_dir: str = MISSING


@dataclass
class DatasetChoice:
    id: Optional[str] = None


@dataclass
class EvaluateConfig:
    """`python -m ifns_train.cli.evaluate`: which registered model, in which registry; with a
    dataset id, evaluated on that data (and window) rather than recomputed."""

    model_id: str = MISSING
    dataset: DatasetChoice = field(default_factory=DatasetChoice)
    start: Optional[str] = None
    end: Optional[str] = None
    # Evaluate a window overlapping the model's train or validation window, marked in-sample.
    allow_overlap: bool = False
    paths: EvaluateRegistryPaths = field(default_factory=EvaluateRegistryPaths)
    registry: RegistryConfig = field(default_factory=RegistryConfig)


@dataclass
class DriftConfig:
    """`ifns-predict`'s `drift:`: the PSI bands of the scored rows against a model's training
    rows (`signals.drift_gate`); the values live in conf/predict.yaml."""

    soft_psi: float = MISSING
    hard_psi: float = MISSING
    min_regime_rows: int = MISSING


@dataclass
class PredictConfig:
    """`python -m ifns_train.cli.predict`: signals of one or several registered models."""

    model_id: Any = MISSING  # one id, or a list of ids
    dataset: DatasetChoice = field(default_factory=DatasetChoice)
    start: Optional[str] = None
    end: Optional[str] = None
    env: Environment = Environment.offline
    output: Optional[str] = None
    batch_size: int = 65536
    drift: DriftConfig = field(default_factory=DriftConfig)
    # Score on env=live despite a drift above drift.hard_psi (or no reference); recorded.
    allow_drift: bool = False
    paths: EvaluateRegistryPaths = field(default_factory=EvaluateRegistryPaths)
    registry: RegistryConfig = field(default_factory=RegistryConfig)


def register_configs() -> None:
    ConfigStore.instance().store(name="base_config", node=Config)
    ConfigStore.instance().store(name="base_evaluate", node=EvaluateConfig)
    ConfigStore.instance().store(name="base_predict", node=PredictConfig)
