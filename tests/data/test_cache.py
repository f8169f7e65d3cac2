"""The resolved-data cache: hits skip the read and verification, yet give the same data; a
changed dataset or a damaged entry is rebuilt; two jobs starting together build it once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ifns_train.data import cache as data_cache
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
