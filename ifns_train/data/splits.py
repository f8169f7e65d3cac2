"""Time splits with a purge and embargo gap of at least the label horizon.

A row at date t carries a label that looks `horizon` trading days ahead, (t, t+horizon]. A row of
an earlier split is kept only if its label window, plus `embargo` more trading days, ends before
the first trading day of the next split: no label of train reaches into validation, none of
validation into test.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ifns_train.errors import ConfigError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Window:
    start: pd.Timestamp
    end: pd.Timestamp


def parse_windows(raw: dict[str, dict[str, str] | list[str]], where: str) -> dict[str, Window]:
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


def split_masks(
    dates: dict[str, np.ndarray], windows: dict[str, Window], gap: int
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, object]]]:
    """Boolean row masks per split and a report of what each window kept and purged.

    `dates[split]` holds the row dates (datetime64[ns]) of the table that split reads from (one
    table for all three, or one each). The trading calendar is the union of those dates.
    """
    calendar = np.unique(np.concatenate([np.asarray(d, dtype="datetime64[ns]") for d in
                                         dates.values()]))
    masks: dict[str, np.ndarray] = {}
    report: dict[str, dict[str, object]] = {}
    for i, name in enumerate(SPLITS):
        w = windows[name]
        row_dates = np.asarray(dates[name], dtype="datetime64[ns]")
        in_window = (row_dates >= w.start.to_datetime64()) & (row_dates <= w.end.to_datetime64())
        keep = in_window.copy()
        if i + 1 < len(SPLITS):
            nxt = windows[SPLITS[i + 1]].start.to_datetime64()
            next_pos = np.searchsorted(calendar, nxt, side="left")
            row_pos = np.searchsorted(calendar, row_dates, side="left")
            keep &= row_pos + gap < next_pos
        if not keep.any():
            raise ConfigError(
                f"split '{name}' is empty: window {w.start.date()}...{w.end.date()} holds "
                f"{int(in_window.sum())} rows, none left after a purge gap of {gap} trading days"
            )
        kept_dates = row_dates[keep]
        masks[name] = keep
        report[name] = {
            "window": [w.start.date().isoformat(), w.end.date().isoformat()],
            "rows_in_window": int(in_window.sum()),
            "rows_purged": int(in_window.sum() - keep.sum()),
            "first_date": str(np.datetime_as_string(kept_dates.min(), unit="D")),
            "last_date": str(np.datetime_as_string(kept_dates.max(), unit="D")),
        }
    return masks, report
