"""Registering: the built table into the dataset index, or nothing at all.

Why last and separate: a table is registered only once every check has passed, so a failed
import leaves the registry as it was; and an id names one immutable table: the same files
again under the same id are a no-op (same fingerprint), other content is refused with the next
version id suggested.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ifns_train.core.errors import RegistryError
from ifns_train.data.index import check_dataset_id, register_dataset
from ifns_train.data.ohlcv.build import build_ohlcv_dataset
from ifns_train.data.ohlcv.options import ImportOptions

# 2: the policies of vendor files (missing volume, known splits, stale rows left out, wide
# files, every problem at once) and the chunked reader.
# 3: a split seen at the open (Open against the previous close) where the close moved during
#    the day: refused, or adjusted with --split / --adjust-splits, where 2 kept it as a move.
IMPORTER_VERSION = 3


def next_version(dataset_id: str) -> str:
    match = re.match(r"^(.*_V)(\d+)$", dataset_id)
    return f"{match.group(1)}{int(match.group(2)) + 1}" if match else f"{dataset_id}_V2"


def import_ohlcv(
    paths: Iterable[str | Path],
    dataset_id: str,
    registry_dir: str | Path,
    options: ImportOptions | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build the dataset and register it; returns (index entry, import report)."""
    check_dataset_id(dataset_id)  # fail before reading anything
    built = build_ohlcv_dataset(paths, options)
    try:
        entry = register_dataset(
            registry_dir,
            dataset_id,
            built.frame,
            feature_families=built.feature_families,
            label_families=built.label_families,
            splits=built.splits,
            source={
                "importer": "ifns_train.data.ohlcv",
                "version": IMPORTER_VERSION,
                "files": built.files,
                "import_report": built.report,
            },
            absent_columns=built.absent_columns,
        )
    except RegistryError as exc:
        if "already exists" not in str(exc):
            raise
        raise RegistryError(f"{exc} (e.g. --dataset-id {next_version(dataset_id)})") from None
    return entry, built.report
