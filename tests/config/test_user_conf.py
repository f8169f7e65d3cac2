"""The user's `conf/` at the project root: searched before the package's configs by every Hydra
console (hydra_plugins/ifns_train_user_conf), found through the project root (IFNS_ROOT or the
working directory), a file there winning over a package one of the same group and name."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from ifns_train.config import CONF_DIR, use_user_conf
from tests.conftest import REPO, run_process
from tests.inprocess import _logging_state as logging_state

PROVIDER = "ifns-user-conf"

EXPERIMENT = """\
# @package _global_
defaults:
  - override /model: linear
experiment_name: mine
model:
  lr: 1.234e-3
"""
PROMOTION = """\
name: dir_core
min_improvement: 0.25
require_significant: false
regime_floor: 0.5
max_calibration_error: null
max_walk_forward_std: null
min_deflated_sharpe: null
max_pbo: 0.5
pbo_blocks: 16
challenger: {rule: non_inferior, margin: 0.005}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project (`.project-root`), the working directory, with no IFNS_ROOT set."""
    root = tmp_path / "project"
    root.mkdir()
    (root / ".project-root").touch()
    monkeypatch.chdir(root)
    monkeypatch.delenv("IFNS_ROOT", raising=False)
    return root


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _compose(*overrides: str, config_name: str = "config") -> DictConfig:
    """As the consoles compose: the plugin made sure of, then the package's config dir."""
    use_user_conf()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose(config_name, overrides=list(overrides), return_hydra_config=True)


def _user_sources(cfg: DictConfig) -> list[str]:
    return [s.path for s in cfg.hydra.runtime.config_sources if s.provider == PROVIDER]


def test_an_experiment_in_the_user_conf_composes_over_the_package_values(project: Path) -> None:
    _write(project / "conf" / "experiment" / "exp_mine.yaml", EXPERIMENT)
    cfg = _compose("experiment=exp_mine")
    assert cfg.experiment_name == "mine"
    assert cfg.model.lr == pytest.approx(1.234e-3)
    assert cfg.model.backbone == "linear"  # an option of the package's own model group
    assert cfg.family.name == "dir_core"  # the rest is the package's default
    assert _user_sources(cfg) == [str((project / "conf").resolve())]
    sources = [s.provider for s in cfg.hydra.runtime.config_sources]
    assert sources.index(PROVIDER) == sources.index("main") - 1  # just before the package's
    # A command-line override still goes over the experiment.
    assert _compose("experiment=exp_mine", "model.lr=0.5").model.lr == 0.5


def test_a_user_promotion_config_replaces_the_package_one_of_the_same_name(
        project: Path) -> None:
    shipped = _compose().promotion
    assert shipped.min_improvement == 0.0 and shipped.require_significant is True
    _write(project / "conf" / "promotion" / "dir_core.yaml", PROMOTION)
    mine = _compose().promotion  # family=dir_core picks promotion=dir_core: the user's now
    assert mine.min_improvement == 0.25 and mine.require_significant is False
    assert mine.max_walk_forward_std is None


def test_without_a_user_conf_the_package_configs_compose(project: Path) -> None:
    cfg = _compose()
    assert cfg.family.name == "dir_core" and _user_sources(cfg) == []
    with pytest.raises(Exception, match="exp_mine"):
        _compose("experiment=exp_mine")


def test_ifns_root_moves_the_user_conf(project: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    _write(elsewhere / "conf" / "experiment" / "exp_mine.yaml", EXPERIMENT)
    monkeypatch.setenv("IFNS_ROOT", str(elsewhere))
    cfg = _compose("experiment=exp_mine")
    assert cfg.experiment_name == "mine"
    assert _user_sources(cfg) == [str((elsewhere / "conf").resolve())]


def test_the_project_root_is_found_from_a_subfolder(project: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _write(project / "conf" / "experiment" / "exp_mine.yaml", EXPERIMENT)
    (project / "notebooks" / "deep").mkdir(parents=True)
    monkeypatch.chdir(project / "notebooks" / "deep")
    assert _compose("experiment=exp_mine").experiment_name == "mine"


def test_other_hydra_apps_are_left_alone(project: Path, tmp_path: Path) -> None:
    _write(project / "conf" / "config.yaml", "who: user\n")
    other = tmp_path / "other_app"
    _write(other / "config.yaml", "who: other\n")
    use_user_conf()
    with initialize_config_dir(str(other), version_base="1.3"):
        cfg = compose("config", return_hydra_config=True)
    assert cfg.who == "other" and _user_sources(cfg) == []


def test_the_repos_own_conf_holds_the_example_and_the_groups() -> None:
    for group in ("experiment", "family", "promotion", "dataset"):
        assert (REPO / "conf" / group).is_dir(), group
    example = (REPO / "conf" / "experiment" / "exp_example.yaml").read_text()
    assert example.startswith("# @package _global_")
    assert "experiment=exp_example" in example


def test_the_example_experiment_composes_from_the_checkout(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("IFNS_ROOT", raising=False)
    cfg = _compose("experiment=exp_example")
    assert cfg.experiment_name == "example" and cfg.family.name == "dir_core"
    assert list(cfg.model.hidden_sizes) == [32, 16]


@pytest.fixture
def no_global_hydra() -> Iterator[None]:
    """Hydra's global state, and the logging it installs on a console's start, as they were."""
    with logging_state():
        yield
    GlobalHydra.instance().clear()


@pytest.mark.parametrize("console", ["train", "evaluate", "predict"])
def test_each_console_searches_the_user_conf_first(
        console: str, project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], no_global_hydra: object) -> None:
    """The consoles' own entry points, in-process (`--info searchpath` composes nothing)."""
    import importlib

    _write(project / "conf" / "promotion" / "dir_core.yaml", PROMOTION)
    main = importlib.import_module(f"ifns_train.cli.{console}").main
    monkeypatch.setattr(sys, "argv", [f"ifns-{console}", "--info", "searchpath"])
    main()
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "file://" in line]
    assert PROVIDER in rows[0] and (project / "conf").resolve().as_uri() in rows[0], out
    assert "main" in rows[1], out


def test_the_train_console_composes_a_user_experiment(
        project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        no_global_hydra: object) -> None:
    from ifns_train.cli.train import main

    _write(project / "conf" / "experiment" / "exp_mine.yaml", EXPERIMENT)
    _write(project / "conf" / "promotion" / "dir_core.yaml", PROMOTION)
    monkeypatch.setattr(sys, "argv", ["ifns-train", "experiment=exp_mine", "--cfg", "job"])
    main()
    out = capsys.readouterr().out
    assert "experiment_name: mine" in out and "lr: 0.001234" in out
    assert "min_improvement: 0.25" in out


@pytest.mark.slow
def test_the_cli_in_a_new_process_uses_the_project_conf(tmp_path: Path) -> None:
    """`python -m ifns_train` started in another project: IFNS_ROOT and the working directory
    point at it, not at the checkout (whose conf/ has exp_example)."""
    project = tmp_path / "project"
    _write(project / "conf" / "experiment" / "exp_mine.yaml", EXPERIMENT)
    proc = run_process("experiment=exp_mine", "--cfg", "job", cwd=project,
                   env={"IFNS_ROOT": str(project)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "experiment_name: mine" in proc.stdout and "backbone: linear" in proc.stdout
    proc = run_process("experiment=exp_example", "--cfg", "job", cwd=project,
                   env={"IFNS_ROOT": str(project)})
    assert proc.returncode != 0 and "exp_example" in proc.stderr
