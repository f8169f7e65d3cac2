"""Every family trains with every backbone on the small demo panel and lands in the registry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ifns_train.data.module import PanelDataModule
from ifns_train.data.resolve import resolve
from ifns_train.families import FAMILIES
from ifns_train.run.train import train
from tests.registry.docs import models_doc

KEY_METRIC = {"dir_core": "auc", "struct_aware": "auc", "ret_core": "rank_ic_mean",
              "risk_vol": "qlike", "exec_cost": "mae_bps"}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("backbone", ["linear", "mlp", "gru", "tcn"])
def test_family_trains_with_backbone(family: str, backbone: str, trained,
                                     registry: Path) -> None:
    lookback = ["model.lookback=5"] if backbone in ("gru", "tcn") else []
    summary = trained(f"family={family}", f"model={backbone}", "trainer.max_epochs=1",
                      *lookback)
    test = summary["metrics"]["test"]
    assert test["primary_metric"] == KEY_METRIC[family]
    assert test["model"][KEY_METRIC[family]] is not None
    doc = models_doc(registry)
    (record,) = doc["models"]
    assert set(doc["families"]) == {record["model_family"]}
    assert record["roles"] == doc["families"][record["model_family"]]["roles"]
    assert record["resources"]["lookback"] == (5 if lookback else 1)


def test_struct_aware_reports_the_gating_of_a_primary_signal(trained) -> None:
    # The run of test_family_trains_with_backbone[mlp-struct_aware] (mlp: the default model).
    summary = trained("family=struct_aware", "model=mlp", "trainer.max_epochs=1")
    folder = Path(summary["artifact_dir"])
    gating = json.loads((folder / "metrics.json").read_text())["splits"]["test"]["gating"]
    assert 0 < gating["gated_rows"] <= gating["rows"]
    assert gating["coverage"] == pytest.approx(gating["gated_rows"] / gating["rows"])
    assert gating["hit_rate_change"] == pytest.approx(
        gating["gated_hit_rate"] - gating["primary_hit_rate"])
    assert sum(c["rows"] for c in gating["slices"]["regime_tag"].values()) == gating["rows"]


def test_sequence_windows_never_see_another_symbol_or_the_future(registry: Path) -> None:
    lookback = 6
    data = resolve(
        registry,
        dataset_ids=dict.fromkeys(("train", "val", "test"), "DS_DEMO_CORE_V1"),
        windows=None,
        feature_families=["Feature_TREND_MTF_V1"],
        label_family="Label_Direction_Horizon_20d_V1",
        horizon_days=20,
        context_columns=[],
        lookback=lookback,
    )
    table = data.splits["test"].table
    marked = table.features.copy()
    dm = PanelDataModule(data, batch_size=64, seed=0)
    for name in ("train", "val", "test"):
        split = data.splits[name]
        x, _, _ = next(iter(dm._batches(name)))
        rows = split.rows[: len(x)]
        for i, row in enumerate(rows):
            window = np.arange(row - lookback + 1, row + 1)
            assert (table.symbols[window] == table.symbols[row]).all()
            assert (np.diff(table.dates[window]) > np.timedelta64(0)).all()
            np.testing.assert_array_equal(x[i].numpy(), marked[window])
    # Perturb every row that is another symbol's or later than a test row: its window is intact.
    split = data.splits["test"]
    row = int(split.rows[len(split.rows) // 2])
    before = dm._batches("test").source[row - lookback + 1].clone()
    others = (table.symbols != table.symbols[row]) | (table.dates > table.dates[row])
    table.features[others] += 1000.0
    after = dm._batches("test").source[row - lookback + 1]
    assert torch.equal(before, after)
    table.features[~others] += 1000.0
    assert not torch.equal(before, dm._batches("test").source[row - lookback + 1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("backbone", ["mlp", "gru"])
def test_family_trains_and_evaluates_on_a_gpu(family: str, backbone: str, make_cfg) -> None:
    lookback = ["model.lookback=5"] if backbone == "gru" else []
    summary = train(make_cfg(f"family={family}", f"model={backbone}", "trainer=gpu",
                             "trainer.max_epochs=1", *lookback))
    assert summary["metrics"]["test"]["model"][KEY_METRIC[family]] is not None
