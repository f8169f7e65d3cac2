"""Drift at prediction time, end to end on a trained demo model: its recorded reference, no
drift on its own training window, the volatility-doubled copy of the demo refused on env=live
with the features named (one line from the console, nothing written or logged), scored under
allow_drift=true with the override recorded in the job and the signal table, and a model
recorded without a reference failing closed on env=live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ifns_train.registry import model_registry
from ifns_train.registry.database import Registry
from ifns_train.registry.jobs import jobs
from ifns_train.signals.contract import drift_of, validate
from ifns_train.signals.drift_gate import NO_REFERENCE, REFERENCE_FILE, DriftError
from ifns_train.signals.scoring import drift_report, run_job, usable_model
from tests.conftest import run_cli
from tests.registry.factory import edit_stored, set_status
from tests.signals.drift_data import VOL2_DATASET, limits, write_vol_doubled

DATASET = "DS_DEMO_CORE_V1"
LIVE = "family.supported_environments=[offline,paper,live]"  # the model test_predict trains
VOL_FEATURES = {"vol_20d", "vol_60d", "vol_ewma_094", "vol_hl_range_20d"}


@pytest.fixture
def promoted(trained, registry: Path) -> tuple[Registry, str]:
    """A promoted demo model, and the volatility-doubled copy of the demo in its registry."""
    model_id = trained(LIVE)["model_id"]
    write_vol_doubled(registry)
    reg = Registry(registry, create=False)
    set_status(reg, model_id, "promoted")
    return reg, model_id


def test_the_training_window_shows_no_drift(promoted: tuple[Registry, str]) -> None:
    reg, model_id = promoted
    record, module = usable_model(reg, model_id, "offline")
    assert REFERENCE_FILE in record.artifact_hashes  # hashed with the model, audited with it
    saved = json.loads((reg.dir / record.artifact_path / REFERENCE_FILE).read_text())
    assert saved["features"] == record.feature_columns
    start, end = record.dataset_windows["train"]
    report = drift_report(reg, record, module, DATASET, start, end, limits())
    # The rows the reference was made of and those the run's purge left out (about 6% more):
    # PSI far below the soft threshold (0.1), KS a few hundredths.
    assert report["band"] == "ok" and saved["rows"] <= report["rows"] <= 1.1 * saved["rows"]
    assert max(f["psi"] for f in report["features"].values()) < 0.01
    assert max(f["ks"] for f in report["features"].values()) < 0.05
    assert report["regimes"] and all(w["band"] == "ok" for g in report["regimes"].values()
                                     for w in g["worst"])


def test_a_drifted_copy_is_refused_on_live_and_allowed_when_asked(
        promoted: tuple[Registry, str], tmp_path: Path) -> None:
    reg, model_id = promoted
    out = tmp_path / "signals.parquet"
    with pytest.raises(DriftError, match=f"^model {model_id}: drift above the hard threshold "
                                         r"\(PSI > 0.25\) on \d+ rows: vol_") as refused:
        run_job(reg, [model_id], VOL2_DATASET, out, drift=limits(), env="live")
    named = {part.split(" PSI")[0] for part in str(refused.value).split(": ")[2].split(", ")}
    assert VOL_FEATURES <= named and "trend_ret_60d_volnorm" not in named
    assert not out.exists() and jobs(reg) == []  # a refusal writes and logs nothing

    offline = run_job(reg, [model_id], VOL2_DATASET, out, drift=limits(), env="offline")
    report = offline["details"]["models"][model_id]["drift"]
    assert report["band"] == "hard" and not report["overridden"]
    assert {w["feature"] for w in report["worst"][:4]} == VOL_FEATURES
    # A return scaled by its own volatility does not move when the volatility doubles.
    assert report["features"]["trend_ret_60d_volnorm"]["band"] == "ok"

    job = run_job(reg, [model_id], VOL2_DATASET, out, drift=limits(allow_drift=True),
                  env="live")
    logged = jobs(reg)[0]
    assert logged["job_id"] == job["job_id"] and logged["details"]["allow_drift"] is True
    assert logged["details"]["models"][model_id]["drift"]["overridden"] is True
    blob = drift_of(validate(out))
    assert blob is not None and blob["allow_drift"] is True
    assert blob["models"][model_id]["worst"] == report["worst"]


def test_a_model_without_a_reference_fails_closed_on_live(promoted: tuple[Registry, str],
                                                          tmp_path: Path) -> None:
    reg, model_id = promoted
    record = model_registry.get(reg, model_id)
    (reg.dir / record.artifact_path / REFERENCE_FILE).unlink()  # as recorded before this
    edit_stored(reg, "model", model_id, artifact_hashes={
        k: v for k, v in record.artifact_hashes.items() if k != REFERENCE_FILE})
    out = tmp_path / "signals.parquet"
    with pytest.raises(DriftError, match=f"model {model_id}: {NO_REFERENCE} .*env=live "
                                         "refused; allow_drift=true"):
        run_job(reg, [model_id], DATASET, out, drift=limits(), env="live")
    job = run_job(reg, [model_id], DATASET, out, drift=limits(), env="offline")
    report = job["details"]["models"][model_id]["drift"]
    assert not report["reference"] and report["note"] == NO_REFERENCE


def test_the_console_refuses_in_one_line(promoted: tuple[Registry, str], registry: Path,
                                         tmp_path: Path) -> None:
    _, model_id = promoted
    out = tmp_path / "signals.parquet"
    args = [f"model_id={model_id}", f"dataset.id={VOL2_DATASET}", "env=live",
            f"paths.registry_dir={registry}", f"output={out}"]
    proc = run_cli(*args, cwd=tmp_path, module="ifns_train.cli.predict")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and not out.exists()
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("ifns-predict: ")]
    assert f"model {model_id}: drift above the hard threshold" in line and "vol_60d" in line
    proc = run_cli(*args, "allow_drift=true", cwd=tmp_path, module="ifns_train.cli.predict")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "scored under allow_drift=true" in proc.stdout + proc.stderr
    proc = run_cli(*args[:-1], "drift.soft_psi=0.5", cwd=tmp_path,
                   module="ifns_train.cli.predict")
    assert proc.returncode == 1 and "ifns-predict: drift.soft_psi 0.5 and drift.hard_psi " \
        "0.25: expected 0 <= soft_psi <= hard_psi" in proc.stderr
