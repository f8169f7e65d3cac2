"""Experiment and model ids. Ids become folder names, so they are checked before any path use."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone

from ifns_train.errors import RegistryError

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,159}$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not ID_RE.match(value) or ".." in value:
        raise RegistryError(f"invalid {what} {value!r}: letters, digits, '_', '-', '.' only")
    return value


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(ts: datetime) -> str:
    return ts.isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_ids(experiment_name: str, family_id: str, now: datetime) -> tuple[str, str]:
    """(experiment_id, model_id): one experiment per model, sharing a time stamp and a nonce."""
    if not NAME_RE.match(experiment_name):
        raise RegistryError(
            f"invalid experiment_name {experiment_name!r}: letters, digits, '_' and '-' only"
        )
    stamp = f"{now.strftime('%Y%m%dT%H%M%S')}_{secrets.token_hex(3)}"
    family = family_id.removeprefix("MF_")
    experiment_id = check_id(f"EXP_{experiment_name}_{stamp}", "experiment_id")
    model_id = check_id(f"MDL_{family}_{stamp}", "model_id")
    return experiment_id, model_id
