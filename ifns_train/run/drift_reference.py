"""The drift reference a run records with its model: each input feature's distribution over
the training rows, as the model reads them (before its own standardisation), overall and per
regime (`evaluation.drift.reference`). Written into the staged artifact folder before it is
hashed, so the reference is part of the model's record; `ifns-predict` compares the rows it
scores with it (`signals.drift_gate`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ifns_train.core.files import atomic_write_bytes
from ifns_train.data.resolve import ResolvedData
from ifns_train.evaluation import drift
from ifns_train.signals.drift_gate import REFERENCE_FILE, REGIME_COLUMN

# Rows of one regime value below which the reference keeps no sketch of it: 100 percentiles
# need a few hundred rows to mean anything.
REFERENCE_MIN_ROWS = 250


# The feature bytes the reference reads at most: beyond them it is taken from a uniform sample of
# the training rows (fixed seed: the same rows, the same reference; a stride could alias with the
# symbols of a date-major panel). An out-of-core run must not load its whole training split, and
# percentiles from the tens of thousands of rows this leaves even at 400 features resolve far
# finer than the PSI's deciles and the KS's 1/100 grid.
REFERENCE_MAX_BYTES = 64 << 20
SAMPLE_SEED = 0


def write_reference(folder: Path, data: ResolvedData, sync: bool = True) -> None:
    """`drift_reference.json` in `folder`, from the training split of `data` (`sync=False`:
    for a staged folder synced whole before its rename, `core.files.sync_folder`)."""
    train = data.splits["train"]
    row_bytes = train.table.features.itemsize * max(1, train.table.features.shape[1])
    wanted = min(len(train.rows), REFERENCE_MAX_BYTES // row_bytes)
    rows = train.rows if wanted == len(train.rows) else np.sort(
        train.rows[np.random.default_rng(SAMPLE_SEED).choice(len(train.rows), wanted,
                                                              replace=False)])
    regimes = {c: v[rows] for c, v in train.table.context.items() if c == REGIME_COLUMN}
    reference = drift.reference(train.table.features[rows],
                                data.feature_columns, regimes, REFERENCE_MIN_ROWS)
    reference["sampled_from"] = len(train.rows)  # of which `rows` were read
    # One line: ~2,300 numbers per regime, which an indented file would spread over as many.
    atomic_write_bytes(folder / REFERENCE_FILE,
                       json.dumps(reference, separators=(",", ":"), allow_nan=False).encode(), sync)
