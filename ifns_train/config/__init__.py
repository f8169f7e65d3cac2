"""Config layer: the structured schema, the run-id resolver and the config directory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from omegaconf import OmegaConf

from ifns_train.config.schema import register_configs

CONF_DIR = Path(os.environ.get("IFNS_CONF_DIR", Path(__file__).resolve().parents[2] / "conf"))

# One token per process: run folders of jobs started in the same second never collide.
RUN_UID = f"{os.getpid():x}{secrets.token_hex(3)}"


def _register() -> None:
    if not OmegaConf.has_resolver("ifns_run_uid"):
        OmegaConf.register_new_resolver("ifns_run_uid", lambda: RUN_UID)
    register_configs()


_register()
