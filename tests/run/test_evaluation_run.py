"""Evaluate a registered model on new data: recorded as an evaluation linked to the model,
never a new model; on the model's own test window it gives the recorded test figures; a window
over the dates the model was fitted or selected on is refused, or with allow_overlap=true
evaluated and marked in-sample wherever the evaluation is shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ifns_train.core.errors import ConfigError, ContractError
from ifns_train.registry import doctor, log, model_registry, views
from ifns_train.registry.database import Registry
from ifns_train.run.evaluation_run import IN_SAMPLE_TAG, evaluate_new_data
from ifns_train.sxe import admin
from ifns_train.sxe.mirror.rows import EXPERIMENT_COLUMNS, experiment_row
from tests.conftest import run_cli


def _trials(reg: Registry) -> int:
    """How many trials the deflated Sharpe ratio of the demo runs counts."""
    return log.trials(reg, "MF_DIR_CORE_V1", "Label_Direction_Horizon_20d_V1",
                      "DS_DEMO_CORE_V1")["count"]


def test_another_dataset_is_an_evaluation_not_a_model(trained, registry: Path) -> None:
    summary = trained()
    reg = Registry(registry, create=False)
    after = model_registry.get(reg, summary["model_id"]).dataset_windows["test"][0]
    done = evaluate_new_data(reg, summary["model_id"], "DS_OTHER_V1", start=after)
    assert done["in_sample"] is None
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
    assert _trials(reg) == 1
    assert "in_sample" not in entry.datasets and IN_SAMPLE_TAG not in entry.tags


def test_a_window_over_the_training_dates_is_in_sample_on_any_dataset(
        trained, registry: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    summary = trained()
    reg = Registry(registry, create=False)
    model_id = summary["model_id"]
    record = model_registry.get(reg, model_id)
    (train_start, train_end), (val_start, val_end) = (record.dataset_windows[s]
                                                      for s in ("train", "val"))
    # Another dataset, over dates inside the training window: refused, naming the model, the
    # dataset, the dates and the way out.
    with pytest.raises(ConfigError) as refused:
        evaluate_new_data(reg, model_id, "DS_OTHER_V1", train_start, val_end)
    line = str(refused.value)
    assert "\n" not in line and f"model {model_id} was fitted and selected on train " \
        f"{train_start} to {train_end} and val {val_start} to {val_end}" in line
    assert "rows of DS_OTHER_V1 in [" in line and "allow_overlap=true" in line
    assert [e.kind for e in log.search(reg)] == ["model"]  # nothing recorded
    # Allowed with allow_overlap=true, and marked in-sample: in the record, as a tag, ...
    done = evaluate_new_data(reg, model_id, "DS_OTHER_V1", train_start, val_end,
                             allow_overlap=True)
    entry = log.get(reg, done["experiment_id"])
    seen = entry.datasets["in_sample"]
    assert seen == done["in_sample"] and seen["rows"] == seen["of"] == done["rows"] > 0
    assert seen["dates"][0] >= train_start and seen["dates"][1] <= val_end
    assert f"{seen['rows']} of the {seen['of']} rows of DS_OTHER_V1 in [{train_start}, " \
        f"{val_end}] are dated inside them ({seen['dates'][0]} to {seen['dates'][1]})" in line
    assert seen["windows"] == {"train": [train_start, train_end], "val": [val_start, val_end]}
    assert IN_SAMPLE_TAG in entry.tags
    assert [e.experiment_id for e in log.search(reg, tag=IN_SAMPLE_TAG)] == [entry.experiment_id]
    assert _trials(reg) == 1
    # ... in ifns-admin experiments show and search, ...
    monkeypatch.setenv("COLUMNS", "250")
    assert admin.main(["--registry-dir", str(registry), "experiments", "show",
                       entry.experiment_id]) == 0
    shown = capsys.readouterr().out
    assert f"In-sample: {seen['rows']} of {seen['of']} rows" in shown
    assert "allow_overlap=true" in shown
    assert admin.main(["--registry-dir", str(registry), "--json", "experiments", "show",
                       entry.experiment_id]) == 0
    assert json.loads(capsys.readouterr().out)["in_sample"] == seen
    assert admin.main(["--registry-dir", str(registry), "experiments", "search"]) == 0
    listed = [ln for ln in capsys.readouterr().out.splitlines() if "EXP_" in ln]
    assert ["in-sample" in ln for ln in listed] == [True, False]  # newest first
    # ... and on the Mirror's timeline row; the model's own run is not marked.
    marks = {e["experiment_id"]: experiment_row(e, set())[EXPERIMENT_COLUMNS.index("in_sample")]
             for e in views.experiment_rows(reg)}
    assert marks == {entry.experiment_id: True, summary["experiment_id"]: False}
    # The model's own dataset: the same rule (from the validation window's last day on).
    test_end = record.dataset_windows["test"][1]
    with pytest.raises(ConfigError, match=f"model {model_id} .* rows of DS_DEMO_CORE_V1 in "
                                          f"\\[{val_end}, {test_end}\\] are dated inside "
                                          f"them \\({val_end} to {val_end}\\)"):
        evaluate_new_data(reg, model_id, "DS_DEMO_CORE_V1", val_end, test_end)


def test_the_own_test_window_gives_the_recorded_figures(trained, registry: Path) -> None:
    summary = trained()
    reg = Registry(registry, create=False)
    record = model_registry.get(reg, summary["model_id"])
    start, end = record.dataset_windows["test"]
    done = evaluate_new_data(reg, summary["model_id"], "DS_DEMO_CORE_V1", start, end)
    recorded, again = summary["metrics"]["test"], done["metrics"]["test"]
    assert again["rows"] == recorded["rows"]
    assert again["model"] == pytest.approx(recorded["model"], abs=1e-12)
    assert again["baseline"] == pytest.approx(recorded["baseline"], abs=1e-12)
    assert done["in_sample"] is None


def test_labels_of_one_class_are_refused_before_anything_is_recorded(trained,
                                                                     registry: Path) -> None:
    from ifns_train.data.demo import FEATURE_FAMILIES, LABEL_FAMILIES, generate_panel
    from ifns_train.data.index import register_dataset

    summary = trained()
    frame = generate_panel(n_symbols=3, n_years=1.0, seed=3)  # a universe of three, all up
    label = "Label_Direction_Horizon_20d_V1"
    frame[label] = frame[label].where(frame[label].isna(), 1.0)
    register_dataset(registry, "DS_ALL_UP_V1", frame, feature_families=FEATURE_FAMILIES,
                     label_families=LABEL_FAMILIES)
    reg = Registry(registry, create=False)
    with pytest.raises(ContractError, match=f"dataset DS_ALL_UP_V1 .*label {label}: .*class"):
        evaluate_new_data(reg, summary["model_id"], "DS_ALL_UP_V1", allow_overlap=True)
    assert [e.kind for e in log.search(reg)] == ["model"]


@pytest.mark.slow
def test_the_cli_records_an_evaluation(trained, registry: Path, tmp_path: Path) -> None:
    summary = trained()
    proc = run_cli(f"model_id={summary['model_id']}", "dataset.id=DS_OTHER_V1",
                   f"paths.registry_dir={registry}", cwd=tmp_path, module="ifns_train.cli.evaluate")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("ifns-evaluate: ")]
    assert line.startswith(f"ifns-evaluate: model {summary['model_id']} was fitted and "
                           "selected on train ") and "allow_overlap=true" in line
    proc = run_cli(f"model_id={summary['model_id']}", "dataset.id=DS_OTHER_V1",
                   "allow_overlap=true", f"paths.registry_dir={registry}", cwd=tmp_path,
                   module="ifns_train.cli.evaluate")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "recorded as evaluation EXP_evaluation_" in proc.stdout + proc.stderr
    assert ", IN-SAMPLE: " in proc.stdout + proc.stderr
    proc = run_cli(f"model_id={summary['model_id']}", "start=2020-01-01",
                   f"paths.registry_dir={registry}", cwd=tmp_path, module="ifns_train.cli.evaluate")
    assert proc.returncode == 1 and "set dataset.id too" in proc.stderr
