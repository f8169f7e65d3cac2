"""The Stage 02 dataset index: dataset ids -> Parquet tables, their families and fingerprints.

Models reach data only through this index. Each entry records a fingerprint of the whole
table (every row of every column) and one per column, so a run that reads only some columns
can still prove that what it read is what was registered.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ifns_train.core.errors import ContractError, RegistryError, shown
from ifns_train.core.files import chmod_like_open, read_document, transaction

if TYPE_CHECKING:  # pandas is imported where tables are read: reading the index needs none
    import pandas as pd

INDEX_FILE = "datasets_index.json"
# At most 128 characters: the id is a file name (with a temp prefix and suffix, under 255).
DATASET_ID_RE = re.compile(r"^DS_[A-Z0-9_]{1,125}$")
KEY_COLUMNS = ("date", "symbol")
CONTEXT_COLUMNS = ("regime_tag", "structure_state", "vol_band", "symbol_cluster")
# Parquet row groups of about this many bytes (as float64): a reader decodes one at a time, so
# this bounds the memory a table of any size takes to read (`ifns_train.data.reader`).
ROW_GROUP_BYTES = 64 << 20


def index_path(registry_dir: str | Path) -> Path:
    return Path(registry_dir) / INDEX_FILE


def check_dataset_id(dataset_id: str) -> str:
    """Ids become file names, so only a closed alphabet is accepted."""
    if not isinstance(dataset_id, str) or not DATASET_ID_RE.fullmatch(dataset_id):
        raise ContractError(
            f"invalid dataset id {shown(dataset_id)}: expected up to 128 upper-case letters, "
            "digits and '_' starting with 'DS_' (e.g. DS_TRAIN_CORE_V1)"
        )
    return dataset_id


def load_index(registry_dir: str | Path) -> dict[str, Any]:
    """The index as a dict; an absent file is an empty index, a corrupt one an error."""
    return read_document(index_path(registry_dir), {"datasets": {}})


def get_entry(registry_dir: str | Path, dataset_id: str) -> dict[str, Any]:
    check_dataset_id(dataset_id)
    datasets = load_index(registry_dir)["datasets"]
    if dataset_id not in datasets:
        known = ", ".join(sorted(datasets)) or "none"
        raise ContractError(
            f"unknown dataset id {dataset_id!r} in {index_path(registry_dir)} (known: {known})"
        )
    return datasets[dataset_id]


def table_path(registry_dir: str | Path, entry: dict[str, Any]) -> Path:
    """The entry's table file, which must lie inside the registry folder: an index edited by
    hand or copied from elsewhere must not make a run read (or a tool list) any file on disk.
    Symbolic links are followed before the check, so one pointing out is refused too."""
    raw = entry.get("path")
    root = Path(registry_dir).resolve()
    if not isinstance(raw, str) or not raw:
        raise ContractError(f"dataset {entry.get('dataset_id')}: index entry path {shown(raw)} "
                            "is not a file name")
    path = (root / raw).resolve()  # an absolute `raw` replaces root
    if not path.is_relative_to(root):
        raise ContractError(
            f"dataset {entry.get('dataset_id')}: index entry path {shown(raw, 200)} is outside "
            f"the registry folder {root}"
        )
    return path


class ColumnDigest:
    """sha256 over a column's name and every value, fed a chunk of rows at a time (a table is
    read in chunks); the values' hashes do not depend on the storage unit of dates."""

    def __init__(self, name: object) -> None:
        self._digest = hashlib.sha256(str(name).encode())

    def update(self, series: pd.Series) -> None:
        import pandas as pd

        if pd.api.types.is_datetime64_any_dtype(series):
            series = series.astype("datetime64[ns]")
        self._digest.update(pd.util.hash_pandas_object(series, index=False).to_numpy().tobytes())

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def column_fingerprint(series: pd.Series) -> str:
    """The fingerprint of a whole column."""
    digest = ColumnDigest(series.name)
    digest.update(series)
    return digest.hexdigest()


def combine_fingerprints(column_fps: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(column_fps):
        digest.update(f"{name}={column_fps[name]};".encode())
    return "sha256:" + digest.hexdigest()


def fingerprint(frame: pd.DataFrame) -> tuple[str, dict[str, str]]:
    """Fingerprint of the whole table and of each column."""
    columns = {str(c): column_fingerprint(frame[c]) for c in frame.columns}
    return combine_fingerprints(columns), columns


def register_dataset(
    registry_dir: str | Path,
    dataset_id: str,
    frame: pd.DataFrame,
    *,
    feature_families: dict[str, list[str]],
    label_families: dict[str, dict[str, Any]],
    splits: dict[str, list[str]] | None = None,
    source: dict[str, Any] | None = None,
    absent_columns: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Write `frame` as Parquet and add it to the index, atomically and under a lock.

    Registering the same content again is a no-op; different content under an existing id is
    refused, because an id names one immutable table (bump the version instead).
    `absent_columns` (column -> why) records family columns the table lacks on purpose (e.g.
    volume features of prices without volume), so a reader learns why rather than guessing.
    """
    check_dataset_id(dataset_id)
    registry_dir = Path(registry_dir)
    frame = frame.reset_index(drop=True)
    overall, columns = fingerprint(frame)
    relpath = Path("datasets") / f"{dataset_id}.parquet"
    import pandas as pd

    dates = pd.to_datetime(frame["date"])
    entry = {
        "dataset_id": dataset_id,
        "path": relpath.as_posix(),
        "format": "parquet",
        "layout": "long: one row per (date, symbol), sorted by date then symbol",
        "fingerprint": overall,
        "column_fingerprints": columns,
        "rows": len(frame),
        "symbols": int(frame["symbol"].nunique()),
        "date_range": [dates.min().date().isoformat(), dates.max().date().isoformat()],
        "key_columns": list(KEY_COLUMNS),
        "feature_families": {k: list(v) for k, v in feature_families.items()},
        "label_families": {k: dict(v) for k, v in label_families.items()},
        "context_columns": [c for c in CONTEXT_COLUMNS if c in frame.columns],
        "splits": splits,
        "source": source or {},
    }
    if absent_columns:
        entry["absent_columns"] = dict(absent_columns)
    with transaction(index_path(registry_dir), {"datasets": {}}) as index:
        old = index["datasets"].get(dataset_id)
        target = registry_dir / relpath
        if old is not None:
            if old.get("fingerprint") != overall:
                raise RegistryError(
                    f"dataset id {dataset_id!r} already exists in {index_path(registry_dir)} "
                    f"with another fingerprint ({old.get('fingerprint')}); register the new "
                    "content under a new version id"
                )
            if target.exists():
                return old
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        try:
            chmod_like_open(tmp)
            frame.to_parquet(tmp, index=False, row_group_size=max(
                1, ROW_GROUP_BYTES // (8 * max(1, len(frame.columns)))))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        index["datasets"][dataset_id] = entry
    return entry
