"""Cleaning: each repair counted (the table equal to the clean file's), each bad value a named
problem, and a missing volume a missing value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ifns_train.core.errors import ConfigError
from ifns_train.data import features as F
from ifns_train.data.ohlcv import MIN_HISTORY
from tests.data.ohlcv.helpers import N, build, folder, ohlcv, problem_lines, raises, write


def test_unsorted_rows_are_sorted_and_counted(tmp_path: Path, clean: Path) -> None:
    base, _ = build(clean)
    order = np.random.default_rng(5).permutation(N)
    shuffled = ohlcv().iloc[order]
    got, report = build(write(shuffled, tmp_path / "abc.csv"))
    pd.testing.assert_frame_equal(got, base, check_exact=True)
    dates = pd.to_datetime(shuffled["Date"]).to_numpy()
    assert report["repairs"]["unsorted_rows_sorted"] == int((np.diff(dates) < np.timedelta64(0)
                                                             ).sum()) > 0
    # A file newest-first (a common export) is N - 1 rows out of order.
    _, report = build(write(ohlcv().iloc[::-1], folder(tmp_path, "rev") / "abc.csv"))
    assert report["repairs"]["unsorted_rows_sorted"] == N - 1


def test_exact_duplicates_dropped_and_counted(tmp_path: Path, clean: Path) -> None:
    base, _ = build(clean)
    raw = ohlcv()
    doubled = pd.concat([raw, raw.iloc[[10, 11, 50]]], ignore_index=True)
    got, report = build(write(doubled, tmp_path / "abc.csv"))
    pd.testing.assert_frame_equal(got, base, check_exact=True)
    assert report["repairs"]["duplicate_rows_dropped"] == 3
    assert report["rows_read"] == N + 3
    assert "abc.csv: row 161 (line 162), symbol ABC" in report["details"][
        "duplicate_rows_dropped"][0]


def test_duplicate_date_with_other_values_names_both_rows(tmp_path: Path) -> None:
    raw = ohlcv()
    other = raw.iloc[[10]].assign(Close=raw["Close"].iloc[10] * 1.001)
    path = write(pd.concat([raw, other], ignore_index=True), tmp_path / "abc.csv")
    raises(["abc.csv: row 161 (line 162), symbol ABC: date 2021-01-18 also on",
            "abc.csv: row 11 (line 12), symbol ABC with different values: column 'Close'"],
           build, path)
    # ... also across files: the same symbol in two files.
    second = write(other.assign(Symbol="ABC"), tmp_path / "more.csv")
    single = write(raw.assign(Symbol="ABC"), tmp_path / "main.csv")
    raises(["more.csv: row 1 (line 2), symbol ABC", "main.csv: row 11 (line 12)", "'Close'"],
           build, single, second)


def test_missing_days_are_counted_not_filled(tmp_path: Path) -> None:
    raw = ohlcv(n=N + 4)
    thinned = raw.drop(index=[50, 51, 52, 90]).reset_index(drop=True)
    frame, report = build(write(thinned, tmp_path / "abc.csv"))
    assert report["reported"]["missing_business_days"] == 4
    assert report["per_symbol"]["ABC"]["longest_gap_business_days"] == 3
    assert len(frame) == N - F.WARMUP_ROWS  # nothing filled in
    # Features count trading rows: 5 rows back is 5 rows of the file, across the gap.
    logc = np.log(thinned["Close"].to_numpy())
    pos = F.WARMUP_ROWS  # the first written row is the 121st trading row
    assert frame["trend_ret_5d"].iloc[0] == pytest.approx(logc[pos] - logc[pos - 5], rel=1e-12)
    assert frame[F.RETURN_LABEL_FAMILIES["Label_ReturnContinuous_Horizon_20d_V1"]["column"]
                 ].iloc[0] == pytest.approx(logc[pos + 20] - logc[pos], rel=1e-12)


def test_bad_values_are_problems_naming_file_row_symbol_column(tmp_path: Path) -> None:
    cases = {
        "zero": ("Close", 29, 0.0, ["row 30 (line 31), symbol ZERO", "'Close'", "not positive"]),
        "negative": ("Low", 30, -1.0, ["row 31 (line 32)", "'Low'", "not positive"]),
        "missing": ("Open", 39, np.nan, ["row 40 (line 41)", "'Open'", "is missing"]),
        "high_low": ("High", 19, 1.0, ["row 20 (line 21)", "'High'", "below max(Open, Close)"]),
        "low_high": ("Low", 24, 1e6, ["row 25 (line 26)", "'Low'", "above min(Open, Close)"]),
        "volume": ("Volume", 9, -5.0, ["row 10 (line 11)", "'Volume'", "negative"]),
    }
    for name, (column, row, value, parts) in cases.items():
        raw = ohlcv()
        raw.loc[row, column] = value
        message = raises([f"{name}.csv", *parts], build, write(raw, tmp_path / f"{name}.csv"))
        assert len(problem_lines(message)) == 1, message


def test_empty_placeholder_rows_dropped_and_counted(tmp_path: Path, clean: Path) -> None:
    base, _ = build(clean)
    raw = ohlcv()
    holiday = pd.DataFrame({"Date": ["2021-01-09", "2021-03-06"]})  # Saturdays, no prices
    got, report = build(write(pd.concat([raw, holiday], ignore_index=True),
                              tmp_path / "abc.csv"))
    pd.testing.assert_frame_equal(got, base, check_exact=True)
    assert report["repairs"]["empty_rows_dropped"] == 2
    assert report["reported"]["weekend_rows_kept"] == 0


def test_adj_close_puts_prices_on_the_adjusted_basis(tmp_path: Path) -> None:
    raw = ohlcv()
    factor = np.where(np.arange(N) < 100, 0.98, 1.0)  # a dividend before row 101
    adjusted = raw.assign(**{"Adj Close": raw["Close"] * factor})
    frame, report = build(write(adjusted, tmp_path / "abc.csv"))
    assert report["repairs"]["rows_rescaled_by_adj_close"] == 100
    assert report["per_symbol"]["ABC"]["adjusted_by_adj_close"] is True
    # The written rows' 120-day window reaches row 0: the range uses the adjusted High/Low.
    expected = np.log(raw["Close"].iloc[120] / (raw["High"] * factor).iloc[1:121].max())
    assert frame["struct_dist_high_120d"].iloc[0] == pytest.approx(expected, rel=1e-12)


def test_missing_volume_is_missing_not_an_error(tmp_path: Path) -> None:
    """A 0 or blank volume on a day of a symbol with volume: NaN, counted, and the 20-day
    volume statistics over the days present (here by hand, with numpy's nan-functions)."""
    raw = ohlcv().astype({"Volume": object})
    raw.loc[130, "Volume"] = 0
    raw.loc[140, "Volume"] = ""
    frame, report = build(write(raw, tmp_path / "abc.csv"))
    assert report["repairs"]["volume_missing_days"] == 2
    days = raw["Date"].iloc[[130, 140]].tolist()
    assert report["details"]["volume_missing_days"] == [
        f"{tmp_path / 'abc.csv'}: row 131 (line 132), symbol ABC on {days[0]}",
        f"{tmp_path / 'abc.csv'}: row 141 (line 142), symbol ABC on {days[1]}"]
    # The two days' own z-scores cannot be computed: those rows are left out (and counted).
    assert report["repairs"]["rows_not_finite_dropped"] == 2
    assert report["details"]["rows_not_finite_dropped"] == [{
        "symbol": "ABC", "first_date": days[0], "last_date": days[1], "rows": 2,
        "columns": ["vol_volume_z_20d"]}]
    assert len(frame) == N - F.WARMUP_ROWS - 2
    close = raw["Close"].to_numpy(float)
    volume = pd.to_numeric(raw["Volume"]).replace(0, np.nan).to_numpy(float)
    logv, dollar = np.log(volume), close * volume
    ret = np.abs(np.diff(np.log(close), prepend=np.nan))
    at = frame.set_index("date")
    for t in (135, 145, 149):  # windows holding one or two missing days
        window = slice(t - 19, t + 1)
        row = at.loc[pd.Timestamp(raw["Date"].iloc[t])]
        z = (logv[t] - np.nanmean(logv[window])) / np.nanstd(logv[window], ddof=1)
        assert row["vol_volume_z_20d"] == pytest.approx(z, rel=1e-9)
        assert row["vol_log_dollar_volume_20d"] == pytest.approx(
            np.log(np.nanmean(dollar[window])), rel=1e-12)
        assert row["vol_log_amihud_20d"] == pytest.approx(
            np.log(1e9 * np.nanmean(ret[window] / dollar[window])), rel=1e-9)


def test_long_run_of_missing_volume_leaves_out_the_rows_it_blanks(tmp_path: Path) -> None:
    # Zeros on rows 130..137 (8 days). A 20-day window ending at t holds
    # min(t, 137) - max(t - 19, 130) + 1 of them; with more than 5 (fewer than
    # VOLUME_MIN_DAYS = 15 present) the statistics are NaN: t = 135..151. With the missing days'
    # own z-scores (130..137), rows 130..151 are left out: 22 rows.
    assert F.VOLUME_MIN_DAYS == 15
    raw = ohlcv(n=180)
    raw.loc[130:137, "Volume"] = 0
    frame, report = build(write(raw, tmp_path / "abc.csv"))
    assert report["repairs"]["volume_missing_days"] == 8
    assert report["repairs"]["rows_not_finite_dropped"] == 22
    (item,) = report["details"]["rows_not_finite_dropped"]
    assert (item["first_date"], item["last_date"], item["rows"]) == (
        raw["Date"].iloc[130], raw["Date"].iloc[151], 22)
    assert item["columns"] == ["vol_log_amihud_20d", "vol_log_dollar_volume_20d",
                               "vol_volume_z_20d"]
    written = set(frame["date"].dt.strftime("%Y-%m-%d"))
    assert raw["Date"].iloc[129] in written and raw["Date"].iloc[152] in written


def test_volume_of_zeros_everywhere_is_no_volume(tmp_path: Path) -> None:
    raw = ohlcv(n=400)
    _, report = build(write(raw.assign(Volume=0), tmp_path / "zero.csv"))
    assert report["absent_columns"]["vol_volume_z_20d"] == "no volume in source"
    assert report["repairs"]["volume_missing_days"] == 0
    # In a long file, an index with a blank Volume next to a stock: no volume for the panel,
    # and the entry says which symbol lacks it.
    from ifns_train.data.ohlcv import build_ohlcv_dataset
    mixed = pd.concat([raw.assign(Symbol="STK"), ohlcv(n=400, seed=3).assign(Symbol="IDX",
                                                                          Volume="")])
    built = build_ohlcv_dataset([write(mixed, tmp_path / "mixed.csv")])
    assert built.absent_columns["vol_log_amihud_20d"] == (
        "no volume in source for 1 of 2 symbols (IDX)")
    assert set(built.frame["symbol"]) == {"IDX", "STK"}


def test_files_of_one_symbol_must_agree_on_columns(tmp_path: Path) -> None:
    raw = ohlcv(n=300)
    one = write(raw.iloc[:150].assign(Symbol="ABC"), tmp_path / "first.csv")
    two = write(raw.iloc[150:].drop(columns=["Volume"]).assign(Symbol="ABC"),
                tmp_path / "second.csv")
    raises(["first.csv: symbol ABC: has a column 'Volume' (volume) but",
            "second.csv has none"], build, one, two)
    # One problem, not one per row of the file without the column.
    no_open = write(raw.iloc[150:].drop(columns=["Open"]).assign(Symbol="ABC"),
                    tmp_path / "no_open.csv")
    message = raises(["has a column 'Open' (open) but"], build, one, no_open)
    assert len(problem_lines(message)) == 1
    got, _ = build(one, write(raw.iloc[150:].assign(Symbol="ABC"), tmp_path / "third.csv"))
    assert len(got) == 300 - F.WARMUP_ROWS


def test_too_little_history(tmp_path: Path) -> None:
    short = write(ohlcv(n=100), tmp_path / "new.csv")
    raises(["new.csv: symbol NEW has 100 trading rows", f"the {MIN_HISTORY} needed"],
           build, short)
    with pytest.raises(ConfigError, match="below 141"):
        build(short, min_history=100)
    raises(["symbol ABC has 160 trading rows", "the 200 needed", "--min-history"], build,
           write(ohlcv(), tmp_path / "abc.csv"), min_history=200)
