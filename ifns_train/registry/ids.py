"""Experiment and model ids. Ids become folder names, so they are checked before any path use.

The patterns are anchored with ^...$ because records.py hands ID_RE.pattern to pydantic, whose
Rust regex engine searches (its $ is the end of the text). Python's $ also matches before a
final newline, so the checks here use fullmatch: "MDL_x\n" is refused by both.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone

from ifns_train.core.errors import RegistryError, shown

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,159}$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def check_id(value: str, what: str) -> str:
    """`value` if it is a safe folder name; else one line quoting (at most the start of) it."""
    if not isinstance(value, str) or not ID_RE.fullmatch(value) or ".." in value:
        raise RegistryError(
            f"invalid {what} {shown(value)}: 1 to 160 letters, digits, '_', '-', '.' (no '..'), "
            "starting with a letter or digit"
        )
    return value


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(ts: datetime) -> str:
    return ts.isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_ids(experiment_name: str, family_id: str, now: datetime) -> tuple[str, str]:
    """(experiment_id, model_id): one experiment per model, sharing a time stamp and a nonce."""
    if not isinstance(experiment_name, str) or not NAME_RE.fullmatch(experiment_name):
        raise RegistryError(
            f"invalid experiment_name {shown(experiment_name)}: 1 to 64 letters, digits, '_' "
            "and '-', starting with a letter or digit"
        )
    stamp = f"{now.strftime('%Y%m%dT%H%M%S')}_{secrets.token_hex(3)}"
    family = family_id.removeprefix("MF_")
    experiment_id = check_id(f"EXP_{experiment_name}_{stamp}", "experiment_id")
    model_id = check_id(f"MDL_{family}_{stamp}", "model_id")
    return experiment_id, model_id
