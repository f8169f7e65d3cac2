"""Every recorded figure comes from the saved prediction tables and can be recomputed."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ifns_train.core.errors import ConfigError, RegistryError
from ifns_train.evaluation import standard
from ifns_train.registry.database import Registry
from ifns_train.run import reevaluation
from ifns_train.run.train import train
from tests.conftest import run_cli
from tests.registry.docs import models_doc


def _record(registry: Path) -> dict:
    return models_doc(registry)["models"][0]


def test_predictions_are_saved_with_the_model(trained, registry: Path) -> None:
    summary = trained("family=struct_aware")
    folder = Path(summary["artifact_dir"])
    metrics = json.loads((folder / "metrics.json").read_text())
    for split in ("val", "test"):
        table = pd.read_parquet(folder / f"predictions_{split}.parquet")
        assert len(table) == metrics["splits"][split]["rows"]
        assert {"date", "symbol", "label", "model:prob", "model:pred",
                "baseline:regime_base_rate:prob", "input:primary_up", "regime_tag",
                "structure_state", "vol_band", "symbol_cluster"} <= set(table.columns)
        assert table["model:prob"].between(0, 1).all()
    assert metrics["metrics_version"] == standard.METRICS_VERSION
    assert _record(registry)["metrics_version"] == standard.METRICS_VERSION


def test_a_model_is_reproduced_from_its_predictions(trained, registry: Path,
                                                    tmp_path: Path) -> None:
    summary = trained("family=ret_core")
    result = reevaluation.reevaluate(Registry(registry), summary["model_id"])
    assert result["status"] == "reproduced" and result["differences"] == []
    # A figure changed by hand is found, with its path.
    path = Path(summary["artifact_dir"]) / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["splits"]["test"]["model"]["rank_ic_mean"] += 0.01
    path.write_text(json.dumps(metrics))
    result = reevaluation.reevaluate(Registry(registry), summary["model_id"])
    assert result["status"] == "differs"
    assert result["differences"][0].startswith("splits.test.model.rank_ic_mean: recorded")
    proc = run_cli(f"model_id={summary['model_id']}", f"paths.registry_dir={registry}",
                   cwd=tmp_path, module="ifns_train.cli.evaluate")
    assert proc.returncode == 1 and "1 figure(s) differ" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_newer_metrics_version_keeps_the_earlier_figures(trained, registry: Path,
                                                           monkeypatch) -> None:
    summary = trained()
    folder = Path(summary["artifact_dir"])
    before = json.loads((folder / "metrics.json").read_text())
    now = standard.METRICS_VERSION
    monkeypatch.setattr(standard, "METRICS_VERSION", now + 1)
    result = reevaluation.reevaluate(Registry(registry), summary["model_id"])
    assert result["status"] == "upgraded"
    assert json.loads((folder / f"metrics_v{now}.json").read_text()) == before
    after = json.loads((folder / "metrics.json").read_text())
    assert after["metrics_version"] == now + 1 and after["splits"] == before["splits"]
    record = _record(registry)
    assert record["metrics_version"] == now + 1
    assert record["metrics_history"][0]["metrics_version"] == now
    assert record["metrics_history"][0]["metrics"] == summary["metrics"]
    again = reevaluation.reevaluate(Registry(registry), summary["model_id"])
    assert again["status"] == "reproduced"
    monkeypatch.setattr(standard, "METRICS_VERSION", now)
    with pytest.raises(RegistryError, match=f"newer than this code's {now}"):
        reevaluation.reevaluate(Registry(registry), summary["model_id"])


def test_unknown_model_is_one_line(registry: Path, tmp_path: Path) -> None:
    proc = run_cli("model_id=MDL_NOPE", f"paths.registry_dir={registry}", cwd=tmp_path,
                   module="ifns_train.cli.evaluate")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"ifns-evaluate: no registry at {registry}" in proc.stderr
    Registry(registry)  # an empty database: the registry exists, the model does not
    proc = run_cli("model_id=MDL_NOPE", f"paths.registry_dir={registry}", cwd=tmp_path,
                   module="ifns_train.cli.evaluate")
    assert proc.returncode == 1
    assert "ifns-evaluate: no model 'MDL_NOPE'" in proc.stderr and "Traceback" not in proc.stderr


def test_trading_costs_from_a_registered_cost_model(trained, make_cfg, registry: Path) -> None:
    cost = trained("family=exec_cost")
    summary = train(make_cfg(f"evaluation.cost_model_id={cost['model_id']}"))
    folder, cost_folder = Path(summary["artifact_dir"]), Path(cost["artifact_dir"])
    table = pd.read_parquet(folder / "predictions_test.parquet")
    costs = pd.read_parquet(cost_folder / "predictions_test.parquet",
                            columns=["date", "symbol", "model:pred"])
    joined = table.merge(costs.rename(columns={"model:pred": "cost"}), on=["date", "symbol"])
    assert len(joined) == len(table)
    assert (joined["input:cost_bps"] == joined["cost"].clip(lower=0)).all()
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["splits"]["test"]["proxies"]["cost_bps"] == "per row (cost model)"
    with pytest.raises(ConfigError, match="is a MF_DIR_CORE_V1 model, not MF_EXEC_COST_V1"):
        train(make_cfg(f"evaluation.cost_model_id={summary['model_id']}"))


def test_a_tampered_artifact_is_refused_naming_the_file(trained, registry: Path) -> None:
    from ifns_train.learners.registered import load_registered

    summary = trained()
    reg = Registry(registry)
    module = load_registered(reg, summary["model_id"]).module  # loads with weights_only=True
    assert not module.training
    ckpt = Path(summary["artifact_dir"]) / "model.ckpt"
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit
    ckpt.write_bytes(bytes(data))
    with pytest.raises(RegistryError, match=r"model\.ckpt: sha256 differs from the record"):
        load_registered(reg, summary["model_id"])
    table = Path(summary["artifact_dir"]) / "predictions_test.parquet"
    table.write_bytes(table.read_bytes()[:-1] + b"\0")
    with pytest.raises(RegistryError, match=r"predictions_test\.parquet: sha256 differs"):
        reevaluation.reevaluate(reg, summary["model_id"])
