"""Artifact folders and their hashes: what a model record points at, and proof it is intact.

Each file of a model's folder is hashed when the folder is staged, the hashes go into the model
record, and loading the model (or auditing it) checks them, so a flipped bit in `model.ckpt` is
an error naming the file rather than a silently different model.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ifns_train.core.errors import RegistryError

CHUNK = 1 << 20
STAGING_PREFIX = ".staging-"
ORPHANS_DIR = "orphans"
ARTIFACT_ROOTS = ("models", "controls", "evaluations")


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def folder_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by POSIX path relative to it."""
    return {p.relative_to(folder).as_posix(): file_hash(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def mismatches(folder: Path, hashes: dict[str, str], only: tuple[str, ...] | None = None
               ) -> list[str]:
    """What no longer matches: missing, changed or unrecorded files (`only`: just these)."""
    problems = []
    names = only if only is not None else tuple(hashes)
    for name in names:
        path = folder / name
        if name not in hashes:
            problems.append(f"{path}: no hash recorded")
        elif not path.is_file():
            problems.append(f"{path}: missing")
        elif file_hash(path) != hashes[name]:
            problems.append(f"{path}: sha256 differs from the record")
    if only is None and folder.is_dir():
        extra = sorted(set(folder_hashes(folder)) - set(hashes))
        problems += [f"{folder / name}: not in the record" for name in extra]
    return problems


def verify(folder: Path, hashes: dict[str, str], model_id: str,
           only: tuple[str, ...] | None = None) -> None:
    """Raise naming the first file that does not match its recorded hash."""
    problems = mismatches(folder, hashes, only)
    if problems:
        raise RegistryError(f"model {model_id}: artifact check failed: {problems[0]}"
                            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))


def artifact_folders(registry_dir: Path) -> list[Path]:
    """Every `<root>/<family>/<id>` folder, staging folders included."""
    out = []
    for root in ARTIFACT_ROOTS:
        base = registry_dir / root
        if base.is_dir():
            out += [d for fam in sorted(base.iterdir()) if fam.is_dir()
                    for d in sorted(fam.iterdir()) if d.is_dir()]
    return out
