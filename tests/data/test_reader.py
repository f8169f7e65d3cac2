"""The chunked reader: a table read in chunks of a few rows (in memory or into the cache's
memory-mapped files) equals the symbol-major layout pandas gives of the whole table, on a messy
panel; a contract error names the file row whatever chunk it falls in; a changed table is
reported as changed before any symptom of the change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ifns_train.core.errors import ContractError
from ifns_train.data import reader
from ifns_train.data.cache import CacheOptions
from ifns_train.data.demo import FEATURE_FAMILIES, LABEL_FAMILIES, default_splits, generate_panel
from ifns_train.data.index import register_dataset
from ifns_train.data.resolve import load_table

LABEL = "Label_RealizedVol_Horizon_20d_V1"
FAMILIES = ["Feature_TREND_MTF_V1", "Feature_STRUCTURE_MTF_V1"]
CONTEXT = ["regime_tag", "symbol_cluster"]
EXTRAS = ["vol_20d", "Label_ReturnContinuous_Horizon_20d_V1"]


def _messy() -> pd.DataFrame:
    """Five symbols that do not share a calendar: one starts late, one stops early (its labels
    then unknown at its end only), one has a halt of 30 rows, one has a zero-vol stretch."""
    panel = generate_panel(n_symbols=5, n_years=1.0, seed=11)
    dates = np.sort(panel["date"].unique())
    sym = panel["symbol"].to_numpy()
    names = sorted(set(sym))
    keep = ~((sym == names[0]) & (panel["date"] < dates[40]))
    keep &= ~((sym == names[1]) & (panel["date"] > dates[200]))
    keep &= ~((sym == names[2]) & (panel["date"] >= dates[100]) & (panel["date"] < dates[130]))
    panel = panel[keep].reset_index(drop=True)
    ended = (panel["symbol"] == names[1]) & (panel["date"] > dates[180])
    panel.loc[ended, [LABEL, "Label_ReturnContinuous_Horizon_20d_V1"]] = np.nan
    zero = (panel["symbol"] == names[3]) & (panel["date"] < dates[10])
    panel.loc[zero, LABEL] = 0.0
    return panel


@pytest.fixture(scope="module")
def messy() -> pd.DataFrame:
    return _messy()


def _load(root: Path, cache: bool = False, dataset_id: str = "DS_MESSY_V1") -> Any:
    table, _, _ = load_table(
        root, dataset_id, feature_families=FAMILIES, label_family=LABEL, horizon_days=20,
        context_columns=CONTEXT, extra_columns=EXTRAS[:1], evaluation_columns=EXTRAS[1:],
        verify=True, generate_demo=False, cache=CacheOptions(enabled=cache),
    )
    return table


def _register(root: Path, frame: pd.DataFrame, dataset_id: str = "DS_MESSY_V1") -> None:
    register_dataset(root, dataset_id, frame, feature_families=FEATURE_FAMILIES,
                     label_families=LABEL_FAMILIES,
                     splits=default_splits(frame) if len(frame) else None)


def _chunk_rows(monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    """Chunks of `rows` rows."""
    columns = 2 + sum(len(FEATURE_FAMILIES[f]) for f in FAMILIES) + 1 + len(CONTEXT) + 2
    monkeypatch.setattr(reader, "CHUNK_BYTES", 8 * columns * rows)


@pytest.mark.parametrize("cache", [False, True], ids=["memory", "cache"])
@pytest.mark.parametrize("rows", [7, 100_000])
def test_a_table_read_in_chunks_is_the_whole_table_sorted_by_symbol(
        messy: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: bool,
        rows: int) -> None:
    _register(tmp_path, messy)
    _chunk_rows(monkeypatch, rows)
    table = _load(tmp_path, cache)
    if cache:
        assert isinstance(table.features, np.memmap)
    want = messy.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)
    columns = [c for f in FAMILIES for c in FEATURE_FAMILIES[f]]
    assert np.array_equal(table.features, want[columns].to_numpy(np.float32))
    assert table.features.dtype == np.float32 and table.features.flags.c_contiguous
    assert np.array_equal(table.label, want[LABEL].to_numpy(np.float32), equal_nan=True)
    assert np.array_equal(table.dates, want["date"].to_numpy("datetime64[ns]"))
    assert table.symbols.tolist() == want["symbol"].tolist()
    for column in CONTEXT:
        assert table.context[column].tolist() == want[column].tolist()
        # one str object per distinct value, shared by its rows
        assert len({id(v) for v in table.context[column]}) == want[column].nunique()
    for column in EXTRAS:
        assert np.array_equal(table.extras[column], want[column].to_numpy(np.float32),
                              equal_nan=True)
    history = want.groupby("symbol").cumcount().to_numpy()
    assert np.array_equal(table.history, history)
    last = want.groupby("symbol")["date"].transform("size").to_numpy() - 1 - history
    assert np.array_equal(table.last_row, np.arange(len(want)) + last)


def _set(frame: pd.DataFrame, row: int, column: str, value: Any) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[row, column] = value
    return frame


@pytest.mark.parametrize("rows", [7, 100_000])
@pytest.mark.parametrize(("case", "corrupt", "expected"), [
    ("NaN feature", lambda f: _set(f, 50, "trend_ret_5d", np.nan), "'trend_ret_5d' (feature)"),
    ("missing context", lambda f: _set(f, 64, "symbol_cluster", None), "'symbol_cluster'"),
    ("inf baseline input", lambda f: _set(f, 70, "vol_20d", np.inf), "'vol_20d'"),
    ("negative vol label", lambda f: _set(f, 90, LABEL, -0.1), "is negative"),
    ("duplicate key", lambda f: pd.concat([f.iloc[:14], f.iloc[13:]], ignore_index=True),
     "duplicate (date, symbol) key"),
])
def test_a_contract_error_names_the_file_row(messy: pd.DataFrame, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, rows: int,
                                             case: str, corrupt: Any, expected: str) -> None:
    frame = corrupt(messy)
    _register(tmp_path, frame)
    _chunk_rows(monkeypatch, rows)
    row = {"NaN feature": 50, "missing context": 64, "inf baseline input": 70,
           "negative vol label": 90, "duplicate key": 14}[case]
    at = (f"row {row} (date {frame['date'].iloc[row].date().isoformat()}, "
          f"symbol {frame['symbol'].iloc[row]})")
    with pytest.raises(ContractError) as info:
        _load(tmp_path)
    message = str(info.value)
    assert message.startswith("dataset DS_MESSY_V1") and expected in message, message
    assert at in message, message


@pytest.mark.parametrize("rows", [3, 7, 100_000])
def test_a_nan_label_before_a_known_one_is_found_across_chunks(
        messy: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        rows: int) -> None:
    symbol = sorted(set(messy["symbol"]))[4]
    mine = np.flatnonzero(messy["symbol"].to_numpy() == symbol)
    # Five rows apart in the file, so across several chunks of 3 or 7 rows.
    frame = _set(messy, int(mine[10]), LABEL, np.nan)
    _register(tmp_path, frame)
    _chunk_rows(monkeypatch, rows)
    with pytest.raises(ContractError) as info:
        _load(tmp_path)
    date = frame["date"].iloc[mine[10]].date().isoformat()
    assert (f"label column '{LABEL}' is NaN at row {mine[10]} (date {date}, symbol {symbol}) "
            "but known later") in str(info.value)


def test_a_changed_table_is_named_changed_before_its_symptoms(
        messy: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A NaN written into the file after registration: the first chunk shows the NaN, yet the
    error is the fingerprint's, found at the end of the file."""
    _register(tmp_path, messy)
    _chunk_rows(monkeypatch, 7)
    _set(messy, 3, "trend_ret_5d", np.nan).to_parquet(
        tmp_path / "datasets" / "DS_MESSY_V1.parquet", index=False)
    with pytest.raises(ContractError, match=r"column 'trend_ret_5d' .* does not match the "
                                            r"fingerprint"):
        _load(tmp_path)


def test_an_empty_table_is_refused(messy: pd.DataFrame, tmp_path: Path) -> None:
    _register(tmp_path, messy.iloc[:0])
    with pytest.raises(ContractError, match=r"DS_MESSY_V1: table .* has no rows"):
        _load(tmp_path, cache=True)


def test_a_table_is_read_one_row_group_at_a_time(messy: pd.DataFrame, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Registered tables are written in row groups of bounded size, the unit a reader holds."""
    import pyarrow.parquet as pq

    from ifns_train.data import index

    monkeypatch.setattr(index, "ROW_GROUP_BYTES", 8 * messy.shape[1] * 100)
    _register(tmp_path, messy)
    meta = pq.read_metadata(tmp_path / "datasets" / "DS_MESSY_V1.parquet")
    assert meta.num_row_groups == -(-len(messy) // 100)
    assert np.array_equal(_load(tmp_path).dates,
                          messy.sort_values(["symbol", "date"])["date"].to_numpy())
