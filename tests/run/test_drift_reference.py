"""The drift reference a run records: every training row while the features fit the byte
budget, a seeded uniform sample of them beyond it (so an out-of-core run never loads its
training split)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ifns_train.run import drift_reference
from ifns_train.signals.drift_gate import REFERENCE_FILE


def _data(rows: int, features: int) -> SimpleNamespace:
    rng = np.random.default_rng(0)
    table = SimpleNamespace(
        features=rng.normal(size=(rows + 10, features)).astype(np.float32),
        context={"regime_tag": np.array(["calm", "wild"] * ((rows + 10) // 2)),
                 "vol_band": np.zeros(rows + 10)})
    train = SimpleNamespace(table=table, rows=np.arange(5, rows + 5))
    return SimpleNamespace(splits={"train": train},
                           feature_columns=[f"f{i}" for i in range(features)])


def test_every_training_row_within_the_budget(tmp_path: Path) -> None:
    drift_reference.write_reference(tmp_path, _data(2_000, 4))
    ref = json.loads((tmp_path / REFERENCE_FILE).read_text())
    assert ref["sampled_from"] == ref["rows"] == 2_000
    assert set(ref["groups"]["regime_tag"]) == {"calm", "wild"}  # 1,000 rows each


def test_a_sample_beyond_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 2,000 rows x 4 float32 features = 32,000 bytes against a budget of 8,000: 500 rows,
    # drawn from both regimes (a stride of 4 would have read one: they alternate).
    monkeypatch.setattr(drift_reference, "REFERENCE_MAX_BYTES", 8_000)
    monkeypatch.setattr(drift_reference, "REFERENCE_MIN_ROWS", 100)
    for folder in (tmp_path / "a", tmp_path / "b"):
        folder.mkdir()
        drift_reference.write_reference(folder, _data(2_000, 4))
    ref = json.loads((tmp_path / "a" / REFERENCE_FILE).read_text())
    assert ref["sampled_from"] == 2_000 and ref["rows"] == 500
    regimes = {k: g["rows"] for k, g in ref["groups"]["regime_tag"].items()}
    assert set(regimes) == {"calm", "wild"} and sum(regimes.values()) == 500
    assert (tmp_path / "a" / REFERENCE_FILE).read_bytes() == \
        (tmp_path / "b" / REFERENCE_FILE).read_bytes()  # the same rows each time
