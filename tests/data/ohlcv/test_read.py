"""Reading: spellings, layouts (per symbol, long, wide), the date column, cells that fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ifns_train.data.ohlcv import ImportOptions, build_ohlcv_dataset
from tests.data.ohlcv.helpers import (
    N,
    build,
    folder,
    ohlcv,
    problem_lines,
    raises,
    write,
)


def test_column_spellings_and_us_dates_read_the_same(tmp_path: Path, clean: Path) -> None:
    base, _ = build(clean)
    raw = ohlcv()
    variants = {
        "lower.csv": raw.rename(columns=str.lower),
        "upper.csv": raw.rename(columns=str.upper),
        "yahoo.csv": raw.assign(**{"Adj Close": raw["Close"]}),
        "other.csv": raw.rename(columns={"Date": "Trade Date", "Close": "Price",
                                         "Volume": "Vol", "High": "high_price"}),
        "dotted.csv": raw.assign(**{"Adj. Close": raw["Close"]}).rename(
            columns={"Close": "close price"}),
        "spaces.csv": raw.astype(str).map(lambda v: f" {v} "),  # cells padded with spaces
    }
    us = raw.assign(Date=pd.to_datetime(raw["Date"]).dt.strftime("%m/%d/%Y"))
    variants["us.csv"] = us
    for name, frame in variants.items():
        got, report = build(write(frame, folder(tmp_path, name.split(".")[0]) / "abc.csv"))
        pd.testing.assert_frame_equal(got, base, check_exact=True, obj=name)
        assert report["repairs"]["rows_rescaled_by_adj_close"] == 0  # Adj Close == Close
    # US dates also read when named explicitly; an ISO reader refuses them.
    got, _ = build(tmp_path / "us" / "abc.csv", date_format="us")
    pd.testing.assert_frame_equal(got, base)
    raises(["abc.csv: row 1 (line 2), symbol ABC", "'Date'", "not an ISO date"], build,
           tmp_path / "us" / "abc.csv", date_format="iso")
    # Extra columns are ignored, and said so.
    got, report = build(write(raw.assign(Dividends=0.0), folder(tmp_path, "extra") / "abc.csv"))
    pd.testing.assert_frame_equal(got, base)
    assert report["details"]["ignored_columns"] == ["Dividends"]


def test_long_file_per_symbol_files_and_parquet_agree(tmp_path: Path) -> None:
    a, b = ohlcv(seed=1), ohlcv(seed=2, scale=30.0, beta=1.5)
    per = folder(tmp_path, "per")
    write(a, per / "aaa.csv")
    write(b, per / "bbb.csv")
    by_files, report = build(per)  # a folder
    assert report["files"] == 2
    long = pd.concat([a.assign(Ticker="AAA"), b.assign(Ticker="bbb ")], ignore_index=True)
    one = write(long, tmp_path / "long.csv")
    by_long, _ = build(one)
    pd.testing.assert_frame_equal(by_long, by_files, check_exact=True)
    # Parquet with the dates as a DatetimeIndex (what pandas/yfinance write) and a symbol column
    # under an explicit name.
    pq_frame = long.rename(columns={"Ticker": "Code"}).assign(Date=pd.to_datetime(long["Date"]))
    pq_path = write(pq_frame.set_index("Date"), tmp_path / "long.parquet")
    by_parquet, _ = build(pq_path, symbol_column="code")
    pd.testing.assert_frame_equal(by_parquet, by_files, check_exact=True)
    assert (by_files.sort_values(["date", "symbol"]).index == by_files.index).all()
    raises(["long.csv", "no column 'Code' (--symbol-column)"], build, one, symbol_column="Code")


def test_missing_columns_and_bad_files(tmp_path: Path) -> None:
    raises(["nodate.csv", "no date column", "accepted spellings", "trade_date",
            "--date-column"], build, write(ohlcv().drop(columns=["Date"]), tmp_path / "nodate.csv"))
    raises(["noclose.csv", "no close column", "price", "adj_close"], build,
           write(ohlcv().drop(columns=["Close"]), tmp_path / "noclose.csv"))
    raises(["two.csv", "'Close' and 'Price'"], build,
           write(ohlcv().assign(Price=1.0), tmp_path / "two.csv"))
    raises(["hi.csv", "'High'", "without a low column"], build,
           write(ohlcv().drop(columns=["Low"]), tmp_path / "hi.csv"))
    (tmp_path / "notes.txt").write_text("x")
    raises(["notes.txt", "not a CSV or Parquet"], build, tmp_path / "notes.txt")
    raises(["nothing.csv", "no such file"], build, tmp_path / "nothing.csv")
    (tmp_path / "empty.csv").write_text("Date,Close\n")
    raises(["empty.csv", "no data rows"], build, tmp_path / "empty.csv")
    # A row with fewer fields than the header reads as blank cells (a placeholder here).
    short = tmp_path / "short.csv"
    write(ohlcv(), short)
    with short.open("a") as handle:
        handle.write("2021-08-16\n")
    _, report = build(short)
    assert report["repairs"]["empty_rows_dropped"] == 1


def test_cells_that_fail_name_file_row_symbol_and_column(tmp_path: Path) -> None:
    cases = {
        "text": ("High", 44, "1,234.5", ["row 45 (line 46), symbol TEXT", "'High'",
                                         "'1,234.5' is not a number"]),
        "inf": ("Close", 12, "inf", ["row 13 (line 14), symbol INF", "'Close' value 'inf'"]),
        "bad_date": ("Date", 3, "2021-02-30", ["row 4 (line 5)", "'Date'", "not a valid date"]),
        "no_date": ("Date", 5, "", ["row 6 (line 7)", "'Date'", "has no date"]),
        "dmy": ("Date", 0, "25/01/2021", ["row 1 (line 2)", "day/month/year"]),
    }
    for name, (column, row, value, parts) in cases.items():
        raw = ohlcv().astype({column: object})
        raw.loc[row, column] = value
        if name == "dmy":
            us = pd.to_datetime(raw["Date"].iloc[1:]).dt.strftime("%m/%d/%Y")
            raw["Date"] = ["25/01/2021", *us]
        message = raises([f"{name}.csv", *parts], build, write(raw, tmp_path / f"{name}.csv"))
        assert message.startswith("1 problem found in 1 file; nothing was imported:")
    # A long file: a row without a symbol.
    long = ohlcv().assign(Symbol="AAA").astype({"Symbol": object})
    long.loc[7, "Symbol"] = " "
    raises(["long.csv: row 8 (line 9): column 'Symbol' has no symbol"], build,
           write(long, tmp_path / "long.csv"))


def test_blank_first_header_is_the_date_column(tmp_path: Path, clean: Path) -> None:
    """What DataFrame.to_csv() writes for an unnamed DatetimeIndex: ',Open,High,...'."""
    base, _ = build(clean)
    raw = ohlcv()
    indexed = raw.set_index(pd.DatetimeIndex(pd.to_datetime(raw.pop("Date")).to_numpy()))
    path = write(indexed, folder(tmp_path, "idx") / "abc.csv", index=True)
    assert path.read_text().startswith(",Open,High,Low,Close,Volume\n")
    got, _ = build(path)
    pd.testing.assert_frame_equal(got, base, check_exact=True)
    info = build_ohlcv_dataset([path]).files[0]
    assert info["date_from"] == "the unnamed first column (its values are dates)"
    assert info["columns"]["date"] == "Unnamed: 0"
    # The same from Parquet (pyarrow keeps an unnamed index as __index_level_0__).
    got, _ = build(write(indexed, folder(tmp_path, "pq") / "abc.parquet"))
    pd.testing.assert_frame_equal(got, base, check_exact=True)
    # An unnamed first column of row numbers is no date column: still an error, saying why.
    numbered = write(raw, folder(tmp_path, "num") / "abc.csv", index=True)
    raises(["abc.csv", "no date column", "'Unnamed: 0' holds no dates"], build, numbered)


def test_date_column_named_by_option(tmp_path: Path, clean: Path) -> None:
    base, _ = build(clean)
    as_of = write(ohlcv().rename(columns={"Date": "As Of"}), folder(tmp_path, "asof") / "abc.csv")
    raises(["abc.csv", "no date column"], build, as_of)
    got, report = build(as_of, date_column="As Of")
    pd.testing.assert_frame_equal(got, base, check_exact=True)
    assert report["options"]["date_column"] == "As Of"
    got, _ = build(as_of, date_column="as_of")  # matched like any spelling
    pd.testing.assert_frame_equal(got, base, check_exact=True)
    # With --date-column, a column spelled Date is an ordinary (ignored) column.
    both = write(ohlcv().rename(columns={"Date": "As Of"}).assign(Date="x"),
                 folder(tmp_path, "both") / "abc.csv")
    got, report = build(both, date_column="As Of")
    pd.testing.assert_frame_equal(got, base, check_exact=True)
    assert report["details"]["ignored_columns"] == ["Date"]
    message = raises(["abc.csv", "no column 'Valuation Date' (--date-column)",
                      "the file's columns: As Of, Open, High, Low, Close, Volume"], build, as_of,
                     date_column="Valuation Date")
    assert len(problem_lines(message)) == 1


def _wide_prices() -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """A wide file (Date + one close per symbol; CCC listed 30 rows later) and, per symbol, the
    Date/Close file of the same prices."""
    n = N + 30
    closes = {s: ohlcv(n=n, seed=i)["Close"] for i, s in enumerate(("AAA", "BBB", "CCC"))}
    dates = ohlcv(n=n)["Date"]
    wide = pd.DataFrame({"Date": dates, "aaa": closes["AAA"], "BBB": closes["BBB"],
                         "CCC": closes["CCC"].where(np.arange(n) >= 30)})
    per = {s: pd.DataFrame({"Date": dates, "Close": closes[s]}) for s in closes}
    per["CCC"] = per["CCC"].iloc[30:]
    return wide, per


def test_wide_file_reads_one_close_per_symbol(tmp_path: Path) -> None:
    wide, per = _wide_prices()
    path = write(wide, tmp_path / "closes.csv")
    separate = folder(tmp_path, "per")
    for symbol, frame in per.items():
        write(frame, separate / f"{symbol.lower()}.csv")
    expected, _ = build(separate)
    got, report = build(path, wide=True)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert report["per_symbol"]["CCC"]["rows"] == N  # the blank cells are no rows
    assert report["per_symbol"]["AAA"]["rows"] == N + 30
    assert report["rows_read"] == 3 * (N + 30) - 30  # one row per non-blank cell
    info = build_ohlcv_dataset([path], ImportOptions(wide=True)).files[0]
    assert (info["symbol_from"], info["symbols"], info["cells"]) == (
        "columns (--wide)", 3, 3 * (N + 30) - 30)
    # Without --wide: no close column, and the hint.
    raises(["closes.csv", "no close column", "looks like a wide file", "aaa, BBB, CCC",
            "--wide"], build, path)
    # A cell that is not a number names its symbol and column.
    bad = wide.astype({"BBB": object})
    bad.loc[9, "BBB"] = "n.a."
    raises(["bad.csv: row 10 (line 11), symbol BBB: column 'BBB' value 'n.a.' is not a number"],
           build, write(bad, tmp_path / "bad.csv"), wide=True)
    # A one-symbol OHLCV file read with --wide by mistake.
    raises(["abc.csv", "--wide reads every column but the date", "read it without --wide"],
           build, write(ohlcv(), tmp_path / "abc.csv"), wide=True)


def test_parquet_dates_as_stored(tmp_path: Path, clean: Path) -> None:
    """A timestamp keeps its calendar day in its own time zone; date32 and YYYYMMDD integers
    read as dates too."""
    base, _ = build(clean)
    raw = ohlcv()
    day = pd.to_datetime(raw["Date"])
    for name, dates in {
        "tz": day.dt.tz_localize("America/New_York") + pd.Timedelta(hours=23),
        "date32": day.dt.date,
        "ints": day.dt.strftime("%Y%m%d").astype(int),
    }.items():
        got, _ = build(write(raw.assign(Date=dates), folder(tmp_path, name) / "abc.parquet"))
        pd.testing.assert_frame_equal(got, base, check_exact=True, obj=name)
