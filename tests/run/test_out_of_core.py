"""A dataset larger than memory trains: under a kernel memory limit smaller than the dataset's
feature columns, a run reads the table in chunks into the memory-mapped cache, trains from
chunks of it and records its model; the same run with the table read into memory is killed by
the same limit (so the limit is real)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ifns_train.registry import model_registry as models
from ifns_train.registry.database import Registry
from tests.memory import (
    WIDE_FAMILY,
    drop_page_cache,
    run_limited,
    why_no_cgroup,
    write_wide_dataset,
)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(why_no_cgroup() is not None, reason=str(why_no_cgroup()))]

LIMIT = 1 << 30  # 1 GiB, for the process and the page cache it uses
DATASET = "DS_WIDE_V1"


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A registry holding 806,400 rows x 407 feature columns (a run reads 392 of them: 1.18 GiB
    as float32; about 2 GiB of Parquet), and the bytes of its wide columns."""
    registry = tmp_path_factory.mktemp("wide") / "registry"
    added = write_wide_dataset(registry, DATASET, symbols=800, years=4.0, width=384)
    return registry, added


def _run(registry: Path, cwd: Path, *overrides: str):
    drop_page_cache(registry)  # written by this process: else read without being charged
    return run_limited(
        ["ifns_train", f"paths.registry_dir={registry}", f"dataset.id={DATASET}",
         "dataset.generate_demo_if_missing=false", "features.name=wide",
         f"features.families=[Feature_TREND_MTF_V1,{WIDE_FAMILY}]", "trainer.max_epochs=1",
         "print_config=false", "callbacks=none", *overrides],
        LIMIT, cwd)


def test_a_dataset_larger_than_memory_trains_under_a_memory_limit(
        wide: tuple[Path, int], tmp_path: Path) -> None:
    registry, added = wide
    assert added > LIMIT  # the wide columns alone do not fit

    in_memory = _run(registry, tmp_path, "dataset.cache=false")
    assert in_memory.result.returncode == -9, (in_memory.result.returncode,
                                              in_memory.result.stderr[-2000:])

    run = _run(registry, tmp_path, "dataset.shuffle_buffer_mb=64")
    assert run.result.returncode == 0, run.result.stderr[-3000:]
    assert run.peak <= LIMIT and run.peak_anon < LIMIT
    model_id = re.search(r"recorded (MDL_\w+)", run.result.stderr + run.result.stdout)
    assert model_id, run.result.stderr[-2000:]
    record = models.get(Registry(registry, None), model_id.group(1))
    batching = record.training["batching"]["train"]
    assert batching["order"] == "chunked" and batching["groups"] > 10, batching
    assert record.metrics["test"]["model"]["auc"] > 0.5  # the trend features carry a signal
