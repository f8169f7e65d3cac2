"""A console ends promptly (the heap frozen at exit, `core.process`) and loses nothing it wrote:
the record, the loggers' files, TensorBoard's events and the job log, read from a real process
after it exited; and its phases account for its wall time."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ifns_train.registry.artifacts import verify
from ifns_train.run.timing import PHASES
from tests.conftest import FAST, run_process
from tests.registry.docs import log_doc, models_doc

pytestmark = pytest.mark.slow  # a new interpreter: the process's exit is the point


def test_nothing_written_is_lost_at_exit(registry: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="needs the tensorboard extra")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    started = time.perf_counter()
    proc = run_process(f"paths.registry_dir={registry}", *FAST, "logger=[csv,tensorboard]",
                       "print_config=false", cwd=tmp_path)
    wall = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr[-3000:]

    # The record: complete, its files as hashed.
    [record] = models_doc(registry)["models"]
    [entry] = log_doc(registry)["experiments"]
    assert entry["status"] == "completed"
    folder = registry / record["artifact_path"]
    verify(folder, record["artifact_hashes"], record["model_id"])
    metrics = json.loads((folder / "metrics.json").read_text())
    test_auc = metrics["splits"]["test"]["model"]["auc"]

    [run_dir] = [p.parent.parent for p in (tmp_path / "outputs").glob("*/*/.hydra/config.yaml")]
    # The CSV logger's file holds the recorder's figures, written after the fit.
    csv_text = (run_dir / "csv" / "metrics.csv").read_text()
    header, *rows = csv_text.strip().splitlines()
    column = header.split(",").index("test/auc")
    logged = [r.split(",")[column] for r in rows if r.split(",")[column]]
    assert logged and float(logged[-1]) == pytest.approx(test_auc, abs=1e-6)
    # TensorBoard's events: the same figure and the reliability diagram, flushed to the file.
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0,
                                                                           "images": 0})
    events.Reload()
    assert events.Scalars("test/auc")[-1].value == pytest.approx(test_auc, abs=1e-6)
    assert any("reliability" in tag for tag in events.Tags()["images"])
    # The job log: the summary, the time line and the exit line written by the last handler.
    job_log = next(run_dir.glob("*.log")).read_text()
    assert f"recorded {record['model_id']}" in job_log
    assert "time: imports" in job_log
    assert "exit: " in job_log.strip().splitlines()[-1]

    # Every phase on the record, adding up to the process's wall time but its exit.
    config = json.loads((folder / "train_config.json").read_text())
    phases = config["training"]["phase_seconds"]
    assert list(phases) == list(PHASES)
    assert all(seconds >= 0 for seconds in phases.values())
    total = sum(phases.values())
    assert 0.8 * wall <= total <= wall
