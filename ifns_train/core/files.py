"""Files written whole or not at all: atomic writes (a run's metrics.json and pictures, the
Mirror's pages, a signal table) and JSON documents changed under a file lock (the dataset index;
the registry itself is a database, `ifns_train.registry`).

Parallel sweep jobs and crashes can neither interleave two writers nor leave half a file: each
change re-reads the document under the lock, edits it and renames a fully written temp file over
it. A document whose schema_version is newer than this code is refused rather than rewritten.

Written files get the mode open() would give them (0o666 less the umask), not mkstemp's 0600,
so colleagues sharing a registry folder can read what a run wrote.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ifns_train.core.errors import RegistryError

SCHEMA_VERSION = 1
LOCK_TIMEOUT_S = 120
_PROC_STATUS = Path("/proc/self/status")


def umask() -> int:
    """The process umask, read without changing it where Linux says it (/proc, kernel 4.7+);
    elsewhere by setting and restoring it, which is process-wide: a thread creating a file at
    that instant gets the common 022 umask for it, never a world-writable file."""
    try:
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode of a file created by open(): 0o666 less the umask (read at each call, so a
    umask changed after import still applies)."""
    return 0o666 & ~umask()


def chmod_like_open(path: str | Path) -> None:
    """Give a mkstemp file (created 0600) the mode open() would have given it."""
    os.chmod(path, file_mode())


def atomic_write_bytes(path: Path, data: bytes, sync: bool = True) -> None:
    """Write `data` to `path` through a temp file renamed over it (never half a file);
    `sync=False` skips the fsync, for derived files that are written again if lost."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            chmod_like_open(tmp)
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_bytes(data: Any) -> bytes:
    """The bytes `atomic_write_json` writes (NaN refused), for a writer that needs them
    before it writes (a picture checks its JSON before its image is drawn)."""
    return (json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n").encode()


def atomic_write_json(path: Path, data: Any, sync: bool = True) -> None:
    atomic_write_bytes(path, json_bytes(data), sync)


def sync_folder(folder: Path) -> None:
    """Make every file under `folder`, and the folder's entries, durable: one pass before a
    staged folder is renamed into place, instead of a sync per file as each is written.

    Why it is enough: a staged folder is published by a rename and recorded by a registry
    transaction (SQLite, synchronous=FULL) after it; what a process kill can interrupt never
    needs a sync (the page cache outlives the process), and what a power loss can lose is
    only what was not synced before the record: this syncs all of it (the model's files and
    the tables too, which a sync per JSON file left out). Syncing the files after they are
    all written lets the file system commit them together (ext4 commits every pending file of
    its journal at the first sync), which costs about one sync, not one a file. The rename
    itself is made durable by `sync_entries` of the parent after it."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    sync_entries(folder)
    for sub in sorted(p for p in folder.rglob("*") if p.is_dir()):
        sync_entries(sub)


def sync_entries(folder: Path) -> None:
    """fsync a folder: its entries (a file created or renamed in it) become durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_document(path: Path, empty: dict[str, Any]) -> dict[str, Any]:
    if not path.exists():
        return {"schema_version": SCHEMA_VERSION, **json.loads(json.dumps(empty))}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RegistryError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise RegistryError(f"{path}: expected a JSON object at the top")
    version = data.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise RegistryError(
            f"{path}: schema_version {version!r} is not one this version reads ({SCHEMA_VERSION})"
        )
    for key, value in empty.items():
        if not isinstance(data.get(key), type(value)):
            raise RegistryError(f"{path}: '{key}' is missing or not a {type(value).__name__}")
    return data


@contextmanager
def transaction(path: Path, empty: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield the document for editing; it is written back only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S):
            data = read_document(path, empty)
            yield data
            atomic_write_json(path, data)
    except Timeout as exc:
        raise RegistryError(f"{path}: lock not acquired within {LOCK_TIMEOUT_S} s") from exc
