"""The permutation attribution of a fitted model on its test split: the glue from a `Scorer`
and the resolved split to `evaluation.attribution` (whose docstring holds the definition).

What it knows that the pure computation does not: a model reads `lookback` rows of its symbol
(the window ending at each evaluated row, as the predict pass and `signals.scoring.score_rows`
read it), so the block permuted is the evaluated rows and the `lookback - 1` rows before each
(each symbol's run of test rows, extended back); the categorical inputs are the family's codes
of the training vocabulary, never permuted (they are context, not feature columns).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ifns_train.config.schema import PredictConfig
from ifns_train.data.module import encode
from ifns_train.data.resolve import ResolvedData, Split
from ifns_train.evaluation.attribution import Predict, permutation_attribution
from ifns_train.learners.base import Scorer, score_positions

SPLIT = "test"  # the rows attributed: those the model's figures are evaluated on


def lookback_block(rows: np.ndarray, lookback: int) -> np.ndarray:
    """The sorted table positions a model reads to score `rows`: each row and the
    `lookback - 1` before it."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) and rows.min() < lookback - 1:
        raise ValueError(f"row {int(rows.min())} has fewer than {lookback - 1} rows before it")
    if lookback == 1:
        return np.unique(rows)
    starts = np.sort(rows) - (lookback - 1)
    ends = np.sort(rows) + 1
    # Merge the overlapping windows [start, end) into runs, then list each run's positions.
    new_run = np.r_[True, starts[1:] > np.maximum.accumulate(ends)[:-1]]
    run_start = starts[new_run]
    run_end = np.maximum.reduceat(ends, np.flatnonzero(new_run))
    lengths = run_end - run_start
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(run_start, lengths) + offsets


def split_predictor(scorer: Scorer, split: Split,
                    batch_size: int = PredictConfig.batch_size) -> Predict:
    """A `Predict` for `evaluation.attribution`: a part of the block -> the family's named
    predictions of its evaluated rows, each from its lookback window within the part, in
    batches, with the split's categorical codes (never permuted: context, not features)."""
    categorical = list(scorer.family.categorical_inputs)
    codes = torch.from_numpy(np.stack(
        [encode(split.table.context[c][split.rows], list(scorer.vocab[c])) for c in categorical],
        axis=1)) if categorical else None

    def predict(part: np.ndarray, at: np.ndarray, which: np.ndarray
                ) -> Mapping[str, np.ndarray]:
        cat = None if codes is None else codes[torch.from_numpy(which)]
        return scorer.predictions(score_positions(scorer, part, at, cat, batch_size))

    return predict


def feature_attribution(scorer: Scorer, data: ResolvedData, evaluation: Mapping[str, Any]
                     ) -> dict[str, Any] | None:
    """`metrics.json["attribution"]`: the model's permutation attribution on the test split,
    with the config's `evaluation` (its `attribution` and `bootstrap`); None when
    `evaluation.attribution.enabled` is off."""
    settings = evaluation["attribution"]
    if not settings["enabled"]:
        return None
    split = data.splits[SPLIT]
    table = split.table
    block = lookback_block(split.rows, int(scorer.lookback))
    return permutation_attribution(
        split_predictor(scorer, split), table.features, table.dates, table.symbols,
        block, np.searchsorted(block, split.rows), split.label.astype(np.float64),
        metric_set=scorer.family.metric_set, columns=data.feature_columns,
        families=data.feature_families, horizon=data.horizon_days,
        bootstrap=evaluation["bootstrap"], reps=int(settings["reps"]),
        max_features=int(settings["max_features"]), split=SPLIT,
        lookback=int(scorer.lookback))
