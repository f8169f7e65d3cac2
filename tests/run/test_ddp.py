"""DDP gives the same answer as one process.

Training itself differs between one and two processes (each rank trains on a shard of every
epoch, with its own batches), so the comparison holds the weights fixed: `model.lr=1e-30` leaves
every weight at its seeded initialisation (an update of ~1e-30 is below float32's resolution),
while training, validation, checkpointing, prediction and evaluation all run as usual. What is
compared is then exactly what DDP changes after training: each rank predicts its own block of
the val/test rows, the blocks are gathered in row order, and rank 0 alone evaluates and writes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from ifns_train.data.module import IndexBatches, shard_bounds
from ifns_train.evaluation.standard import key_figures
from tests.conftest import DDP_FROZEN as FROZEN
from tests.conftest import run_cli
from tests.registry.docs import log_doc, models_doc


@pytest.mark.parametrize("n", [7, 8, 1001])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_eval_shards_cover_every_row_once_in_order(n: int, world: int) -> None:
    labels = torch.arange(n, dtype=torch.float32)
    seen = []
    for rank in range(world):
        batches = IndexBatches(labels[:, None], None, labels, 4, rank=rank, world_size=world)
        got = [y for _, _, y in batches]
        assert len(got) == len(batches)
        seen.append(torch.cat(got))
    assert torch.equal(torch.cat(seen), labels)  # no padding, no duplicate, row order
    assert max(map(len, seen)) - min(map(len, seen)) <= 1


def test_fewer_rows_than_processes_is_refused() -> None:
    with pytest.raises(ValueError, match="2 rows cannot be shared among 3"):
        shard_bounds(2, 0, 3)


def _artifacts(registry: Path) -> Path:
    (model,) = models_doc(registry)["models"]
    return registry / model["artifact_path"]


@pytest.mark.slow
def test_ddp_sim_metrics_equal_a_single_process(ddp_run: dict[str, Any],
                                                small_registry_template: Path,
                                                tmp_path: Path) -> None:
    single_registry = tmp_path / "registry_single"
    shutil.copytree(small_registry_template, single_registry)
    single = run_cli(f"paths.registry_dir={single_registry}", *FROZEN, cwd=tmp_path)
    assert single.returncode == 0, single.stderr[-3000:]
    # The DDP run (trainer=ddp_sim, FROZEN) is in a new process: see the ddp_run fixture.
    registry, ddp = ddp_run["registry"], ddp_run["proc"]
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert "sync_dist" not in ddp.stderr + ddp.stdout  # Lightning's val_loss warning
    assert len(log_doc(registry)["experiments"]) == 1  # rank 1 wrote nothing

    one, two = _artifacts(single_registry), _artifacts(registry)
    metrics = [json.loads((d / "metrics.json").read_text()) for d in (one, two)]
    assert key_figures(metrics[0]) == key_figures(metrics[1])
    for key in ("splits", "selection", "promotion"):
        assert metrics[0][key] == metrics[1][key], key
    for split in ("val", "test"):
        tables = [pd.read_parquet(d / f"predictions_{split}.parquet") for d in (one, two)]
        pd.testing.assert_frame_equal(*tables)  # every row once, in order, same values
