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
hands the arrays over chunk by chunk, and `NpyFile` writes them in large sequential blocks
(through a spill file: see there why), so a table larger than memory is cached (and then
trained on) without ever being in memory whole. An entry is built in a temporary folder and
renamed into place, under one file lock per cache folder, so two jobs starting together build it
once; nothing is forced to disk (`_build`: a cache is rebuilt, not recovered), and a build killed
at any instant leaves only a temporary folder, which the next build removes (it holds the lock,
so no build of its own is under way). A truncated or unreadable entry is a miss, and is rebuilt.
Pruning keeps the `keep` most recently used entries (LRU by the mtime of `meta.json`, touched
on a hit).
Not detected: a bit flipped inside an array of the right size (no checksum is read on a hit, which
would cost a full read of the table).
"""

from __future__ import annotations

import hashlib
import io
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

from ifns_train.config.schema import DatasetConfig
from ifns_train.core import faults
from ifns_train.data.table import Store, Stored, array_shapes, in_memory

# Bump when the reader's output for the same inputs changes (ordering, dtypes, checks, files).
CACHE_VERSION = 2
DEFAULT_DIR = "cache"  # under the registry folder
LOCK_FILE = ".lock"
TMP_PREFIX = ".tmp-"
META = "meta.json"
SPILL = ".spill"  # suffix of an array's spill file while the entry is built
# Bytes of a write to an entry (a block of the merge; small writes are gathered up to it), and
# the most buffers one write takes (below the kernel's IOV_MAX of 1024).
BLOCK_BYTES = 8 << 20
MAX_BUFFERS = 512

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
        prune(folder, keep, spare=entry, tmp_age_s=0)  # under the lock: any is a dead build's
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
    """Build the entry into a temporary folder, arrays spilled as the reader goes and written
    out in blocks, then meta.json, then rename it into place (atomic). Nothing is forced to
    disk: a process killed at any instant leaves a temporary folder, never a complete entry (the
    kernel keeps what was written), and the cache can be rebuilt; after a crash of the machine,
    a file short of its recorded size is a miss."""
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{entry.name}.", dir=entry.parent))
    files: list[NpyFile] = []
    try:
        def store(name: str, shape: tuple[int, ...], dtype: Any) -> NpyFile:
            files.append(NpyFile(tmp / f"{name}.npy", shape, dtype))
            return files[-1]

        stored = build(store)
        for file in files:
            file.close()
        faults.point("cache-arrays-written")
        rows = len(stored.arrays["label"])
        sizes = {p.name: p.stat().st_size for p in tmp.iterdir()}
        meta = {"version": CACHE_VERSION, "dataset_id": dataset_id,
                "fingerprint": parts.get("fingerprint"), "key_parts": parts,
                "source_stat": stat, "rows": rows, "feature_columns":
                parts["feature_columns"], "extras": stored.extras, "context": stored.context,
                "symbols": stored.symbols, "sizes": sizes, "written": time.time()}
        (tmp / META).write_text(json.dumps(meta, indent=1, default=str))
        faults.point("cache-meta-written")
        if entry.exists():  # stale or damaged: set aside, then removed
            trash = entry.with_name(f"{TMP_PREFIX}{entry.name}.old{os.getpid()}")
            os.replace(entry, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(tmp, entry)
    except BaseException:
        for file in files:
            file.discard()
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class NpyFile:
    """An `.npy` file of a cache entry, filled by row positions as the reader goes and written
    in large sequential blocks.

    Why not in place: the Parquet table is in date order and the entry in symbol order, so each
    chunk the reader writes lands in one short run per symbol, all over the array (2.5 million
    rows of 1,000 symbols: 52,000 writes of 4 KB, each a read of a page first once that page
    had left the page cache). Why not a writable memory map: under a memory limit (a cgroup)
    the dirty pages of a mapping written all over are slow to reclaim (a cgroup v1 stalls for
    minutes on them). Instead, writes that arrive in row order (the symbol columns, or a table
    stored by symbol) go straight to the file, and the others, each chunk in position order, to
    the end of a spill file beside it, one write per chunk, with the runs they hold; `close`
    then writes the rest of the array in position order, block by block, gathering each block
    from the spill (the merge of an external sort: every chunk's runs are read forward) and
    removes the spill. Memory: a block, and small writes gathered up to a block; the spill is
    page cache. Each write starts its write-back at once (`_write`), so the kernel can reclaim
    the pages under a memory limit without waiting on them.
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: Any) -> None:
        self.path, self.shape, self.dtype = path, shape, np.dtype(dtype)
        self.row_bytes = self.dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64))
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.spill_fd = -1
        self.done = 0  # rows written to the file, in order
        self.spilled = 0  # rows in the spill
        self.runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # dest, src, rows
        self.pending: list[np.ndarray] = []  # small writes gathered, for the current file
        self.pending_bytes = 0
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {
            "descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
            "shape": shape})
        _write(self.fd, [np.frombuffer(header.getvalue(), np.uint8)])

    def __len__(self) -> int:
        return self.shape[0]

    def __setitem__(self, where: np.ndarray | slice, values: Any) -> None:
        if isinstance(where, slice):
            start, stop, step = where.indices(self.shape[0])
            pos = np.arange(start, stop, step)
        else:
            pos = np.asarray(where, dtype=np.int64)
        values = np.broadcast_to(np.asarray(values, dtype=self.dtype),
                                 (len(pos), *self.shape[1:]))
        if len(pos) == 0 or self.row_bytes == 0:
            return
        if np.any(pos[1:] <= pos[:-1]):  # the reader gives positions in order; others may not
            order = np.argsort(pos, kind="stable")
            pos, values = pos[order], values[order]
        starts = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1] + 1])
        if self.spill_fd < 0 and len(starts) == 1 and pos[0] == self.done:
            self.done += len(pos)  # in row order: straight to the file
        else:
            if self.spill_fd < 0:
                self._write_pending()
                self.spill_fd = os.open(self._spill_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                                        0o644)
            self.runs.append((pos[starts], self.spilled + starts,
                              np.diff(np.r_[starts, len(pos)])))
            self.spilled += len(pos)
        data = _bytes(values)
        self.pending.append(data)
        self.pending_bytes += len(data)
        if self.pending_bytes >= BLOCK_BYTES or len(self.pending) >= MAX_BUFFERS:
            self._write_pending()
        elif np.may_share_memory(data, values):  # kept until written: the caller may reuse it
            self.pending[-1] = data.copy()

    @property
    def _spill_path(self) -> Path:
        return self.path.with_name(self.path.name + SPILL)

    def _write_pending(self) -> None:
        if self.pending:
            _write(self.fd if self.spill_fd < 0 else self.spill_fd, self.pending)
            self.pending, self.pending_bytes = [], 0
            faults.point("cache-block-written")

    def flush(self) -> None:
        """Write what this chunk left gathered (the reader calls it after each chunk)."""
        self._write_pending()

    def close(self) -> None:
        """Write the spilled rows into the file in position order; the file is then whole."""
        self._write_pending()
        if self.spill_fd >= 0:
            os.close(self.spill_fd)
            self.spill_fd = -1
            self._merge()
            self._spill_path.unlink()
        if self.done != self.shape[0] and self.row_bytes:
            raise ValueError(f"{self.path.name}: {self.done} of {self.shape[0]} rows written")
        os.close(self.fd)
        self.fd = -1

    def _merge(self) -> None:
        dest, src, rows = (np.concatenate(parts) for parts in zip(*self.runs, strict=True))
        order = np.argsort(dest, kind="stable")
        dest, shift, ends = dest[order], (src - dest)[order], (dest + rows)[order]
        if dest[0] != self.done or np.any(dest[1:] != ends[:-1]) or ends[-1] != self.shape[0]:
            raise ValueError(f"{self.path.name}: the rows written do not cover it once each")
        spill = np.memmap(self._spill_path, dtype=self.dtype, mode="r",
                          shape=(self.spilled, *self.shape[1:]))
        step = max(1, BLOCK_BYTES // max(self.row_bytes, 8))  # rows, and an index of 8 bytes
        for lo in range(self.done, self.shape[0], step):
            hi = min(lo + step, self.shape[0])
            first, last = np.searchsorted(ends, lo, "right"), np.searchsorted(dest, hi)
            counts = np.minimum(ends[first:last], hi) - np.maximum(dest[first:last], lo)
            _write(self.fd, [_bytes(spill[np.arange(lo, hi) + np.repeat(shift[first:last],
                                                                        counts)])])
            self.done = hi
            faults.point("cache-block-written")
        del spill

    def discard(self) -> None:
        """Close the files without writing (the build failed; its folder is removed)."""
        for fd in (self.fd, self.spill_fd):
            if fd >= 0:
                os.close(fd)
        self.fd = self.spill_fd = -1


def _bytes(values: np.ndarray) -> np.ndarray:
    """The values as a flat array of bytes (any dtype, datetimes too, can then be written)."""
    return np.ascontiguousarray(values).reshape(-1).view(np.uint8)


def _write(fd: int, buffers: list[np.ndarray]) -> None:
    """Write the buffers at the file's end, in as few calls as the kernel allows, and start
    their write-back now (`POSIX_FADV_DONTNEED` on Linux starts it without waiting, and drops
    only pages already clean): pages left dirty would, under a cgroup v1 memory limit, stall the
    reclaim that a table larger than the limit depends on. Nothing waits for the disk."""
    start = os.lseek(fd, 0, os.SEEK_CUR)
    views = [b.data for b in buffers if len(b)]  # flat bytes (`_bytes`)
    total = sum(len(v) for v in views)
    while views:
        written = os.writev(fd, views[:MAX_BUFFERS])
        while written:
            if written >= len(views[0]):
                written -= len(views.pop(0))
            else:
                views[0], written = views[0][written:], 0
    if total and hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, start, total, os.POSIX_FADV_DONTNEED)


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
