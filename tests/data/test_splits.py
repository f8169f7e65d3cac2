"""Purge and embargo, checked on hand-made calendars of trading days, with and without gaps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ifns_train.core.errors import ConfigError
from ifns_train.data.demo import FEATURE_FAMILIES, LABEL_FAMILIES, generate_panel
from ifns_train.data.index import register_dataset
from ifns_train.data.resolve import resolve
from ifns_train.data.splits import (
    parse_windows,
    purge_gap,
    split_masks,
    symbol_last_rows,
    walk_forward_windows,
)

# 30 trading days (business days from 2024-01-01), one symbol.
DATES = np.array(np.busday_offset("2024-01-01", np.arange(30), roll="forward"),
                 dtype="datetime64[ns]")
ONE_SYMBOL = (DATES, np.full(len(DATES), len(DATES) - 1))


def _masks(windows, gap: int, horizon: int | None = None):
    tables = {s: ONE_SYMBOL for s in ("train", "val", "test")}
    return split_masks(tables, windows, gap if horizon is None else horizon, gap)


def _windows(train_end: int, val_start: int, val_end: int, test_start: int) -> dict:
    d = [str(x)[:10] for x in DATES]
    return {"train": [d[0], d[train_end]], "val": [d[val_start], d[val_end]],
            "test": [d[test_start], d[-1]]}


def test_labels_of_a_split_never_reach_the_next() -> None:
    windows = parse_windows(_windows(9, 10, 19, 20), "w")
    gap = purge_gap(horizon=3, purge_days=None, embargo_days=1)  # 3 + 1 = 4
    masks, label_end, report = _masks(windows, gap, horizon=3)
    # Train window is days 0..9, val starts at day 10. A row at day p is kept iff p + 4 < 10:
    # days 0..5 kept; days 6..9 purged (a 3-day label from day 6 ends on day 9, and the 1-day
    # embargo drops it too).
    assert np.flatnonzero(masks["train"]).tolist() == [0, 1, 2, 3, 4, 5]
    assert np.flatnonzero(masks["val"]).tolist() == [10, 11, 12, 13, 14, 15]
    assert np.flatnonzero(masks["test"]).tolist() == list(range(20, 30))
    assert report["train"]["rows_purged"] == 4 and report["test"]["rows_purged"] == 0
    # The label of day 5 ends on day 8; the last 3 days' labels end past the calendar.
    assert label_end["train"][5] == DATES[8]
    assert np.isnat(label_end["test"][-3:]).all() and label_end["test"][-4] == DATES[-1]


def test_gap_counts_trading_days_not_calendar_days() -> None:
    # Days 4 and 5 of the calendar are a Friday and a Monday: one trading day apart.
    windows = parse_windows(_windows(4, 5, 19, 20), "w")
    masks, _, _ = _masks(windows, 1)
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
        _masks(windows, 2)


def test_last_rows_of_each_symbol() -> None:
    symbols = np.array(["A", "A", "A", "B", "C", "C"], dtype=object)
    assert symbol_last_rows(symbols).tolist() == [2, 2, 2, 3, 5, 5]
    assert symbol_last_rows(np.array([], dtype=object)).tolist() == []


def test_a_gap_in_one_symbol_is_purged_on_its_own_rows() -> None:
    # A trades on all 30 days; B misses days 6..8, just before validation starts on day 10.
    b_days = np.r_[0:6, 9:30]
    dates = np.r_[DATES, DATES[b_days]]
    last = np.r_[np.full(30, 29), np.full(len(b_days), 30 + len(b_days) - 1)]
    windows = parse_windows(_windows(9, 10, 19, 20), "w")
    table = (dates, last)
    masks, label_end, _ = split_masks({s: table for s in ("train", "val", "test")}, windows,
                                      horizon=2, gap=3)
    train = masks["train"]
    assert np.flatnonzero(train[:30]).tolist() == [0, 1, 2, 3, 4, 5, 6]
    # B's own rows are days 0,1,2,3,4,5,9,10,...: 3 rows ahead of day 3 is day 9, of day 4 is
    # day 10 (validation), so B keeps days 0..3. The union calendar (day + 3 < 10) would have
    # kept days 4 and 5 too, and the label of day 5 (2 of B's rows ahead) ends on day 10.
    assert np.flatnonzero(train[30:]).tolist() == [0, 1, 2, 3]
    assert label_end["train"][30 + 5] == DATES[10]
    assert label_end["train"][30 + 3] == DATES[5]
    assert (label_end["train"][train] < DATES[10]).all()


def _gap_panel() -> tuple[pd.DataFrame, dict[str, str]]:
    """Four symbols; SYM002 misses the 10 trading days before validation and before test."""
    panel = generate_panel(n_symbols=4, n_years=2.0, seed=3)
    dates = np.sort(panel["date"].unique())
    starts = {"val": dates[300], "test": dates[400]}
    gaps = np.r_[290:300, 390:400]
    missing = (panel["symbol"] == "SYM002") & panel["date"].isin(dates[gaps])
    windows = {"train": [str(dates[0])[:10], str(dates[299])[:10]],
               "val": [str(starts["val"])[:10], str(dates[399])[:10]],
               "test": [str(starts["test"])[:10], str(dates[-1])[:10]]}
    return panel[~missing].reset_index(drop=True), windows


@pytest.mark.parametrize("embargo", [0, 5])
def test_no_kept_label_window_reaches_the_next_split(tmp_path: Path, embargo: int) -> None:
    frame, windows = _gap_panel()
    register_dataset(tmp_path, "DS_GAPS_V1", frame, feature_families=FEATURE_FAMILIES,
                     label_families=LABEL_FAMILIES, splits=windows)
    data = resolve(
        tmp_path, dataset_ids={s: "DS_GAPS_V1" for s in ("train", "val", "test")},
        windows=None, feature_families=["Feature_TREND_MTF_V1"],
        label_family="Label_Direction_Horizon_20d_V1", horizon_days=20,
        context_columns=["regime_tag"], embargo_days=embargo, generate_demo=False,
    )
    # Each row's label end and embargo end, counted by hand in the symbol's own rows.
    own = frame.sort_values(["symbol", "date"])
    by_symbol = own.groupby("symbol")["date"]
    ends = {
        (s, d): (e, g) for s, d, e, g in zip(
            own["symbol"], own["date"], by_symbol.shift(-20), by_symbol.shift(-20 - embargo),
            strict=True)
    }
    for split, nxt in (("train", windows["val"][0]), ("val", windows["test"][0])):
        part = data.splits[split]
        kept = list(zip(part.table.symbols[part.rows], part.dates, strict=True))
        label_ends = [ends[(s, pd.Timestamp(d))][0] for s, d in kept]
        embargo_ends = [ends[(s, pd.Timestamp(d))][1] for s, d in kept]
        assert all(e < pd.Timestamp(nxt) for e in label_ends)
        assert all(g < pd.Timestamp(nxt) for g in embargo_ends)
        report = data.report["splits"][split]
        assert report["last_label_end"] == max(label_ends).date().isoformat()
        # Every symbol loses its own last 20 + embargo rows before the boundary; for the
        # gapped one they reach back over the gap (on the union calendar it would lose 10
        # fewer and keep labels that end inside the next split).
        rows = pd.Series([s for s, _ in kept]).value_counts()
        in_window = (own["date"] >= windows[split][0]) & (own["date"] <= windows[split][1])
        window_rows = own[in_window]["symbol"].value_counts()
        purged = window_rows - rows
        assert purged.drop("SYM002").tolist() == [20 + embargo] * 3
        assert purged["SYM002"] == 20 + embargo  # of its own rows, which skip the gap
        assert window_rows["SYM002"] == window_rows["SYM001"] - 10


def test_walk_forward_windows_by_hand() -> None:
    dates = np.array(np.busday_offset("2024-01-01", np.arange(40), roll="forward"),
                     dtype="datetime64[ns]")
    day = [str(d)[:10] for d in dates]
    folds = walk_forward_windows(dates, folds=3, scheme="rolling", train_days=10, val_days=5,
                                 test_days=5)
    # The last test window ends on the last day; each earlier one 5 days before.
    assert folds[-1] == {"train": [day[20], day[29]], "val": [day[30], day[34]],
                         "test": [day[35], day[39]]}
    assert folds[0] == {"train": [day[10], day[19]], "val": [day[20], day[24]],
                        "test": [day[25], day[29]]}
    expanding = walk_forward_windows(dates, folds=3, scheme="expanding", train_days=10,
                                     val_days=5, test_days=5)
    assert [f["train"][0] for f in expanding] == [day[0]] * 3
    with pytest.raises(ConfigError, match="need more than the 40 trading days"):
        walk_forward_windows(dates, folds=6, scheme="rolling", train_days=10, val_days=5,
                             test_days=5)
    with pytest.raises(ConfigError, match="scheme must be rolling or expanding"):
        walk_forward_windows(dates, folds=2, scheme="sliding", train_days=1, val_days=1,
                             test_days=1)
