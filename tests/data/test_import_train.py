"""End to end: a CSV of daily prices -> `import-ohlcv` -> dir_core, ret_core and risk_vol (and
exec_cost on the high-low spread label) trained on it -> one model record each in the registry,
naming the imported dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ifns_train.data.__main__ import main as data_main
from ifns_train.run.train import train
from tests.registry.docs import models_doc

DATASET_ID = "DS_MY_PRICES_V1"


def synthetic_prices(n_symbols: int = 6, n_days: int = 630, seed: int = 11) -> pd.DataFrame:
    """~2.5 years of daily OHLCV for a few symbols sharing a market factor (long layout)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2019-01-02", periods=n_days).strftime("%Y-%m-%d")
    market = rng.normal(0.0003, 0.010, n_days)
    parts = []
    for i in range(n_symbols):
        close = 20.0 * (i + 1) * np.exp(np.cumsum((0.5 + 0.2 * i) * market
                                                  + rng.normal(0.0, 0.013, n_days)))
        open_ = close * np.exp(rng.normal(0.0, 0.004, n_days))
        high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.006, n_days)))
        low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.006, n_days)))
        parts.append(pd.DataFrame({
            "Date": dates, "Symbol": f"TCK{i}", "Open": open_.round(4), "High": high.round(4),
            "Low": low.round(4), "Close": close.round(4),
            "Volume": np.round(np.exp(rng.normal(13.0, 0.4, n_days))),
        }))
    return pd.concat(parts, ignore_index=True)


def test_import_then_train_three_families(make_cfg, registry: Path, tmp_path: Path,
                                          capsys) -> None:
    csv = tmp_path / "prices.csv"
    synthetic_prices().to_csv(csv, index=False)
    rc = data_main(["import-ohlcv", str(csv), "--dataset-id", DATASET_ID,
                    "--registry-dir", str(registry)])
    assert rc == 0, capsys.readouterr().err
    entry = json.loads((registry / "datasets_index.json").read_text())["datasets"][DATASET_ID]
    assert entry["symbols"] == 6 and entry["rows"] == 6 * (630 - 120)

    runs = [["family=dir_core"], ["family=ret_core"], ["family=risk_vol"],
            ["family=exec_cost", "labels=hl_spread_1d"]]
    for overrides in runs:
        summary = train(make_cfg(*overrides, f"dataset.id={DATASET_ID}",
                                 "trainer.max_epochs=1", "model.batch_size=512"))
        assert summary["metrics"]["test"]["rows"] > 0, overrides
    doc = models_doc(registry)
    records = {m["model_family"]: m for m in doc["models"]}
    assert set(records) == {"MF_DIR_CORE_V1", "MF_RET_CORE_V1", "MF_RISK_VOL_V1",
                            "MF_EXEC_COST_V1"}
    for record in records.values():
        assert record["train_dataset_id"] == DATASET_ID
        assert record["test_dataset_id"] == DATASET_ID
    assert records["MF_EXEC_COST_V1"]["labels_used"] == ["Label_HLSpread_Bps_Horizon_1d_V1"]
