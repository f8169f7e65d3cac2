"""Tests of the embedded demo dataset: contract, timing (no lookahead), realism and the edge."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from ifns_train.core.calendar import TRADING_DAYS_PER_YEAR
from ifns_train.data import demo
from ifns_train.data.__main__ import main
from ifns_train.data.index import fingerprint, load_index, table_path
from ifns_train.data.panel import long_table

SMALL = {"n_symbols": 8, "n_years": 3.0}
DIRECTION = "Label_Direction_Horizon_20d_V1"


def rank_auc(score: np.ndarray, label: np.ndarray) -> float:
    """Mann-Whitney AUC with average ranks, so tied scores (a sign baseline) count half."""
    ranks = pd.Series(np.asarray(score, dtype=float)).rank(method="average").to_numpy()
    pos = np.asarray(label) == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@pytest.fixture(scope="module")
def small_panel() -> pd.DataFrame:
    return demo.generate_panel(seed=7, **SMALL)


def test_rank_auc_helper() -> None:
    y = np.array([0, 0, 1, 1])
    assert rank_auc(np.array([0.1, 0.2, 0.3, 0.4]), y) == 1.0
    assert rank_auc(np.array([0.4, 0.3, 0.2, 0.1]), y) == 0.0
    assert rank_auc(np.ones(4), y) == 0.5


# The demo's fingerprints, pinned: a change to the simulator, the features, the labels, the
# context or the wide-to-long step (`ifns_train.data.panel`) must not move them silently.
FINGERPRINTS = {
    "small": "sha256:8b6c0392e70b00eb4ec42d191645972f489ca1f1e3c3261b12d70e4212142b16",
    "small_seed_7": "sha256:b7181abeecbdbf652c74b3bb95421fed3231679ec28e0d8ea1383115e0b0e3d5",
}


def test_fingerprints_are_pinned(small_panel: pd.DataFrame) -> None:
    assert fingerprint(small_panel)[0] == FINGERPRINTS["small_seed_7"]
    assert fingerprint(demo.generate_panel(**SMALL))[0] == FINGERPRINTS["small"]


def test_deterministic(small_panel: pd.DataFrame) -> None:
    again = demo.generate_panel(seed=7, **SMALL)
    pd.testing.assert_frame_equal(small_panel, again)
    assert fingerprint(again)[0] == fingerprint(small_panel)[0]
    other = demo.generate_panel(seed=8, **SMALL)
    assert fingerprint(other)[0] != fingerprint(small_panel)[0]


def test_contract(small_panel: pd.DataFrame) -> None:
    frame = small_panel
    expected = ["date", "symbol", *demo.FEATURE_COLUMNS, *demo.LABEL_COLUMNS, *demo.CONTEXT_COLUMNS]
    assert list(frame.columns) == expected
    assert isinstance(frame.index, pd.RangeIndex)
    assert frame["date"].dtype == np.dtype("datetime64[ns]")
    for col in demo.FEATURE_COLUMNS + demo.LABEL_COLUMNS:
        assert frame[col].dtype == np.float64, col
    for col in ["symbol", *demo.CONTEXT_COLUMNS]:
        assert pd.api.types.is_string_dtype(frame[col]), col
        assert frame[col].map(type).eq(str).all(), col

    n_days = round(SMALL["n_years"] * TRADING_DAYS_PER_YEAR)
    assert frame["date"].nunique() == n_days
    assert frame["symbol"].nunique() == SMALL["n_symbols"]
    assert len(frame) == n_days * SMALL["n_symbols"]
    assert not frame.duplicated(["date", "symbol"]).any()
    resorted = frame.sort_values(["date", "symbol"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(frame, resorted)
    assert (frame["date"].dt.day_of_week < 5).all()
    assert frame["date"].min() == pd.Timestamp("2014-01-02")

    # Families: prefixes, no overlap, label metadata consistent with the columns.
    prefixes = {
        "Feature_TREND_MTF_V1": "trend_",
        "Feature_VOL_LIQ_V1": "vol_",
        "Feature_STRUCTURE_MTF_V1": "struct_",
    }
    assert set(demo.FEATURE_FAMILIES) == set(prefixes)
    for family, cols in demo.FEATURE_FAMILIES.items():
        assert 5 <= len(cols) <= 8
        assert all(c.startswith(prefixes[family]) and c == c.lower() for c in cols)
    assert len(set(demo.FEATURE_COLUMNS)) == len(demo.FEATURE_COLUMNS)
    assert "trend_ret_20d" in demo.FEATURE_FAMILIES["Feature_TREND_MTF_V1"]
    for name, meta in demo.LABEL_FAMILIES.items():
        assert meta["column"] == name
        assert set(meta) == {"column", "horizon_days", "kind", "description"}

    values = frame[demo.FEATURE_COLUMNS].to_numpy()
    assert np.isfinite(values).all()
    assert frame[demo.CONTEXT_COLUMNS].notna().all().all()
    assert set(frame["regime_tag"]) <= {"bull_calm", "bull_volatile", "bear_calm", "bear_volatile"}
    assert set(frame["structure_state"]) <= {"uptrend", "downtrend", "range", "breakout"}
    assert set(frame["vol_band"]) == {"low", "mid", "high"}
    assert set(frame["symbol_cluster"]) <= {f"C{i}" for i in range(demo.N_CLUSTERS)}
    assert frame.groupby("symbol")["symbol_cluster"].nunique().eq(1).all()

    # Labels: NaN exactly on the last horizon dates of each symbol, finite elsewhere.
    dates = np.sort(frame["date"].unique())
    for name, meta in demo.LABEL_FAMILIES.items():
        unknown = frame["date"].isin(dates[-meta["horizon_days"] :])
        col = frame[name]
        assert col[unknown].isna().all(), name
        assert np.isfinite(col[~unknown].to_numpy()).all(), name
    assert set(frame[DIRECTION].dropna().unique()) == {0.0, 1.0}
    assert (frame["Label_ExecCost_Bps_Horizon_1d_V1"].dropna() > 0).all()


def test_vol_band_is_a_cross_sectional_tercile(small_panel: pd.DataFrame) -> None:
    order = {"low": 0, "mid": 1, "high": 2}
    for _, day in small_panel.groupby("date"):
        band = day["vol_band"].map(order).to_numpy()
        vol = day["vol_20d"].to_numpy()
        assert np.all(np.diff(band[np.argsort(vol)]) >= 0)
        assert np.bincount(band, minlength=3).tolist() == [3, 2, 3]  # 8 symbols


def test_default_splits(small_panel: pd.DataFrame) -> None:
    splits = demo.default_splits(small_panel)
    assert list(splits) == ["train", "val", "test"]
    dates = pd.DatetimeIndex(np.sort(small_panel["date"].unique()))
    counts = []
    previous_end = None
    for start, end in splits.values():
        start, end = pd.Timestamp(start), pd.Timestamp(end)
        assert start <= end
        if previous_end is not None:
            # contiguous: the next split starts on the trading day after the previous ends
            assert dates.get_loc(start) == dates.get_loc(previous_end) + 1
        previous_end = end
        counts.append(int(((dates >= start) & (dates <= end)).sum()))
    assert pd.Timestamp(splits["train"][0]) == dates[0]
    assert pd.Timestamp(splits["test"][1]) == dates[-1]
    assert sum(counts) == len(dates)
    shares = np.array(counts) / len(dates)
    assert np.allclose(shares, [0.6, 0.2, 0.2], atol=0.01)


def test_forward_labels_by_hand() -> None:
    close = pd.DataFrame({"A": [100.0, 110.0, 99.0, 99.0, 121.0]})
    out = demo.forward_return_labels(close, horizon=2)
    ann = math.sqrt(252)
    # forward 2-day log returns: 99/100, 99/110, 121/99, then unknown
    expected_ret = [math.log(0.99), math.log(0.9), math.log(121 / 99), np.nan, np.nan]
    np.testing.assert_allclose(out["return"]["A"], expected_ret, rtol=1e-12)
    np.testing.assert_array_equal(out["direction"]["A"], [0.0, 0.0, 1.0, np.nan, np.nan])
    # sample std (ddof=1) of two numbers x, y is |x - y| / sqrt(2)
    r1, r2, r3, r4 = math.log(1.1), math.log(0.9), 0.0, math.log(121 / 99)
    expected_vol = [
        abs(r1 - r2) / math.sqrt(2) * ann,
        abs(r2 - r3) / math.sqrt(2) * ann,
        abs(r3 - r4) / math.sqrt(2) * ann,
        np.nan,
        np.nan,
    ]
    np.testing.assert_allclose(out["realized_vol"]["A"], expected_vol, rtol=1e-12)


def test_twenty_day_labels_on_known_path() -> None:
    # Daily log returns +2%, -1% alternating: 20 of them sum to +10%, std is known.
    daily = np.tile([0.02, -0.01], 15)
    close = pd.DataFrame({"A": 50.0 * np.exp(np.concatenate([[0.0], np.cumsum(daily)]))})
    ones = pd.DataFrame({"A": np.ones(len(close))})
    labels = demo.compute_labels(close, close * 1.01, close * 0.99, ones * 1e6, ones * 0.0)
    assert labels[DIRECTION]["A"].iloc[0] == 1.0
    assert labels["Label_ReturnContinuous_Horizon_20d_V1"]["A"].iloc[0] == pytest.approx(0.10)
    # 10 x +0.02 and 10 x -0.01: mean 0.005, deviations +-0.015, ddof=1 over 20 values
    expected_sd = math.sqrt(20 * 0.015**2 / 19) * math.sqrt(252)
    rv = labels["Label_RealizedVol_Horizon_20d_V1"]["A"]
    assert rv.iloc[0] == pytest.approx(expected_sd)
    assert rv.iloc[: len(close) - 20].notna().all() and rv.iloc[len(close) - 20 :].isna().all()


def test_execution_cost_by_hand() -> None:
    sigma = 0.02
    range_log = sigma * 2.0 * math.sqrt(math.log(2.0))  # Parkinson: sigma = ln(H/L) / (2 sqrt ln2)
    close = pd.DataFrame({"A": [100.0, 100.0, 100.0]})
    high = close * math.exp(range_log / 2)
    low = close * math.exp(-range_log / 2)
    volume = pd.DataFrame({"A": [1e4, 1e6, 1e6]})  # dollar volume 1e8 on days 1 and 2
    noise = pd.DataFrame({"A": [5.0, 0.0, 1.0]})
    # half-spread 1 + 0.02 * 200 * 1 = 5 bps; impact 1e4 * 0.8 * 0.02 * sqrt(1e6 / 1e8) = 16 bps
    base = 5.0 + 16.0
    cost = demo.compute_labels(close, high, low, volume, noise)["Label_ExecCost_Bps_Horizon_1d_V1"]
    # the label at t is the cost of executing at t+1, with t+1's noise
    assert cost["A"].iloc[0] == pytest.approx(base * math.exp(-0.5 * 0.3**2))
    assert cost["A"].iloc[1] == pytest.approx(base * math.exp(0.3 - 0.5 * 0.3**2))
    assert np.isnan(cost["A"].iloc[2])


def test_no_lookahead() -> None:
    # The demo's own path from wide prices to the long table, on the whole history and on its
    # first `cut` days: every feature and context value up to the cut must be the same.
    sim = demo.simulate_market(n_symbols=8, n_days=420, seed=3)
    cut, keep_from = 300, 200
    dates = pd.bdate_range("2020-01-01", periods=420)

    def table(n: int) -> pd.DataFrame:
        wide = (x.iloc[:n] for x in (sim.close, sim.high, sim.low, sim.volume))
        return long_table(*wide, dates=dates[keep_from:n], keep_from=keep_from,
                          clusters=sim.clusters)

    full, part = table(420), table(cut)
    head = full.iloc[: len(part)].reset_index(drop=True)
    assert (head["date"] == part["date"]).all() and part["date"].max() == dates[cut - 1]
    for name in [*demo.FEATURE_COLUMNS, *demo.CONTEXT_COLUMNS]:
        pd.testing.assert_series_equal(part[name], head[name], check_exact=True)
        assert head[name].notna().all(), name  # the comparison is not vacuous
    # and the labels do look forward: truncation changes them near the cut
    last = part["date"] == dates[cut - 1]
    assert part.loc[last, DIRECTION].isna().all() and head.loc[last, DIRECTION].notna().all()


def test_stylized_facts() -> None:
    sim = demo.simulate_market(n_symbols=16, n_days=1500, seed=11)
    returns = np.log(sim.close).diff().iloc[1:].to_numpy()
    z = (returns - returns.mean(0)) / returns.std(0)
    excess_kurtosis = (z**4).mean(0) - 3.0
    assert excess_kurtosis.mean() > 1.0  # fat tails
    absolute = np.abs(returns) - np.abs(returns).mean(0)
    acf1 = (absolute[1:] * absolute[:-1]).mean(0) / absolute.var(0)
    assert acf1.mean() > 0.05  # volatility clustering
    corr = np.corrcoef(returns.T)[np.triu_indices(16, 1)]
    assert corr.mean() > 0.05  # common market factor
    # volume rises with |return|
    log_volume = np.log(sim.volume).iloc[1:].to_numpy()
    assert np.corrcoef(log_volume.ravel(), np.abs(returns).ravel())[0, 1] > 0.05
    # the hidden regime actually switches
    assert len(np.unique(sim.regime)) >= 2


def _fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    xt, yt = torch.tensor(x), torch.tensor(y)
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt)
        loss = loss + 1e-4 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def test_edge_over_naive_baselines() -> None:
    frame = demo.generate_panel()
    splits = demo.default_splits(frame)
    frame = frame[frame[DIRECTION].notna()]

    def part(name: str) -> pd.DataFrame:
        lo, hi = (pd.Timestamp(d) for d in splits[name])
        return frame[(frame["date"] >= lo) & (frame["date"] <= hi)]

    train, test = part("train"), part("test")
    x_train = train[demo.FEATURE_COLUMNS].to_numpy()
    mean, std = x_train.mean(0), x_train.std(0)
    w, b = _fit_logistic((x_train - mean) / std, train[DIRECTION].to_numpy())
    x_test = torch.tensor((test[demo.FEATURE_COLUMNS].to_numpy() - mean) / std)
    y_test = test[DIRECTION].to_numpy()

    model_auc = rank_auc((x_test @ w + b).numpy(), y_test)
    momentum_auc = rank_auc(np.sign(test["trend_ret_20d"].to_numpy()), y_test)
    prior_auc = rank_auc(np.full(len(y_test), train[DIRECTION].mean()), y_test)
    assert prior_auc == 0.5
    assert 0.52 <= model_auc <= 0.62, (model_auc, momentum_auc)
    assert model_auc > momentum_auc, (model_auc, momentum_auc)


def test_write_demo_and_cli(tmp_path, capsys) -> None:
    registry = tmp_path / "registry"
    entry = demo.write_demo(registry, n_symbols=6, n_years=2.0, seed=5)
    assert entry["dataset_id"] == demo.DEMO_DATASET_ID
    path = table_path(registry, entry)
    assert path.is_file() and path.suffix == ".parquet"
    stored = load_index(registry)["datasets"][demo.DEMO_DATASET_ID]
    assert stored == json.loads(json.dumps(entry))
    assert stored["feature_families"] == demo.FEATURE_FAMILIES
    assert set(stored["label_families"]) == set(demo.LABEL_FAMILIES)
    assert stored["context_columns"] == demo.CONTEXT_COLUMNS
    assert stored["splits"] == demo.default_splits(pd.read_parquet(path))
    assert stored["source"] == {
        "generator": "ifns_train.data.demo",
        "n_symbols": 6,
        "n_years": 2.0,
        "seed": 5,
        "version": 1,
    }
    assert fingerprint(pd.read_parquet(path))[0] == entry["fingerprint"]
    # registering the same content again is a no-op
    assert demo.write_demo(registry, n_symbols=6, n_years=2.0, seed=5) == entry

    cli_registry = tmp_path / "cli"
    rc = main(["demo", "--registry-dir", str(cli_registry), "--symbols", "6", "--years", "2"])
    assert rc == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(demo.DEMO_DATASET_ID) and "rows=3024" in line and "symbols=6" in line
    assert (cli_registry / "datasets" / f"{demo.DEMO_DATASET_ID}.parquet").is_file()


def test_cli_errors_exit_2(tmp_path, capsys) -> None:
    rc = main(["demo", "--registry-dir", str(tmp_path), "--dataset-id", "bad id", "--years", "1"])
    assert rc == 2
    assert "invalid dataset id" in capsys.readouterr().err
    rc = main(["demo", "--registry-dir", str(tmp_path), "--symbols", "0"])
    assert rc == 2
    assert "n_symbols" in capsys.readouterr().err


def test_ewma_volatility_by_hand() -> None:
    # Closes 100, 110, 99: log returns a = ln 1.1, b = ln 0.9.
    close = pd.DataFrame({"A": [100.0, 110.0, 99.0]})
    feats = demo.compute_features(close, close * 1.01, close * 0.99, close * 0 + 1e6)
    a, b = math.log(1.1), math.log(0.9)
    # RiskMetrics recursion seeded with the first squared return: v1 = a², v2 = .94 a² + .06 b².
    expected = [math.sqrt(a * a * 252), math.sqrt((0.94 * a * a + 0.06 * b * b) * 252)]
    assert np.isnan(feats["vol_ewma_094"]["A"].iloc[0])
    assert feats["vol_ewma_094"]["A"].iloc[1:].tolist() == pytest.approx(expected)
