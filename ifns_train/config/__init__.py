"""Config layer: the structured schema, the resolvers (run id, project root) and the config
directory, which ships inside the package (`ifns_train/conf`) so that a wheel install finds it;
the user's own configs go in `conf/` at the project root, searched first (`use_user_conf`).

- `schema.py`: the structured config: the typed, closed shape of an experiment (`base_config`).
- `checks.py`: the ranges of numeric values and the tags' pattern, checked before any work.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from hydra.core.plugins import Plugins
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import OmegaConf

from ifns_train.config.schema import register_configs
from ifns_train.core.root import project_root, user_conf_dir

try:  # the plugin ifns-train ships beside the package (hydra_plugins/ifns_train_user_conf)
    from hydra_plugins.ifns_train_user_conf.user_conf import IfnsUserConfSearchPath
except ImportError:  # an editable install made before it existed: reinstall
    IfnsUserConfSearchPath = None  # type: ignore[assignment,misc]
UserConfSearchPath: type[SearchPathPlugin] | None = IfnsUserConfSearchPath

CONF_DIR = Path(os.environ.get("IFNS_CONF_DIR", Path(__file__).resolve().parents[1] / "conf"))

# One token per process: run folders of jobs started in the same second never collide.
RUN_UID = f"{os.getpid():x}{secrets.token_hex(3)}"


def _register() -> None:
    if not OmegaConf.has_resolver("ifns_run_uid"):
        OmegaConf.register_new_resolver("ifns_run_uid", lambda: RUN_UID)
    if not OmegaConf.has_resolver("ifns_root"):
        OmegaConf.register_new_resolver("ifns_root", lambda: str(project_root()))
    register_configs()


_register()



def use_user_conf() -> None:
    """Make Hydra search the project root's `conf/` before `CONF_DIR`, as the consoles do
    before composing: the SearchPathPlugin in `hydra_plugins/ifns_train_user_conf` does it.
    Hydra finds that plugin by scanning the `hydra_plugins` namespace package, which works for
    a wheel install and from the checkout, but an editable install's import hook (PEP 660) hides
    it from the scan; so it is registered here too (`Plugins.register`), once."""
    plugins = Plugins.instance()  # scans hydra_plugins.* on first use
    if UserConfSearchPath is None:  # an editable install made before the plugin existed
        if user_conf_dir().is_dir():
            logging.getLogger("ifns_train").warning(
                "%s is not searched: the Hydra plugin hydra_plugins.ifns_train_user_conf is "
                "not installed; reinstall ifns-train (make install)", user_conf_dir())
        return
    # By name: Hydra's scan runs the plugin's module again, so its class may be another object.
    name = f"{UserConfSearchPath.__module__}.{UserConfSearchPath.__qualname__}"
    if not any(f"{c.__module__}.{c.__qualname__}" == name
               for c in plugins.discover(SearchPathPlugin)):
        plugins.register(UserConfSearchPath)
