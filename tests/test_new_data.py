"""Evaluate a registered model on new data: recorded as an evaluation linked to the model,
never a new model; on the model's own test window it gives the recorded test figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from ifns_train.errors import ConfigError, ContractError
from ifns_train.new_data import evaluate_new_data
from ifns_train.registry import doctor, log, model_registry
from ifns_train.registry.database import Registry
from ifns_train.train import train
from tests.conftest import run_cli


def test_another_dataset_is_an_evaluation_not_a_model(make_cfg, registry: Path) -> None:
    summary = train(make_cfg())
    reg = Registry(registry, create=False)
    done = evaluate_new_data(reg, summary["model_id"], "DS_OTHER_V1")
    assert [r["model_id"] for r in model_registry.search(reg)] == [summary["model_id"]]
    entry = log.get(reg, done["experiment_id"])
    assert (entry.kind, entry.status) == ("evaluation", "completed")
    assert entry.parent_experiment_id == summary["experiment_id"]
    assert entry.proposed_model_id == summary["model_id"]
    assert entry.datasets["ids"] == {"test": "DS_OTHER_V1"}
    assert done["metrics"]["test"]["rows"] == done["rows"] > 0
    assert "momentum_sign" in done["metrics"]["test"]["best_baseline"].values()
    folder = Path(done["artifact_dir"])
    assert {p.name for p in folder.iterdir()} == {"metrics.json", "predictions_test.parquet",
                                                  "curves"}
    assert doctor.diagnose(reg).clean
    # An evaluation is no trial: the deflated Sharpe ratio's count is unchanged.
    assert len(log.trial_sharpes(reg, "MF_DIR_CORE_V1", "Label_Direction_Horizon_20d_V1",
                                 "DS_DEMO_CORE_V1")) == 1


def test_the_own_test_window_gives_the_recorded_figures(make_cfg, registry: Path) -> None:
    summary = train(make_cfg())
    reg = Registry(registry, create=False)
    record = model_registry.get(reg, summary["model_id"])
    start, end = record.dataset_windows["test"]
    done = evaluate_new_data(reg, summary["model_id"], "DS_DEMO_CORE_V1", start, end)
    recorded, again = summary["metrics"]["test"], done["metrics"]["test"]
    assert again["rows"] == recorded["rows"]
    assert again["model"] == pytest.approx(recorded["model"], abs=1e-12)
    assert again["baseline"] == pytest.approx(recorded["baseline"], abs=1e-12)
    val_end = record.dataset_windows["val"][1]
    with pytest.raises(ConfigError, match=f"must start after its validation window \\(which "
                                          f"ends {val_end}\\)"):
        evaluate_new_data(reg, summary["model_id"], "DS_DEMO_CORE_V1", val_end, end)


def test_labels_of_one_class_are_refused_before_anything_is_recorded(make_cfg,
                                                                     registry: Path) -> None:
    from ifns_train.data.demo import FEATURE_FAMILIES, LABEL_FAMILIES, generate_panel
    from ifns_train.data.index import register_dataset

    summary = train(make_cfg())
    frame = generate_panel(n_symbols=3, n_years=1.0, seed=3)  # a universe of three, all up
    label = "Label_Direction_Horizon_20d_V1"
    frame[label] = frame[label].where(frame[label].isna(), 1.0)
    register_dataset(registry, "DS_ALL_UP_V1", frame, feature_families=FEATURE_FAMILIES,
                     label_families=LABEL_FAMILIES)
    reg = Registry(registry, create=False)
    with pytest.raises(ContractError, match=f"dataset DS_ALL_UP_V1 .*label {label}: .*class"):
        evaluate_new_data(reg, summary["model_id"], "DS_ALL_UP_V1")
    assert [e.kind for e in log.search(reg)] == ["model"]


@pytest.mark.slow
def test_the_cli_records_an_evaluation(make_cfg, registry: Path, tmp_path: Path) -> None:
    summary = train(make_cfg())
    proc = run_cli(f"model_id={summary['model_id']}", "dataset.id=DS_OTHER_V1",
                   f"paths.registry_dir={registry}", cwd=tmp_path, module="ifns_train.evaluate")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "recorded as evaluation EXP_evaluation_" in proc.stdout + proc.stderr
    proc = run_cli(f"model_id={summary['model_id']}", "start=2020-01-01",
                   f"paths.registry_dir={registry}", cwd=tmp_path, module="ifns_train.evaluate")
    assert proc.returncode == 1 and "set dataset.id too" in proc.stderr
