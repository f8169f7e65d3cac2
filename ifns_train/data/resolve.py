"""Resolve a run's datasets: index -> read the columns it needs -> contract -> time splits.

The result holds each table once, as contiguous arrays in symbol-major order (so a lookback
window of past rows per symbol is a strided view), and each split as row positions into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from ifns_train.config.schema import DatasetConfig
from ifns_train.core.errors import ConfigError, ContractError
from ifns_train.data import demo
from ifns_train.data.cache import CacheOptions, cached_table
from ifns_train.data.index import get_entry, load_index, table_path
from ifns_train.data.reader import Wanted, read_table
from ifns_train.data.splits import (
    SPLITS,
    iso_day,
    parse_windows,
    purge_gap,
    split_masks,
)
from ifns_train.data.table import Table


@dataclass
class Split:
    name: str
    table: Table
    rows: np.ndarray  # int64 positions into table

    @property
    def label(self) -> np.ndarray:
        return self.table.label[self.rows]

    @property
    def context(self) -> dict[str, np.ndarray]:
        return {k: v[self.rows] for k, v in self.table.context.items()}

    @property
    def extras(self) -> dict[str, np.ndarray]:
        return {k: v[self.rows] for k, v in self.table.extras.items()}

    @property
    def dates(self) -> np.ndarray:
        return self.table.dates[self.rows]


@dataclass
class ResolvedData:
    feature_families: dict[str, list[str]]
    label_family: str
    label_kind: str
    horizon_days: int
    lookback: int
    splits: dict[str, Split]
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_columns(self) -> list[str]:
        return [c for cols in self.feature_families.values() for c in cols]

    @property
    def dataset_ids(self) -> dict[str, str]:
        return {name: s.table.dataset_id for name, s in self.splits.items()}

    @property
    def fingerprints(self) -> dict[str, str]:
        return {s.table.dataset_id: s.table.fingerprint for s in self.splits.values()}


def _entry(registry_dir: Path, dataset_id: str, generate_demo: bool) -> dict[str, Any]:
    if generate_demo and dataset_id == demo.DEMO_DATASET_ID:
        entry = load_index(registry_dir)["datasets"].get(dataset_id)
        if entry is None or not table_path(registry_dir, entry).exists():
            return demo.write_demo(registry_dir, dataset_id)
        return entry
    return get_entry(registry_dir, dataset_id)


def dataset_dates(registry_dir: Path, dataset_id: str, generate_demo: bool) -> np.ndarray:
    """The dates column of a dataset (e.g. to lay out walk-forward folds before any run)."""
    path = table_path(registry_dir, _entry(registry_dir, dataset_id, generate_demo))
    if not path.exists():
        raise ContractError(f"dataset {dataset_id}: table file {path} does not exist")
    return pq.read_table(path, columns=["date"])["date"].to_numpy().astype("datetime64[ns]")


def load_table(
    registry_dir: Path,
    dataset_id: str,
    *,
    feature_families: list[str],
    label_family: str | None,
    horizon_days: int | None,
    context_columns: list[str],
    extra_columns: list[str],
    evaluation_columns: list[str],
    verify: bool,
    generate_demo: bool,
    cache: CacheOptions | None = None,
) -> tuple[Table, dict[str, list[str]], str]:
    """One dataset's table, read and checked against the contract: the chosen feature
    families' columns, the label (none for a table a registered model scores), the context,
    baseline and evaluation columns. Returns the table, the feature columns by family and the
    label's kind. With `cache` on, a table read and verified before is memory-mapped from the
    cache instead (see `ifns_train.data.cache` for why that is safe)."""
    entry = _entry(registry_dir, dataset_id, generate_demo)
    families = entry.get("feature_families", {})
    chosen: dict[str, list[str]] = {}
    for family in feature_families:
        if family not in families:
            raise ContractError(
                f"dataset {dataset_id} has no feature family {family!r} "
                f"(it has: {', '.join(sorted(families)) or 'none'})"
            )
        chosen[family] = list(families[family])
    labels = entry.get("label_families", {})
    label_meta: dict[str, Any] = {}
    label_column = None
    if label_family is not None:  # a table scored by a model needs no label
        if label_family not in labels:
            raise ContractError(
                f"dataset {dataset_id} has no label family {label_family!r} "
                f"(it has: {', '.join(sorted(labels)) or 'none'})"
            )
        label_meta = labels[label_family]
        if int(label_meta.get("horizon_days", -1)) != horizon_days:
            raise ContractError(
                f"dataset {dataset_id}: label family {label_family} has horizon "
                f"{label_meta.get('horizon_days')} trading days, the config says {horizon_days}"
            )
        label_column = label_meta.get("column", label_family)
    kind = str(label_meta.get("kind", ""))
    path = table_path(registry_dir, entry)
    if not path.exists():
        raise ContractError(f"dataset {dataset_id}: table file {path} does not exist")
    wanted = Wanted(features=chosen, label_family=label_family, label_column=label_column,
                    label_kind=kind, context=list(context_columns), extras=list(extra_columns),
                    evaluation=list(evaluation_columns))
    fingerprint = str(entry.get("fingerprint"))
    if cache is None or not cache.enabled:
        table = read_table(dataset_id, entry, path, wanted, verify=verify).table(
            dataset_id, fingerprint)
    else:
        parts = {"dataset_id": dataset_id, "fingerprint": entry.get("fingerprint"),
                 "feature_columns": wanted.feature_columns, "label_column": label_column,
                 "label_kind": kind, "context": wanted.context, "extras": wanted.extras,
                 "evaluation": wanted.evaluation}
        table = cached_table(cache.folder(registry_dir), dataset_id, parts, path,
                             lambda store: read_table(dataset_id, entry, path, wanted,
                                                      verify=verify, store=store),
                             write=verify, keep=cache.keep).table(dataset_id, fingerprint)
    table.split_meta = entry.get("splits")  # not part of the fingerprint: always the index's
    return table, chosen, kind


def resolve(
    registry_dir: str | Path,
    *,
    dataset_ids: dict[str, str],
    windows: dict[str, Any] | None,
    feature_families: list[str],
    label_family: str,
    horizon_days: int,
    context_columns: list[str],
    extra_columns: Sequence[str] = (),
    evaluation_columns: Sequence[str] = (),
    purge_days: int | None = None,
    embargo_days: int = DatasetConfig.embargo_days,
    lookback: int = 1,  # each row alone, no window: what a caller reading rows means by default
    verify: bool = DatasetConfig.verify_fingerprint,
    generate_demo: bool = DatasetConfig.generate_demo_if_missing,
    cache: CacheOptions | None = None,
) -> ResolvedData:
    """Read, check and split a run's datasets; `cache` (off when None) keeps the resolved
    tables memory-mapped for later runs on this machine."""
    registry_dir = Path(registry_dir)
    gap = purge_gap(horizon_days, purge_days, embargo_days)
    if lookback < 1:
        raise ConfigError(f"model.lookback must be >= 1, got {lookback}")
    for name in SPLITS:
        if not dataset_ids.get(name):
            raise ConfigError(f"dataset.{name}_dataset_id is not set (nor dataset.id)")
    tables: dict[str, Table] = {}
    families: dict[str, list[str]] = {}
    kind = ""
    for dataset_id in dict.fromkeys(dataset_ids[s] for s in SPLITS):
        table, chosen, kind = load_table(
            registry_dir,
            dataset_id,
            feature_families=feature_families,
            label_family=label_family,
            horizon_days=horizon_days,
            context_columns=context_columns,
            extra_columns=list(extra_columns),
            evaluation_columns=list(evaluation_columns),
            verify=verify,
            generate_demo=generate_demo,
            cache=cache,
        )
        if families and chosen != families:
            raise ContractError(
                f"dataset {dataset_id}: feature columns differ from those of "
                f"{next(iter(tables))}; all splits must share one feature definition"
            )
        tables[dataset_id], families = table, chosen

    if windows is not None:
        parsed = parse_windows(windows, "dataset.windows")
    elif len(tables) == 1:
        dataset_id = next(iter(tables))
        meta = tables[dataset_id].split_meta
        if not meta:
            raise ConfigError(
                f"dataset.windows is null and dataset {dataset_id} has no split metadata in "
                "the index: set dataset.windows.train/val/test"
            )
        parsed = parse_windows(meta, f"split metadata of dataset {dataset_id}")
    else:
        whole = {}
        for name in SPLITS:
            d = tables[dataset_ids[name]].dates
            whole[name] = [str(d.min()), str(d.max())]
        parsed = parse_windows(whole, "dataset ids " + ", ".join(dataset_ids[s] for s in SPLITS))

    masks, label_end, report = split_masks(
        {s: (tables[dataset_ids[s]].dates, tables[dataset_ids[s]].last_row) for s in SPLITS},
        parsed,
        horizon_days,
        gap,
    )
    splits: dict[str, Split] = {}
    for name in SPLITS:
        table = tables[dataset_ids[name]]
        known = ~np.isnan(table.label)
        # A realised volatility of 0 (a stale price stretch ahead) has no QLIKE or log error:
        # such rows are left out like unknown labels, and counted.
        zero_vol = known & (table.label == 0) if kind == "realized_vol" else np.zeros_like(known)
        enough = table.history >= lookback - 1
        keep = masks[name] & known & ~zero_vol & enough
        report[name].update(
            dataset_id=table.dataset_id,
            rows_label_unknown=int((masks[name] & ~known).sum()),
            **({"rows_label_zero_vol": int((masks[name] & zero_vol).sum())}
               if kind == "realized_vol" else {}),
            rows_short_lookback=int((masks[name] & known & ~zero_vol & ~enough).sum()),
            rows=int(keep.sum()),
            last_label_end=iso_day(label_end[name][keep].max()),
        )
        if not keep.any():
            raise ConfigError(
                f"split '{name}' of dataset {table.dataset_id} has no row with a known label"
            )
        splits[name] = Split(name, table, np.flatnonzero(keep))
    return ResolvedData(
        feature_families=families,
        label_family=label_family,
        label_kind=kind,
        horizon_days=horizon_days,
        lookback=lookback,
        splits=splits,
        report={
            "purge_gap_days": gap,
            "purge_rule": "a row is kept if its own symbol's row purge_gap_days trading rows "
            "ahead (label horizon + embargo) is before the next split's first date",
            "splits": report,
        },
    )
