"""Sweeps across processes (joblib, submitit, Ray launchers) and the Optuna search: each trial
recorded once, a failed trial recorded failed without ending the sweep, the best marked."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ifns_train.registry import log
from ifns_train.registry import model_registry as models
from ifns_train.registry.database import Registry
from ifns_train.registry.doctor import diagnose
from ifns_train.run.sweeps import select_best, sweep_trials, validation_figure
from tests.conftest import FAST, run_cli, run_process


def needs(module: str, extra: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(importlib.util.find_spec(module) is None,
                              reason=f"needs the {extra!r} extra: pip install -e '.[{extra}]'")


def sweep(registry: Path, tmp_path: Path, *args: str):
    """A multirun through a launcher, in a new process: the launchers start worker processes
    (loky, submitit, Ray) that run the console's task again, and the sweep's exit code is the
    process's."""
    return run_process("-m", f"paths.registry_dir={registry}", "print_config=false",
                   "callbacks=none", *FAST, *args, cwd=tmp_path)


def trials_of(registry: Path) -> tuple[Registry, list, str]:
    """The registry, its runs (oldest first) and their one shared sweep folder."""
    reg = Registry(registry, None)
    entries = sorted(log.search(reg, limit=None), key=lambda e: e.timestamp)
    dirs = {e.artifacts["sweep_dir"] for e in entries}
    assert len(dirs) == 1 and None not in dirs, dirs
    return reg, entries, dirs.pop()


def assert_consistent(reg: Registry, entries: list) -> None:
    for e in entries:
        if e.status != "failed":
            assert models.get(reg, e.proposed_model_id).experiment_id == e.experiment_id
    report = diagnose(reg)
    assert report.clean, report.as_dict()


@pytest.mark.slow
@needs("hydra_plugins.hydra_joblib_launcher", "joblib")
def test_joblib_sweep_records_a_failed_trial_and_goes_on(registry: Path, tmp_path: Path) -> None:
    proc = sweep(registry, tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                 "dataset.id=DS_DEMO_CORE_V1,DS_MISSING_V1,DS_OTHER_V1")
    # Every trial ran; the sweep's process then fails, naming the failed trial.
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "1 trial(s) failed" in proc.stderr and "DS_MISSING_V1" in proc.stderr
    assert "Traceback" not in proc.stderr
    reg, entries, sweep_dir = trials_of(registry)
    assert sorted(e.status for e in entries) == ["completed", "completed", "failed"]
    failed = next(e for e in entries if e.status == "failed")
    assert "DS_MISSING_V1" in (failed.error or "")
    assert {e.datasets["ids"]["train"] for e in entries if e.status == "completed"} == {
        "DS_DEMO_CORE_V1", "DS_OTHER_V1"}
    assert all(Path(e.artifacts["run_dir"]).parent == Path(sweep_dir) for e in entries)
    assert_consistent(reg, entries)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", [
    pytest.param(("hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"),
                 marks=needs("hydra_plugins.hydra_submitit_launcher", "submitit"),
                 id="submitit_local"),
    pytest.param(("hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2",
                  "+hydra.launcher.ray.init.include_dashboard=false"),
                 marks=needs("hydra_plugins.hydra_ray_launcher", "ray"), id="ray_local"),
])
def test_launcher_sweep_records_each_trial(registry: Path, tmp_path: Path,
                                           launcher: tuple[str, ...]) -> None:
    proc = sweep(registry, tmp_path, *launcher, "model.lr=1e-3,3e-3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    reg, entries, _ = trials_of(registry)
    assert sorted(e.hyperparameters["lr"] for e in entries) == [1e-3, 3e-3]
    assert {e.status for e in entries} == {"completed"}
    assert_consistent(reg, entries)


@pytest.mark.slow
@needs("hydra_plugins.hydra_optuna_sweeper", "optuna")
def test_optuna_search_selects_the_best_trial(registry: Path, tmp_path: Path) -> None:
    proc = run_cli("hparams_search=ret_core_optuna", "hydra.sweeper.n_trials=3",
                   "hydra.sweeper.sampler.n_startup_trials=2", f"paths.registry_dir={registry}",
                   "print_config=false", "callbacks=none", *FAST, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reg, entries, sweep_dir = trials_of(registry)
    assert len(entries) == 3 and {e.model_family for e in entries} == {"MF_RET_CORE_V1"}
    assert sorted(e.status for e in entries) == ["discarded", "discarded", "selected"], \
        proc.stderr[-3000:]
    figures = {e.experiment_id: validation_figure(e) for e in entries}
    assert {name for name, _ in figures.values()} == {"rank_ic_mean"}
    best = max(figures, key=lambda k: figures[k][1])  # rank IC: higher is better
    assert next(e for e in entries if e.status == "selected").experiment_id == best
    history = log.status_history(reg, best)
    assert history[-1].by == "ifns_train.sweep" and sweep_dir in history[-1].reason
    assert "rank_ic_mean" in history[-1].reason
    # The deflated Sharpe ratio of each trial deflates by the trials before it.
    assert [e.metrics["selection"]["trials"] for e in entries] == [1, 2, 3]
    # Idempotent: run again, nothing changes.
    again = select_best(reg, sweep_dir)
    assert again.best == best and again.changed == []
    assert [e.experiment_id for e in sweep_trials(reg, sweep_dir)] == [
        e.experiment_id for e in entries]
    assert_consistent(reg, entries)


@needs("optuna", "optuna")
def test_optuna_imports_and_runs_with_sqlalchemy_2() -> None:
    import optuna
    import sqlalchemy

    assert sqlalchemy.__version__.startswith("2.")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", storage=None)
    study.optimize(lambda t: (t.suggest_float("x", -1, 1) - 0.5) ** 2, n_trials=5)
    assert len(study.trials) == 5 and study.best_value >= 0


def test_the_selection_records_the_sweeps_pbo(registry: Path, tmp_path: Path) -> None:
    """The best trial's `selected` history row carries the sweep's PBO; a PBO that cannot be
    computed (here: no test tables) leaves the selection as it was, with why."""
    from tests.registry.factory import add_model, planted_test_table

    reg = Registry(registry)
    try:
        sweep_dir = str((tmp_path / "sweep").resolve())
        made = [add_model(reg, n=i, auc=0.6 + 0.01 * i, sweep_dir=sweep_dir,
                          predictions=planted_test_table(0.1 * i, noise=i, dates=240))
                for i in range(3)]
        verdict = select_best(reg, sweep_dir, blocks=4)
        best = made[2].experiment_id
        assert verdict.best == best and verdict.pbo is not None
        assert verdict.pbo["trials"] == 3 and verdict.pbo["selected"] == best
        figures = log.status_history(reg, best)[-1].figures
        assert figures is not None and figures["pbo"]["pbo"] == verdict.pbo["pbo"]
        assert log.status_history(reg, made[0].experiment_id)[-1].figures is None
        bare = str(tmp_path / "bare")
        [add_model(reg, n=10 + i, auc=0.6 + 0.01 * i, sweep_dir=bare) for i in range(2)]
        other = select_best(reg, bare, blocks=4)
        assert other.best and other.pbo is None and "no test prediction table" in str(
            other.pbo_error)
    finally:
        reg.close()
