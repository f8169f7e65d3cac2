"""The placebo's labels: permuted within each date of train and validation, test untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ifns_train.data.demo import FEATURE_FAMILIES, LABEL_FAMILIES, default_splits, generate_panel
from ifns_train.data.index import register_dataset
from ifns_train.data.placebo import permute_labels
from ifns_train.data.resolve import resolve

LABEL = "Label_ReturnContinuous_Horizon_20d_V1"


def _data(root: Path, n_symbols: int):
    frame = generate_panel(n_symbols=n_symbols, n_years=2.0, seed=5)
    register_dataset(root, "DS_P_V1", frame, feature_families=FEATURE_FAMILIES,
                     label_families=LABEL_FAMILIES, splits=default_splits(frame))
    return resolve(root, dataset_ids=dict.fromkeys(("train", "val", "test"), "DS_P_V1"),
                   windows=None, feature_families=["Feature_TREND_MTF_V1"], label_family=LABEL,
                   horizon_days=20, context_columns=["regime_tag"], generate_demo=False)


def test_labels_move_within_each_date_only(tmp_path: Path) -> None:
    data = _data(tmp_path, 6)
    placebo, how = permute_labels(data, seed=1)
    assert how == {"train": "within_date", "val": "within_date"}
    for name in ("train", "val"):
        before = pd.DataFrame({"d": data.splits[name].dates, "y": data.splits[name].label})
        after = pd.DataFrame({"d": placebo.splits[name].dates, "y": placebo.splits[name].label})
        # Each date keeps its own labels, in another order: the same sorted values per date.
        def per_date(frame):
            return frame.groupby("d")["y"].apply(lambda s: tuple(sorted(s)))
        assert per_date(before).equals(per_date(after))
        assert (before["y"] != after["y"]).mean() > 0.5
    np.testing.assert_array_equal(placebo.splits["test"].label, data.splits["test"].label)
    assert data.splits["train"].table.label is not placebo.splits["train"].table.label
    # Another seed, another permutation; the same seed, the same one.
    again, _ = permute_labels(data, seed=1)
    np.testing.assert_array_equal(again.splits["train"].label, placebo.splits["train"].label)


def test_a_single_series_is_permuted_across_rows(tmp_path: Path) -> None:
    data = _data(tmp_path, 1)
    placebo, how = permute_labels(data, seed=1)
    assert how == {"train": "across_rows", "val": "across_rows"}
    assert sorted(placebo.splits["train"].label) == sorted(data.splits["train"].label)
    assert (placebo.splits["train"].label != data.splits["train"].label).mean() > 0.5
