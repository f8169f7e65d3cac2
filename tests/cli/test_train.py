"""End to end through the command line, as a user runs it, on the small demo registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from ifns_train.config import CONF_DIR
from ifns_train.core.errors import ConfigError
from ifns_train.run.plan import check_config
from tests.conftest import FAST, run_cli
from tests.registry.docs import log_doc, models_doc

pytestmark = pytest.mark.slow  # the CLI end to end (in this process, tests/inprocess.py)

SPEC_MODEL_FIELDS = {
    "model_id", "model_family", "model_version", "status", "created_ts", "last_updated_ts",
    "experiment_id", "roles", "train_dataset_id", "val_dataset_id", "test_dataset_id",
    "features_used", "labels_used", "prediction_type", "horizons", "metrics",
    "supported_environments", "resources",
}
SPEC_EXPERIMENT_FIELDS = {
    "experiment_id", "timestamp", "model_family", "proposed_model_id", "datasets",
    "features_used", "labels_used", "hyperparameters", "config_hash", "metrics", "status",
    "artifacts",
}


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_default_run_leaves_a_governed_model(registry: Path, tmp_path: Path) -> None:
    proc = run_cli(f"paths.registry_dir={registry}", *FAST, "model.lr=2e-3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]

    runs = list((tmp_path / "outputs").glob("*/*/.hydra/config.yaml"))
    assert len(runs) == 1, "one Hydra run folder under outputs/"
    models = models_doc(registry)
    log = log_doc(registry)
    assert len(models["models"]) == 1 and len(log["experiments"]) == 1
    record, entry = models["models"][0], log["experiments"][0]

    assert SPEC_MODEL_FIELDS <= set(record)
    assert record["status"] == "candidate"
    assert record["model_family"] == "MF_DIR_CORE_V1"
    assert record["roles"] == ["primary_directional"]
    assert record["train_dataset_id"] == "DS_DEMO_CORE_V1"
    assert record["experiment_id"] == entry["experiment_id"]
    assert record["model_version"] == 1
    assert record["labels_used"] == ["Label_Direction_Horizon_20d_V1"]
    assert record["features_used"] == ["Feature_TREND_MTF_V1", "Feature_VOL_LIQ_V1"]
    assert record["dataset_fingerprints"]["DS_DEMO_CORE_V1"].startswith("sha256:")
    assert models["families"]["MF_DIR_CORE_V1"]["roles"] == ["primary_directional"]

    assert SPEC_EXPERIMENT_FIELDS <= set(entry)
    assert entry["status"] == "completed" and entry["error"] is None
    assert entry["proposed_model_id"] == record["model_id"]
    assert entry["hyperparameters"]["lr"] == 2e-3

    folder = registry / record["artifact_path"]
    assert folder == registry / "models" / "MF_DIR_CORE_V1" / record["model_id"]
    assert {p.name for p in folder.iterdir()} >= {"model.ckpt", "train_config.json",
                                                  "metrics.json", "curves"}
    train_config = _load(folder / "train_config.json")
    assert train_config["seed"] == 42
    assert train_config["hyperparameters"]["lr"] == 2e-3
    assert set(train_config["datasets"]["windows"]) == {"train", "val", "test"}
    assert "Feature_TREND_MTF_V1" in train_config["features_used"]
    assert train_config["code_version"]["packages"]["torch"]

    metrics = _load(folder / "metrics.json")
    for split in ("val", "test"):
        rep = metrics["splits"][split]
        for key in ("hit_rate", "precision_up", "recall_up", "precision_down", "recall_down",
                    "brier", "ece", "auc", "log_loss", "reliability"):
            assert key in rep["model"], key
        assert set(rep["baselines"]) == {"class_prior", "momentum_sign"}
        assert rep["baselines"]["class_prior"]["rows"] == rep["model"]["rows"] == rep["rows"]
        assert set(rep["improvement"]) == {"class_prior", "momentum_sign"}
        regimes = rep["slices"]["regime_tag"]
        assert sum(cell["rows"] for cell in regimes.values()) == rep["rows"]
        for cell in regimes.values():
            assert {"model", "baselines", "improvement", "rows", "small_slice"} <= set(cell)
    curves = json.loads((folder / "curves" / "reliability_test.json").read_text())["curves"]
    assert set(curves) == {"model", "class_prior", "momentum_sign"}
    assert sum(b["count"] for b in curves["model"]) == metrics["splits"]["test"]["rows"]
    assert not (folder / "curves" / "reliability_test.png").exists()  # drawn outside the run
    assert not list(registry.glob("models/*/.staging-*"))


def test_multirun_sweep_registers_two_models(registry: Path, tmp_path: Path) -> None:
    proc = run_cli("-m", f"paths.registry_dir={registry}", *FAST, "model.lr=1e-3,3e-3",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    models = models_doc(registry)["models"]
    assert sorted(m["model_version"] for m in models) == [1, 2]
    assert len({m["experiment_id"] for m in models}) == 2
    log = log_doc(registry)["experiments"]
    assert sorted(e["hyperparameters"]["lr"] for e in log) == [1e-3, 3e-3]
    assert len(list((tmp_path / "outputs" / "multirun").glob("*/*/*/.hydra"))) == 2


def test_registry_dir_from_environment_and_other_dataset(registry: Path, tmp_path: Path) -> None:
    proc = run_cli(*FAST, "dataset.id=DS_OTHER_V1", "seed=7", cwd=tmp_path,
                   env={"IFNS_REGISTRY_DIR": str(registry)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = models_doc(registry)["models"][0]
    assert record["train_dataset_id"] == record["test_dataset_id"] == "DS_OTHER_V1"
    assert log_doc(registry)["experiments"][0]["seed"] == 7


def test_config_errors_fail_before_any_work(registry: Path, tmp_path: Path) -> None:
    cases = {
        "model.lrr=1": "lrr",
        "model.lr=abc": "model.lr",
        "family.roles=[market_maker]": "family.roles",
        "+trainer.max_epoch=3": "trainer.max_epoch",
        "dataset.purge_days=5": "purge_days",
        "model.dropout=1.5": "model.dropout must be >= 0 and < 1, got 1.5",
    }
    for override, named in cases.items():
        proc = run_cli(f"paths.registry_dir={registry}", override, cwd=tmp_path)
        assert proc.returncode != 0, override
        assert named in proc.stderr, (override, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr
    assert not (registry / "registry.db").exists()
    assert not list(registry.glob("models/*/*"))
    a_file = tmp_path / "not_a_folder"
    a_file.write_text("")
    proc = run_cli(f"paths.registry_dir={a_file}", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"ifns-train: registry folder {a_file} is a file, not a folder" in proc.stderr
    proc = run_cli(f"paths.registry_dir={tmp_path / 'missing'}",
                   "dataset.generate_demo_if_missing=false", cwd=tmp_path)
    assert proc.returncode == 1 and "does not exist" in proc.stderr
    assert not (tmp_path / "missing").exists()


def test_bad_dataset_fails_loudly_and_records_failure(registry: Path, tmp_path: Path) -> None:
    proc = run_cli(f"paths.registry_dir={registry}", "dataset.id=DS_MISSING_V1", cwd=tmp_path)
    assert proc.returncode != 0
    assert "DS_MISSING_V1" in proc.stderr
    assert "Traceback" not in proc.stderr
    log = log_doc(registry)["experiments"]
    assert [e["status"] for e in log] == ["failed"]
    assert "DS_MISSING_V1" in log[0]["error"]
    assert log[0]["artifacts"]["artifact_path"] is None
    assert models_doc(registry)["models"] == []


def test_jobs_started_together_get_their_own_run_folders(registry: Path, tmp_path: Path) -> None:
    # Two new processes at once: their race for run folders and model versions is the test.
    cmd = [sys.executable, "-m", "ifns_train", f"paths.registry_dir={registry}",
           "trainer=debug", "callbacks=none"]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    assert len(list((tmp_path / "outputs").glob("*/*/.hydra"))) == 2
    models = models_doc(registry)["models"]
    assert sorted(m["model_version"] for m in models) == [1, 2]


def test_every_experiment_config_composes_and_validates(tmp_path: Path) -> None:
    names = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
    assert names, "no experiment configs"
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        for name in names:
            cfg = compose("config", overrides=[f"experiment={name}",
                                               f"paths.output_dir={tmp_path}"])
            check_config(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))
            # The experiment's own values win over the primary config's defaults.
            assert cfg.experiment_name != "default", name


def test_multirun_over_the_five_families_registers_five_models(
        five_family_sweep: dict[str, Any]) -> None:
    # `-m family=dir_core,ret_core,risk_vol,struct_aware,exec_cost`, run once a session
    # (tests/conftest.py) and shared with the Mirror's tests.
    registry, proc = five_family_sweep["registry"], five_family_sweep["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = models_doc(registry)
    roles = {m["model_family"]: m["roles"] for m in doc["models"]}
    assert roles == {
        "MF_DIR_CORE_V1": ["primary_directional"],
        "MF_RET_CORE_V1": ["primary_directional"],
        "MF_RISK_VOL_V1": ["risk_overlay"],
        "MF_STRUCT_AWARE_V1": ["structure_aware_overlay"],
        "MF_EXEC_COST_V1": ["execution_cost"],
    }
    assert {f: d["roles"] for f, d in doc["families"].items()} == roles
    labels = {m["model_family"]: m["labels_used"] for m in doc["models"]}
    assert labels["MF_EXEC_COST_V1"] == ["Label_ExecCost_Bps_Horizon_1d_V1"]
    assert labels["MF_RISK_VOL_V1"] == ["Label_RealizedVol_Horizon_20d_V1"]
    assert {m["model_family"]: m["horizons"] for m in doc["models"]}["MF_EXEC_COST_V1"] == [1]


def test_a_role_outside_the_five_is_refused(registry: Path, tmp_path: Path) -> None:
    proc = run_cli(f"paths.registry_dir={registry}", "family=ret_core",
                   "family.roles=[confirmation,alpha_overlay]", cwd=tmp_path)
    assert proc.returncode != 0
    assert "family.roles" in proc.stderr and "alpha_overlay" in proc.stderr
    ok = run_cli(f"paths.registry_dir={registry}", *FAST, "trainer.max_epochs=1",
                 "family=ret_core", "family.roles=[confirmation]", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert models_doc(registry)["models"][0]["roles"] == ["confirmation"]


def _checked(tmp_path: Path, *overrides: str) -> None:
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[*overrides, f"paths.output_dir={tmp_path}"])
    check_config(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))


def test_family_requirements_are_checked_before_any_work(tmp_path: Path) -> None:
    for family in ("dir_core", "ret_core", "risk_vol", "struct_aware", "exec_cost"):
        _checked(tmp_path, f"family={family}")  # each family's own config is consistent
    with pytest.raises(ConfigError, match=r"labels\.target Label_Direction_Horizon_20d_V1 is not"):
        _checked(tmp_path, "family=risk_vol", "labels=direction_20d")
    with pytest.raises(ConfigError, match="lacks Feature_STRUCTURE_MTF_V1"):
        _checked(tmp_path, "family=struct_aware", "features=core")
    with pytest.raises(ConfigError, match=r"family\.loss 'mse' is not one of exec_cost"):
        _checked(tmp_path, "family=exec_cost", "family.loss=mse")
    with pytest.raises(ConfigError, match=r"family\.baseline_params\.vol_column is required"):
        _checked(tmp_path, "family=exec_cost", "~family.baseline_params.vol_column")


def test_ddp_on_two_cpu_processes_records_once(ddp_run: dict[str, Any]) -> None:
    # The run tests/run/test_ddp.py compares with one process: trainer=ddp_sim (trainer=ddp
    # with trainer.accelerator=cpu), one epoch, callbacks=none; in a new process (ddp_run).
    registry, proc = ddp_run["registry"], ddp_run["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    models = models_doc(registry)["models"]
    log = log_doc(registry)["experiments"]
    assert len(models) == 1 and len(log) == 1  # rank 1 wrote nothing
    assert models[0]["resources"]["devices"] == 2
    assert [e["status"] for e in log] == ["completed"]
