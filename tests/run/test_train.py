"""`train()` called directly: reproducibility, failure handling, the one-to-one id rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from ifns_train.core.errors import ConfigError, RegistryError
from ifns_train.data.demo import write_demo
from ifns_train.data.module import IndexBatches, PanelDataModule
from ifns_train.data.resolve import ResolvedData, resolve
from ifns_train.evaluation.classification import binary_metrics
from ifns_train.families.dir_core import DirCoreModule
from ifns_train.registry import log, model_registry, records
from ifns_train.registry.database import Registry
from ifns_train.run import provenance
from ifns_train.run.train import train
from tests.registry.docs import log_doc, models_doc


def test_same_config_same_data_same_metrics(trained, make_cfg, registry: Path) -> None:
    first = trained()
    second = train(make_cfg())
    assert first["model_id"] != second["model_id"]
    for split in ("val", "test"):  # every figure, intervals included, to the last digit
        assert first["metrics"][split] == second["metrics"][split]
    folders = [Path(s["artifact_dir"]) / "metrics.json" for s in (first, second)]
    a, b = (json.loads(p.read_text()) for p in folders)
    assert a["splits"] == b["splits"]
    # The one difference: the second run is the second trial of its family, label and dataset
    # in the log, so its Sharpe ratio is deflated by two trials.
    assert (a["selection"]["trials"], b["selection"]["trials"]) == (1, 2)
    assert b["evidence_inputs"]["trials"] == {"count": 1,
                                              "sharpes": [a["selection"]["sharpe_annualised"]]}
    log = log_doc(registry)["experiments"]
    assert log[0]["config_hash"] == log[1]["config_hash"]


def test_another_seed_gives_another_model(make_cfg) -> None:
    a = train(make_cfg("seed=1"))["metrics"]["test"]["model"]
    b = train(make_cfg("seed=2"))["metrics"]["test"]["model"]
    assert a != b


def test_failure_while_registering_leaves_failed_entry_and_no_model(
    make_cfg, registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args, **kwargs):
        raise OSError("disk full while writing the model registry")

    # Inside the registry transaction, after the artifact folder is in place.
    monkeypatch.setattr("ifns_train.registry.model_registry._upsert_family", broken)
    with pytest.raises(OSError, match="disk full"):
        train(make_cfg())
    log = log_doc(registry)["experiments"]
    assert len(log) == 1 and log[0]["status"] == "failed"
    assert "disk full" in log[0]["error"]
    assert models_doc(registry)["models"] == []
    assert not list(registry.glob("models/*/*")) and not list(registry.glob("models/*/.*"))


def test_a_model_record_needs_its_own_experiment(trained, registry: Path) -> None:
    summary = trained()
    reg = Registry(registry, create=False)
    model = model_registry.get(reg, summary["model_id"])
    family = model_registry.family_records(reg)[0]
    draft = records.ModelDraft(**model.model_dump(exclude={"model_version", "status_history"})
                               | {"model_id": "MDL_OTHER"})
    with pytest.raises(RegistryError, match="already completed"):
        model_registry.publish(reg, family, log.get(reg, model.experiment_id), draft)
    assert [m["model_id"] for m in models_doc(registry)["models"]] == [summary["model_id"]]


def test_sequence_lookback_trains(make_cfg) -> None:
    summary = train(make_cfg("model.lookback=5", "model=linear"))
    assert summary["metrics"]["test"]["rows"] > 0


def test_saved_model_reproduces_its_recorded_test_metrics(trained) -> None:
    summary = trained()
    folder = Path(summary["artifact_dir"])
    model = DirCoreModule.load_from_checkpoint(folder / "model.ckpt").eval()
    config = json.loads((folder / "train_config.json").read_text())
    ds = config["datasets"]
    data = resolve(
        Path(config["resolved_config"]["paths"]["registry_dir"]),
        dataset_ids=ds["ids"],
        windows=ds["windows"],
        feature_families=list(config["features_used"]),
        label_family="Label_Direction_Horizon_20d_V1",
        horizon_days=20,
        context_columns=[],
        embargo_days=config["resolved_config"]["dataset"]["embargo_days"],
    )
    test = data.splits["test"]
    with torch.no_grad():
        logits = model(torch.from_numpy(test.table.features[test.rows])).double().numpy()
    again = binary_metrics(1 / (1 + np.exp(-logits)), test.label.astype(np.float64),
                           n_bins=config["resolved_config"]["evaluation"]["calibration_bins"])
    recorded = json.loads((folder / "metrics.json").read_text())["splits"]["test"]["model"]
    assert again["rows"] == recorded["rows"]
    assert again["auc"] == pytest.approx(recorded["auc"], abs=1e-6)
    assert again["brier"] == pytest.approx(recorded["brier"], abs=1e-9)


# --- the shuffle buffer (`dataset.shuffle_buffer_mb`) -------------------------------------------
def _training(summary: dict[str, Any]) -> dict[str, Any]:
    folder = Path(summary["artifact_dir"])
    return json.loads((folder / "train_config.json").read_text())["training"]


def _batches_before(self: PanelDataModule, name: str, train: bool = False) -> IndexBatches:
    """The batches as drawn before the shuffle buffer existed (lookback 1, on the host)."""
    split = self.data.splits[name]
    return IndexBatches(torch.from_numpy(split.table.features[split.rows]), None,
                        torch.from_numpy(split.label.copy()),
                        self.batch_size if train else self.eval_batch_size, shuffle=train,
                        seed=self.seed)


def _standardisation_before(data: ResolvedData) -> tuple[np.ndarray, np.ndarray]:
    train = data.splits["train"]
    x = train.table.features[train.rows].astype(np.float64)
    std = x.std(axis=0)
    return x.mean(axis=0), np.where(std > 1e-12, std, 1.0)


def test_a_split_that_fits_the_buffer_trains_as_before(trained, make_cfg,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    now = trained()
    assert _training(now)["batching"] == {"train": {"order": "permutation", "compact": True},
                              "val": {"order": "in order", "compact": True},
                              "test": {"order": "in order", "compact": True}}
    monkeypatch.setattr(PanelDataModule, "_batches", _batches_before)
    monkeypatch.setattr("ifns_train.learners.lightning_build.standardisation",
                        _standardisation_before)
    before = train(make_cfg())
    for split in ("val", "test"):  # every figure, to the last digit
        assert now["metrics"][split] == before["metrics"][split]


def test_a_train_split_over_the_buffer_trains_in_chunked_order(make_cfg, registry: Path) -> None:
    # 120,960 rows of 16 features: 16,384 rows fit 1 MiB; train 71,616 rows, val and test 23,232.
    write_demo(registry, dataset_id="DS_BIG_V1", n_symbols=48, n_years=10.0)
    summary = train(make_cfg("dataset.id=DS_BIG_V1", "dataset.shuffle_buffer_mb=1",
                             "model.batch_size=4096"))
    training = _training(summary)
    assert training["batching"] == {
        "train": {"order": "chunked", "compact": False, "chunk_rows": 8192,
                  "buffer_rows": 16_384, "groups": 9},  # a chunk a group
        "val": {"order": "in order", "compact": False},
        "test": {"order": "in order", "compact": False},
    }
    # Full batches of 4096 across groups: an epoch of chunks is as long as a permutation's.
    assert (training["steps_per_epoch"], training["steps_taken"]) == (18, 36)
    assert summary["metrics"]["test"]["rows"] == 23_232


@pytest.mark.parametrize("value", [0, -1])
def test_shuffle_buffer_is_checked(make_cfg, value: int) -> None:
    with pytest.raises(ConfigError, match=r"dataset\.shuffle_buffer_mb"):
        train(make_cfg(f"dataset.shuffle_buffer_mb={value}"))


def test_shuffle_buffer_is_part_of_the_config_hash_unless_at_its_default(make_cfg) -> None:
    """It sets the batch order of a split that does not fit; at its default a config hashes as
    it did before the key existed (an interrupted run of then still resumes)."""
    cfg = OmegaConf.to_container(make_cfg(), resolve=False)
    assert cfg["dataset"]["shuffle_buffer_mb"] == 1024
    hashed = provenance.config_hash(provenance.definition(cfg))
    without = {**cfg, "dataset": {k: v for k, v in cfg["dataset"].items()
                                  if k != "shuffle_buffer_mb"}}
    assert provenance.config_hash(provenance.definition(without)) == hashed
    cfg["dataset"]["shuffle_buffer_mb"] = 64
    assert provenance.config_hash(provenance.definition(cfg)) != hashed
