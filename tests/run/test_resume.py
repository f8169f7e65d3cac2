"""`ckpt_path=` resumes an interrupted run as the same experiment; `init_from=` starts a new
experiment from a registered model's weights. Both refuse, in one line and before any work, what
they cannot continue from."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from sqlalchemy import select, update

from ifns_train.core.errors import ConfigError, RunTerminated
from ifns_train.families.base import FamilyModule
from ifns_train.learners.registered import load_registered
from ifns_train.registry import log, model_registry
from ifns_train.registry.database import Registry
from ifns_train.registry.schema import experiments
from ifns_train.run.recorder import Recorder
from ifns_train.run.train import train
from tests.conftest import FAST, run_cli

# Checkpoints as a user's run writes them (best.ckpt and last.ckpt), over two epochs (FAST); a
# linear model has no dropout, so an interrupted and resumed run can match an uninterrupted
# one to the last digit.
CHECKPOINTED = ("callbacks=default", "~callbacks.rich_progress_bar", "logger=none",
                "model=linear")


@contextmanager
def interrupted_after_first_epoch(monkeypatch: pytest.MonkeyPatch,
                                  error: BaseException | None = None,
                                  killed: bool = False) -> Iterator[None]:
    """The run stops once its first epoch's checkpoints are written: by SIGTERM (recorded
    failed), by `error`, or `killed` (SIGKILL: nothing recorded, the entry stays running)."""
    save = ModelCheckpoint.on_train_epoch_end

    def save_then_stop(self: ModelCheckpoint, trainer: object, module: object) -> None:
        save(self, trainer, module)
        if trainer.current_epoch == 0:  # type: ignore[attr-defined]
            raise error or RunTerminated("terminated by signal SIGTERM")

    with monkeypatch.context() as m:
        m.setattr(ModelCheckpoint, "on_train_epoch_end", save_then_stop)
        if killed:
            m.setattr(Recorder, "record_failure", lambda self, exc: None)
        with pytest.raises(type(error) if error else RunTerminated):
            yield


def only_entry(reg: Registry) -> log.ExperimentEntry:
    (entry,) = log.search(reg, limit=None)
    return entry


def checkpoint_of(make_cfg, monkeypatch: pytest.MonkeyPatch, **stop: object) -> Path:
    """An interrupted run's last.ckpt."""
    cfg = make_cfg(*CHECKPOINTED)
    with interrupted_after_first_epoch(monkeypatch, **stop):
        train(cfg)
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    assert last.is_file()
    return last


def one_line_refusal(match: str, cfg) -> ConfigError:
    with pytest.raises(ConfigError, match=match) as info:
        train(cfg)
    assert "\n" not in str(info.value)
    assert not Path(cfg.paths.output_dir).exists(), "refused before any work"
    return info.value


# --- ckpt_path ---------------------------------------------------------------------------------
def test_an_interrupted_run_resumes_as_the_same_experiment(
    make_cfg, registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = Registry(registry)
    last = checkpoint_of(make_cfg, monkeypatch)
    interrupted = only_entry(reg)
    assert interrupted.status == "failed"
    assert interrupted.error == "RunTerminated: terminated by signal SIGTERM"
    saved = torch.load(last, map_location="cpu", weights_only=True)
    assert saved["ifns"]["experiment_id"] == interrupted.experiment_id
    assert saved["ifns"]["model_id"] == interrupted.proposed_model_id
    assert saved["ifns"]["config_hash"] == interrupted.config_hash
    history = log.status_history(reg, interrupted.experiment_id)

    # Another config is refused, naming what differs; nothing is written.
    error = one_line_refusal("not the one the run started with",
                             make_cfg(*CHECKPOINTED, "model.lr=0.02", f"ckpt_path={last}"))
    assert "model.lr: 0.01 then, 0.02 now" in str(error)
    assert log.status_history(reg, interrupted.experiment_id) == history

    summary = train(make_cfg(*CHECKPOINTED, f"ckpt_path={last}"))
    assert (summary["experiment_id"], summary["model_id"]) == (interrupted.experiment_id,
                                                               interrupted.proposed_model_id)
    entry = only_entry(reg)  # no second experiment
    assert entry.status == "completed"
    assert entry.config_hash == interrupted.config_hash
    assert entry.config["ckpt_path"] is None  # what it computes: the run as it started
    steps = [h.status for h in log.status_history(reg, entry.experiment_id)]
    assert steps == ["running", "failed", "running", "completed"]
    assert log.status_history(reg, entry.experiment_id)[2].reason == f"resumed from {last}"
    record = model_registry.get(reg, summary["model_id"])
    assert record.experiment_id == entry.experiment_id
    training = record.training
    assert training == entry.training
    assert training["resumed"][0] | {"ts": None} == {
        "checkpoint": str(last), "epochs": 1, "global_step": saved["global_step"], "ts": None}
    assert training["steps_taken"] > saved["global_step"]  # it continued, not restarted
    assert training["epochs_run"] == 2
    # The checkpoints went on in the interrupted run's folder: the best of the whole run.
    assert torch.load(last, weights_only=True)["global_step"] == training["steps_taken"]
    assert not (Path(entry.config["paths"]["output_dir"]) / "checkpoints").exists()

    # What an uninterrupted run of the same config computes, to the last digit.
    straight = train(make_cfg(*CHECKPOINTED))
    for split in ("val", "test"):
        assert summary["metrics"][split]["model"] == straight["metrics"][split]["model"]
    assert model_registry.get(reg, straight["model_id"]).training["steps_taken"] == \
        training["steps_taken"]


def _as_if_killed(reg: Registry, experiment_id: str) -> None:
    """The entry a SIGKILL leaves: still running, under a process id that is gone."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with reg.write() as conn:
        record = json.loads(conn.execute(select(experiments.c.record).where(
            experiments.c.experiment_id == experiment_id)).scalar_one())
        record.update(pid=gone.pid, host=socket.gethostname())
        conn.execute(update(experiments).where(experiments.c.experiment_id == experiment_id)
                     .values(pid=gone.pid, host=socket.gethostname(),
                             record=json.dumps(record)))


def test_a_killed_run_still_entered_as_running_is_resumed(
    make_cfg, registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = Registry(registry)
    last = checkpoint_of(make_cfg, monkeypatch, killed=True)
    entry = only_entry(reg)
    assert entry.status == "running"
    # Its process (this one) is alive: resuming it would train the experiment twice.
    one_line_refusal("is still running", make_cfg(*CHECKPOINTED, f"ckpt_path={last}"))

    _as_if_killed(reg, entry.experiment_id)
    summary = train(make_cfg(*CHECKPOINTED, f"ckpt_path={last}"))
    assert summary["experiment_id"] == entry.experiment_id
    history = log.status_history(reg, entry.experiment_id)
    assert [h.status for h in history] == ["running", "failed", "running", "completed"]
    assert history[1].reason.startswith("stale: its process")
    assert history[2].reason == f"resumed from {last}"


def test_ckpt_path_needs_a_checkpoint_of_an_ifns_run(make_cfg, registry: Path,
                                                    tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "last.ckpt"
    one_line_refusal(f"ckpt_path: {missing} does not exist",
                     make_cfg(f"ckpt_path={missing}"))
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    one_line_refusal(f"ckpt_path: {text} is not a readable checkpoint",
                     make_cfg(f"ckpt_path={text}"))
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}, "epoch": 0, "global_step": 1}, foreign)
    one_line_refusal(f"ckpt_path: {foreign} is not a checkpoint of an ifns-train run",
                     make_cfg(f"ckpt_path={foreign}"))
    one_line_refusal("exclusive", make_cfg(f"ckpt_path={foreign}", "init_from=MDL_X"))
    one_line_refusal("companion runs", make_cfg(f"ckpt_path={foreign}",
                                                "evaluation.placebo=true"))
    one_line_refusal("smoke test", make_cfg(f"ckpt_path={foreign}",
                                            "+trainer.limit_val_batches=2"))
    assert log.search(Registry(registry), limit=None) == []


def test_a_recorded_experiment_is_not_resumed(make_cfg, registry: Path) -> None:
    cfg = make_cfg(*CHECKPOINTED)
    summary = train(cfg)
    model_ckpt = Path(summary["artifact_dir"]) / "model.ckpt"
    for path in (Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt", model_ckpt):
        error = one_line_refusal("is already recorded",
                                 make_cfg(*CHECKPOINTED, f"ckpt_path={path}"))
        assert f"use init_from={summary['model_id']}" in str(error)
    assert [e.status for e in log.search(Registry(registry), limit=None)] == ["completed"]


def test_a_run_failed_by_its_own_error_is_not_resumed(
    make_cfg, registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    last = checkpoint_of(make_cfg, monkeypatch, error=RuntimeError("disk on fire"))
    error = one_line_refusal("failed by its own error",
                             make_cfg(*CHECKPOINTED, f"ckpt_path={last}"))
    assert "disk on fire" in str(error)


@pytest.mark.slow
def test_an_unknown_checkpoint_is_one_line_at_the_command_line(registry: Path,
                                                               tmp_path: Path) -> None:
    missing = tmp_path / "last.ckpt"
    proc = run_cli(f"paths.registry_dir={registry}", *FAST, f"ckpt_path={missing}",
                   cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"ifns-train: ckpt_path: {missing} does not exist" in proc.stderr
    assert log.search(Registry(registry), limit=None) == []


# --- init_from ---------------------------------------------------------------------------------
def test_init_from_starts_a_new_experiment_from_the_models_weights(
    trained, make_cfg, registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = trained("model=linear")
    reg = Registry(registry)
    started_with: dict[str, torch.Tensor] = {}

    def on_fit_start(self: FamilyModule) -> None:
        started_with.update({k: v.detach().clone() for k, v in self.state_dict().items()})

    monkeypatch.setattr(FamilyModule, "on_fit_start", on_fit_start, raising=False)
    child = train(make_cfg("model=linear", "trainer.max_epochs=1",
                           f"init_from={parent['model_id']}"))
    weights = load_registered(reg, parent["model_id"]).module.state_dict()
    assert started_with.keys() == weights.keys()
    assert all(torch.equal(started_with[k], weights[k]) for k in weights)

    assert child["experiment_id"] != parent["experiment_id"]
    entry = log.get(reg, child["experiment_id"])
    assert entry.kind == "model" and entry.status == "completed"
    assert entry.parent_experiment_id == parent["experiment_id"]
    assert entry.config["init_from"] == parent["model_id"]
    record = model_registry.get(reg, child["model_id"])
    for training in (entry.training, record.training):
        assert training["init_from"] == parent["model_id"]
        assert training["init_from_experiment_id"] == parent["experiment_id"]
    assert [e.experiment_id for e in log.search(reg, parent=parent["experiment_id"])] == [
        child["experiment_id"]]


def test_init_from_refuses_an_unknown_model_before_any_work(make_cfg, registry: Path) -> None:
    one_line_refusal("init_from: no model 'MDL_NOPE'", make_cfg("init_from=MDL_NOPE"))
    one_line_refusal("init_from: invalid model_id", make_cfg("init_from=../x"))
    assert log.search(Registry(registry), limit=None) == []


def test_init_from_refuses_weights_of_another_network(trained, make_cfg,
                                                     registry: Path) -> None:
    parent = trained("model=linear")["model_id"]
    for overrides, match in (
        (["model=mlp"], "model.backbone='linear'; this run has 'mlp'"),
        (["model=linear", "model.lookback=3"], "model.lookback=1; this run has 3"),
        (["model=linear", "family=risk_vol"], "is a MF_DIR_CORE_V1 model; this run trains "
                                             "MF_RISK_VOL_V1"),
        (["model=linear", "features=core_structure"], "reads features.families"),
        (["model=linear", "evaluation.seeds=[1]"], "companion runs"),
    ):
        one_line_refusal(match, make_cfg(*overrides, f"init_from={parent}"))
    assert len(log.search(Registry(registry), limit=None)) == 1


def test_init_from_refuses_a_model_that_learnt_from_the_test_window(
    trained, make_cfg, registry: Path
) -> None:
    parent = trained("model=linear")["model_id"]  # trained until the test window
    earlier = [f"dataset.windows.{split}.{end}={date}" for split, end, date in (
        ("train", "start", "2014-01-02"), ("train", "end", "2014-12-31"),
        ("val", "start", "2015-01-02"), ("val", "end", "2015-06-30"),
        ("test", "start", "2015-07-01"), ("test", "end", "2016-11-24"))]
    with pytest.raises(ConfigError, match=f"init_from: model {parent} learnt from labels up to "
                                          r"\S+ \(its val split\).*not be out of sample"):
        train(make_cfg("model=linear", "dataset=demo_windows", *earlier,
                       f"init_from={parent}"))
    child = log.search(Registry(registry), limit=None)[0]
    assert child.status == "failed" and "out of sample" in (child.error or "")
