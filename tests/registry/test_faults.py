"""Nothing lost under faults: a run killed (SIGKILL) at each named point of recording leaves a
registry that is consistent and that `doctor` explains and repairs; a SIGTERM'd run exits
non-zero and its entry says it was terminated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ifns_train.core.faults import ENV, POINTS
from ifns_train.registry import artifacts, doctor, log, model_registry
from ifns_train.registry.database import DB_FILE, URL_ENV, Registry
from tests.conftest import FAST

QUICK = [*FAST, "trainer.max_epochs=1", "callbacks=none", "logger=none"]
# What a kill at each point leaves for doctor: (stale runs, staging folders, orphan folders).
LEFT = {
    "run-registered": (1, 0, 0),
    "resolved": (1, 0, 0),
    "trained": (1, 0, 0),
    "staged": (1, 1, 0),
    "artifact-in-place": (1, 0, 1),
    "publish-before-commit": (1, 0, 1),
    "published": (0, 0, 0),
}


def _train(registry: Path, url: str | None, cwd: Path, *args: str,
           env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """A training run in a new process (the process is what is killed or sent SIGTERM); the
    registry database named by IFNS_REGISTRY_URL."""
    env = {**os.environ, **(env or {})}
    env.pop(URL_ENV, None)
    if url is not None:
        env[URL_ENV] = url
    return subprocess.Popen(
        [sys.executable, "-m", "ifns_train", f"paths.registry_dir={registry}", *QUICK, *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_consistent(reg: Registry) -> None:
    """No record points at nothing; no completed model run lacks its model."""
    rows = model_registry.search(reg, limit=None)
    for row in rows:
        model = row["record"]
        folder = reg.dir / model.artifact_path
        assert artifacts.mismatches(folder, model.artifact_hashes) == []
        assert log.get(reg, model.experiment_id).status == "completed"
    with_model = {row["experiment_id"] for row in rows}
    for entry in log.search(reg, limit=None):
        if entry.status == "completed" and entry.kind == "model":
            assert entry.experiment_id in with_model


def test_points_are_listed_in_the_order_a_run_passes_them() -> None:
    assert tuple(LEFT) == POINTS


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_a_kill_at_each_point_leaves_a_registry_doctor_explains(
        registry: Path, backend_url: str | None, tmp_path: Path, point: str) -> None:
    proc = _train(registry, backend_url, tmp_path, env={ENV: point})
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL, stderr[-2000:]
    reg = Registry(registry, backend_url, create=False)
    assert_consistent(reg)
    report = doctor.diagnose(reg)
    stale, staging, orphans = LEFT[point]
    assert (len(report.stale_runs), len(report.staging_folders),
            len(report.orphan_folders)) == (stale, staging, orphans), report.as_dict()
    assert report.missing_folders == [] and report.hash_mismatches == []
    (entry,) = log.search(reg)
    assert entry.status == ("completed" if point == "published" else "running")
    doctor.repair(reg, report)
    after = doctor.diagnose(reg)
    assert after.clean, after.as_dict()
    assert_consistent(reg)
    (entry,) = log.search(reg)
    if stale:
        assert entry.status == "failed" and entry.error.startswith("stale: its process")
        assert [h.status for h in log.status_history(reg, entry.experiment_id)] == [
            "running", "failed"]
    moved = list((registry / artifacts.ORPHANS_DIR).glob("*/models/*/*"))
    assert len(moved) == staging + orphans  # moved aside, never deleted


@pytest.mark.slow
def test_sigterm_exits_non_zero_and_records_the_termination(
        registry: Path, backend_url: str | None, tmp_path: Path) -> None:
    proc = _train(registry, backend_url, tmp_path, "trainer.max_epochs=500",
                  "model.min_steps=100000")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if (backend_url or (registry / DB_FILE).exists()) and log.search(
                Registry(registry, backend_url), status="running"):
            break
        time.sleep(0.2)
    time.sleep(3)  # into training
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 143, stderr[-2000:]
    assert "terminated by signal SIGTERM" in stderr and "Traceback" not in stderr
    reg = Registry(registry, backend_url, create=False)
    (entry,) = log.search(reg)
    assert entry.status == "failed"
    assert entry.error == "RunTerminated: terminated by signal SIGTERM"
    assert doctor.diagnose(reg).clean
    assert model_registry.search(reg) == []
