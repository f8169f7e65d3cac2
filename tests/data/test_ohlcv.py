"""The OHLCV importer: spellings, layouts, messy data (each repair counted or a named error),
features and labels by hand, and the index's fingerprint rules."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ifns_train.data import features as F
from ifns_train.data.index import fingerprint, load_index, register_dataset
from ifns_train.data.ohlcv import (
    MIN_HISTORY,
    ImportOptions,
    OhlcvError,
    build_ohlcv_dataset,
    import_ohlcv,
)
from ifns_train.data.resolve import resolve
from ifns_train.errors import ConfigError, ContractError, RegistryError

N = 160  # rows per symbol: 120 warm-up rows + 40 written
DIRECTION = "Label_Direction_Horizon_20d_V1"
RETURN = "Label_ReturnContinuous_Horizon_20d_V1"
RVOL = "Label_RealizedVol_Horizon_20d_V1"


def ohlcv(n: int = N, seed: int = 0, start: str = "2021-01-04", scale: float = 100.0,
          beta: float = 1.0) -> pd.DataFrame:
    """A deterministic daily OHLCV series (Yahoo-style column names, ISO dates)."""
    rng = np.random.default_rng(seed)
    market = np.random.default_rng(99).normal(0.0003, 0.01, n)
    close = scale * np.exp(np.cumsum(beta * market + rng.normal(0.0, 0.012, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.005, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.006, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.006, n)))
    volume = np.round(np.exp(rng.normal(12.0, 0.4, n)))
    return pd.DataFrame({
        "Date": pd.bdate_range(start, periods=n).strftime("%Y-%m-%d"),
        "Open": open_, "High": high, "Low": low, "Close": close, "Volume": volume,
    })


def write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path


def build(*paths: Path, **options) -> tuple[pd.DataFrame, dict]:
    built = build_ohlcv_dataset(paths, ImportOptions(**options))
    return built.frame, built.report


def folder(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


@pytest.fixture
def clean(tmp_path: Path) -> Path:
    """The clean series as abc.csv (symbol ABC): what every repaired variant must equal."""
    return write(ohlcv(), folder(tmp_path, "clean") / "abc.csv")


def _raises(match_all: list[str], fn, *args, exc=OhlcvError, **kw) -> str:
    with pytest.raises(exc) as info:
        fn(*args, **kw)
    message = str(info.value)
    for part in match_all:
        assert part in message, (part, message)
    return message


# --------------------------------------------------------------------------- input forms


def test_clean_file_contract_and_counts(clean: Path) -> None:
    frame, report = build(clean)
    assert list(frame.columns[:2]) == ["date", "symbol"]
    assert frame["date"].dtype == np.dtype("datetime64[ns]")
    assert set(frame["symbol"]) == {"ABC"}  # from the file name, upper-cased
    assert frame.columns.tolist()[2:25] == F.FEATURE_COLUMNS
    assert np.isfinite(frame[F.FEATURE_COLUMNS].to_numpy()).all()
    for column in ["symbol", *F.CONTEXT_COLUMNS]:
        assert pd.api.types.is_string_dtype(frame[column]), column
    assert len(frame) == N - F.WARMUP_ROWS
    # Nothing silently dropped: every row read is written or counted.
    assert report["rows_read"] == N
    assert report["repairs"]["warmup_rows_dropped"] == F.WARMUP_ROWS
    repairs = report["repairs"]
    assert report["rows_read"] == report["rows_written"] + repairs["warmup_rows_dropped"] + \
        repairs["duplicate_rows_dropped"] + repairs["empty_rows_dropped"]
    # The last 20 labels are unknown, kept as NaN; the cost label only the last one.
    assert frame[DIRECTION].iloc[-20:].isna().all() and frame[DIRECTION].iloc[:-20].notna().all()
    assert report["reported"]["label_rows_unknown"] == 20
    assert frame[F.HL_SPREAD_LABEL].iloc[:-1].notna().all()
    assert np.isnan(frame[F.HL_SPREAD_LABEL].iloc[-1])
    # The written cost label of trading row t is the estimator over rows t and t+1.
    raw = ohlcv()
    expected = F.hl_spread_bps(raw[["High"]], raw[["Low"]].set_axis(["High"], axis=1),
                               raw[["Close"]].set_axis(["High"], axis=1))["High"]
    np.testing.assert_allclose(frame[F.HL_SPREAD_LABEL], expected.iloc[F.WARMUP_ROWS:],
                               rtol=1e-12)


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
    _raises(["abc.csv", "row 1 (line 2)", "'Date'", "not an ISO date"], build,
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
    long = pd.concat([a.assign(Ticker="AAA"), b.assign(Ticker="BBB")], ignore_index=True)
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
    _raises(["long.csv", "no column 'Code'"], build, one, symbol_column="Code")


def test_no_volume_features_absent_and_recorded(tmp_path: Path) -> None:
    raw = ohlcv(n=400)
    path = write(raw.drop(columns=["Volume"]), tmp_path / "idx.csv")
    entry, report = import_ohlcv([path], "DS_IDX_V1", tmp_path / "reg")
    for column in F.VOLUME_FEATURES:
        assert entry["absent_columns"][column] == "no volume in source"
        assert column not in entry["feature_families"]["Feature_VOL_LIQ_V1"]
    assert entry["feature_families"]["Feature_VOL_LIQ_V1"] == [
        "vol_20d", "vol_60d", "vol_ewma_094", "vol_ratio_20_60", "vol_hl_range_20d"]
    table = pd.read_parquet(tmp_path / "reg" / entry["path"])
    assert not set(F.VOLUME_FEATURES) & set(table.columns)  # absent, not zeros
    assert report["absent_columns"] == entry["absent_columns"]

    common = dict(dataset_ids=dict.fromkeys(("train", "val", "test"), "DS_IDX_V1"),
                  windows=None, context_columns=F.CONTEXT_COLUMNS, generate_demo=False)
    data = resolve(tmp_path / "reg", feature_families=["Feature_TREND_MTF_V1",
                                                       "Feature_VOL_LIQ_V1"],
                   label_family=RVOL, horizon_days=20,
                   extra_columns=["vol_20d", "vol_ewma_094"], embargo_days=5, **common)
    assert data.splits["test"].rows.size > 0
    # A family that needs a volume column fails with the contract error naming it.
    _raises(["DS_IDX_V1", "vol_log_dollar_volume_20d"], resolve, tmp_path / "reg",
            feature_families=["Feature_VOL_LIQ_V1"], label_family=F.HL_SPREAD_LABEL,
            horizon_days=1, extra_columns=["vol_20d", "vol_log_dollar_volume_20d"],
            exc=ContractError, **common)

    # A Volume column of zeros on every row (an index) is no volume either; zeros on some
    # rows only are an error.
    zeros = write(raw.assign(Volume=0), tmp_path / "zero.csv")
    _, report = build(zeros)
    assert report["absent_columns"]["vol_volume_z_20d"] == "no volume in source"
    some = raw.copy()
    some.loc[33, "Volume"] = 0
    _raises(["some.csv", "row 34 (line 35)", "'Volume'", "is 0"], build,
            write(some, tmp_path / "some.csv"))
    # In a long file, an index with a blank Volume next to a stock: no volume for the panel,
    # and the entry says which symbol lacks it; a blank on some rows only is an error.
    mixed = pd.concat([raw.assign(Symbol="STK"), ohlcv(n=400, seed=3).assign(Symbol="IDX",
                                                                          Volume="")])
    built = build_ohlcv_dataset([write(mixed, tmp_path / "mixed.csv")])
    assert built.absent_columns["vol_log_amihud_20d"] == (
        "no volume in source for 1 of 2 symbols (IDX)")
    assert set(built.frame["symbol"]) == {"IDX", "STK"}
    holes = raw.astype({"Volume": object})
    holes.loc[7, "Volume"] = ""
    _raises(["holes.csv", "row 8 (line 9)", "'Volume' is missing"], build,
            write(holes, tmp_path / "holes.csv"))


def test_close_only_series(tmp_path: Path) -> None:
    path = write(ohlcv()[["Date", "Close"]], tmp_path / "px.csv")
    built = build_ohlcv_dataset([path])
    assert "Feature_STRUCTURE_MTF_V1" not in built.feature_families
    assert F.HL_SPREAD_LABEL not in built.label_families
    assert set(built.absent_columns) == {*F.VOLUME_FEATURES, *F.HIGH_LOW_FEATURES,
                                         F.HL_SPREAD_LABEL}
    assert set(built.frame["structure_state"]) <= {"uptrend", "downtrend", "range", "breakout"}
    assert "closes only" in built.report["context_rules"]["structure_state"]
    _raises(["hi.csv", "'High'", "without a low column"], build,
            write(ohlcv().drop(columns=["Low"]), tmp_path / "hi.csv"))


def test_missing_columns_and_bad_files(tmp_path: Path) -> None:
    _raises(["nodate.csv", "no date column", "accepted spellings", "trade_date"], build,
            write(ohlcv().drop(columns=["Date"]), tmp_path / "nodate.csv"))
    _raises(["noclose.csv", "no close column", "price", "adj_close"], build,
            write(ohlcv().drop(columns=["Close"]), tmp_path / "noclose.csv"))
    _raises(["two.csv", "'Close' and 'Price'"], build,
            write(ohlcv().assign(Price=1.0), tmp_path / "two.csv"))
    (tmp_path / "notes.txt").write_text("x")
    _raises(["notes.txt", "not a CSV or Parquet"], build, tmp_path / "notes.txt")
    _raises(["nothing.csv", "no such file"], build, tmp_path / "nothing.csv")


# --------------------------------------------------------------------------- messy data


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
    assert "abc.csv: row 161 (line 162)" in report["details"]["duplicate_rows_dropped"][0]


def test_duplicate_date_with_other_values_names_both_rows(tmp_path: Path) -> None:
    raw = ohlcv()
    other = raw.iloc[[10]].assign(Close=raw["Close"].iloc[10] * 1.001)
    path = write(pd.concat([raw, other], ignore_index=True), tmp_path / "abc.csv")
    _raises(["symbol ABC has date 2021-01-18 twice", "abc.csv: row 11 (line 12)",
             "abc.csv: row 161 (line 162)", "column 'Close'"], build, path)
    # ... also across files: the same symbol in two files.
    second = write(other.assign(Symbol="ABC"), tmp_path / "more.csv")
    single = write(raw.assign(Symbol="ABC"), tmp_path / "main.csv")
    _raises(["main.csv: row 11 (line 12)", "more.csv: row 1 (line 2)", "'Close'"], build,
            single, second)


def test_missing_days_are_counted_not_filled(tmp_path: Path) -> None:
    raw = ohlcv(n=N + 4)
    thinned = raw.drop(index=[50, 51, 52, 90]).reset_index(drop=True)
    frame, report = build(write(thinned, tmp_path / "abc.csv"))
    assert report["reported"]["missing_business_days"] == 4
    assert report["per_symbol"]["ABC"]["longest_gap_business_days"] == 3
    assert len(frame) == N - F.WARMUP_ROWS  # nothing filled in
    # Features count trading rows: 5 rows back is 5 rows of the file, across the gap.
    close = thinned["Close"].to_numpy()
    logc = np.log(close)
    pos = F.WARMUP_ROWS  # the first written row is the 121st trading row
    assert frame["trend_ret_5d"].iloc[0] == pytest.approx(logc[pos] - logc[pos - 5], rel=1e-12)
    assert frame[RETURN].iloc[0] == pytest.approx(logc[pos + 20] - logc[pos], rel=1e-12)


def test_bad_prices_are_errors_naming_file_row_column(tmp_path: Path) -> None:
    cases = {
        "zero": ("Close", 29, 0.0, ["row 30 (line 31)", "'Close'", "not positive"]),
        "negative": ("Low", 30, -1.0, ["row 31 (line 32)", "'Low'", "not positive"]),
        "missing": ("Open", 39, np.nan, ["row 40 (line 41)", "'Open'", "is missing"]),
        "text": ("High", 44, "1,234.5", ["row 45 (line 46)", "'High'", "'1,234.5' is not a "
                                         "number"]),
        "high_low": ("High", 19, 1.0, ["row 20 (line 21)", "'High'", "below max(Open, Close)"]),
        "low_high": ("Low", 24, 1e6, ["row 25 (line 26)", "'Low'", "above min(Open, Close)"]),
        "volume": ("Volume", 9, -5.0, ["row 10 (line 11)", "'Volume'", "negative"]),
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
        _raises([f"{name}.csv", *parts], build, write(raw, tmp_path / f"{name}.csv"))


def test_empty_placeholder_rows_dropped_and_counted(tmp_path: Path, clean: Path) -> None:
    base, _ = build(clean)
    raw = ohlcv()
    holiday = pd.DataFrame({"Date": ["2021-01-09", "2021-03-06"]})  # Saturdays, no prices
    got, report = build(write(pd.concat([raw, holiday], ignore_index=True),
                              tmp_path / "abc.csv"))
    pd.testing.assert_frame_equal(got, base, check_exact=True)
    assert report["repairs"]["empty_rows_dropped"] == 2
    assert report["reported"]["weekend_rows_kept"] == 0


def _split_file(tmp_path: Path, name: str, at: int = 100, adj: bool = False) -> Path:
    """The clean series with a 2:1 split at row `at` left in: earlier prices x2, volume /2."""
    raw = ohlcv()
    split = raw.copy()
    for column in ("Open", "High", "Low", "Close"):
        split.loc[: at - 1, column] = raw.loc[: at - 1, column] * 2.0
    split.loc[: at - 1, "Volume"] = raw.loc[: at - 1, "Volume"] / 2.0
    if adj:
        split["Adj Close"] = raw["Close"]
    return write(split, folder(tmp_path, name) / "abc.csv")


def test_split_is_an_error_or_adjusted(tmp_path: Path, clean: Path) -> None:
    base, _ = build(clean)
    path = _split_file(tmp_path, "raw")
    _raises(["abc.csv: row 101 (line 102)", "column 'Close'", "x0.5", "2:1 split",
             "--adjust-splits", "Adj Close"], build, path)
    got, report = build(path, adjust_splits=True)
    pd.testing.assert_frame_equal(got, base, check_exact=True)  # x2 then x0.5 is exact
    assert report["repairs"]["splits_adjusted"] == 1
    assert report["details"]["splits_adjusted"][0]["ratio"] == 0.5
    # With Adj Close the adjusted series is used: no jump, the same table.
    got, report = build(_split_file(tmp_path, "adj", adj=True))
    pd.testing.assert_frame_equal(got, base, check_exact=True)
    assert report["repairs"]["rows_rescaled_by_adj_close"] == 100
    # A genuine move can be kept on request; it is then reported.
    got, report = build(path, keep_jumps=True)
    assert report["reported"]["large_moves_kept"] == 1
    with pytest.raises(ConfigError, match="exclude"):
        build(path, keep_jumps=True, adjust_splits=True)


def test_one_day_spike_and_large_moves(tmp_path: Path) -> None:
    raw = ohlcv()
    spike = raw.copy()
    spike.loc[80, ["Open", "High", "Low", "Close"]] *= 10.0
    _raises(["row 81 (line 82)", "1:10 reverse split", "one-day spike"], build,
            write(spike, tmp_path / "spike.csv"), adjust_splits=True)
    jump = raw.copy()
    jump.loc[100:, ["Open", "High", "Low", "Close"]] *= 1.9  # large, but no split ratio
    _, report = build(write(jump, tmp_path / "jump.csv"))
    assert report["reported"]["large_moves_kept"] == 1
    assert report["details"]["large_moves_kept"][0]["date"] == raw["Date"].iloc[100]


def test_too_little_history(tmp_path: Path) -> None:
    short = write(ohlcv(n=100), tmp_path / "new.csv")
    _raises(["new.csv", "symbol NEW has 100 trading rows", f"the {MIN_HISTORY} needed"],
            build, short)
    with pytest.raises(ConfigError, match="below 141"):
        build(short, min_history=100)
    _raises(["symbol ABC has 160 trading rows", "the 200 needed", "--min-history"], build,
            write(ohlcv(), tmp_path / "abc.csv"), min_history=200)


# --------------------------------------------------------------------------- by hand


def test_features_and_labels_by_hand(tmp_path: Path) -> None:
    # Daily log returns +2%, -1% alternating from row 1: log close at row t is 0.005 t, plus
    # 0.015 on odd rows. High/Low are the close +-1%. One symbol, no volume.
    n = N
    logc = np.r_[0.0, np.cumsum(np.tile([0.02, -0.01], n))[: n - 1]]
    close = 100.0 * np.exp(logc)
    raw = pd.DataFrame({"Date": pd.bdate_range("2020-01-02", periods=n).strftime("%Y-%m-%d"),
                        "High": close * 1.01, "Low": close * 0.99, "Close": close})
    frame, report = build(write(raw, tmp_path / "zig.csv"))
    t = np.arange(F.WARMUP_ROWS, n)  # the trading row of each written row
    even = t % 2 == 0
    # trend_ret_5d: the last five returns are three -1% and two +2% (t even) or the reverse.
    np.testing.assert_allclose(frame["trend_ret_5d"], np.where(even, 0.01, 0.04), rtol=1e-9)
    # vol_20d: 10 x +0.02 and 10 x -0.01, mean 0.005, deviations +-0.015, ddof=1.
    sd = math.sqrt(20 * 0.015**2 / 19)
    np.testing.assert_allclose(frame["vol_20d"], sd * math.sqrt(252), rtol=1e-9)
    # struct_pos_20d at an even row: highest close at t-1 (c e^0.01), lowest at t-18
    # (c e^-0.09), so the position is (1 - .99 e^-.09) / (1.01 e^.01 - .99 e^-.09).
    pos = (1 - 0.99 * math.exp(-0.09)) / (1.01 * math.exp(0.01) - 0.99 * math.exp(-0.09))
    np.testing.assert_allclose(frame["struct_pos_20d"][even], pos, rtol=1e-9)
    # 20-day labels: 10 pairs of (+2%, -1%) from any row: +10%, up, and the same vol.
    known = frame[RETURN].notna().to_numpy()
    assert known.sum() == len(frame) - 20 and not known[-20:].any()
    np.testing.assert_allclose(frame[RETURN][known], 0.10, rtol=1e-9)
    assert (frame[DIRECTION][known] == 1.0).all()
    np.testing.assert_allclose(frame[RVOL][known], sd * math.sqrt(252), rtol=1e-9)
    # One symbol: it is its own market (beta 1 -> C3) and the middle of its cross-section.
    assert set(frame["symbol_cluster"]) == {"C3"} and set(frame["vol_band"]) == {"mid"}
    assert report["per_symbol"]["ZIG"]["beta_warmup"] == 1.0
    assert report["absent_columns"]["vol_volume_z_20d"] == "no volume in source"


def test_hl_spread_estimator_by_hand() -> None:
    # Corwin-Schultz over days (t, t+1), k = 3 - 2 sqrt 2 = 0.171573:
    # day 0 H 102 L 98 C 100; day 1 H 101 L 99 C 100; day 2 H 101.5 L 100.2 C 101.
    # (0, 1): no gap (C0 = 100 is inside day 1's range).
    #   beta = ln(102/98)^2 + ln(101/99)^2 = 0.0016004268 + 0.0004000267 = 0.0020004535
    #   gamma = ln(102/98)^2 = 0.0016004268 (day 1's range lies inside day 0's)
    #   alpha = (sqrt(2 beta) - sqrt(beta)) / k - sqrt(gamma / k) = 0.0113977
    #   S = 2 (e^alpha - 1) / (1 + e^alpha) = 0.0113976 -> 113.976 bps
    # (1, 2): day 2's low 100.2 is above C1 = 100: a 0.2 overnight gap, so day 2 is read as
    #   H 101.3, L 100.0. beta = ln(101/99)^2 + ln(101.3/100)^2 = 0.0004000267 + 0.0001668289
    #   = 0.0005668556; gamma = ln(101.3/99)^2 = 0.0005274629; alpha = 0.0020332
    #   -> S = 0.0020332 -> 20.332 bps (without the gap correction alpha < 0 -> 0).
    # Day 2 has no next day: NaN.
    high = pd.DataFrame({"A": [102.0, 101.0, 101.5]})
    low = pd.DataFrame({"A": [98.0, 99.0, 100.2]})
    close = pd.DataFrame({"A": [100.0, 100.0, 101.0]})
    got = F.hl_spread_bps(high, low, close)["A"]
    assert got.iloc[0] == pytest.approx(113.976, abs=1e-3)
    assert got.iloc[1] == pytest.approx(20.332, abs=1e-3)
    assert np.isnan(got.iloc[2])
    # Negative estimates are 0: a day-1 range as wide as the two-day range.
    wide = F.hl_spread_bps(pd.DataFrame({"A": [101.0, 103.0]}), pd.DataFrame({"A": [99.0, 101.0]}),
                           pd.DataFrame({"A": [100.0, 102.0]}))["A"]
    assert wide.iloc[0] == 0.0


def test_clusters_use_warmup_rows_only(tmp_path: Path) -> None:
    # A low-beta and a high-beta symbol; then BBB's rows after its warm-up are replaced by
    # another path (continuous at the join). Its cluster, measured on warm-up rows, stays.
    a, b = ohlcv(seed=1, beta=0.3), ohlcv(seed=2, beta=1.8)
    one = folder(tmp_path, "one")
    write(a, one / "aaa.csv")
    write(b, one / "bbb.csv")
    _, report = build(one)
    first = report["per_symbol"]
    assert first["AAA"]["beta_warmup"] < 1.0 < first["BBB"]["beta_warmup"]
    assert first["AAA"]["cluster"] < first["BBB"]["cluster"]

    other = ohlcv(seed=7, beta=0.2)
    w = F.WARMUP_ROWS
    scale = b["Close"].iloc[w - 1] / other["Close"].iloc[w - 1]
    changed = b.copy()
    for column in ("Open", "High", "Low", "Close"):
        changed.loc[w:, column] = other.loc[w:, column] * scale
    changed.loc[w:, "Volume"] = other.loc[w:, "Volume"]
    two = folder(tmp_path, "two")
    write(a, two / "aaa.csv")
    write(changed, two / "bbb.csv")
    _, report = build(two)
    for symbol in ("AAA", "BBB"):
        assert report["per_symbol"][symbol]["cluster"] == first[symbol]["cluster"]
        assert report["per_symbol"][symbol]["beta_warmup"] == first[symbol]["beta_warmup"]


# --------------------------------------------------------------------------- index rules


def test_same_files_same_fingerprint_and_refusal(tmp_path: Path) -> None:
    src = folder(tmp_path, "src")
    paths = [write(ohlcv(seed=s), src / f"s{s}.csv") for s in (1, 2, 3)]
    first, _ = import_ohlcv(paths, "DS_MINE_V1", tmp_path / "r1")
    second, _ = import_ohlcv(paths[::-1], "DS_MINE_V1", tmp_path / "r2")
    third, _ = import_ohlcv([src], "DS_MINE_V1", tmp_path / "r3")
    assert first["fingerprint"] == second["fingerprint"] == third["fingerprint"]
    table = pd.read_parquet(tmp_path / "r1" / first["path"])
    assert fingerprint(table)[0] == first["fingerprint"]
    # Re-importing the same files under the same id is a no-op.
    again, _ = import_ohlcv(paths, "DS_MINE_V1", tmp_path / "r1")
    assert again == first
    stored = load_index(tmp_path / "r1")["datasets"]["DS_MINE_V1"]
    assert stored["source"]["import_report"]["repairs"]["warmup_rows_dropped"] == 3 * 120
    assert [Path(f["path"]).name for f in stored["source"]["files"]] == [
        "s1.csv", "s2.csv", "s3.csv"]
    # Different content under the same id is refused; a new version id is accepted.
    write(ohlcv(seed=4), src / "s1.csv")
    _raises(["DS_MINE_V1", "already exists", "new version id", "DS_MINE_V2"], import_ohlcv,
            [src], "DS_MINE_V1", tmp_path / "r1", exc=RegistryError)
    newer, _ = import_ohlcv([src], "DS_MINE_V2", tmp_path / "r1")
    assert newer["fingerprint"] != first["fingerprint"]
    with pytest.raises(ContractError, match="invalid dataset id"):
        import_ohlcv([src], "mine", tmp_path / "r1")


def test_register_without_absent_columns_is_unchanged(tmp_path: Path) -> None:
    frame = build_ohlcv_dataset([write(ohlcv(), tmp_path / "abc.csv")]).frame
    entry = register_dataset(tmp_path / "reg", "DS_PLAIN_V1", frame,
                             feature_families=F.FEATURE_FAMILIES,
                             label_families=F.RETURN_LABEL_FAMILIES)
    assert "absent_columns" not in entry
