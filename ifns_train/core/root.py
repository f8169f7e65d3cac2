"""The project root: where `registry/`, `outputs/` and the user's own configs (`conf/`) go
unless configured elsewhere.

Found from the working directory up, so that a run or a console started anywhere in a
checkout uses the checkout's registry; light on imports, because the consoles use it too.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT_ENV = "IFNS_ROOT"
REGISTRY_ENV = "IFNS_REGISTRY_DIR"
# What marks the project root (`paths.root_dir`): this file, or ifns-train's own pyproject.toml.
ROOT_MARKER = ".project-root"
PROJECT_NAME = "ifns-train"


def _names_project(pyproject: Path) -> bool:
    """Whether a pyproject.toml is ifns-train's (its [project] name, normalised)."""
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if sys.version_info >= (3, 11):
        import tomllib

        try:
            name = str(tomllib.loads(text).get("project", {}).get("name", ""))
        except ValueError:  # not TOML
            return False
    else:  # Python 3.10: the first `name = "..."` line
        match = re.search(r"""^name\s*=\s*["']([^"']+)["']""", text, re.MULTILINE)
        name = match.group(1) if match else ""
    return re.sub(r"[-_.]+", "-", name).lower() == PROJECT_NAME


def project_root(start: str | Path | None = None) -> Path:
    """The nearest folder, from `start` (the working directory) up, holding a `.project-root`
    marker or ifns-train's pyproject.toml; `start` itself when none does."""
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ROOT_MARKER).is_file():
            return folder
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and _names_project(pyproject):
            return folder
    return here


def default_registry_dir() -> Path:
    """$IFNS_REGISTRY_DIR, else `registry/` under $IFNS_ROOT or the project root: what
    `paths.registry_dir` defaults to in the Hydra configs."""
    explicit = os.environ.get(REGISTRY_ENV)
    if explicit:
        return Path(explicit)
    return Path(os.environ.get(ROOT_ENV) or project_root()) / "registry"


def user_conf_dir() -> Path:
    """`conf/` under $IFNS_ROOT or the project root: the user's own Hydra configs, which every
    Hydra console searches before the package's (`hydra_plugins/ifns_train_user_conf`)."""
    return Path(os.environ.get(ROOT_ENV) or project_root()) / "conf"
