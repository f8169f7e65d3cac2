"""The drift reference a run records with its model: each input feature's distribution over
the training rows, as the model reads them (before its own standardisation), overall and per
regime (`evaluation.drift.reference`). Written into the staged artifact folder before it is
hashed, so the reference is part of the model's record; `ifns-predict` compares the rows it
scores with it (`signals.drift_gate`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ifns_train.core.files import atomic_write_bytes
from ifns_train.data.resolve import ResolvedData
from ifns_train.evaluation import drift
from ifns_train.signals.drift_gate import REFERENCE_FILE, REGIME_COLUMN

# Rows of one regime value below which the reference keeps no sketch of it: 100 percentiles
# need a few hundred rows to mean anything.
REFERENCE_MIN_ROWS = 250


# Training rows beyond which the reference is taken from every k-th row (rows are in date order,
# so the stride spans the whole window): a percentile from a million rows is exact to far below
# what PSI and KS resolve, and an out-of-core run must not load its whole training split.
REFERENCE_MAX_ROWS = 1_000_000


def write_reference(folder: Path, data: ResolvedData) -> None:
    """`drift_reference.json` in `folder`, from the training split of `data`."""
    train = data.splits["train"]
    stride = max(1, math.ceil(len(train.rows) / REFERENCE_MAX_ROWS))
    rows = train.rows[::stride]
    regimes = {c: v[rows] for c, v in train.table.context.items() if c == REGIME_COLUMN}
    reference = drift.reference(train.table.features[rows],
                                data.feature_columns, regimes, REFERENCE_MIN_ROWS)
    reference["row_stride"] = stride  # 1: every training row
    # One line: ~2,300 numbers per regime, which an indented file would spread over as many.
    atomic_write_bytes(folder / REFERENCE_FILE,
                       json.dumps(reference, separators=(",", ":"), allow_nan=False).encode())
