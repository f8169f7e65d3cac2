"""One symbol rule wherever a symbol enters: file names, symbol columns, wide headers, options
and the Stage 02 contract. A refusal names the file (or dataset) and the symbol, and writes
nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ifns_train.core.errors import ConfigError, ContractError
from ifns_train.data.demo import FEATURE_FAMILIES, LABEL_FAMILIES, default_splits, generate_panel
from ifns_train.data.index import register_dataset
from ifns_train.data.ohlcv import ImportOptions, KnownSplit, import_ohlcv
from ifns_train.data.ohlcv.options import read_splits_file
from ifns_train.data.resolve import resolve
from ifns_train.data.symbols import is_symbol
from tests.data.ohlcv.helpers import folder, ohlcv, write

REAL = ["BRK.B", "BRK-B", "^GSPC", "EURUSD=X", "RDS-A", "ES=F", "7203.T", "BTC-USD", "A",
        "SYM001", "X" * 32]
BAD = ["", ".", "..", "...", "A<B", "A>B", "M&M", "A'B", 'A"B', "A B", "A\tB", "A\nB", "A/B",
       "A\\B", "X" * 33, "A:B", "ÄBC"]


@pytest.mark.parametrize("symbol", REAL)
def test_real_tickers_are_symbols(symbol: str) -> None:
    assert is_symbol(symbol)


@pytest.mark.parametrize("symbol", BAD)
def test_unsafe_symbols_are_not(symbol: str) -> None:
    assert not is_symbol(symbol)


def test_not_a_string_is_not_a_symbol() -> None:
    assert not is_symbol(None) and not is_symbol(7)


def _refused(paths: list[Path], registry: Path, **options) -> str:
    """The import error; and the registry folder was not even created."""
    with pytest.raises(ContractError) as info:
        import_ohlcv(paths, "DS_MINE_V1", registry, ImportOptions(**options))
    assert not registry.exists()
    return str(info.value)


@pytest.mark.parametrize("stem", [".", "..", "a<b>", "a&b", "a b", "a'b"])
def test_a_symbol_from_a_file_name_is_checked(stem: str, tmp_path: Path) -> None:
    path = write(ohlcv(), folder(tmp_path, "src") / f"{stem}.csv")
    message = _refused([path], tmp_path / "registry")
    assert f"{path}: symbol {stem.upper()!r}, taken from the file name, is not a valid" in message
    assert "rename the file" in message


def test_a_file_name_with_a_newline_stays_one_line(tmp_path: Path) -> None:
    path = write(ohlcv(), folder(tmp_path, "src") / "a\nb.csv")
    message = _refused([path], tmp_path / "registry")
    problem = message.splitlines()[1].strip()
    assert problem.startswith(repr(str(path))) and "symbol 'A\\nB'" in problem


def test_the_file_name_is_not_the_symbol_of_a_long_file(tmp_path: Path) -> None:
    long = ohlcv().assign(Symbol="ABC")
    path = write(long, folder(tmp_path, "src") / "my prices (2024).csv")
    entry, _ = import_ohlcv([path], "DS_MINE_V1", tmp_path / "registry")
    assert entry["symbols"] == 1


@pytest.mark.parametrize("value", ["A<B", "..", "A B", "A/B", "x" * 500])
def test_a_symbol_column_value_is_checked(value: str, tmp_path: Path) -> None:
    frame = pd.concat([ohlcv(seed=1).assign(Ticker="AAA"), ohlcv(seed=2).assign(Ticker=value)],
                      ignore_index=True)
    path = write(frame, tmp_path / "long.csv")
    message = _refused([path], tmp_path / "registry", drop_symbol_on_error=True)
    first = message.splitlines()[1].strip()
    assert first.startswith(f"{path}: row 161 (line 162): column 'Ticker' value ")
    assert repr(value[:40]) in first and "is not a valid symbol" in first
    assert len(first.removeprefix(str(path))) < 250
    # Not pinned to a symbol: --drop-symbol-on-error cannot leave a nameless symbol out.
    assert "--drop-symbol-on-error cannot help" in message


def test_a_wide_header_is_checked(tmp_path: Path) -> None:
    a, b = ohlcv(seed=1), ohlcv(seed=2)
    wide = pd.DataFrame({"Date": a["Date"], "AAA": a["Close"], "B&B": b["Close"]})
    path = write(wide, tmp_path / "wide.csv")
    message = _refused([path], tmp_path / "registry", wide=True)
    assert f"{path}: column 3 header 'B&B' is not a valid symbol" in message


def test_options_naming_a_symbol_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--split A<B:2021-03-01:2: symbol 'A<B' is not"):
        KnownSplit.parse("A<B:2021-03-01:2")
    with pytest.raises(ConfigError, match=r"--keep-jumps 'A/B': not a valid symbol"):
        ImportOptions(keep_jumps=("A/B",)).checked()
    splits = tmp_path / "splits.csv"
    splits.write_text("symbol,date,ratio\n..,2021-03-01,2\n")
    with pytest.raises(ConfigError, match=rf"{splits} line 2: symbol '\.\.' is not"):
        read_splits_file(splits)


@pytest.mark.parametrize("value", ["A<B", "..", "A B", None])
def test_the_contract_refuses_a_table_with_an_unsafe_symbol(value, tmp_path: Path) -> None:
    panel = generate_panel(n_symbols=4, n_years=2.0, seed=3)
    panel["symbol"] = panel["symbol"].astype(object)
    panel.loc[panel["symbol"] == panel["symbol"].iloc[0], "symbol"] = value
    panel = panel.sort_values(["date", "symbol"], na_position="first").reset_index(drop=True)
    register_dataset(tmp_path, "DS_BAD_V1", panel, feature_families=FEATURE_FAMILIES,
                     label_families=LABEL_FAMILIES, splits=default_splits(panel))
    with pytest.raises(ContractError) as info:
        resolve(tmp_path, dataset_ids=dict.fromkeys(("train", "val", "test"), "DS_BAD_V1"),
                windows=None, feature_families=["Feature_TREND_MTF_V1"],
                label_family="Label_Direction_Horizon_20d_V1", horizon_days=20,
                context_columns=[], generate_demo=False)
    message = str(info.value)
    what = "no symbol" if value is None else f"symbol {value!r}"
    assert message.startswith(f"dataset DS_BAD_V1: {what} at row "), message
    assert "\n" not in message
    # Reading refuses; the registry is as it was.
    assert [p.name for p in (tmp_path / "datasets").iterdir()] == ["DS_BAD_V1.parquet"]
