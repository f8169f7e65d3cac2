"""A machine-local cache of resolved, verified tables, so a sweep reads and checks a dataset once.

Reading a Parquet table, proving every column against its fingerprint and running the contract
checks costs seconds per million rows, and every job of a sweep did it again. The first job does
it and writes the result here; later jobs memory-map it and skip the work.

Why skipping the verification is safe: an entry is keyed by the index entry's whole-table
fingerprint (plus the columns read and `CACHE_VERSION`), and is written only after that table was
read and proved against it. A dataset id names one immutable table; changed content has a new
fingerprint, hence a new key: it misses and is built (and verified) afresh. The table file's size
and mtime are recorded too, so a file edited in place under an unchanged index is re-verified.

Layout: `<cache_dir>/<dataset_id>-<key>/` holds one `.npy` per array of
`ifns_train.data.table.array_shapes` (strings as int32 codes; opened with `mmap_mode="c"`:
pages come from the page cache, and a writer gets a private copy, never the file) and
`meta.json` (key inputs, the names behind the codes, file sizes), written last. The reader
writes the arrays straight into the files, chunk by chunk, so a table larger than memory is
cached (and then trained on) without ever being in memory whole. An entry is built in a
temporary folder and renamed into place, under one file lock per cache folder, so two jobs starting
together build it once. A truncated or unreadable entry is a miss, and is rebuilt. Pruning keeps
the `keep` most recently used entries (simple LRU by the mtime of `meta.json`, touched on a hit).
Not detected: a bit flipped inside an array of the right size (no checksum is read on a hit, which
would cost a full read of the table).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock
from numpy.lib.format import open_memmap

from ifns_train.config.schema import DatasetConfig
from ifns_train.data.table import Store, Stored, array_shapes, in_memory

# Bump when the reader's output for the same inputs changes (ordering, dtypes, checks, files).
CACHE_VERSION = 2
DEFAULT_DIR = "cache"  # under the registry folder
LOCK_FILE = ".lock"
TMP_PREFIX = ".tmp-"
META = "meta.json"

# Counters for tests and benchmarks: how entries were obtained in this process.
STATS = {"hits": 0, "builds": 0, "corrupt": 0}


@dataclass(frozen=True)
class CacheOptions:
    """Whether to cache, where (None: `<registry_dir>/cache`), and how many entries to keep."""

    enabled: bool = DatasetConfig.cache
    dir: str | Path | None = DatasetConfig.cache_dir
    keep: int = DatasetConfig.cache_keep

    def folder(self, registry_dir: Path) -> Path:
        return Path(self.dir).expanduser() if self.dir else Path(registry_dir) / DEFAULT_DIR

    @classmethod
    def from_config(cls, dataset: dict[str, Any]) -> CacheOptions:
        """From a run's `dataset` config node (keys `cache`, `cache_dir`, `cache_keep`; a config
        recorded before they existed takes the schema's)."""
        return cls(bool(dataset.get("cache", cls.enabled)), dataset.get("cache_dir", cls.dir),
                   int(dataset.get("cache_keep", cls.keep)))


def cache_key(parts: dict[str, Any]) -> str:
    """A short hash of everything the resolved table depends on (with `CACHE_VERSION`)."""
    blob = json.dumps({"version": CACHE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _source_stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def cached_table(folder: Path, dataset_id: str, parts: dict[str, Any], source: Path,
                 build: Callable[[Store], Stored], *, keep: int, write: bool = True
                 ) -> Stored:
    """The table of `parts` from the cache in `folder`, else `build(store)` it, into the cache
    when `write` (only a verified table may be stored), else into memory."""
    entry = folder / f"{dataset_id}-{cache_key(parts)}"
    stat = _source_stat(source)
    table = _open(entry, stat)
    if table is not None:
        STATS["hits"] += 1
        return table
    if not write:
        return build(in_memory)
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / LOCK_FILE)):
        table = _open(entry, stat)  # another job may have built it while we waited
        if table is not None:
            STATS["hits"] += 1
            return table
        _build(entry, dataset_id, build, parts, stat)
        STATS["builds"] += 1
        prune(folder, keep, spare=entry)
    table = _open(entry, stat)
    if table is None:
        raise OSError(f"dataset cache entry {entry} cannot be read back after it was written")
    return table


def _open(entry: Path, stat: list[int]) -> Stored | None:
    """The entry's arrays, memory-mapped; None if absent, stale or damaged (damage counted)."""
    meta_path = entry / META
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("version") != CACHE_VERSION or meta.get("source_stat") != stat:
            return None
        for name, size in meta["sizes"].items():
            if (entry / name).stat().st_size != size:
                raise ValueError(f"{name}: size differs from the one recorded")
        rows = int(meta["rows"])
        arrays = {}
        for name, (shape, dtype) in array_shapes(rows, len(meta["feature_columns"]),
                                                 len(meta["extras"]),
                                                 len(meta["context"])).items():
            array = np.load(entry / f"{name}.npy", mmap_mode="c")
            if array.shape != shape or array.dtype != np.dtype(dtype):
                raise ValueError(f"{name}: shape or type differs from the one recorded")
            arrays[name] = array
    except Exception:  # any damage (truncation, bad header, bad JSON) is a miss, rebuilt
        STATS["corrupt"] += 1
        return None
    os.utime(meta_path)  # most recently used, for pruning
    return Stored(arrays, meta["symbols"], meta["context"], meta["extras"])


def _build(entry: Path, dataset_id: str, build: Callable[[Store], Stored],
           parts: dict[str, Any], stat: list[int]) -> None:
    """Build the entry into a temporary folder, arrays written as the reader goes, then rename
    it into place (atomic)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{entry.name}.", dir=entry.parent))
    try:
        files: list[NpyFile] = []

        def store(name: str, shape: tuple[int, ...], dtype: Any) -> NpyFile:
            files.append(NpyFile(tmp / f"{name}.npy", shape, dtype))
            return files[-1]

        try:
            stored = build(store)
        finally:
            for file in files:
                file.close()
        rows = len(stored.arrays["label"])
        sizes = {p.name: p.stat().st_size for p in tmp.iterdir()}
        meta = {"version": CACHE_VERSION, "dataset_id": dataset_id,
                "fingerprint": parts.get("fingerprint"), "key_parts": parts,
                "source_stat": stat, "rows": rows, "feature_columns":
                parts["feature_columns"], "extras": stored.extras, "context": stored.context,
                "symbols": stored.symbols, "sizes": sizes, "written": time.time()}
        (tmp / META).write_text(json.dumps(meta, indent=1, default=str))
        if entry.exists():  # stale or damaged: set aside, then removed
            trash = entry.with_name(f"{TMP_PREFIX}{entry.name}.old{os.getpid()}")
            os.replace(entry, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(tmp, entry)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class NpyFile:
    """An `.npy` file written by row positions, for the reader to fill a cache entry with.

    Why not a writable memory map: under a memory limit (a cgroup) the dirty pages of a mapping
    written all over are slow to reclaim (a cgroup v1 stalls for minutes on them). Here each
    run of consecutive positions is one `pwrite`, and `flush` (after each chunk) writes the
    pages to disk and drops them from the page cache, so the build holds about a chunk.
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: Any) -> None:
        header = open_memmap(path, mode="w+", dtype=dtype, shape=shape)  # header and size
        self.offset, self.shape, self.dtype = header.offset, shape, np.dtype(dtype)
        del header
        self.row_bytes = self.dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64))
        self.fd = os.open(path, os.O_WRONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __setitem__(self, where: np.ndarray | slice, values: Any) -> None:
        pos = np.arange(*where.indices(self.shape[0])) if isinstance(where, slice) else where
        values = np.broadcast_to(np.asarray(values, dtype=self.dtype),
                                 (len(pos), *self.shape[1:]))
        order = np.argsort(pos, kind="stable")
        pos = pos[order]
        breaks = np.flatnonzero(np.diff(pos) != 1) + 1
        for run in np.split(np.arange(len(pos)), breaks):
            if len(run):
                data = np.ascontiguousarray(values[order[run]]).tobytes()
                os.pwrite(self.fd, data, self.offset + int(pos[run[0]]) * self.row_bytes)

    def flush(self) -> None:
        os.fdatasync(self.fd)
        os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_DONTNEED)

    def close(self) -> None:
        if self.fd >= 0:
            self.flush()
            os.close(self.fd)
            self.fd = -1


def entries(folder: Path) -> list[Path]:
    """The cache's complete entries, least recently used first."""
    if not folder.is_dir():
        return []
    found = [d for d in folder.iterdir()
             if d.is_dir() and not d.name.startswith(TMP_PREFIX) and (d / META).is_file()]
    return sorted(found, key=lambda d: (d / META).stat().st_mtime)


def prune(folder: Path, keep: int, spare: Path | None = None, tmp_age_s: float = 3600) -> list[str]:
    """Remove all but the `keep` most recently used entries, and temporary folders older than
    `tmp_age_s` (a killed build). Mapped files of a removed entry stay readable to a job that
    has them open (POSIX unlink). Returns the names removed."""
    removed = []
    old = [d for d in entries(folder) if d != spare]
    for entry in old[: max(0, len(old) - max(keep - (spare is not None), 0))]:
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry.name)
    now = time.time()
    for tmp in folder.glob(f"{TMP_PREFIX}*") if folder.is_dir() else ():
        if tmp.is_dir() and now - tmp.stat().st_mtime > tmp_age_s:
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp.name)
    return removed


def summary(folder: Path) -> dict[str, Any]:
    """What the cache holds (for `ifns-admin doctor`): entries, bytes, unfinished builds."""
    done = entries(folder)
    unfinished = sorted(p.name for p in folder.glob(f"{TMP_PREFIX}*")) if folder.is_dir() else []
    size = sum(f.stat().st_size for d in done for f in d.iterdir() if f.is_file())
    return {"folder": str(folder), "entries": len(done), "bytes": size, "unfinished": unfinished}
