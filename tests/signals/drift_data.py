"""What the drift tests share: the thresholds `ifns-predict` ships with (conf/predict.yaml), and
a drifted copy of the demo panel: the same simulated market with every daily log return doubled
(its volatility doubled, its highs and lows as far again from the close), through the same
features, labels and context as the demo (`data.demo`, `data.panel.long_table`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from ifns_train.config import CONF_DIR
from ifns_train.core.calendar import TRADING_DAYS_PER_YEAR
from ifns_train.data import demo
from ifns_train.data.features import default_splits
from ifns_train.data.index import register_dataset
from ifns_train.data.panel import long_table
from ifns_train.signals.drift_gate import DriftLimits

VOL2_DATASET = "DS_DEMO_VOL2_V1"


def limits(allow_drift: bool = False) -> DriftLimits:
    """The shipped `drift:` thresholds of conf/predict.yaml, with `allow_drift`."""
    shipped = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "predict.yaml").drift)
    assert isinstance(shipped, dict)
    return DriftLimits(**shipped, allow_drift=allow_drift)


def write_vol_doubled(registry_dir: Path, dataset_id: str = VOL2_DATASET, n_symbols: int = 8,
                      n_years: float = 3.0, seed: int = 2024, scale: float = 2.0
                      ) -> dict[str, Any]:
    """Register the demo panel of these arguments with its returns scaled by `scale`."""
    n_days = round(n_years * TRADING_DAYS_PER_YEAR)
    sim = demo.simulate_market(n_symbols, demo.WARMUP_DAYS + n_days, seed)
    log_return = np.log(sim.close).diff().fillna(0.0)
    close = sim.close.iloc[0] * np.exp(scale * log_return.cumsum())
    high, low = close * (sim.high / sim.close) ** scale, close * (sim.low / sim.close) ** scale
    frame = long_table(close, high, low, sim.volume,
                       dates=pd.bdate_range(start="2014-01-02", periods=n_days),
                       keep_from=demo.WARMUP_DAYS, clusters=sim.clusters,
                       extra_labels=demo._cost_label(high, low, close, sim.volume,
                                                     sim.cost_noise))
    return register_dataset(registry_dir, dataset_id, frame,
                            feature_families=demo.FEATURE_FAMILIES,
                            label_families=demo.LABEL_FAMILIES, splits=default_splits(frame),
                            source={"generator": "tests.signals.shifted", "scale": scale,
                                    "n_symbols": n_symbols, "n_years": n_years, "seed": seed})
