"""A machine-local cache of resolved, verified tables, so a sweep reads and checks a dataset once.

Reading a Parquet table, proving every column against its fingerprint and running the contract
checks costs seconds per million rows, and every job of a sweep did it again. The first job does
it and writes the result here; later jobs memory-map it and skip the work.

Why skipping the verification is safe: an entry is keyed by the index entry's whole-table
fingerprint (plus the columns read and `CACHE_VERSION`), and is written only after that table was
read and proved against it. A dataset id names one immutable table; changed content has a new
fingerprint, hence a new key: it misses and is built (and verified) afresh. The table file's size
and mtime are recorded too, so a file edited in place under an unchanged index is re-verified.

Layout: `<cache_dir>/<dataset_id>-<key>/` holds one `.npy` per numeric array (opened with
`mmap_mode="c"`: pages come from the page cache, and a writer gets a private copy, never the
file), `strings.arrow` (symbols and context columns, dictionary-encoded Arrow IPC) and
`meta.json` (key inputs, shapes, file sizes), written last. An entry is built in a temporary
folder and renamed into place, under one file lock per cache folder, so two jobs starting
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
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
from filelock import FileLock

if TYPE_CHECKING:
    from ifns_train.data.resolve import Table

# Bump when the resolver's output for the same inputs changes (ordering, dtypes, checks).
CACHE_VERSION = 1
DEFAULT_DIR = "cache"  # under the registry folder
LOCK_FILE = ".lock"
TMP_PREFIX = ".tmp-"
META = "meta.json"
STRINGS = "strings.arrow"
ARRAYS = ("features", "label", "dates", "history", "last_row")

# Counters for tests and benchmarks: how entries were obtained in this process.
STATS = {"hits": 0, "builds": 0, "corrupt": 0}


@dataclass(frozen=True)
class CacheOptions:
    """Whether to cache, where (None: `<registry_dir>/cache`), and how many entries to keep."""

    enabled: bool = True
    dir: str | Path | None = None
    keep: int = 8

    def folder(self, registry_dir: Path) -> Path:
        return Path(self.dir).expanduser() if self.dir else Path(registry_dir) / DEFAULT_DIR

    @classmethod
    def from_config(cls, dataset: dict[str, Any]) -> CacheOptions:
        """From a run's `dataset` config node (keys `cache`, `cache_dir`, `cache_keep`)."""
        return cls(bool(dataset.get("cache", False)), dataset.get("cache_dir"),
                   int(dataset.get("cache_keep", 8)))


def cache_key(parts: dict[str, Any]) -> str:
    """A short hash of everything the resolved table depends on (with `CACHE_VERSION`)."""
    blob = json.dumps({"version": CACHE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _source_stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def cached_table(folder: Path, dataset_id: str, parts: dict[str, Any], source: Path,
                 build: Callable[[], Table], *, write: bool = True, keep: int = 8) -> Table:
    """The table of `parts` from the cache in `folder`, else `build()` it (and store it when
    `write`: only a verified table may be stored)."""
    entry = folder / f"{dataset_id}-{cache_key(parts)}"
    stat = _source_stat(source)
    table = _open(entry, stat)
    if table is not None:
        STATS["hits"] += 1
        return table
    if not write:
        return build()
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / LOCK_FILE)):
        table = _open(entry, stat)  # another job may have built it while we waited
        if table is not None:
            STATS["hits"] += 1
            return table
        fresh = build()
        STATS["builds"] += 1
        _write(entry, fresh, parts, stat)
        prune(folder, keep, spare=entry)
    table = _open(entry, stat)
    return fresh if table is None else table


def _open(entry: Path, stat: list[int]) -> Table | None:
    """The entry's table, memory-mapped; None if absent, stale or damaged (damage is counted)."""
    from ifns_train.data.resolve import Table

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
        arrays = {n: np.load(entry / f"{n}.npy", mmap_mode="c") for n in ARRAYS}
        extras = {c: np.load(entry / f"extra{i}.npy", mmap_mode="c")
                  for i, c in enumerate(meta["extras"])}
        with pa.memory_map(str(entry / STRINGS), "r") as source:
            strings = ipc.open_file(source).read_all()
        if strings.num_rows != rows or any(len(a) != rows for a in (*arrays.values(),
                                                                     *extras.values())):
            raise ValueError("row counts differ")
        if arrays["features"].shape != (rows, len(meta["feature_columns"])):
            raise ValueError("feature matrix has the wrong shape")
        symbols = _objects(strings.column("symbol"))
        context = {c: _objects(strings.column(f"context:{c}")) for c in meta["context"]}
    except Exception:  # any damage (truncation, bad header, bad JSON) is a miss, rebuilt
        STATS["corrupt"] += 1
        return None
    os.utime(meta_path)  # most recently used, for pruning
    return Table(dataset_id=meta["dataset_id"], fingerprint=meta["fingerprint"],
                 features=arrays["features"], label=arrays["label"], dates=arrays["dates"],
                 symbols=symbols, context=context, extras=extras, history=arrays["history"],
                 last_row=arrays["last_row"])


def _objects(column: pa.ChunkedArray) -> np.ndarray:
    """Dictionary column -> object array whose rows share one str per distinct value."""
    array = column.combine_chunks()
    return np.asarray(array.dictionary.to_pylist(), dtype=object)[
        array.indices.to_numpy(zero_copy_only=False)]


def _write(entry: Path, table: Table, parts: dict[str, Any], stat: list[int]) -> None:
    """Write the entry into a temporary folder, then rename it into place (atomic)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{entry.name}.", dir=entry.parent))
    try:
        arrays = {n: getattr(table, n) for n in ARRAYS}
        arrays |= {f"extra{i}": v for i, v in enumerate(table.extras.values())}
        for name, value in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(value))
        strings = pa.table({"symbol": _dictionary(table.symbols),
                            **{f"context:{c}": _dictionary(v) for c, v in table.context.items()}})
        with pa.OSFile(str(tmp / STRINGS), "wb") as sink, \
                ipc.new_file(sink, strings.schema) as writer:
            writer.write_table(strings)
        sizes = {p.name: p.stat().st_size for p in tmp.iterdir()}
        meta = {"version": CACHE_VERSION, "dataset_id": table.dataset_id,
                "fingerprint": table.fingerprint, "key_parts": parts, "source_stat": stat,
                "rows": len(table.label), "feature_columns": parts["feature_columns"],
                "extras": list(table.extras), "context": list(table.context), "sizes": sizes,
                "written": time.time()}
        (tmp / META).write_text(json.dumps(meta, indent=1, default=str))
        if entry.exists():  # stale or damaged: set aside, then removed
            trash = entry.with_name(f"{TMP_PREFIX}{entry.name}.old{os.getpid()}")
            os.replace(entry, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(tmp, entry)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _dictionary(values: np.ndarray) -> pa.DictionaryArray:
    return pa.array(values, type=pa.string()).dictionary_encode()


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
