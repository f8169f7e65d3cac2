"""The plan of a run: every check the config allows before any work (fields against each
other, against the family, against Lightning's Trainer), and what follows from the config alone
(the baselines' parameters, whether the run is a smoke test)."""

from __future__ import annotations

import inspect
from typing import Any

import lightning.pytorch as pl

from ifns_train.config.checks import check_ranges
from ifns_train.config.schema import DEVICE_RESIDENT, SHUFFLE_BUFFER_MB
from ifns_train.core.errors import ConfigError, ContractError
from ifns_train.data.resolve import ResolvedData
from ifns_train.data.splits import parse_windows, purge_gap
from ifns_train.evaluation.report import unscorable
from ifns_train.families import family_class_of
from ifns_train.learners.base import learner_module

# Trainer arguments other config keys own; setting them under `trainer` would be ambiguous.
RESERVED_TRAINER_KEYS = {
    "callbacks": "the callbacks group",
    "logger": "the logger group",
    "default_root_dir": "paths.output_dir",
    "min_steps": "model.min_steps",
}
# Trainer settings that evaluate or train on part of the data only: such a run is a smoke test
# of the pipeline, which records nothing (its figures would not be evidence).
SMOKE_TEST_KEYS = ("fast_dev_run", "overfit_batches", "limit_val_batches", "limit_test_batches",
                   "limit_predict_batches")


def check_config(cfg: dict[str, Any]) -> None:
    """Checks the schema cannot express; all run before any work."""
    check_ranges(cfg)
    learner_module(cfg["model"]["learner"]).check_config(cfg)
    trainer_keys = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    for key in cfg["trainer"]:
        if key in RESERVED_TRAINER_KEYS:
            raise ConfigError(f"trainer.{key} is set by {RESERVED_TRAINER_KEYS[key]}, not under "
                              "trainer")
        if key not in trainer_keys:
            raise ConfigError(f"trainer.{key} is not an argument of lightning.pytorch.Trainer")
    if cfg["trainer"].get("max_epochs") == -1:
        raise ConfigError("trainer.max_epochs=-1 would train forever; give a number of epochs "
                          "(early stopping still ends training sooner)")
    family = cfg["family"]
    cls = family_class_of(family)
    if family["task"] != cls.task:
        raise ConfigError(f"family.task {family['task']!r} does not match family {cls.task!r}")
    target = cfg["labels"]["target"]
    if target not in family["label_families"]:
        raise ConfigError(
            f"labels.target {target} is not a label family of {family['name']} "
            f"(family.label_families: {', '.join(family['label_families'])})"
        )
    missing = set(family["feature_families"]) - set(cfg["features"]["families"])
    if missing:
        raise ConfigError(
            f"features.families lacks {', '.join(sorted(missing))}, required by {family['name']}"
        )
    if family["loss"] is not None and family["loss"] not in cls.losses:
        raise ConfigError(
            f"family.loss {family['loss']!r} is not one of {family['name']}'s: "
            f"{', '.join(cls.losses)}"
        )
    try:
        cls.baseline_columns(baseline_params(cfg))
    except KeyError as exc:
        raise ConfigError(
            f"family.baseline_params.{exc.args[0]} is required by family {family['name']}"
        ) from None
    for name in family["baselines"]:
        if name not in cls.baseline_names:
            raise ConfigError(
                f"family.baselines: unknown baseline {name!r} for {family['name']} "
                f"(known: {', '.join(cls.baseline_names)})"
            )
    if not family["roles"]:
        raise ConfigError("family.roles must name at least one role")
    ds = cfg["dataset"]
    if ds.get("device_resident", DEVICE_RESIDENT) not in ("auto", True, False):
        raise ConfigError(f"dataset.device_resident is auto, true or false, not "
                          f"{ds['device_resident']!r}")
    buffer_mb = ds.get("shuffle_buffer_mb", SHUFFLE_BUFFER_MB)
    if type(buffer_mb) is not int or buffer_mb < 1:
        raise ConfigError(f"dataset.shuffle_buffer_mb is a positive number of MiB, not "
                          f"{buffer_mb!r}")
    purge_gap(cfg["labels"]["horizon_days"], ds["purge_days"], ds["embargo_days"])
    if ds["windows"] is not None:
        parse_windows(ds["windows"], "dataset.windows")
    for name, spec in {**cfg["callbacks"], **cfg["logger"]}.items():
        if not isinstance(spec, dict) or "_target_" not in spec:
            raise ConfigError(f"callbacks/logger entry {name!r} needs a _target_")
    check_start(cfg)


def check_start(cfg: dict[str, Any]) -> None:
    """`ckpt_path` and `init_from`: exclusive, and not with what they cannot continue."""
    ckpt_path, init_from = cfg.get("ckpt_path"), cfg.get("init_from")
    for name, value in (("ckpt_path", ckpt_path), ("init_from", init_from)):
        if value is not None and not str(value).strip():
            what = "a checkpoint path" if name == "ckpt_path" else "a model_id"
            raise ConfigError(f"{name} is empty: give {what} or leave it unset")
    if ckpt_path is not None and init_from is not None:
        raise ConfigError("ckpt_path and init_from are exclusive: ckpt_path continues an "
                          "interrupted run (a fine-tune keeps the init_from it started with), "
                          "init_from starts a new experiment from a registered model")
    key = "ckpt_path" if ckpt_path is not None else "init_from" if init_from is not None else None
    if key is None:
        return
    ev = cfg["evaluation"]
    companions = [name for name, on in (
        ("evaluation.walk_forward.folds", ev["walk_forward"]["folds"] > 0),
        ("evaluation.seeds", any(s != cfg["seed"] for s in ev["seeds"])),
        ("evaluation.placebo", ev["placebo"])) if on]
    if companions:
        why = ("its companion runs are experiments of their own, already recorded or not"
               if key == "ckpt_path" else
               "a placebo or an earlier walk-forward fold started from weights learnt on real "
               "labels or later dates would not be a clean control")
        raise ConfigError(f"{key} cannot be combined with companion runs "
                          f"({', '.join(companions)}): {why}")
    smoke = smoke_test_keys(cfg["trainer"])
    if key == "ckpt_path" and smoke:
        raise ConfigError(f"ckpt_path resumes a recorded run, but {', '.join(smoke)} makes this "
                          "a smoke test, which records nothing")


def baseline_params(cfg: dict[str, Any]) -> dict[str, Any]:
    """What baselines and family-specific evaluation read: the family's baseline_params plus
    the label horizon (a trailing baseline may use only labels realised by then)."""
    return {**cfg["family"]["baseline_params"], "horizon_days": cfg["labels"]["horizon_days"]}


def smoke_test_keys(trainer: dict[str, Any]) -> list[str]:
    """The trainer settings (if any) that make this run a smoke test."""
    def partial(key: str, value: Any) -> bool:
        if key in ("fast_dev_run", "overfit_batches"):
            return value not in (None, False, 0)
        # A limit is a fraction (1.0: all batches) or, as an int, a number of batches.
        return value is not None and (type(value) is int or value != 1.0)

    return [f"trainer.{k}={trainer[k]}" for k in SMOKE_TEST_KEYS
            if k in trainer and partial(k, trainer[k])]


def check_scorable(data: ResolvedData, metric_set: str) -> None:
    """Refuse, before training, data on which the family's primary metric cannot be computed
    (labels of one class, too few symbols per date for a cross-sectional IC)."""
    for name, split in data.splits.items():
        problem = unscorable(metric_set, split.label, split.dates)
        if problem:
            raise ContractError(
                f"dataset {split.table.dataset_id}, {name} split ({len(split.rows)} rows), label "
                f"{data.label_family}: {problem}"
            )
