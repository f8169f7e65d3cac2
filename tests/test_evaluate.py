"""Every recorded figure comes from the saved prediction tables and can be recomputed."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ifns_train import evaluate as reevaluation
from ifns_train.errors import RegistryError
from ifns_train.evaluation import evaluator
from ifns_train.train import train
from tests.conftest import run_cli


def _record(registry: Path) -> dict:
    return json.loads((registry / "model_registry.json").read_text())["models"][0]


def test_predictions_are_saved_with_the_model(make_cfg, registry: Path) -> None:
    summary = train(make_cfg("family=struct_aware"))
    folder = Path(summary["artifact_dir"])
    metrics = json.loads((folder / "metrics.json").read_text())
    for split in ("val", "test"):
        table = pd.read_parquet(folder / f"predictions_{split}.parquet")
        assert len(table) == metrics["splits"][split]["rows"]
        assert {"date", "symbol", "label", "model:prob", "model:pred",
                "baseline:regime_base_rate:prob", "input:primary_up", "regime_tag",
                "structure_state", "vol_band", "symbol_cluster"} <= set(table.columns)
        assert table["model:prob"].between(0, 1).all()
    assert metrics["metrics_version"] == evaluator.METRICS_VERSION
    assert _record(registry)["metrics_version"] == evaluator.METRICS_VERSION


def test_a_model_is_reproduced_from_its_predictions(make_cfg, registry: Path,
                                                    tmp_path: Path) -> None:
    summary = train(make_cfg("family=ret_core"))
    result = reevaluation.reevaluate(registry, summary["model_id"])
    assert result["status"] == "reproduced" and result["differences"] == []
    # A figure changed by hand is found, with its path.
    path = Path(summary["artifact_dir"]) / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["splits"]["test"]["model"]["rank_ic_mean"] += 0.01
    path.write_text(json.dumps(metrics))
    result = reevaluation.reevaluate(registry, summary["model_id"])
    assert result["status"] == "differs"
    assert result["differences"][0].startswith("splits.test.model.rank_ic_mean: recorded")
    proc = run_cli(f"model_id={summary['model_id']}", f"paths.registry_dir={registry}",
                   cwd=tmp_path, module="ifns_train.evaluate")
    assert proc.returncode == 1 and "1 figure(s) differ" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_newer_metrics_version_keeps_the_earlier_figures(make_cfg, registry: Path,
                                                           monkeypatch) -> None:
    summary = train(make_cfg())
    folder = Path(summary["artifact_dir"])
    before = json.loads((folder / "metrics.json").read_text())
    monkeypatch.setattr(evaluator, "METRICS_VERSION", 2)
    result = reevaluation.reevaluate(registry, summary["model_id"])
    assert result["status"] == "upgraded"
    assert json.loads((folder / "metrics_v1.json").read_text()) == before
    after = json.loads((folder / "metrics.json").read_text())
    assert after["metrics_version"] == 2 and after["splits"] == before["splits"]
    record = _record(registry)
    assert record["metrics_version"] == 2
    assert record["metrics_history"][0]["metrics_version"] == 1
    assert record["metrics_history"][0]["metrics"] == summary["metrics"]
    assert reevaluation.reevaluate(registry, summary["model_id"])["status"] == "reproduced"
    monkeypatch.setattr(evaluator, "METRICS_VERSION", 1)
    with pytest.raises(RegistryError, match="newer than this code's 1"):
        reevaluation.reevaluate(registry, summary["model_id"])


def test_unknown_model_is_one_line(registry: Path, tmp_path: Path) -> None:
    proc = run_cli("model_id=MDL_NOPE", f"paths.registry_dir={registry}", cwd=tmp_path,
                   module="ifns_train.evaluate")
    assert proc.returncode == 1
    assert "ifns-evaluate: no model 'MDL_NOPE'" in proc.stderr and "Traceback" not in proc.stderr
