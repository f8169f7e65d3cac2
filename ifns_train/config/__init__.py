"""Config layer: the structured schema, the resolvers (run id, project root) and the config
directory, which ships inside the package (`ifns_train/conf`) so that a wheel install finds it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from omegaconf import OmegaConf

from ifns_train.config.schema import register_configs
from ifns_train.root import project_root

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
