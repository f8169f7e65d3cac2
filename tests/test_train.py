"""`train()` called directly: reproducibility, failure handling, the one-to-one id rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ifns_train.data.resolve import resolve
from ifns_train.errors import RegistryError
from ifns_train.evaluation.classification import binary_metrics
from ifns_train.families.dir_core import DirCoreModule
from ifns_train.registry import log, model_registry, records
from ifns_train.registry.database import Registry
from ifns_train.train import train
from tests.registry.docs import log_doc, models_doc


def test_same_config_same_data_same_metrics(make_cfg, registry: Path) -> None:
    first = train(make_cfg())
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
    assert b["evidence_inputs"]["trial_sharpes"] == [a["selection"]["sharpe_annualised"]]
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


def test_a_model_record_needs_its_own_experiment(make_cfg, registry: Path) -> None:
    summary = train(make_cfg())
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


def test_saved_model_reproduces_its_recorded_test_metrics(make_cfg) -> None:
    summary = train(make_cfg())
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
    again = binary_metrics(1 / (1 + np.exp(-logits)), test.label.astype(np.float64))
    recorded = json.loads((folder / "metrics.json").read_text())["splits"]["test"]["model"]
    assert again["rows"] == recorded["rows"]
    assert again["auc"] == pytest.approx(recorded["auc"], abs=1e-6)
    assert again["brier"] == pytest.approx(recorded["brier"], abs=1e-9)
