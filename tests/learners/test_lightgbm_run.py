"""`model=lightgbm` end to end: every family trained through `train`, recorded with its tree
file hashed, scored by `ifns-predict`, re-evaluated by `ifns-evaluate` and reproduced by
`ifns-admin reproduce` like a net."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ifns_train.learners import lightgbm as learner
from ifns_train.registry import model_registry
from ifns_train.registry.database import Registry
from ifns_train.run import reevaluation
from ifns_train.signals.scoring import score, usable_model
from ifns_train.sxe import admin
from tests.conftest import ATTRIBUTION, run_cli

DATASET = "DS_DEMO_CORE_V1"
# One thread: see tests/learners/test_lightgbm.py's `config`.
TREES = ("model=lightgbm", "model.params.num_threads=1", "model.batch_size=null", ATTRIBUTION)
# The first prediction each family's table holds, which scoring must reproduce.
PREDICTION = {"dir_core": "prob", "struct_aware": "prob", "ret_core": "pred",
              "risk_vol": "pred", "exec_cost": "pred"}
SLOW = pytest.mark.slow


@pytest.mark.parametrize("family", [
    "dir_core", pytest.param("struct_aware", marks=SLOW), pytest.param("ret_core", marks=SLOW),
    pytest.param("risk_vol", marks=SLOW), pytest.param("exec_cost", marks=SLOW)])
def test_every_family_is_recorded_predicted_and_reevaluated(
        trained: Callable[..., dict[str, Any]], registry: Path, tmp_path: Path,
        family: str) -> None:
    summary = trained(*TREES, f"family={family}")
    folder = Path(summary["artifact_dir"])
    reg = Registry(registry, create=False)
    record = model_registry.get(reg, summary["model_id"])
    assert record.training["learner"] == learner.__name__
    assert record.training["best_epoch"] == record.training["best_iteration"] >= 1
    assert set(learner.FILES) <= set(record.artifact_hashes)
    assert not (folder / "model.ckpt").exists()
    assert (folder / learner.MODEL_FILE).read_text().startswith("tree\n")
    assert json.loads((folder / "curves" / "learning_curves.json").read_text())[
        "chosen_epoch"] == record.training["best_iteration"]
    # The attribution, with the trees' gain shares beside it (summing to 1 over the inputs).
    attribution = json.loads((folder / "metrics.json").read_text())["attribution"]
    assert set(attribution["gain"]) >= set(record.feature_columns)
    assert sum(attribution["gain"].values()) == pytest.approx(1.0)
    assert json.loads((folder / "curves" / "feature_attribution.json").read_text())["gain"]
    # ifns-predict, by id: the saved test predictions again.
    record, scorer = usable_model(reg, summary["model_id"], "offline")
    start, end = record.dataset_windows["test"]
    scored = score(reg, record, scorer, DATASET, start, end, batch_size=1000)
    key = PREDICTION[family]
    saved = pd.read_parquet(folder / "predictions_test.parquet")
    got = pd.DataFrame({"date": scored.dates, "symbol": scored.symbols.astype(str),
                        key: scored.predictions[key]})
    both = saved.assign(symbol=saved["symbol"].astype(str)).merge(
        got, on=["date", "symbol"], how="left", validate="one_to_one")
    assert both[key].notna().all()
    np.testing.assert_allclose(both[key], both[f"model:{key}"], rtol=1e-6, atol=1e-9)
    # ifns-evaluate model_id=...: every recorded figure again from the saved predictions.
    result = reevaluation.reevaluate(reg, summary["model_id"])
    assert result["status"] == "reproduced" and result["differences"] == []


def test_ifns_predict_writes_a_trees_signals(trained: Callable[..., dict[str, Any]],
                                             registry: Path, tmp_path: Path) -> None:
    summary = trained(*TREES, "family=dir_core")  # the run the test above made
    out = tmp_path / "signals.parquet"
    proc = run_cli(f"model_id={summary['model_id']}", f"dataset.id={DATASET}",
                   f"paths.registry_dir={registry}", f"output={out}", cwd=tmp_path,
                   module="ifns_train.cli.predict")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.is_file()
    tree = Path(summary["artifact_dir"]) / learner.MODEL_FILE
    tree.write_text(tree.read_text().replace("leaf_value=", "leaf_value=1", 1))
    proc = run_cli(f"model_id={summary['model_id']}", f"dataset.id={DATASET}",
                   f"paths.registry_dir={registry}", cwd=tmp_path,
                   module="ifns_train.cli.predict")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert learner.MODEL_FILE in proc.stderr  # a changed tree file is refused, named


@pytest.mark.slow
def test_ifns_admin_reproduces_a_tree_run(make_cfg: Callable[..., Any], registry: Path,
                                          tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from ifns_train.run.train import train

    summary = train(make_cfg(*TREES, "family=risk_vol"))
    capsys.readouterr()
    rc = admin.main(["--registry-dir", str(registry), "reproduce", summary["experiment_id"],
                     "--out", str(tmp_path / "again"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["status"] == "matches", doc
    assert doc["figures"] and all(f["match"] for f in doc["figures"])
