"""Every problem of an import in one error, and --drop-symbol-on-error."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ifns_train.data import features as F
from ifns_train.data.index import load_index
from ifns_train.data.ohlcv import (
    PROBLEM_LIMIT,
    KnownSplit,
    build_ohlcv_dataset,
    import_ohlcv,
)
from tests.data.ohlcv.helpers import N, build, folder, ohlcv, problem_lines, raises, write


def test_two_bad_rows_in_one_error(tmp_path: Path) -> None:
    raw = ohlcv().astype({"Close": object})
    raw.loc[4, "Close"] = "abc"
    raw.loc[8, "Volume"] = -3.0
    path = write(raw, tmp_path / "abc.csv")
    message = raises(["2 problems found in 1 file; nothing was imported:"], build, path)
    assert problem_lines(message) == [
        f"{path}: row 5 (line 6), symbol ABC: column 'Close' value 'abc' is not a number",
        f"{path}: row 9 (line 10), symbol ABC: column 'Volume' is negative (-3)",
    ]
    # Nothing is written to the registry on failure.
    raises(["2 problems"], import_ohlcv, [path], "DS_BAD_V1", tmp_path / "reg")
    assert not (tmp_path / "reg").exists() or not load_index(tmp_path / "reg")["datasets"]


def test_problems_of_several_files_and_kinds_in_file_order(tmp_path: Path) -> None:
    prices = folder(tmp_path, "prices")
    write(ohlcv().drop(columns=["Date"]), prices / "aaa.csv")  # no date column
    bad = ohlcv()
    bad.loc[20, "High"] = 1.0  # below the close
    write(bad, prices / "bbb.csv")
    write(ohlcv(n=100), prices / "ccc.csv")  # too short
    write(ohlcv(), prices / "ddd.csv")  # fine
    message = raises(["3 problems found in 3 files; nothing was imported:"], build, prices)
    lines = problem_lines(message)
    assert [line.split(prices.name + "/")[1][:7] for line in lines] == [
        "aaa.csv", "bbb.csv", "ccc.csv"]
    assert "aaa.csv: symbol AAA: no date column" in lines[0]
    assert "bbb.csv: row 21 (line 22), symbol BBB: column 'High' (1) is below" in lines[1]
    assert "symbol CCC has 100 trading rows" in lines[2]
    assert message.splitlines()[-1] == ("  (--drop-symbol-on-error would leave out the 3 "
                                        "symbols concerned, AAA, BBB, CCC, and import the "
                                        "others)")


def test_many_problems_are_counted_and_the_first_listed(tmp_path: Path) -> None:
    raw = ohlcv().astype({"Open": object})
    raw.loc[10:39, "Open"] = "n/a?"  # 30 cells that are not numbers
    message = raises([f"30 problems found in 1 file; nothing was imported (the first "
                      f"{PROBLEM_LIMIT} listed):"], build, write(raw, tmp_path / "abc.csv"))
    lines = problem_lines(message)
    assert len(lines) == PROBLEM_LIMIT
    assert lines[0].split(": ")[1] == "row 11 (line 12), symbol ABC"
    assert lines[-1].split(": ")[1] == "row 30 (line 31), symbol ABC"


def test_drop_symbol_on_error_leaves_out_failing_symbols(tmp_path: Path) -> None:
    prices = folder(tmp_path, "prices")
    write(ohlcv(seed=1), prices / "aaa.csv")
    write(ohlcv(seed=2).assign(Close=lambda d: d["Close"].where(d.index != 50, -1.0)),
          prices / "bbb.csv")
    write(ohlcv(seed=3).drop(columns=["Close"]), prices / "ccc.csv")  # a file-level problem
    write(ohlcv(seed=4, n=120), prices / "ddd.csv")  # too short
    write(ohlcv(seed=5), prices / "eee.csv")
    raises(["3 problems found in 3 files"], build, prices)
    # A known split of a symbol that is left out goes with it.
    frame, report = build(prices, drop_symbol_on_error=True,
                          splits=(KnownSplit.parse("BBB:2021-05-24:2"),))
    assert sorted(set(frame["symbol"])) == ["AAA", "EEE"]
    dropped = report["symbols_dropped"]
    assert sorted(dropped) == ["BBB", "CCC", "DDD"]
    assert "row 51 (line 52), symbol BBB: column 'Close' is not positive (-1)" in dropped["BBB"]
    assert "no close column" in dropped["CCC"]
    assert "symbol DDD has 120 trading rows" in dropped["DDD"]
    assert report["repairs"]["symbol_rows_dropped"] == N + N + 120
    assert report["symbols"] == ["AAA", "EEE"]
    # The report counts the kept symbols only, and rows still add up.
    assert report["repairs"]["warmup_rows_dropped"] == 2 * F.WARMUP_ROWS
    repairs = report["repairs"]
    assert report["rows_read"] == 4 * N + 120 == report["rows_written"] + sum(
        repairs[k] for k in ("warmup_rows_dropped", "duplicate_rows_dropped",
                             "empty_rows_dropped", "rows_not_finite_dropped",
                             "symbol_rows_dropped"))
    # The same table as an import of the kept files alone.
    kept = folder(tmp_path, "kept")
    write(ohlcv(seed=1), kept / "aaa.csv")
    write(ohlcv(seed=5), kept / "eee.csv")
    alone = build_ohlcv_dataset([kept])
    pd.testing.assert_frame_equal(alone.frame, frame, check_exact=True)


def test_drop_symbol_on_error_cannot_help_every_time(tmp_path: Path) -> None:
    # A row without a symbol is no symbol's problem: the import is refused.
    long = ohlcv().assign(Symbol="AAA").astype({"Symbol": object})
    long.loc[3, "Symbol"] = ""
    raises(["1 problem found", "--drop-symbol-on-error cannot help: 1 of the problems are "
            "not those of one symbol"], build, write(long, tmp_path / "long.csv"),
           drop_symbol_on_error=True)
    # Every symbol fails: none would remain.
    raises(["--drop-symbol-on-error: every symbol has a problem (NEW); none would remain"],
           build, write(ohlcv(n=100), tmp_path / "new.csv"), drop_symbol_on_error=True)
