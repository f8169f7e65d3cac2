"""A wheel install works on its own: the configs ship inside the package (ifns_train/conf), so
`python -m ifns_train` from anywhere, with no checkout on the path, composes and trains."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import FAST, REPO
from tests.registry.docs import models_doc

pytestmark = pytest.mark.slow  # builds a wheel, makes a venv, trains in a new process

# What the wheel is built from: the files a source distribution carries (hydra_plugins: the
# plugin that searches the project root's conf/ first).
SOURCES = ("pyproject.toml", "README.md", "ifns_train", "hydra_plugins")
# Environment variables that would point the installed package back at the checkout.
LEAKS = ("PYTHONPATH", "IFNS_CONF_DIR", "IFNS_ROOT", "IFNS_REGISTRY_DIR", "IFNS_REGISTRY_URL",
         "HYDRA_FULL_ERROR")


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (cmd, proc.stdout[-2000:], proc.stderr[-3000:])
    return proc


def _wheel(tmp_path: Path) -> Path:
    """The wheel, built (without network: the build backend is the test venv's setuptools)
    from a copy of the sources, so the checkout gets no build/ or egg-info of it."""
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, src / name)
    out = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", str(out), str(src)], cwd=tmp_path)
    (wheel,) = out.glob("ifns_train-*.whl")
    return wheel


def _venv(tmp_path: Path, wheel: Path) -> Path:
    """A fresh venv holding only the wheel; its dependencies (torch and the rest) are found
    through a .pth line naming the test venv's site-packages, so nothing is downloaded."""
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                      "['purelib'])"], cwd=tmp_path).stdout.strip())
    (site / "ifns_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
          "--no-index", "-q", str(wheel)], cwd=tmp_path)
    return venv


def test_an_installed_wheel_trains_with_its_own_configs(registry: Path, tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    for conf in ("config.yaml", "evaluate.yaml", "paths/default.yaml", "debug/fdr.yaml",
                 "family/dir_core.yaml"):
        assert f"ifns_train/conf/{conf}" in names, conf
    assert "hydra_plugins/ifns_train_user_conf/user_conf.py" in names
    assert not any(n.startswith(("conf/", "tests/")) for n in names)  # the checkout's own
    venv = _venv(tmp_path, wheel)
    python = str(venv / "bin" / "python")
    elsewhere = tmp_path / "elsewhere"  # not the checkout, nor inside it
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in LEAKS}

    where = json.loads(_run([python, "-c", "import json, sys, ifns_train, ifns_train.config "
                             "as c; print(json.dumps([ifns_train.__file__, str(c.CONF_DIR), "
                             "sys.path]))"], cwd=elsewhere, env=env).stdout)
    package, conf_dir, path = Path(where[0]), Path(where[1]), where[2]
    assert package.is_relative_to(venv) and conf_dir.is_relative_to(venv), where
    assert (conf_dir / "config.yaml").is_file()
    assert not any((elsewhere / p).resolve() in (REPO, REPO / "ifns_train") for p in path), path

    _run([python, "-m", "ifns_train", f"paths.registry_dir={registry}", *FAST,
          "trainer.max_epochs=1", "callbacks=none"], cwd=elsewhere, env=env)
    models = models_doc(registry)["models"]
    assert len(models) == 1 and models[0]["status"] == "candidate"
    (hydra_yaml,) = (elsewhere / "outputs").glob("*/*/.hydra/hydra.yaml")
    sources = yaml.safe_load(hydra_yaml.read_text())["hydra"]["runtime"]["config_sources"]
    main = [s["path"] for s in sources if s["provider"] == "main"]
    assert main and Path(main[0].removeprefix("file://")).is_relative_to(venv), sources

    # The project's own conf/ (here the working directory's: no project marker above it) is
    # searched first, through the plugin Hydra finds in the installed wheel.
    experiment = elsewhere / "conf" / "experiment" / "exp_wheel.yaml"
    experiment.parent.mkdir(parents=True)
    experiment.write_text("# @package _global_\nexperiment_name: from_the_wheel_project\n")
    shown = _run([python, "-m", "ifns_train", "experiment=exp_wheel", "--cfg", "job"],
                 cwd=elsewhere, env=env).stdout
    assert "experiment_name: from_the_wheel_project" in shown
