"""How the Mirror writes: a file only when its content changed, each replaced whole (a reader
never sees half a page), and a manifest of what each page was built from, so a page whose
inputs have not changed is neither rendered nor read again.

No fsync: the site is derived data that the next build rewrites; the manifest is written
last, so after a crash a page is at worst rendered again, never skipped while stale.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import msgspec

from ifns_train.core.files import atomic_write_bytes

MANIFEST = ".mirror-manifest.json"
MANIFEST_VERSION = 1


def digest(*parts: Any) -> str:
    """A stable hash of JSON-able inputs (keys sorted)."""
    return hashlib.sha256(msgspec.json.encode(parts, order="sorted", enc_hook=str)).hexdigest()


def write(path: Path, data: bytes) -> bool:
    """`data` at `path`, replaced whole, unless it is there already; True if written."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    atomic_write_bytes(path, data, sync=False)
    return True


def place(path: Path, source: Path) -> bool | None:
    """`source` at `path`: a hard link where the file system allows, else a copy; nothing
    done if the same file is there already. True if placed, False if it was there, None if
    `source` cannot be read. The folder must exist."""
    try:
        src = source.stat()
    except OSError:
        return None
    try:
        dst = path.stat()
        if (dst.st_ino, dst.st_dev) == (src.st_ino, src.st_dev) or (
                dst.st_size == src.st_size and dst.st_mtime_ns >= src.st_mtime_ns):
            return False
        path.unlink()
    except FileNotFoundError:
        pass
    try:
        os.link(source, path)
    except OSError:
        shutil.copyfile(source, path)
    return True


class SiteWriter:
    """Writes under `out`, counting what it wrote and what it left as it was."""

    def __init__(self, out: Path, code: str) -> None:
        self.out = out
        self.written: list[str] = []
        self.unchanged = 0
        self.skipped = 0
        self._old = self._read_manifest(code)
        self._new: dict[str, Any] = {"version": MANIFEST_VERSION, "code": code, "pages": {},
                                     "cache": {}}

    def _read_manifest(self, code: str) -> dict[str, Any]:
        try:
            doc = json.loads((self.out / MANIFEST).read_text())
        except (OSError, ValueError):
            return {}
        # Pages of another version of this code may differ for the same inputs.
        ok = isinstance(doc, dict) and doc.get("version") == MANIFEST_VERSION \
            and doc.get("code") == code
        return doc if ok else {}

    def fresh(self, rel: str, key: str) -> Any:
        """The cached value of page `rel` if it was built from inputs hashing to `key` and is
        still there (it is then kept as it is), else None."""
        pages = self._old.get("pages") or {}
        if pages.get(rel) != key or not (self.out / rel).is_file():
            return None
        self.skipped += 1
        self._new["pages"][rel] = key
        cached = (self._old.get("cache") or {}).get(rel)
        self._new["cache"][rel] = cached
        return cached if cached is not None else {}

    def page(self, rel: str, key: str, cache: Any, written: list[str], unchanged: int
             ) -> None:
        """Record a page written elsewhere (a worker: `write` and `place`): `key`, its
        inputs' digest, and `cache`, what later builds need of it without rendering it, go
        into the manifest."""
        self._new["pages"][rel] = key
        self._new["cache"][rel] = cache
        self.written += written
        self.unchanged += unchanged

    def text(self, rel: str, content: str) -> None:
        if write(self.out / rel, content.encode()):
            self.written.append(rel)
        else:
            self.unchanged += 1

    def finish(self) -> None:
        self.text(MANIFEST, json.dumps(self._new, sort_keys=True))
