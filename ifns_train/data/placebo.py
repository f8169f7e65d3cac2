"""The placebo control's labels: the training and validation labels permuted within each date.

Why within a date: a model fitted to labels shuffled among the names of each date can learn no
cross-sectional relation between features and labels, so a sound pipeline shows no edge over
its baselines on the real test labels; a placebo that does has a leak (or an evaluation that
overstates what noise can do). The test labels stay real. A split with fewer than two names on
most dates (a single series) has nothing to permute within a date, so its labels are permuted
across all its rows instead (recorded as `across_rows`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ifns_train.data.resolve import ResolvedData, Split

PERMUTED_SPLITS = ("train", "val")


def permute_labels(data: ResolvedData, seed: int) -> tuple[ResolvedData, dict[str, str]]:
    """The data with the labels of `PERMUTED_SPLITS` permuted; and how, per split."""
    rng = np.random.default_rng(seed)
    labels = {id(s.table): s.table.label.copy() for s in data.splits.values()}
    how: dict[str, str] = {}
    for name in PERMUTED_SPLITS:
        split = data.splits[name]
        rows, dates = split.rows, split.dates
        _, per_date = np.unique(dates, return_counts=True)
        within = np.median(per_date) >= 2
        group = dates if within else np.zeros(len(rows), dtype=dates.dtype)
        ordered = rows[np.lexsort((rows, group))]
        shuffled = rows[np.lexsort((rng.random(len(rows)), group))]
        label = labels[id(split.table)]
        label[ordered] = split.table.label[shuffled]
        how[name] = "within_date" if within else "across_rows"
    tables = {key: replace(s.table, label=labels[key])
              for key, s in ((id(s.table), s) for s in data.splits.values())}
    splits = {name: Split(name, tables[id(s.table)], s.rows) for name, s in data.splits.items()}
    return replace(data, splits=splits), how
