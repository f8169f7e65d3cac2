"""Time splits with a purge and embargo gap of at least the label horizon, per symbol.

A row at date t carries a label that looks `horizon` trading rows ahead *in its own symbol's
rows*, (t, t+horizon]. A symbol with a halt or a data gap trades on fewer days than the panel,
so its label window can end later than `horizon` days of the panel's calendar. A row of an
earlier split is therefore kept only if the date of its own row `horizon + embargo` rows ahead
(`gap` rows: the purge plus the embargo) is before the first date of the next split: no label
of train reaches into validation, none of validation into test, counted in each symbol's own
trading rows. Past a symbol's last row in its table, further rows are counted on the union
calendar of all the run's tables, the best estimate of days the table does not hold.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ifns_train.core.errors import ConfigError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Window:
    start: pd.Timestamp
    end: pd.Timestamp


def parse_windows(raw: Mapping[str, dict[str, str] | list[str]], where: str
                  ) -> dict[str, Window]:
    """Windows from config or index metadata; refuses missing, unparsable, empty or unordered."""
    windows: dict[str, Window] = {}
    for name in SPLITS:
        if name not in raw or raw[name] is None:
            raise ConfigError(f"{where}: no '{name}' window")
        item = raw[name]
        start, end = (item["start"], item["end"]) if isinstance(item, dict) else item
        try:
            window = Window(pd.Timestamp(start), pd.Timestamp(end))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}.{name}: unparsable date in {item!r}: {exc}") from exc
        if window.end < window.start:
            raise ConfigError(f"{where}.{name}: end {end} is before start {start}")
        windows[name] = window
    for first, second in itertools.pairwise(SPLITS):
        if windows[second].start <= windows[first].end:
            raise ConfigError(
                f"{where}: windows '{first}' ({windows[first].start.date()}..."
                f"{windows[first].end.date()}) and '{second}' ({windows[second].start.date()}..."
                f"{windows[second].end.date()}) overlap or are out of order"
            )
    return windows


def purge_gap(horizon: int, purge_days: int | None, embargo_days: int) -> int:
    """Trading days between the last kept row of a split and the first row of the next."""
    if horizon < 1:
        raise ConfigError(f"labels.horizon_days must be >= 1, got {horizon}")
    purge = horizon if purge_days is None else purge_days
    if purge < horizon:
        raise ConfigError(
            f"dataset.purge_days={purge_days} is shorter than the label horizon ({horizon} "
            "trading days): labels of one split would reach into the next"
        )
    if embargo_days < 0:
        raise ConfigError(f"dataset.embargo_days must be >= 0, got {embargo_days}")
    return purge + embargo_days


def symbol_last_rows(symbols: np.ndarray) -> np.ndarray:
    """Index of the last row of each row's symbol, for rows sorted by symbol then date."""
    n = len(symbols)
    ends = np.r_[symbols[1:] != symbols[:-1], True] if n else np.zeros(0, bool)
    last = np.where(ends, np.arange(n), n)
    return np.minimum.accumulate(last[::-1])[::-1]


def rows_ahead(
    dates: np.ndarray, last_row: np.ndarray, calendar: np.ndarray, steps: int
) -> np.ndarray:
    """Calendar position of the row `steps` rows ahead of each row in its symbol's own rows.

    Rows are symbol-major and `last_row` is each row's symbol's last row; beyond it the
    remaining steps are counted on `calendar` (a position may then pass its end).
    """
    target = np.arange(len(dates)) + steps
    inside = np.minimum(target, last_row)
    return np.searchsorted(calendar, dates[inside]) + (target - inside)


def split_masks(
    tables: dict[str, tuple[np.ndarray, np.ndarray]],
    windows: dict[str, Window],
    horizon: int,
    gap: int,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, dict[str, object]]]:
    """Row masks per split, each row's label end date, and what each window kept and purged.

    `tables[split]` is (dates, last_row) of the table that split reads from (one table for all
    three, or one each), rows sorted by symbol then date. `gap` is the purge plus the embargo in
    trading rows (>= `horizon`). Label ends past the known calendar are NaT.
    """
    calendar = np.unique(np.concatenate([np.asarray(d, dtype="datetime64[ns]")
                                         for d, _ in tables.values()]))
    masks: dict[str, np.ndarray] = {}
    label_end: dict[str, np.ndarray] = {}
    report: dict[str, dict[str, object]] = {}
    for i, name in enumerate(SPLITS):
        w = windows[name]
        row_dates = np.asarray(tables[name][0], dtype="datetime64[ns]")
        last_row = tables[name][1]
        in_window = (row_dates >= w.start.to_datetime64()) & (row_dates <= w.end.to_datetime64())
        keep = in_window.copy()
        if i + 1 < len(SPLITS):
            next_pos = np.searchsorted(calendar, windows[SPLITS[i + 1]].start.to_datetime64())
            keep &= rows_ahead(row_dates, last_row, calendar, gap) < next_pos
        if not keep.any():
            raise ConfigError(
                f"split '{name}' is empty: window {w.start.date()}...{w.end.date()} holds "
                f"{int(in_window.sum())} rows, none left after a purge gap of {gap} trading days"
            )
        end_pos = rows_ahead(row_dates, last_row, calendar, horizon)
        ends = np.full(len(row_dates), np.datetime64("NaT"), dtype="datetime64[ns]")
        known = end_pos < len(calendar)
        ends[known] = calendar[end_pos[known]]
        kept_dates = row_dates[keep]
        masks[name], label_end[name] = keep, ends
        report[name] = {
            "window": [w.start.date().isoformat(), w.end.date().isoformat()],
            "rows_in_window": int(in_window.sum()),
            "rows_purged": int(in_window.sum() - keep.sum()),
            "first_date": iso_day(kept_dates.min()),
            "last_date": iso_day(kept_dates.max()),
        }
    return masks, label_end, report


def iso_day(value: np.datetime64) -> str | None:
    return None if np.isnat(value) else str(np.datetime_as_string(value, unit="D"))


def walk_forward_windows(
    dates: np.ndarray, *, folds: int, scheme: str, train_days: int, val_days: int,
    test_days: int,
) -> list[dict[str, list[str]]]:
    """Train/val/test windows of `folds` walk-forward folds over the sorted trading `dates`.

    The last fold's test window ends on the last date and each earlier fold's ends
    `test_days` earlier; validation and training come just before each test window (each fold
    is purged like any split). `rolling` trains on the `train_days` before validation,
    `expanding` on everything from the first date.
    """
    if scheme not in ("rolling", "expanding"):
        raise ConfigError(f"evaluation.walk_forward.scheme must be rolling or expanding, "
                          f"got {scheme!r}")
    for key, value in (("folds", folds), ("train_days", train_days), ("val_days", val_days),
                       ("test_days", test_days)):
        if value < 1:
            raise ConfigError(f"evaluation.walk_forward.{key} must be >= 1, got {value}")
    n = len(dates)
    first_train_end = n - folds * test_days - val_days - 1
    first_train_start = first_train_end - train_days + 1 if scheme == "rolling" else 0
    if first_train_start < 0 or first_train_end < first_train_start:
        raise ConfigError(
            f"evaluation.walk_forward: {folds} folds of {test_days} test days, {val_days} "
            f"validation days and {train_days} training days need more than the {n} trading "
            "days of the dataset"
        )
    day = [str(np.datetime_as_string(d, unit="D")) for d in np.asarray(dates, "datetime64[D]")]
    windows = []
    for k in range(folds):
        test_end = n - 1 - (folds - 1 - k) * test_days
        test_start = test_end - test_days + 1
        val_start = test_start - val_days
        train_end = val_start - 1
        train_start = train_end - train_days + 1 if scheme == "rolling" else 0
        windows.append({"train": [day[train_start], day[train_end]],
                        "val": [day[val_start], day[test_start - 1]],
                        "test": [day[test_start], day[test_end]]})
    return windows
