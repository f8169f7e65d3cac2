"""Runs that cannot give a usable model fail with a named reason; small data is trained; smoke
tests record nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ifns_train.core.errors import ConfigError, ContractError, DegenerateRunError
from ifns_train.data.demo import FEATURE_FAMILIES, LABEL_FAMILIES, default_splits, generate_panel
from ifns_train.data.index import register_dataset
from ifns_train.evaluation.regression import IC_MIN_NAMES
from ifns_train.learners.lightning_build import batch_size_for
from ifns_train.run.train import train
from tests.conftest import run_cli
from tests.registry.docs import log_doc, models_doc

DIRECTION = "Label_Direction_Horizon_20d_V1"


def _log(registry: Path) -> list[dict]:
    return log_doc(registry)["experiments"]


def _register(registry: Path, dataset_id: str, frame: pd.DataFrame) -> None:
    register_dataset(registry, dataset_id, frame, feature_families=FEATURE_FAMILIES,
                     label_families=LABEL_FAMILIES, splits=default_splits(frame))


def _failed_with(registry: Path, reason: str) -> None:
    """The run left one `failed` entry naming the reason, and no model or artifact folder."""
    log = _log(registry)
    assert [e["status"] for e in log] == ["failed"]
    assert reason in log[0]["error"], log[0]["error"]
    assert models_doc(registry)["models"] == []
    assert not list(registry.glob("models/*/*")) and not list(registry.glob("models/*/.*"))


@pytest.mark.parametrize("override", ["trainer.max_epochs=0", "+trainer.limit_train_batches=0",
                                      "+trainer.max_steps=0"])
def test_a_model_that_took_no_step_is_never_a_candidate(make_cfg, registry: Path,
                                                        override: str) -> None:
    with pytest.raises(DegenerateRunError, match="took no optimiser step"):
        train(make_cfg(override))
    _failed_with(registry, "took no optimiser step")
    assert override.lstrip("+").split("=")[0] in _log(registry)[0]["error"]


def test_labels_of_one_class_fail_before_training(make_cfg, registry: Path) -> None:
    frame = generate_panel(n_symbols=8, n_years=3.0)
    frame[DIRECTION] = frame[DIRECTION].where(frame[DIRECTION].isna(), 1.0)
    _register(registry, "DS_ALL_UP_V1", frame)
    with pytest.raises(ContractError) as err:
        train(make_cfg("dataset.id=DS_ALL_UP_V1"))
    message = str(err.value)
    assert "DS_ALL_UP_V1" in message and DIRECTION in message and "one class" in message
    _failed_with(registry, "one class")
    # Nothing was trained: no checkpoint or log of an epoch in the run folder.
    assert not list(registry.parent.glob("run*/**/*.ckpt"))


def test_ret_core_on_fewer_symbols_than_the_ic_needs(make_cfg, registry: Path) -> None:
    _register(registry, "DS_FOUR_V1", generate_panel(n_symbols=IC_MIN_NAMES - 1, n_years=3.0))
    with pytest.raises(ContractError, match=f"at least {IC_MIN_NAMES} symbols on a date"):
        train(make_cfg("family=ret_core", "dataset.id=DS_FOUR_V1"))
    _failed_with(registry, f"no date has more than {IC_MIN_NAMES - 1}")
    # Families without a cross-sectional primary metric train on the same data.
    assert train(make_cfg("family=risk_vol", "dataset.id=DS_FOUR_V1"))["model_id"]


def test_an_undefined_primary_metric_after_training_fails(make_cfg, registry: Path,
                                                          monkeypatch) -> None:
    # A model whose forecast is the same for every name on every date has no rank IC.
    from ifns_train.families.ret_core import RetCoreModule

    monkeypatch.setattr(RetCoreModule, "outputs_to_predictions",
                        lambda self, output: {"pred": np.zeros(len(output))})
    with pytest.raises(DegenerateRunError, match="rank_ic_mean cannot be computed on the val"):
        train(make_cfg("family=ret_core"))
    _failed_with(registry, "primary metric rank_ic_mean")


def test_a_diverged_loss_fails_with_a_hint(make_cfg, registry: Path) -> None:
    with pytest.raises(DegenerateRunError, match="training loss is not finite"):
        train(make_cfg("model.lr=1e9"))
    _failed_with(registry, "lower model.lr")


def test_non_finite_predictions_fail(make_cfg, registry: Path, monkeypatch) -> None:
    from ifns_train.families.dir_core import DirCoreModule

    monkeypatch.setattr(DirCoreModule, "outputs_to_predictions",
                        lambda self, output: {"prob": np.full(len(output), np.nan),
                                              "pred": np.zeros(len(output))})
    with pytest.raises(DegenerateRunError, match=r"predictions \(prob\) are not finite"):
        train(make_cfg())
    _failed_with(registry, "not finite")


def test_training_forever_is_refused(make_cfg, registry: Path) -> None:
    with pytest.raises(ConfigError, match="max_epochs=-1 would train forever"):
        train(make_cfg("trainer.max_epochs=-1"))
    with pytest.raises(ConfigError, match=r"trainer\.min_steps is set by model\.min_steps"):
        train(make_cfg("+trainer.min_steps=5"))


@pytest.mark.parametrize("override, named", [
    ("+trainer.fast_dev_run=true", "trainer.fast_dev_run=True"),
    ("+trainer.limit_val_batches=1", "trainer.limit_val_batches=1"),  # one batch, not all
    ("+trainer.limit_test_batches=2", "trainer.limit_test_batches=2"),
])
def test_a_smoke_test_records_nothing(make_cfg, registry: Path, override: str,
                                      named: str) -> None:
    summary = train(make_cfg(override))
    assert summary["smoke_test"] == [named]
    assert summary["steps_taken"] > 0
    assert log_doc(registry)["experiments"] == []
    assert models_doc(registry)["models"] == []
    assert not (registry / "models").exists()


def test_the_batch_adapts_so_an_epoch_has_enough_steps() -> None:
    assert batch_size_for(71_376, 8192, 16) == 4461  # the demo: 16 steps, not 9
    assert batch_size_for(4_700, 8192, 16) == 293  # one index: 17 steps, not 1
    assert batch_size_for(1_000_000, 8192, 16) == 8192  # a large panel keeps the configured
    assert batch_size_for(10, 8192, 16) == 1


def test_a_small_dataset_is_trained_and_the_schedule_recorded(make_cfg, registry: Path) -> None:
    # The small panel has about 3,600 training rows: the configured batch of 8192 would make one
    # step per epoch; it is capped at rows // 16.
    summary = train(make_cfg("model.batch_size=8192", "trainer.max_epochs=3",
                             "callbacks=default", "~callbacks.rich_progress_bar"))
    folder = Path(summary["artifact_dir"])
    training = json.loads((folder / "train_config.json").read_text())["training"]
    rows = training["train_rows_per_process"]
    assert rows == json.loads((folder / "train_config.json").read_text())[
        "datasets"]["splits"]["train"]["rows"]
    assert training["batch_size"] == rows // 16 and training["batch_size_configured"] == 8192
    steps = -(-rows // training["batch_size"])
    assert training["steps_per_epoch"] == steps >= 16
    assert training["steps_taken"] == training["epochs_run"] * steps
    # The evaluated weights are those of the best checkpoint: a whole number of epochs.
    assert 1 <= training["best_epoch"] <= training["epochs_run"]
    assert training["best_step"] == training["best_epoch"] * steps
    record = models_doc(registry)["models"][0]
    assert record["training"] == training
    assert _log(registry)[0]["training"] == training


@pytest.mark.slow
@pytest.mark.parametrize("override, says", [
    ("trainer.max_epochs=0", "ifns-train: the model took no optimiser step"),
    ("+trainer.limit_val_batches=0.5", "ifns-train: lightning: You requested to check 0.5"),
])
def test_the_cli_says_why_in_one_line_and_exits_non_zero(registry: Path, tmp_path: Path,
                                                         override: str, says: str) -> None:
    proc = run_cli(f"paths.registry_dir={registry}", "trainer.max_epochs=1", override,
                   cwd=tmp_path)
    assert proc.returncode != 0
    assert says in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]
