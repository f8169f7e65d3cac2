"""`conf/` at the project root ($IFNS_ROOT, else the nearest folder from the working directory
up holding `.project-root` or ifns-train's pyproject.toml, else the working directory), put on
Hydra's search path just before the package's own configs (`ifns_train/conf`).

So a config there wins over the package's of the same group and name (`conf/promotion/
dir_core.yaml` replaces the shipped thresholds), and adds what the package lacks
(`conf/experiment/exp_<name>.yaml`, `conf/family/<name>.yaml`, `conf/dataset/<name>.yaml`), for
every Hydra console (ifns-train and its multiruns, ifns-evaluate, ifns-predict) and for
`hydra.compose` over the package's config dir. A missing folder is not searched. Hydra apps
whose primary config dir is not ifns-train's are left alone.

A `SearchPathPlugin` rather than `hydra.searchpath` in config.yaml: Hydra appends
`hydra.searchpath` after the primary config dir, so a user's file could never replace a
package one of the same name, and the three consoles' primary configs would each repeat it.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath, SearchPathQuery
from hydra.plugins.search_path_plugin import SearchPathPlugin

from ifns_train.core.root import user_conf_dir  # light: os, re and pathlib only

PROVIDER = "ifns-user-conf"
MAIN = "main"


def package_conf_dir() -> Path | None:
    """ifns_train.config.CONF_DIR, found without importing ifns_train.config (its schema and
    OmegaConf resolvers): this runs in every Hydra app of the environment."""
    explicit = os.environ.get("IFNS_CONF_DIR")
    if explicit:
        return Path(explicit)
    spec = find_spec("ifns_train")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "conf"


def _same_dir(path: str | None, folder: Path) -> bool:
    if not path or path.startswith("pkg://"):
        return False
    try:
        return Path(path.removeprefix("file://")).resolve() == folder.resolve()
    except OSError:
        return False


class IfnsUserConfSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        package = package_conf_dir()
        if package is None or not any(
            e.provider == MAIN and _same_dir(e.path, package) for e in search_path.get_path()
        ):
            return
        user = user_conf_dir()
        if not user.is_dir() or _same_dir(str(user), package):
            return
        search_path.prepend(PROVIDER, f"file://{user.resolve()}",
                            anchor=SearchPathQuery(provider=MAIN))
