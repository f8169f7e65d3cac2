"""The seam between a run and the library that fits its model.

A run resolves its data, fits, evaluates and publishes; only the fit, and the model file it
leaves, depend on the library. A *learner* is one module, named by `model.learner` (a dotted
module path; `ifns_train.learners.lightning` for the nets, `ifns_train.learners.lightgbm` for
gradient-boosted trees), that defines:

* `FILES`: the names of the files its model is saved in, inside the artifact folder (hashed
  with every other file of it, and checked before a byte of them is read);
* `fit(request: FitRequest) -> Fitted`: train on the request's splits and return the raw
  outputs of the evaluation splits, the model as a `Scorer`, and what the fit did;
* `load(folder, family, record) -> Scorer`: a registered model, from the files of `FILES`
  (already verified against their recorded hashes), for scoring new data;
* `check_init(parent, config) -> None`: that a registered model of this learner
  (`init_from`) can start this run's fit (the same architecture), raising `ConfigError` with
  a clause the caller prefixes with the model ("has model.lookback=20; this run has 1: ...");
* `check_config(config) -> None`: the learner's own keys, before any work.

Everything else (the family's predictions, baselines, evaluation, pictures, the registry
record) is shared: the recorder reads only `Fitted`, scoring reads only `Scorer`. A third
library is one more module with these five names, and one option in `conf/model/`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import numpy as np
import torch

from ifns_train.core.errors import ConfigError
from ifns_train.data.module import lookback_windows
from ifns_train.data.resolve import ResolvedData
from ifns_train.families.base import FamilyModule


class Scorer(Protocol):
    """A fitted model as scoring sees it, whatever library fitted it."""

    family: type[FamilyModule]  # the family's semantics: predictions, baselines, inputs
    lookback: int  # rows of its symbol each prediction reads (1: the current row)
    vocab: Mapping[str, list[Any]]  # each categorical input's training values (code i+1)
    n_features: int

    def outputs(self, x: torch.Tensor, cat: torch.Tensor | None) -> np.ndarray:
        """Raw outputs, float64, of a batch: `x` (rows, features) or (rows, lookback,
        features) of raw (unstandardised) features, `cat` (rows, categorical inputs) codes."""
        ...

    def predictions(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        """Raw outputs -> the family's named prediction arrays."""
        ...


def score_positions(scorer: Scorer, features: np.ndarray, positions: np.ndarray,
                    codes: torch.Tensor | None, batch_size: int) -> np.ndarray:
    """The scorer's raw outputs at `positions` of `features` (table rows, sorted by symbol then
    date), each from the `lookback` rows ending there, in batches without gradients; `codes`
    are the categorical inputs aligned with `positions` (None without any). The one batch
    loop of scoring: `ifns-predict`'s rows of a table and the attribution's permuted copies."""
    lookback = int(scorer.lookback)
    feats = torch.from_numpy(features)
    source = lookback_windows(feats, lookback) if lookback > 1 else feats
    index = torch.from_numpy(np.asarray(positions, dtype=np.int64))
    outputs = []
    with torch.inference_mode():
        for lo in range(0, len(index), batch_size):
            pick = index[lo:lo + batch_size]
            cat = None if codes is None else codes[lo:lo + batch_size]
            outputs.append(scorer.outputs(source[pick - (lookback - 1)], cat))
    return np.concatenate(outputs) if outputs else np.zeros(0)


class Resumable(Protocol):
    """An interrupted run to continue from its checkpoint (`run.resume.Resume`)."""

    path: str

    def continue_checkpoints(self, callbacks: list[Any]) -> None: ...


@dataclass
class FitRequest:
    """What a learner fits from: the composed config, the family, the resolved splits (the
    placebo's permuted labels already in them), and the run's own pieces."""

    config: dict[str, Any]
    family: type[FamilyModule]
    data: ResolvedData
    vocab: dict[str, list[Any]]  # each categorical input's values in the training rows
    # Ends a phase of the run's clock: "setup" before the fit, "fit" after it (the scoring of
    # the splits that follows is the evaluation's; `run.timing`).
    mark: Callable[[str], None]
    callbacks: list[Any] = field(default_factory=list)  # the run's Lightning callbacks
    smoke: list[str] | None = None  # a smoke test's trainer settings: fit, record nothing
    init: Scorer | None = None  # `init_from`: the registered model the fit starts from
    resume: Resumable | None = None  # `ckpt_path`: the interrupted run to continue


@dataclass
class Fitted:
    """A finished fit, as the recorder uses it."""

    # Raw outputs of each evaluation split (`data.module.EVAL_SPLITS`), in row order; empty on
    # a process that does not record (a DDP rank other than 0) and in a smoke test.
    outputs: dict[str, np.ndarray]
    scorer: Scorer
    save: Callable[[Path], None]  # writes `FILES` into a folder that exists (collective
    # under DDP)
    training: dict[str, Any]  # what the fit did, recorded as the model's `training`
    # Per epoch (a tree: per boosting round), from 1, the losses by name (`train_loss`,
    # `val_loss`): the learning curves' data (`evaluation.learning_curve`).
    history: dict[int, dict[str, float]]
    parameter_count: int  # the complexity the evidence reads (weights; a tree's leaves)
    fit_seconds: float
    resources: dict[str, Any]  # where it ran: accelerator, devices
    loggers: list[Any]  # Lightning loggers the run's figures go to
    log_step: int  # the step the loggers' final figures are logged at
    writes: bool = True  # this process records (global rank 0)
    # The library's own importance of each feature column, as shares of the total (a tree's
    # gain), stored beside the permutation attribution; None where the library has none.
    gain: dict[str, float] | None = None


def learner_module(name: str) -> ModuleType:
    """The learner module `model.learner` names, checked to define what a learner defines."""
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(f"model.learner {name!r} cannot be imported: {exc}") from None
    missing = [n for n in LEARNER_NAMES if not hasattr(module, n)]
    if missing:
        raise ConfigError(f"model.learner {name!r} does not define {', '.join(missing)} "
                          "(see ifns_train.learners.base)")
    return module


LEARNER_NAMES = ("FILES", "fit", "load", "check_init", "check_config")
# The model keys only a net reads (null in another learner's option, which refuses them set).
NET_KEYS = ("hidden_sizes", "dropout", "optimizer", "lr", "weight_decay", "batch_size")
