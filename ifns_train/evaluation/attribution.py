"""Permutation feature attribution: which inputs a fitted model leans on, with the noise.

Why: a reviewer must know which features carry a model before trusting it, and Admin must
answer which models depend on which data definitions (spec 5.2) from what the model does, not
only from what it was given. The answer is the same for a net and a tree, because it reads only
the model's predictions.

Definition. On the rows a model is evaluated on (the test split), for a group of feature
columns (one column, or every column of one feature family):

* the group's values are permuted across symbols *within each date*, one shuffle per block of
  ``horizon`` consecutive dates (the label horizon): each symbol draws a random key per block,
  and on each date the rows present, in symbol order, take the values of the same rows in key
  order. So over a block a symbol takes another symbol's values consistently (a sequence
  model's window sees a coherent path, not noise); a date's cross-section keeps its
  distribution; no value crosses dates, so nothing from another date, and no future, leaks in.
  A symbol missing on a date shifts the pairing of that date only; every date stays a
  permutation of its own rows. One shuffle (seeded with the bootstrap's ``seed``) serves every
  group, so the groups are compared on the same draw; a family's columns move together.
* the model scores the permuted rows, and the attribution of the group is the *drop* of the
  family's primary metric (``report.METRIC_SETS``, on the prediction array of
  ``evidence.HEADLINE``): the unpermuted figure's favourable advantage over the permuted one
  (``evidence.interval`` with the unpermuted predictions as the "model" and the permuted ones
  as the "baseline"; the unpermuted side's statistic made once for all groups,
  ``evidence.Scored``), so drop > 0 means the model leans on the group, for a score and for a
  loss alike. Its interval is the paired block bootstrap over dates of the evaluation (its
  level, method and seed, ``reps`` replicates, and one block length for every group: the
  configured one, or ``"auto"`` resolved once on the unpermuted figure). A group the model
  ignores leaves the predictions identical: drop 0, interval [0, 0], exactly.

A model reading ``lookback`` rows of its symbol reads rows before the first evaluated one;
those rows are part of the permuted block too (permuted within their own dates), so the caller
hands over the evaluated rows and the ``lookback - 1`` rows before each (``block``).

Cost: one scoring pass of the evaluated rows per group, in parts of at most `CHUNK_BYTES` of
features (each part with its rows' lookback), so memory stays bounded on a split larger than
memory; and one statistic of the permuted predictions per group, paired with the unpermuted
one's replicates, made once for all groups (``replicated_once``; a one-column family reuses
its column's drop). Per feature only when there
are at most ``max_features`` columns; per family always.

Pure: arrays and a scoring callable in, a JSON-ready dict out (floats as computed, like the
rest of the evaluation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ifns_train.evaluation import evidence
from ifns_train.evaluation.compare import evidence_of
from ifns_train.evaluation.predictions import PredictionArrays
from ifns_train.evaluation.report import METRIC_SETS
from ifns_train.evaluation.weighted_stats import WeightedStat

METHOD = ("permutation within each date, one shuffle of symbols per block of label-horizon "
          "dates; the drop of the primary metric (favourable direction) from the unpermuted "
          "predictions, with a paired block-bootstrap interval over dates")

# The scoring callable: (part, at, which) -> the family's named predictions of the rows at
# positions `at` of `part`, a run of consecutive rows of the block (permuted or not) that holds
# each one's lookback; `which`: their indices among the evaluated rows (for what else the
# caller keeps per row, e.g. categorical codes).
Predict = Callable[[np.ndarray, np.ndarray, np.ndarray], Mapping[str, np.ndarray]]
# The bytes of features a scoring pass copies at a time: a split larger than memory is
# attributed in parts (each part holds its rows' lookback), one part in memory at a time.
CHUNK_BYTES = 64 * 2**20


def block_permutation(dates: np.ndarray, symbols: np.ndarray, horizon: int, seed: int
                      ) -> np.ndarray:
    """`source` with `values[source]` the permuted copy of per-row `values`: row i takes the
    value of row source[i], a row of the same date; one shuffle of symbols per block of
    `horizon` consecutive dates (of those present), seeded."""
    if horizon < 1:
        raise ValueError(f"horizon must be a positive number of dates, got {horizon!r}")
    day, n_dates = _codes(dates)
    sym, n_symbols = _codes(symbols)
    block = day // horizon
    n_blocks = -(-n_dates // horizon)
    keys = np.random.default_rng(seed).random((n_blocks, n_symbols))
    by_symbol = np.lexsort((sym, day))  # each date's rows in symbol order
    by_key = np.lexsort((keys[block, sym], day))  # the same rows in their symbols' key order
    source = np.empty(len(day), dtype=np.int64)
    source[by_symbol] = by_key
    return source


def permutation_attribution(
    predict: Predict,
    features: np.ndarray,
    dates: np.ndarray,
    symbols: np.ndarray,
    block: np.ndarray,
    rows: np.ndarray,
    y: np.ndarray,
    *,
    metric_set: str,
    columns: list[str],
    families: Mapping[str, list[str]],
    horizon: int,
    bootstrap: Mapping[str, Any],
    reps: int,
    max_features: int,
    split: str,
    lookback: int,
    chunk_bytes: int = CHUNK_BYTES,
) -> dict[str, Any]:
    """The attribution of each feature column (up to `max_features` columns) and each feature
    family (see the module docstring).

    `features`, `dates`, `symbols`: a table's arrays (features (table rows, len(columns)), in
    `columns` order; not changed); `block`: the positions in them of the rows permuted (the
    evaluated rows and the rows their lookback reads), sorted; `rows`: the positions in
    `block` of the evaluated rows, in the order `predict` returns them; `y`: their labels.
    `predict` gets the block's features (permuted or not) and returns the family's named
    predictions of the evaluated rows. `bootstrap`: the evaluation's settings (`reps` is
    replaced by `reps`)."""
    primary = METRIC_SETS[metric_set].primary
    key = evidence.HEADLINE[metric_set][primary]
    block_dates, block_symbols = dates[block], symbols[block]
    scored_dates = block_dates[rows]
    arrays = PredictionArrays(dates=scored_dates, symbols=block_symbols[rows],
                              y=np.asarray(y, dtype=np.float64), model={}, baselines={},
                              inputs={}, context={})
    seed = int(bootstrap["seed"])
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) > 1 and (np.diff(rows) <= 0).any():
        raise ValueError("rows must be increasing positions in block")
    source = block[block_permutation(block_dates, block_symbols, horizon, seed)]
    position = {c: i for i, c in enumerate(columns)}
    family_of = {c: name for name, cols in families.items() for c in cols}
    step = max(1, chunk_bytes // max(1, features.shape[1] * features.itemsize))

    def scores(group: list[str]) -> np.ndarray:
        """The evaluated rows' predictions with `group`'s columns permuted, part by part."""
        idx = [position[c] for c in group]
        out = []
        for lo in range(0, len(rows), step):
            part_rows = rows[lo:lo + step]
            first, last = int(part_rows[0]) - (lookback - 1), int(part_rows[-1]) + 1
            part = features[block[first:last]]  # a copy: the table is never written
            if idx:  # whole rows gathered once: a column of a row-major table is every page
                part[:, idx] = features[source[first:last]][:, idx]
            got = predict(part, part_rows - first, np.arange(lo, lo + len(part_rows)))
            out.append(np.asarray(got[key], dtype=np.float64))
        return np.concatenate(out) if out else np.empty(0)

    unpermuted = scores([])
    # The unpermuted figure's statistic is made once and paired with each group's permuted.
    scored = evidence.Scored(primary, arrays, unpermuted, grids=evidence.Grids())
    if primary not in evidence.SERIES_METRICS:
        scored.model = replicated_once(scored.model)
    full = scored.interval(None, {**bootstrap, "reps": reps}, horizon)["model"]
    boot = {**bootstrap, "reps": reps, "block": full["block"]}
    done: dict[tuple[str, ...], dict[str, Any]] = {}  # a one-column family is its column

    def drop(group: list[str]) -> dict[str, Any]:
        if tuple(group) in done:
            return done[tuple(group)]
        permuted = scores(group)
        if np.array_equal(permuted, unpermuted):  # an input the model does not read
            out = {"drop": 0.0, "low": 0.0, "high": 0.0, "evidence": evidence_of(0.0, 0.0)}
        else:
            imp = scored.interval(permuted, boot, horizon)["improvement"] or {}
            low, high = imp.get("low"), imp.get("high")
            out = {"drop": imp.get("estimate"), "low": low, "high": high,
                   "evidence": evidence_of(low, high)}
        done[tuple(group)] = out
        return out

    per_feature: dict[str, Any] | None = None
    per_family: dict[str, Any] = {}
    skipped = None
    movable = np.unique(scored_dates, return_counts=True)[1].max(initial=0) >= 2
    if not movable:
        # One symbol a date: a shuffle within dates moves nothing, and every drop would read
        # 0, "does not lean on it". Not measured, rather than measured as nothing.
        skipped = "no date has two or more rows: nothing to permute across symbols"
    elif len(columns) <= max_features:
        per_feature = _by_drop({c: {**drop([c]), "family": family_of.get(c)} for c in columns})
    else:
        skipped = (f"{len(columns)} feature columns, more than evaluation.attribution."
                   f"max_features={max_features}: per feature family only")
    if movable:
        per_family = _by_drop({name: {**drop(list(cols)), "columns": len(cols)}
                               for name, cols in families.items()})
    return {
        "split": split,
        "metric": primary,
        "prediction": key,
        "full": full["estimate"],
        "method": METHOD,
        "block_dates": int(horizon),
        "seed": seed,
        "rows": len(rows),
        "dates": len(np.unique(scored_dates)),
        "bootstrap": {"reps": int(reps), "level": float(bootstrap["level"]),
                      "method": str(bootstrap["method"]), "block": full["block"]},
        "features": per_feature,
        "families": per_family,
        "skipped": skipped,
    }


def replicated_once(stat: WeightedStat) -> WeightedStat:
    """`stat` whose replicates (and grid error bounds) are computed once for the weight matrix
    it was last given: every group pairs the same unpermuted statistic with its own on the
    same weights (its interval and each improvement's model side), which otherwise recomputed
    the unpermuted side's replicates twice a group, half of the bootstrap's cost. The arrays
    returned are shared, so read-only."""
    memo: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def once(name: str, compute: Callable[[np.ndarray], np.ndarray]
             ) -> Callable[[np.ndarray], np.ndarray]:
        def replicates(w: np.ndarray) -> np.ndarray:
            hit = memo.get(name)
            if hit is None or hit[0] is not w:  # held here, so `w`'s identity is not reused
                values = np.asarray(compute(w))
                values.flags.writeable = False
                hit = memo[name] = (w, values)
            return hit[1]
        return replicates

    error = None if stat.error is None else once("error", stat.error)
    return replace(stat, replicates=once("replicates", stat.replicates), error=error)


def _by_drop(entries: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Largest drop first; an undefined drop last; ties in the given order."""
    order = sorted(entries, key=lambda k: (entries[k]["drop"] is None,
                                           -(entries[k]["drop"] or 0.0)))
    return {k: entries[k] for k in order}


def _codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense codes in sorted order of the values, and how many there are."""
    codes, uniques = pd.factorize(pd.Series(values), sort=True)
    return codes.astype(np.int64), len(uniques)
