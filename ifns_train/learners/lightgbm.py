"""The gradient-boosted trees' learner (`model=lightgbm`): a family's model fitted by LightGBM
on the run's resolved, purged and embargoed splits, everything around the fit shared with the
nets (`learners.base`).

Inputs: the current row's raw features, float32 (a tree does not care about scale, so nothing
is standardised), and each categorical input of the family (struct_aware's regime_tag and
structure_state) as the code of its training vocabulary (0: unseen), declared categorical to
LightGBM. What is fitted to, per family loss, and why: `lightgbm_objectives`.

The fit stops early on the validation split's metric of the objective and keeps the best
validation iteration's trees. Same config, same digits: `deterministic`, row- (or col-) wise
histograms forced and a fixed `num_threads` (LightGBM's sums depend on it; all in
`model.params`, hashed), and the run's `seed`, from which LightGBM derives its bagging,
feature-fraction and binning seeds.

Files: the booster in LightGBM's own text format, cut at the best iteration, and a JSON
sidecar with what scoring needs besides (family scale, vocabulary, objective). `init_from`
continues boosting a registered lightgbm model (its trees kept, its target scaling and
vocabulary too, so new trees add to its raw scores); `ckpt_path` is refused: a tree's fit has
no checkpoint, and being deterministic it is simply run again.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import torch
from hydra.utils import instantiate
from lightgbm.basic import _ConfigAliases

from ifns_train.core.errors import ConfigError, RegistryError
from ifns_train.core.files import atomic_write_bytes, atomic_write_json
from ifns_train.data.module import EVAL_SPLITS, encode
from ifns_train.data.resolve import Split
from ifns_train.families import family_class_of
from ifns_train.families.base import FamilyModule
from ifns_train.learners.base import NET_KEYS, FitRequest, Fitted, Scorer
from ifns_train.learners.lightgbm_objectives import Objective, objective_for
from ifns_train.registry.records import ModelRecord

MODEL_FILE = "model.lightgbm.txt"
SIDECAR_FILE = "learner.json"
FILES = (MODEL_FILE, SIDECAR_FILE)
# model.params keys this module takes itself; every other key goes to LightGBM as it is.
OWN_KEYS = ("num_boost_round", "early_stopping_rounds", "objective")
REQUIRED = ("num_boost_round", "early_stopping_rounds", "num_threads", "deterministic")
# LightGBM parameters the run sets, by their canonical name: where each comes from.
RUN_SET = {
    "seed": "the run's seed",
    "metric": "the objective's (lightgbm_objectives)",
    "objective": "model.params.objective",
    "categorical_feature": "the family's categorical inputs",
    "num_iterations": "model.params.num_boost_round",
    "early_stopping_round": "model.params.early_stopping_rounds",
}
# Every LightGBM parameter and alias -> its canonical name, from LightGBM's own library (its
# Python package's table): a misspelt key in model.params is refused, not ignored with a
# warning while still changing the config's hash.
CANONICAL = {alias: name for name, aliases in _ConfigAliases._get_all_param_aliases().items()
             for alias in (name, *aliases)}
RESUME_REFUSAL = ("ckpt_path: a lightgbm run has no checkpoint to resume; it is deterministic, "
                  "so run it again, or init_from=<model> to continue boosting a registered one")


class TreeScorer:
    """A LightGBM booster as a `Scorer`; `booster` is kept for continued boosting and for its
    gain importance."""

    lookback = 1

    def __init__(self, family: type[FamilyModule], booster: lgb.Booster, objective: Objective,
                 sidecar: dict[str, Any]) -> None:
        self.family, self.booster, self.objective = family, booster, objective
        self.sidecar = sidecar
        self.vocab: Mapping[str, list[Any]] = sidecar["vocab"]
        self.n_features = int(sidecar["n_features"])
        self.target_mean = float(sidecar["target_mean"])
        self.target_std = float(sidecar["target_std"])

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        """Raw outputs (the family's training scale) of a model input matrix (`inputs`)."""
        raw = self.booster.predict(matrix, raw_score=True,
                                   num_threads=int(self.sidecar["num_threads"]))
        return np.asarray(self.objective.output(np.asarray(raw, dtype=np.float64),
                                                self.target_mean, self.target_std),
                          dtype=np.float64)

    def outputs(self, x: torch.Tensor, cat: torch.Tensor | None) -> np.ndarray:
        features = x.detach().cpu().numpy()
        if features.ndim == 3:  # a window of lookback rows: a tree reads the last, the current
            features = features[:, -1, :]
        codes = None if cat is None or not self.family.categorical_inputs else \
            cat.detach().cpu().numpy()
        return self.scores(inputs(features, codes))

    def predictions(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        return self.family.predictions_from(outputs, self.target_mean, self.target_std)


def inputs(features: np.ndarray, codes: np.ndarray | None) -> np.ndarray:
    """What LightGBM reads: the features, then the categorical codes (columns of `codes`)."""
    features = np.asarray(features, dtype=np.float32)
    if codes is None or codes.size == 0:
        return features
    return np.hstack([features, np.asarray(codes, dtype=np.float32).reshape(len(features), -1)])


def split_inputs(split: Split, family: type[FamilyModule], vocab: Mapping[str, list[Any]]
                 ) -> np.ndarray:
    context = split.context if family.categorical_inputs else {}
    codes = [encode(context[c], vocab[c]) for c in family.categorical_inputs]
    return inputs(split.table.features[split.rows],
                  np.column_stack(codes) if codes else None)


def check_config(config: dict[str, Any]) -> None:
    model = config["model"]
    if model["lookback"] != 1:
        raise ConfigError(f"model.lookback={model['lookback']}: a lightgbm model reads the "
                          "current row only; set model.lookback=1")
    if config.get("ckpt_path"):
        raise ConfigError(RESUME_REFUSAL)
    for key in NET_KEYS:  # a setting that would be ignored is refused, not dropped
        if model.get(key) is not None:
            raise ConfigError(f"model.{key}={model[key]!r} is a net's setting; a lightgbm "
                              "model takes LightGBM's in model.params (learning_rate, "
                              "num_leaves, ...)")
    params = model.get("params") or {}
    for key in REQUIRED:
        if params.get(key) is None:
            raise ConfigError(f"model.params.{key} is not set: lightgbm needs it "
                              "(see ifns_train/conf/model/lightgbm.yaml)")
    for key in params:
        if key in OWN_KEYS:
            continue
        if key not in CANONICAL:
            raise ConfigError(f"model.params.{key} is not a LightGBM parameter")
        if CANONICAL[key] in RUN_SET:
            raise ConfigError(f"model.params.{key} is set by the run: it is "
                              f"{RUN_SET[CANONICAL[key]]}")
    for key in ("num_boost_round", "early_stopping_rounds", "num_threads"):
        if not isinstance(params[key], int) or isinstance(params[key], bool) or params[key] < 1:
            raise ConfigError(f"model.params.{key}={params[key]!r}: a whole number from 1 "
                              "(num_threads fixed: LightGBM's digits depend on it)")
    if params["deterministic"] is not True:
        raise ConfigError("model.params.deterministic must be true: the same config gives the "
                          "same model, which `ifns-admin reproduce` checks")
    if not (params.get("force_row_wise") or params.get("force_col_wise")):
        raise ConfigError("model.params.force_row_wise (or force_col_wise) must be true: "
                          "LightGBM's choice between them depends on timing, and so would "
                          "its digits")
    objective_for(family_class_of(config["family"]), config["family"].get("loss"),
                  params.get("objective"))


def check_init(parent: Scorer, config: dict[str, Any]) -> None:
    assert isinstance(parent, TreeScorer)  # the caller checked the parent's learner is this one
    params = config["model"]["params"]
    ours = objective_for(family_class_of(config["family"]), config["family"].get("loss"),
                         params.get("objective"))
    if ours != parent.objective:
        raise ConfigError(f"was fitted with objective {parent.objective.name} on "
                          f"{parent.family.family_name}; this run's is {ours.name}: new trees "
                          "would not add to its scores")


def load(folder: Path, family: type[FamilyModule], record: ModelRecord) -> TreeScorer:
    sidecar = json.loads((folder / SIDECAR_FILE).read_text())
    if sidecar["family"] != family.family_name:
        raise RegistryError(f"model {record.model_id}: {SIDECAR_FILE} is of family "
                            f"{sidecar['family']}, its record of {family.family_name}")
    objective = objective_for(family, sidecar["loss"], sidecar["objective"])
    return TreeScorer(family, lgb.Booster(model_file=str(folder / MODEL_FILE)), objective,
                      sidecar)


def gain_importance(scorer: TreeScorer, feature_columns: list[str]) -> dict[str, float]:
    """Each input's share of the total split gain of the kept trees: the feature columns (in
    the model's order), then the family's categorical inputs by name. All 0 when no tree
    split."""
    names = [*feature_columns, *scorer.family.categorical_inputs]
    gain = np.asarray(scorer.booster.feature_importance("gain"), dtype=np.float64)
    if len(gain) != len(names):
        raise ValueError(f"the model reads {len(gain)} inputs, {len(names)} were named")
    total = float(gain.sum())
    return {n: float(g / total) if total > 0 else 0.0 for n, g in zip(names, gain, strict=True)}


def _feature_names(columns: list[str]) -> list[str] | Literal["auto"]:
    """Names LightGBM accepts (no JSON punctuation); its own (Column_i) if they would clash."""
    names = [re.sub(r"[^0-9A-Za-z_.-]", "_", c) for c in columns]
    return names if len(set(names)) == len(names) else "auto"


def fit(request: FitRequest) -> Fitted:
    config, family, data = request.config, request.family, request.data
    if request.resume is not None:
        raise ConfigError(RESUME_REFUSAL)
    params = dict(config["model"]["params"])
    loss = config["family"].get("loss") or family.losses[0]
    objective = objective_for(family, loss, params.get("objective"))
    parent = request.init
    train, val = data.splits["train"], data.splits["val"]
    if parent is not None:
        assert isinstance(parent, TreeScorer)  # check_init said so
        if parent.n_features != len(data.feature_columns):
            raise ConfigError(f"init_from: model {config.get('init_from')} reads "
                              f"{parent.n_features} features, this run's data has "
                              f"{len(data.feature_columns)}")
        mean, std, vocab = parent.target_mean, parent.target_std, parent.vocab
    else:
        mean, std = family.target_scaling(train.label.astype(np.float64))
        vocab = request.vocab
    cats = list(family.categorical_inputs)
    names = _feature_names([*data.feature_columns, *cats])
    lgb_params = {**{k: v for k, v in params.items() if k not in OWN_KEYS},
                  **objective.params(float(config["family"]["huber_delta"])),
                  "seed": int(config["seed"]), "verbosity": -1}

    def dataset(split: Split, reference: lgb.Dataset | None = None) -> lgb.Dataset:
        label = objective.label(split.label.astype(np.float64), mean, std)
        return lgb.Dataset(split_inputs(split, family, vocab), label=label, feature_name=names,
                           categorical_feature=cats or "auto", reference=reference,
                           params=lgb_params)

    train_set = dataset(train)
    val_set = dataset(val, train_set)
    rounds = 1 if request.smoke else int(params["num_boost_round"])
    evals: dict[str, Any] = {}
    callbacks = [lgb.record_evaluation(evals)]
    if not request.smoke:
        callbacks.append(lgb.early_stopping(int(params["early_stopping_rounds"]),
                                            first_metric_only=True, verbose=False))
    request.mark("setup")
    started = time.perf_counter()
    booster = lgb.train(lgb_params, train_set, num_boost_round=rounds,
                        valid_sets=[train_set, val_set], valid_names=["train", "val"],
                        init_model=None if parent is None else parent.booster,
                        keep_training_booster=True, callbacks=callbacks)
    fit_seconds = time.perf_counter() - started
    request.mark("fit")  # what follows, scoring the splits, is the evaluation's
    start = 0 if parent is None else parent.booster.current_iteration()
    run = len(evals["val"][objective.metric])
    best = booster.best_iteration or booster.current_iteration()
    text = booster.model_to_string(num_iteration=best)
    sidecar = {"learner": __name__, "family": family.family_name, "loss": loss,
               "objective": objective.name, "target_mean": mean, "target_std": std,
               "vocab": {c: list(vocab[c]) for c in cats}, "lookback": 1,
               "n_features": len(data.feature_columns), "categorical_inputs": cats,
               "best_iteration": best, "num_threads": int(params["num_threads"]),
               "lightgbm_version": lgb.__version__}
    scorer = TreeScorer(family, lgb.Booster(model_str=text), objective, sidecar)

    def save(folder: Path) -> None:
        atomic_write_bytes(folder / MODEL_FILE, text.encode())
        atomic_write_json(folder / SIDECAR_FILE, sidecar)

    rows = {"train": len(train.rows), "val": len(val.rows)}
    history = {start + i + 1: {
        f"{name}_loss": float(objective.per_row(evals[name][objective.metric][i], rows[name]))
        for name in ("train", "val")} for i in range(run)}
    loggers = [] if request.smoke else \
        [instantiate(spec) for spec in (config.get("logger") or {}).values()]
    for logger in loggers:
        for step, losses in history.items():
            logger.log_metrics(losses, step=step)
    training = {
        "learner": config["model"]["learner"], "objective": objective.name,
        "metric": objective.metric, "num_boost_round": rounds, "iterations": run,
        "init_iterations": start, "best_iteration": best, "trees": scorer.booster.num_trees(),
        "stopped_by": "early_stopping" if run < rounds else "num_boost_round",
        "num_threads": int(params["num_threads"]), "train_rows": rows["train"],
        # The names the nets' fields have, so shared code reads a tree's fit the same way.
        "epochs_run": start + run, "steps_taken": start + run,
        "best_epoch": best, "best_step": best,
    }
    return Fitted(
        outputs={} if request.smoke else
        {name: scorer.scores(split_inputs(data.splits[name], family, vocab))
         for name in EVAL_SPLITS},
        scorer=scorer, save=save, training=training, history=history,
        # A tree's complexity: its leaves, one fitted value each, over the trees kept.
        parameter_count=sum(int(t["num_leaves"])
                            for t in scorer.booster.dump_model()["tree_info"]),
        fit_seconds=fit_seconds,
        # LightGBM's CPU learner in this process, on num_threads threads.
        resources={"accelerator": "cpu", "devices": 1, "threads": int(params["num_threads"])},
        loggers=loggers, log_step=start + run,
        gain=gain_importance(scorer, list(data.feature_columns)))
