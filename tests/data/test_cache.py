"""The resolved-data cache: hits skip the read and verification, yet give the same data; a
changed dataset or a damaged entry is rebuilt; two jobs starting together build it once; a build
killed at any named point leaves no entry a later run would use; an entry's files are written
in blocks, whatever order the reader fills them in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ifns_train.core import faults
from ifns_train.data import cache as data_cache
from ifns_train.data import reader
from ifns_train.data import resolve as resolve_mod
from ifns_train.data.cache import CacheOptions
from ifns_train.data.demo import DEMO_DATASET_ID, write_demo
from ifns_train.data.index import index_path
from ifns_train.data.resolve import ResolvedData, resolve
from ifns_train.run import provenance
from ifns_train.run.train import train

ARGS: dict[str, Any] = dict(
    dataset_ids={s: DEMO_DATASET_ID for s in ("train", "val", "test")},
    windows=None,
    feature_families=["Feature_TREND_MTF_V1", "Feature_VOL_LIQ_V1"],
    label_family="Label_Direction_Horizon_20d_V1",
    horizon_days=20,
    context_columns=["regime_tag", "vol_band"],
    lookback=3,
)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The dataset ids read and verified from Parquet (the work a cache hit skips)."""
    calls: list[str] = []
    original = resolve_mod.read_table

    def spy(dataset_id: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(dataset_id)
        return original(dataset_id, *args, **kwargs)

    monkeypatch.setattr(resolve_mod, "read_table", spy)
    return calls


def _resolve(registry: Path, cache: bool = True, **kw: Any) -> ResolvedData:
    return resolve(registry, **{**ARGS, **kw}, cache=CacheOptions(enabled=cache))


def _assert_same(a: ResolvedData, b: ResolvedData) -> None:
    assert a.report == b.report and a.feature_families == b.feature_families
    for name, split in a.splits.items():
        other = b.splits[name]
        assert np.array_equal(split.rows, other.rows)
        ta, tb = split.table, other.table
        assert (ta.dataset_id, ta.fingerprint, ta.split_meta) == (
            tb.dataset_id, tb.fingerprint, tb.split_meta)
        for field in ("features", "label", "dates", "symbols", "history", "last_row"):
            x, y = getattr(ta, field), getattr(tb, field)
            assert x.dtype == y.dtype and x.shape == y.shape, field
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), field
        for group in ("context", "extras"):
            x, y = getattr(ta, group), getattr(tb, group)
            assert list(x) == list(y)
            for column in x:
                assert x[column].dtype == y[column].dtype
                assert np.array_equal(x[column], y[column],
                                      equal_nan=x[column].dtype.kind == "f"), column


def test_second_resolve_is_a_hit_and_equals_the_uncached_data(registry: Path,
                                                              reads: list[str]) -> None:
    extra = dict(extra_columns=["trend_ret_20d", "vol_20d"],
                 evaluation_columns=["Label_ReturnContinuous_Horizon_20d_V1"])
    plain = _resolve(registry, cache=False, **extra)
    assert reads == [DEMO_DATASET_ID] and not (registry / "cache").exists()
    first = _resolve(registry, **extra)  # builds the entry
    hits = data_cache.STATS["hits"]
    second = _resolve(registry, **extra)  # maps it
    assert reads == [DEMO_DATASET_ID] * 2  # the second cached resolve read no Parquet
    assert data_cache.STATS["hits"] == hits + 1
    assert isinstance(second.splits["train"].table.features, np.memmap)
    _assert_same(plain, first)
    _assert_same(plain, second)
    # Another column set is another entry.
    _resolve(registry, context_columns=["regime_tag"])
    assert reads == [DEMO_DATASET_ID] * 3
    assert len(data_cache.entries(registry / "cache")) == 2


def test_a_changed_dataset_misses_and_gives_the_new_data(registry: Path,
                                                         reads: list[str]) -> None:
    old = _resolve(registry)
    index = json.loads(index_path(registry).read_text())
    entry = index["datasets"].pop(DEMO_DATASET_ID)
    (registry / entry["path"]).unlink()
    index_path(registry).write_text(json.dumps(index))
    write_demo(registry, n_symbols=8, n_years=3.0, seed=99)  # same id, other content
    new = _resolve(registry)
    assert new.fingerprints != old.fingerprints
    assert reads == [DEMO_DATASET_ID] * 2
    _assert_same(_resolve(registry, cache=False), new)


def test_a_table_edited_in_place_is_verified_again(registry: Path, reads: list[str]) -> None:
    _resolve(registry)
    path = registry / "datasets" / f"{DEMO_DATASET_ID}.parquet"
    path.write_bytes(path.read_bytes())  # same bytes, new mtime: no longer trusted
    _resolve(registry)
    assert reads == [DEMO_DATASET_ID] * 2


@pytest.mark.parametrize("damage", ["truncate", "meta"])
def test_a_damaged_entry_is_rebuilt_not_used(registry: Path, reads: list[str],
                                             damage: str) -> None:
    plain = _resolve(registry, cache=False)
    _resolve(registry)
    (entry,) = data_cache.entries(registry / "cache")
    if damage == "truncate":
        features = entry / "features.npy"
        features.write_bytes(features.read_bytes()[: features.stat().st_size // 2])
    else:
        (entry / "meta.json").write_text("{not json")
    corrupt = data_cache.STATS["corrupt"]
    again = _resolve(registry)
    assert data_cache.STATS["corrupt"] > corrupt
    assert reads == [DEMO_DATASET_ID] * 3  # rebuilt from the verified Parquet table
    _assert_same(plain, again)
    _assert_same(plain, _resolve(registry))  # and the rebuilt entry is sound
    assert reads == [DEMO_DATASET_ID] * 3


def test_prune_keeps_the_newest_entries(registry: Path) -> None:
    resolve(registry, **{**ARGS, "context_columns": ["regime_tag"]},
            cache=CacheOptions(keep=1))
    resolve(registry, **ARGS, cache=CacheOptions(keep=1))
    (kept,) = data_cache.entries(registry / "cache")
    assert json.loads((kept / "meta.json").read_text())["key_parts"]["context"] == [
        "regime_tag", "vol_band"]
    (registry / "cache" / ".tmp-killed").mkdir()
    assert data_cache.prune(registry / "cache", keep=1, tmp_age_s=0) == [".tmp-killed"]


# ARGS as JSON on the command line: importing this module would import the training (~6 s).
JOB = """
import json, sys
from ifns_train.data import cache
from ifns_train.data.resolve import resolve
resolve(sys.argv[1], **json.loads(sys.argv[2]), cache=cache.CacheOptions())
print(cache.STATS["builds"], cache.STATS["hits"])
"""


def test_two_jobs_starting_together_build_once(registry: Path) -> None:
    # Two processes: the cache's lock between processes is what is tested.
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-c", JOB, str(registry), json.dumps(ARGS)]
    jobs = [subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True)
            for _ in range(2)]
    outs = [job.communicate(timeout=300)[0].split() for job in jobs]
    assert all(job.returncode == 0 for job in jobs)
    assert sorted(outs) == [["0", "1"], ["1", "0"]]


def test_training_with_the_cache_gives_the_metrics_of_training_without(make_cfg) -> None:
    off = train(make_cfg("dataset.cache=false"))
    cold = train(make_cfg("dataset.cache=true"))
    warm = train(make_cfg("dataset.cache=true", "model.lookback=1"))
    lookback = train(make_cfg("dataset.cache=false", "model.lookback=1"))
    for split in ("val", "test"):
        assert off["metrics"][split] == cold["metrics"][split]
        assert lookback["metrics"][split] == warm["metrics"][split]


def test_the_cache_settings_are_not_hashed() -> None:
    base = {"dataset": {"id": "DS_X", "cache": True, "cache_dir": None, "cache_keep": 8}}
    other = {"dataset": {"id": "DS_X", "cache": False, "cache_dir": "/tmp/c", "cache_keep": 1}}
    before = {"dataset": {"id": "DS_X"}}  # a config from before the cache existed
    hashes = {provenance.config_hash(provenance.definition(c)) for c in (base, other, before)}
    assert len(hashes) == 1


# Bytes of the reader's chunks and of the cache's blocks in the builds stopped or killed: chunks
# of about 800 rows of the small demo (so runs, spills and merges), blocks of 64 feature rows.
CHUNK_BYTES, BLOCK_BYTES = 1 << 17, 1 << 12
# A build killed at each point: the cache folder as argv[3], so that the kills run side by side.
KILLED = """
import json, sys
from ifns_train.data import cache, reader
from ifns_train.data.resolve import resolve
reader.CHUNK_BYTES, cache.BLOCK_BYTES = map(int, sys.argv[4:])
resolve(sys.argv[1], **json.loads(sys.argv[2]), cache=cache.CacheOptions(dir=sys.argv[3]))
"""


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small chunks and blocks, as in the killed builds: a date-major table spills, and the
    spills are merged in several blocks."""
    monkeypatch.setattr(reader, "CHUNK_BYTES", CHUNK_BYTES)
    monkeypatch.setattr(data_cache, "BLOCK_BYTES", BLOCK_BYTES)


def _after_a_kill(registry: Path, point: str, folder: Path, plain: ResolvedData) -> None:
    """What a build killed at `point` left in `folder`: no complete entry, a temporary folder;
    the next resolve misses, builds an entry equal to a fresh read and removes the leftover."""
    assert data_cache.entries(folder) == [], point  # nothing complete was left
    (leftover,) = folder.glob(f"{data_cache.TMP_PREFIX}*")
    files = {f.name for f in leftover.iterdir()}
    if point == "cache-block-written":  # the first chunk: in the spills
        assert any(name.endswith(data_cache.SPILL) for name in files), files
    assert (data_cache.META in files) == (point == "cache-meta-written"), (point, files)
    built = data_cache.STATS["builds"]
    again = resolve(registry, **ARGS, cache=CacheOptions(dir=folder))
    assert data_cache.STATS["builds"] == built + 1, point  # a miss, rebuilt
    _assert_same(plain, again)
    assert not leftover.exists(), point  # removed by the build, under the lock
    assert len(data_cache.entries(folder)) == 1


class Killed(BaseException):
    """Ends a build at a fault point, in this process."""


@pytest.mark.parametrize("point", faults.CACHE_POINTS)
def test_a_build_stopped_at_any_point_leaves_no_entry_and_is_rebuilt(
        registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_blocks: None,
        point: str) -> None:
    # In this process: at the point, the temporary folder is copied as it is (what a SIGKILL
    # leaves: the kernel keeps what was written), then the build is ended.
    folder = tmp_path / "cache"

    def kill() -> None:
        (tmp,) = folder.glob(f"{data_cache.TMP_PREFIX}*")
        shutil.copytree(tmp, tmp.with_name(tmp.name + ".killed"))
        raise Killed

    monkeypatch.setitem(faults.HOOKS, point, kill)
    with pytest.raises(Killed):
        resolve(registry, **ARGS, cache=CacheOptions(dir=folder))
    monkeypatch.delitem(faults.HOOKS, point)
    _after_a_kill(registry, point, folder, _resolve(registry, cache=False))


@pytest.mark.slow
def test_a_build_killed_at_any_point_leaves_no_entry_and_is_rebuilt(
        registry: Path, tmp_path: Path, reads: list[str], small_blocks: None) -> None:
    root = Path(__file__).resolve().parents[2]
    folders = {point: tmp_path / point for point in faults.CACHE_POINTS}
    jobs = {point: subprocess.Popen(
        [sys.executable, "-c", KILLED, str(registry), json.dumps(ARGS), str(folder),
         str(CHUNK_BYTES), str(BLOCK_BYTES)], cwd=root,
        env={**os.environ, faults.ENV: point, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for point, folder in folders.items()}
    for point, job in jobs.items():
        err = job.communicate(timeout=300)[1]
        assert job.returncode == -9, (point, err[-2000:])  # killed there, as by SIGKILL
    plain = _resolve(registry, cache=False)
    for point, folder in folders.items():
        _after_a_kill(registry, point, folder, plain)
    assert reads == [DEMO_DATASET_ID] * (1 + len(folders))


def _npy(tmp_path: Path, shape: tuple[int, ...], dtype: Any,
         writes: list[tuple[Any, Any]]) -> np.ndarray:
    """The array an `NpyFile` holds after `writes` (where, values) and `close`."""
    file = data_cache.NpyFile(tmp_path / "a.npy", shape, dtype)
    for where, values in writes:
        file[where] = values
        file.flush()
    file.close()
    assert not list(tmp_path.glob(f"*{data_cache.SPILL}"))  # the spill is removed
    return np.load(tmp_path / "a.npy")


@pytest.mark.parametrize("block", [16, 1 << 20])
def test_an_npy_file_written_in_chunks_in_any_order_holds_every_row(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(data_cache, "BLOCK_BYTES", block)  # 16: a block of one to four rows
    rng = np.random.default_rng(3)
    expected = rng.normal(size=(50, 3)).astype(np.float32)
    # In order first (straight to the file), then chunks scattered as a date-major table's.
    pos = [np.arange(0, 5), np.arange(5, 9), np.r_[20:25, 40:44, 9:12],
           rng.permutation(np.r_[12:20, 25:40, 44:50])]
    got = _npy(tmp_path, (50, 3), np.float32, [(p, expected[p]) for p in pos])
    assert got.dtype == np.float32 and np.array_equal(got, expected)
    dates = np.datetime64("2020-01-01", "ns") + np.arange(7).astype("timedelta64[D]")
    got = _npy(tmp_path, (7,), "datetime64[ns]", [(np.array([5, 1, 3]), dates[[5, 1, 3]]),
                                                    (slice(6, 7), dates[6:]),
                                                    (np.array([0, 2, 4]), dates[[0, 2, 4]])])
    assert np.array_equal(got, dates)
    got = _npy(tmp_path, (6,), np.int64, [(slice(0, 2), 7), (slice(2, 6), 9)])  # broadcast
    assert got.tolist() == [7, 7, 9, 9, 9, 9]


@pytest.mark.parametrize("writes", [[(slice(0, 3), 1)], [(np.array([0, 2]), 1),
                                                         (np.array([1, 2]), 1)]])
def test_an_npy_file_missing_or_doubling_rows_is_refused(tmp_path: Path,
                                                         writes: list[Any]) -> None:
    with pytest.raises(ValueError, match=r"a\.npy"):
        _npy(tmp_path, (4,), np.int32, writes)
