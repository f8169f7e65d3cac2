"""Paths anchored at the project root (`paths.root_dir`), not at the working directory: the
registry and Hydra's run folders land in the project wherever in it a command starts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from ifns_train.config import CONF_DIR
from ifns_train.core.root import ROOT_MARKER, default_registry_dir, project_root
from tests.conftest import FAST, run_cli
from tests.registry.docs import models_doc


@pytest.fixture(autouse=True)
def _no_path_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IFNS_ROOT", "IFNS_REGISTRY_DIR"):
        monkeypatch.delenv(name, raising=False)


def _project(tmp_path: Path) -> tuple[Path, Path]:
    """A project root marked by `.project-root`, and a folder two levels inside it."""
    (tmp_path / ROOT_MARKER).write_text("")
    inside = tmp_path / "a" / "b"
    inside.mkdir(parents=True)
    return tmp_path, inside


def test_project_root_is_the_nearest_marked_parent(tmp_path: Path) -> None:
    root, inside = _project(tmp_path)
    assert project_root(inside) == root.resolve()
    nested = inside / "nested"
    nested.mkdir()
    (nested / "pyproject.toml").write_text('[project]\nname = "ifns_train"\n')
    assert project_root(nested / ".") == nested.resolve()  # its own pyproject.toml
    (inside / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    assert project_root(inside) == root.resolve()  # another project's pyproject.toml: not ours
    (inside / "pyproject.toml").write_text("not [toml")
    assert project_root(inside) == root.resolve()


def test_without_a_marker_the_root_is_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert project_root() == tmp_path.resolve()


def test_the_checkout_is_a_project_root() -> None:
    checkout = Path(__file__).resolve().parents[2]
    assert project_root(checkout / "ifns_train" / "conf") == checkout


def _paths(config_name: str = "config") -> dict[str, str]:
    """The composed config's root and registry, and Hydra's run and sweep folders."""
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name, return_hydra_config=True)
    return {"root_dir": cfg.paths.root_dir, "registry_dir": cfg.paths.registry_dir,
            "run_dir": cfg.hydra.run.dir, "sweep_dir": cfg.hydra.sweep.dir}


def test_registry_and_run_folders_default_under_the_project_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, inside = _project(tmp_path)
    monkeypatch.chdir(inside)
    paths = _paths()
    assert paths["root_dir"] == str(root.resolve())
    assert paths["registry_dir"] == f"{root.resolve()}/registry"
    assert paths["run_dir"].startswith(f"{root.resolve()}/outputs/")
    assert paths["sweep_dir"].startswith(f"{root.resolve()}/outputs/multirun/")
    evaluate = _paths("evaluate")
    assert evaluate["registry_dir"] == f"{root.resolve()}/registry"


def test_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, inside = _project(tmp_path)
    monkeypatch.chdir(inside)
    monkeypatch.setenv("IFNS_ROOT", str(tmp_path / "elsewhere"))
    paths = _paths()
    assert paths["root_dir"] == str(tmp_path / "elsewhere")
    assert paths["registry_dir"] == str(tmp_path / "elsewhere" / "registry")
    assert paths["run_dir"].startswith(str(tmp_path / "elsewhere" / "outputs"))
    monkeypatch.setenv("IFNS_REGISTRY_DIR", "/shared/registry")
    assert _paths()["registry_dir"] == _paths("evaluate")["registry_dir"] == "/shared/registry"


@pytest.mark.slow  # the CLI end to end, twice (in this process: tests/inprocess.py)
def test_a_run_from_inside_the_project_writes_into_the_project(
    registry: Path, tmp_path: Path
) -> None:
    root, inside = _project(tmp_path)
    assert registry == root / "registry"  # the small demo registry, at the project root
    other = tmp_path / "other_registry"
    shutil.copytree(registry, other)
    proc = run_cli(*FAST, "trainer.max_epochs=1", "callbacks=none", cwd=inside)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(models_doc(registry)["models"]) == 1
    assert len(list((root / "outputs").glob("*/*/.hydra"))) == 1
    assert os.listdir(inside) == []  # no registry/ or outputs/ where the command started

    proc = run_cli(*FAST, "trainer.max_epochs=1", "callbacks=none", cwd=inside,
                   env={"IFNS_REGISTRY_DIR": str(other)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(models_doc(other)["models"]) == 1  # IFNS_REGISTRY_DIR still wins
    assert len(models_doc(registry)["models"]) == 1
    assert len(list((root / "outputs").glob("*/*/.hydra"))) == 2
    assert os.listdir(inside) == []


def test_the_consoles_default_to_the_project_registry(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ROOT_MARKER).write_text("")
    inside = tmp_path / "notebooks" / "deep"
    inside.mkdir(parents=True)
    monkeypatch.chdir(inside)
    monkeypatch.delenv("IFNS_REGISTRY_DIR", raising=False)
    monkeypatch.delenv("IFNS_ROOT", raising=False)
    assert default_registry_dir() == tmp_path.resolve() / "registry"
    monkeypatch.setenv("IFNS_ROOT", "/srv/team")
    assert default_registry_dir() == Path("/srv/team/registry")
    monkeypatch.setenv("IFNS_REGISTRY_DIR", "/data/reg")
    assert default_registry_dir() == Path("/data/reg")
