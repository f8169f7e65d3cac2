"""Purge and embargo, checked on a hand-made calendar of trading days."""

from __future__ import annotations

import numpy as np
import pytest

from ifns_train.data.splits import parse_windows, purge_gap, split_masks
from ifns_train.errors import ConfigError

# 30 trading days (business days from 2024-01-01), one symbol.
DATES = np.array(np.busday_offset("2024-01-01", np.arange(30), roll="forward"),
                 dtype="datetime64[ns]")


def _windows(train_end: int, val_start: int, val_end: int, test_start: int) -> dict:
    d = [str(x)[:10] for x in DATES]
    return {"train": [d[0], d[train_end]], "val": [d[val_start], d[val_end]],
            "test": [d[test_start], d[-1]]}


def test_labels_of_a_split_never_reach_the_next() -> None:
    windows = parse_windows(_windows(9, 10, 19, 20), "w")
    gap = purge_gap(horizon=3, purge_days=None, embargo_days=1)  # 3 + 1 = 4
    masks, report = split_masks({s: DATES for s in ("train", "val", "test")}, windows, gap)
    # Train window is days 0..9, val starts at day 10. A row at day p is kept iff p + 4 < 10:
    # days 0..5 kept; days 6..9 purged (a 3-day label from day 6 ends on day 9, and the 1-day
    # embargo drops it too).
    assert np.flatnonzero(masks["train"]).tolist() == [0, 1, 2, 3, 4, 5]
    assert np.flatnonzero(masks["val"]).tolist() == [10, 11, 12, 13, 14, 15]
    assert np.flatnonzero(masks["test"]).tolist() == list(range(20, 30))
    assert report["train"]["rows_purged"] == 4 and report["test"]["rows_purged"] == 0


def test_gap_counts_trading_days_not_calendar_days() -> None:
    # Days 4 and 5 of the calendar are a Friday and a Monday: one trading day apart.
    windows = parse_windows(_windows(4, 5, 19, 20), "w")
    masks, _ = split_masks({s: DATES for s in ("train", "val", "test")}, windows, 1)
    assert np.flatnonzero(masks["train"]).tolist() == [0, 1, 2, 3]


def test_purge_shorter_than_horizon_is_refused() -> None:
    with pytest.raises(ConfigError, match="purge_days=5 is shorter than the label horizon"):
        purge_gap(horizon=20, purge_days=5, embargo_days=0)
    assert purge_gap(horizon=20, purge_days=25, embargo_days=2) == 27


@pytest.mark.parametrize(
    "windows, message",
    [
        ({"train": ["2024-01-01", "2024-01-20"], "val": ["2024-01-10", "2024-01-25"],
          "test": ["2024-01-26", "2024-02-10"]}, "overlap"),
        ({"train": ["2024-01-10", "2024-01-01"], "val": ["2024-01-10", "2024-01-25"],
          "test": ["2024-01-26", "2024-02-10"]}, "before start"),
        ({"train": ["2024-01-01", "2024-01-05"], "val": ["2024-01-10", "2024-01-25"]},
         "no 'test' window"),
        ({"train": ["2024-01-01", "not a date"], "val": ["2024-01-10", "2024-01-25"],
          "test": ["2024-01-26", "2024-02-10"]}, "unparsable"),
    ],
)
def test_bad_windows_are_refused(windows: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_windows(windows, "dataset.windows")


def test_empty_window_is_refused() -> None:
    windows = parse_windows({"train": ["2023-01-01", "2023-02-01"],
                             "val": ["2024-01-10", "2024-01-20"],
                             "test": ["2024-01-26", "2024-02-10"]}, "w")
    with pytest.raises(ConfigError, match="split 'train' is empty"):
        split_masks({s: DATES for s in ("train", "val", "test")}, windows, 2)
