"""The attribution glue: lookback blocks, windows scored through a `Scorer`, and a real net."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from ifns_train.data.module import encode
from ifns_train.data.resolve import ResolvedData, Split
from ifns_train.data.table import Table
from ifns_train.evaluation.attribution import permutation_attribution
from ifns_train.families.dir_core import DirCoreModule
from ifns_train.run.attribution import feature_attribution, lookback_block, split_predictor
from tests.conftest import ATTRIBUTION
from tests.defaults import evaluation
from tests.evaluation.plain import assert_plain_json

FAMILIES = {"Feature_A": ["a0", "a1"], "Feature_B": ["b0", "b1"]}
COLUMNS = [c for cols in FAMILIES.values() for c in cols]
LOOKBACK, HORIZON, USED = 3, 5, 2  # the planted model reads b0 over 3 rows
REGIMES = ["calm", "storm"]


def test_a_lookback_block_is_each_row_and_the_rows_before_it() -> None:
    assert lookback_block(np.array([5, 6, 7, 20, 21]), 3).tolist() == \
        [3, 4, 5, 6, 7, 18, 19, 20, 21]
    assert lookback_block(np.array([4, 6]), 3).tolist() == [2, 3, 4, 5, 6]  # windows overlap
    assert lookback_block(np.array([9, 4]), 1).tolist() == [4, 9]
    with pytest.raises(ValueError, match="fewer than 2 rows before it"):
        lookback_block(np.array([1, 5]), 3)


class Regimed(DirCoreModule):
    """dir_core with a categorical input (the planted scorer's family)."""

    categorical_inputs = ("regime",)


class WindowScorer:
    """Reads column b0 over its `LOOKBACK`-row window, and the regime's code."""

    family = Regimed
    lookback = LOOKBACK
    vocab = {"regime": REGIMES}
    n_features = len(COLUMNS)

    def outputs(self, x: torch.Tensor, cat: torch.Tensor | None) -> np.ndarray:
        assert x.shape[1:] == (LOOKBACK, len(COLUMNS)) and cat is not None
        window = x[:, :, USED].double().numpy()
        return 3.0 * window.mean(axis=1) + 0.25 * (cat[:, 0].numpy() - 1.5)

    def predictions(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        return DirCoreModule.predictions_from(outputs, 0.0, 1.0)


def _panel(n_symbols: int = 8, n_dates: int = 60, seed: int = 0) -> ResolvedData:
    """A symbol-major table (S3 listed from date 10 on, S5 missing dates 40-44) and a test
    split of the rows from date 30 on with two rows of history."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame([(s, d) for s in range(n_symbols) for d in range(n_dates)
                          if not (s == 3 and d < 10) and not (s == 5 and 40 <= d < 45)],
                         columns=["s", "d"])
    rows = len(frame)
    history = frame.groupby("s").cumcount().to_numpy()
    features = rng.normal(size=(rows, len(COLUMNS))).astype(np.float32)
    regime = np.array(REGIMES, dtype=object)[rng.integers(0, 2, rows)]
    table = Table(dataset_id="DS", fingerprint="f", features=features,
                  label=np.zeros(rows, np.float32),
                  dates=(np.datetime64("2021-01-04") + frame["d"].to_numpy()
                         ).astype("datetime64[ns]"),
                  symbols=np.array([f"S{s}" for s in frame["s"]], dtype=object),
                  context={"regime": regime}, extras={}, history=history,
                  last_row=np.zeros(rows, np.int64))
    test = np.flatnonzero((frame["d"].to_numpy() >= 30) & (history >= LOOKBACK - 1))
    # The label: the window's mean of b0 plus noise, up or down.
    mean = np.array([features[r - LOOKBACK + 1:r + 1, USED].mean() for r in test])
    table.label[test] = (mean + 0.3 * rng.normal(size=len(test)) > 0)
    return ResolvedData(feature_families=FAMILIES, label_family="L", label_kind="binary",
                        horizon_days=HORIZON, lookback=LOOKBACK,
                        splits={"test": Split("test", table, test)})


def _settings() -> dict:
    settings = evaluation()
    settings["attribution"].update(reps=100)
    return settings


def test_windows_scored_through_the_scorer_match_a_direct_computation() -> None:
    data = _panel()
    split, settings = data.splits["test"], _settings()
    result = feature_attribution(WindowScorer(), data, settings)
    assert result is not None

    # The same attribution, each window read by hand from the block's rows.
    block = lookback_block(split.rows, LOOKBACK)
    assert block[0] < split.rows[0]  # the rows before the test split are read, and permuted
    at = np.searchsorted(block, split.rows)
    codes = encode(split.table.context["regime"][split.rows], REGIMES)

    def direct(part: np.ndarray, where: np.ndarray, which: np.ndarray
               ) -> Mapping[str, np.ndarray]:
        window = np.stack([part[p - LOOKBACK + 1:p + 1, USED].astype(np.float64)
                           for p in where])
        assert (which == np.arange(len(at))).all()  # one part: every row
        prob = 1.0 / (1.0 + np.exp(-(3.0 * window.mean(axis=1) + 0.25 * (codes - 1.5))))
        return {"prob": prob, "pred": (prob >= 0.5).astype(np.float64)}

    table = split.table
    expected = permutation_attribution(
        direct, table.features, table.dates, table.symbols, block, at,
        split.label.astype(np.float64), metric_set="directional", columns=COLUMNS,
        families=FAMILIES, horizon=HORIZON, bootstrap=settings["bootstrap"], reps=100,
        max_features=64, split="test", lookback=LOOKBACK)
    assert list(result["features"]) == list(expected["features"])
    for name, entry in expected["features"].items():
        for key in ("drop", "low", "high"):
            assert result["features"][name][key] == pytest.approx(entry[key], abs=1e-12), name
    assert result["full"] == pytest.approx(expected["full"], abs=1e-12)
    used = result["features"]["b0"]
    assert used["low"] > 0 and next(iter(result["families"])) == "Feature_B"
    assert all(result["features"][c]["high"] == 0.0 for c in ("a0", "a1", "b1"))
    assert_plain_json(result)


def test_batches_do_not_change_the_scores() -> None:
    data = _panel()
    split = data.splits["test"]
    block = lookback_block(split.rows, LOOKBACK)
    work = split.table.features[block]
    at, every = np.searchsorted(block, split.rows), np.arange(len(split.rows))
    whole = split_predictor(WindowScorer(), split)(work, at, every)
    small = split_predictor(WindowScorer(), split, batch_size=7)(work, at, every)
    assert len(whole["prob"]) == len(split.rows)
    np.testing.assert_array_equal(whole["prob"], small["prob"])


def test_off_when_disabled() -> None:
    settings = _settings()
    settings["attribution"]["enabled"] = False
    assert feature_attribution(WindowScorer(), _panel(), settings) is None


def test_a_trained_net(trained, make_cfg, registry: Path) -> None:
    from ifns_train.learners.registered import load_registered
    from ifns_train.registry.database import Registry
    from ifns_train.run.build import resolve_data

    summary = trained(ATTRIBUTION)
    config = OmegaConf.to_container(make_cfg(ATTRIBUTION), resolve=True)
    assert isinstance(config, dict)
    scorer = load_registered(Registry(registry), summary["model_id"])
    data = resolve_data(registry, config, scorer.family)
    settings = {**config["evaluation"], "attribution": {**config["evaluation"]["attribution"],
                                                         "reps": 50}}
    result = feature_attribution(scorer, data, settings)
    assert result is not None
    folder = Path(summary["artifact_dir"])
    metrics = json.loads((folder / "metrics.json").read_text())
    recorded = metrics["splits"]["test"]
    # The run's own attribution scored the very predictions it recorded (the model in eval
    # mode: the default MLP has dropout), to the last digit.
    assert metrics["attribution"]["full"] == recorded["model"]["auc"]
    # Unpermuted, the glue scores what the run recorded.
    assert result["full"] == pytest.approx(recorded["model"]["auc"], abs=1e-6)
    assert result["rows"] == recorded["rows"]
    assert (result["metric"], result["prediction"], result["skipped"]) == ("auc", "prob", None)
    assert set(result["features"]) == set(data.feature_columns)
    assert set(result["families"]) == set(data.feature_families)
    assert all(set(e) == {"drop", "low", "high", "evidence", "family"}
               for e in result["features"].values())
    assert all(set(e) == {"drop", "low", "high", "evidence", "columns"}
               for e in result["families"].values())
    drops = [e["drop"] for e in result["features"].values()]
    assert drops == sorted(drops, reverse=True)
    for entry in result["features"].values():  # a net reads every column
        assert entry["low"] <= entry["high"]
    assert_plain_json(result)
