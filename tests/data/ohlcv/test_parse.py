"""Dates outside 1900-01-01..2262-04-11 are refused naming file, row, column and value (past
2262 a nanosecond timestamp wraps around silently), and nothing is written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ifns_train.core.errors import ConfigError
from ifns_train.data.ohlcv import ImportOptions, KnownSplit, OhlcvError, import_ohlcv
from tests.data.ohlcv.helpers import build, folder, ohlcv, write

ROW = 6  # the row (from 1, after the header) given the bad date


def _refused(path: Path, tmp_path: Path, **options) -> str:
    registry = tmp_path / "registry"
    with pytest.raises(OhlcvError) as info:
        import_ohlcv([path], "DS_MINE_V1", registry, ImportOptions(**options))
    assert not registry.exists()
    return str(info.value)


@pytest.mark.parametrize(("text", "date_format"), [
    ("2262-04-12", "auto"), ("2300-01-04", "auto"), ("9999-12-31", "iso"),
    ("23000104", "iso"), ("1899-12-29", "auto"), ("1677-09-22", "auto"),
    ("12/31/2300", "us"),
])
def test_a_csv_date_outside_the_range_is_refused(text: str, date_format: str,
                                                  tmp_path: Path) -> None:
    raw = ohlcv()
    if date_format == "us":
        raw["Date"] = pd.to_datetime(raw["Date"]).dt.strftime("%m/%d/%Y")
    raw.loc[ROW - 1, "Date"] = text
    path = write(raw, folder(tmp_path, "src") / "abc.csv")
    message = _refused(path, tmp_path, date_format=date_format)
    assert (f"{path}: row {ROW} (line {ROW + 1}), symbol ABC: column 'Date' value {text!r} is "
            "outside the dates read, 1900-01-01..2262-04-11") in message


def test_the_last_and_first_days_are_read(tmp_path: Path) -> None:
    raw = ohlcv()
    raw.loc[0, "Date"] = "1900-01-01"
    raw.loc[len(raw) - 1, "Date"] = "2262-04-11"
    frame, _ = build(write(raw, tmp_path / "abc.csv"))
    assert frame["date"].max() <= pd.Timestamp("2262-04-11")


@pytest.mark.parametrize("kind", [pa.date32(), pa.timestamp("us"), pa.timestamp("s", "UTC")])
def test_a_stored_date_outside_the_range_is_refused(kind: pa.DataType, tmp_path: Path) -> None:
    raw = ohlcv()
    days = pd.to_datetime(raw["Date"]).dt.date.tolist()
    days[ROW - 1] = dt.date(2300, 1, 4)
    values = days if kind == pa.date32() else [dt.datetime.combine(d, dt.time()) for d in days]
    table = pa.table({"Date": pa.array(values, kind),
                      **{c: raw[c].to_numpy() for c in ("Open", "High", "Low", "Close")}})
    path = folder(tmp_path, "src") / "abc.parquet"
    pq.write_table(table, path)
    message = _refused(path, tmp_path)
    assert (f"{path}: row {ROW}, symbol ABC: column 'Date' value '2300-01-04' is outside the "
            "dates read") in message


def test_a_wide_file_names_the_row(tmp_path: Path) -> None:
    a, b = ohlcv(seed=1), ohlcv(seed=2)
    wide = pd.DataFrame({"Date": a["Date"], "AAA": a["Close"], "BBB": b["Close"]})
    wide.loc[ROW - 1, "Date"] = "1850-06-01"
    path = write(wide, tmp_path / "wide.csv")
    message = _refused(path, tmp_path, wide=True)
    assert f"{path}: row {ROW} (line {ROW + 1}): column 'Date' value '1850-06-01'" in message


def test_a_known_split_outside_the_range_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"--split ABC:2300-01-04:2: date '2300-01-04' is "
                                          r"outside the dates read, 1900-01-01\.\.2262-04-11"):
        KnownSplit.parse("ABC:2300-01-04:2")
