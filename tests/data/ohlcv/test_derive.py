"""Deriving: the columns by hand, the clusters, absent columns, rows whose features are not
finite, chunks of symbols, and the demo's own definitions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ifns_train.core.errors import ContractError
from ifns_train.data import demo
from ifns_train.data import features as F
from ifns_train.data.ohlcv import build_ohlcv_dataset, derive, import_ohlcv
from ifns_train.data.resolve import resolve
from tests.data.ohlcv.helpers import (
    DIRECTION,
    PRICES,
    RETURN,
    RVOL,
    N,
    build,
    folder,
    ohlcv,
    raises,
    write,
)


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
    raises(["DS_IDX_V1", "vol_log_dollar_volume_20d"], resolve, tmp_path / "reg",
            feature_families=["Feature_VOL_LIQ_V1"], label_family=F.HL_SPREAD_LABEL,
            horizon_days=1, extra_columns=["vol_20d", "vol_log_dollar_volume_20d"],
           exc=ContractError, **common)


def test_close_only_series(tmp_path: Path) -> None:
    path = write(ohlcv()[["Date", "Close"]], tmp_path / "px.csv")
    built = build_ohlcv_dataset([path])
    assert "Feature_STRUCTURE_MTF_V1" not in built.feature_families
    assert F.HL_SPREAD_LABEL not in built.label_families
    assert set(built.absent_columns) == {*F.VOLUME_FEATURES, *F.HIGH_LOW_FEATURES,
                                         F.HL_SPREAD_LABEL}
    assert set(built.frame["structure_state"]) <= {"uptrend", "downtrend", "range", "breakout"}
    assert "closes only" in built.report["context_rules"]["structure_state"]


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


def test_stale_stretch_rows_are_left_out_and_counted(tmp_path: Path) -> None:
    """One symbol's prices frozen for 30 rows (130..159, at the close of row 129). A 20-row
    window inside the stretch has a high-low range of 0 (struct_pos_20d = 0/0) and only zero
    returns (vol_log_amihud_20d = log 0): rows 149..159, 11 rows, and only they, are left
    out; the other symbol is untouched."""
    raw = ohlcv(n=200)
    stale = raw.copy()
    stale.loc[130:159, PRICES] = raw.loc[129, "Close"]
    prices = folder(tmp_path, "prices")
    write(stale, prices / "stale.csv")
    write(ohlcv(n=200, seed=4), prices / "fresh.csv")
    frame, report = build(prices)
    assert report["repairs"]["rows_not_finite_dropped"] == 11
    assert report["details"]["rows_not_finite_dropped"] == [{
        "symbol": "STALE", "first_date": raw["Date"].iloc[149],
        "last_date": raw["Date"].iloc[159], "rows": 11,
        "columns": ["struct_pos_20d", "vol_log_amihud_20d"]}]
    assert report["per_symbol"]["STALE"]["rows_written"] == 200 - F.WARMUP_ROWS - 11
    assert report["per_symbol"]["FRESH"]["rows_written"] == 200 - F.WARMUP_ROWS
    assert np.isfinite(frame[[c for c in F.FEATURE_COLUMNS]].to_numpy()).all()
    written = set(frame.loc[frame["symbol"] == "STALE", "date"].dt.strftime("%Y-%m-%d"))
    assert raw["Date"].iloc[148] in written and raw["Date"].iloc[160] in written
    # Nothing silently lost: every row read is written or counted.
    repairs = report["repairs"]
    assert report["rows_read"] == report["rows_written"] + sum(
        repairs[k] for k in ("warmup_rows_dropped", "duplicate_rows_dropped",
                             "empty_rows_dropped", "rows_not_finite_dropped",
                             "symbol_rows_dropped"))
    # The neighbours' labels still look 20 trading rows ahead in the source.
    at = frame.loc[frame["symbol"] == "STALE"].set_index("date")
    logc = np.log(stale["Close"].to_numpy())
    t = 140
    assert at.loc[pd.Timestamp(raw["Date"].iloc[t]), RETURN] == pytest.approx(
        logc[t + 20] - logc[t], rel=1e-12)


def test_chunks_of_symbols_give_the_same_table(tmp_path: Path, monkeypatch) -> None:
    prices = folder(tmp_path, "prices")
    for i, symbol in enumerate(("aaa", "bbb", "ccc", "ddd", "eee")):
        raw = ohlcv(n=N + 10 * i, seed=i, start=f"2021-01-{4 + i:02d}", beta=0.5 + 0.3 * i)
        write(raw.drop(index=[30 + i, 60]).reset_index(drop=True), prices / f"{symbol}.csv")
    whole, _ = build(prices)
    monkeypatch.setattr(derive, "CHUNK_SYMBOLS", 2)
    chunked, _ = build(prices)
    pd.testing.assert_frame_equal(chunked, whole, check_exact=True)


def test_demo_prices_imported_give_the_demo_columns(tmp_path: Path) -> None:
    """The importer and the demo share the panel step: the demo's own simulated prices, read
    from files, give the demo's features and labels bit for bit on the demo's rows."""
    n_days = 200
    sim = demo.simulate_market(3, demo.WARMUP_DAYS + n_days, seed=5)
    dates = pd.bdate_range(end="2024-12-31", periods=demo.WARMUP_DAYS + n_days)
    kept = dates[demo.WARMUP_DAYS:]
    panel = demo.long_table(sim.close, sim.high, sim.low, sim.volume, dates=kept,
                            keep_from=demo.WARMUP_DAYS, clusters=sim.clusters)
    prices = folder(tmp_path, "prices")
    for symbol in sim.close.columns:
        write(pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "High": sim.high[symbol],
                            "Low": sim.low[symbol], "Close": sim.close[symbol],
                            "Volume": sim.volume[symbol]}), prices / f"{symbol}.csv")
    frame, _ = build(prices)
    imported = frame[frame["date"] >= kept[0]].reset_index(drop=True)
    columns = [*F.FEATURE_COLUMNS, *F.RETURN_LABEL_FAMILIES]
    pd.testing.assert_frame_equal(imported[["date", "symbol", *columns]],
                                  panel[["date", "symbol", *columns]], check_exact=True)
    assert (imported["structure_state"] == panel["structure_state"]).all()
    assert (imported["vol_band"] == panel["vol_band"]).all()
