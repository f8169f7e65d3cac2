"""Small fixture files for the importer's tests, made in each test's tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ifns_train.data.ohlcv import ImportOptions, OhlcvError, build_ohlcv_dataset

N = 160  # rows per symbol: 120 warm-up rows + 40 written
DIRECTION = "Label_Direction_Horizon_20d_V1"
RETURN = "Label_ReturnContinuous_Horizon_20d_V1"
RVOL = "Label_RealizedVol_Horizon_20d_V1"
PRICES = ["Open", "High", "Low", "Close"]


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


def write(frame: pd.DataFrame, path: Path, index: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=index)
    return path


def build(*paths: Path, **options) -> tuple[pd.DataFrame, dict]:
    built = build_ohlcv_dataset(paths, ImportOptions(**options))
    return built.frame, built.report


def folder(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


def raises(match_all: list[str], fn, *args, exc: type[Exception] = OhlcvError, **kw) -> str:
    """The message of the error `fn` raises; every part of `match_all` must be in it."""
    with pytest.raises(exc) as info:
        fn(*args, **kw)
    message = str(info.value)
    for part in match_all:
        assert part in message, (part, message)
    return message


def problem_lines(message: str) -> list[str]:
    """The listed problems of an import error (the lines under the first)."""
    return [line.strip() for line in message.splitlines()[1:] if not line.startswith("  (")]


def split_at(raw: pd.DataFrame, at: int, ratio: float = 2.0) -> pd.DataFrame:
    """`raw` with an unadjusted `ratio`:1 split at row `at` left in: the earlier prices times
    `ratio`, their volume divided by it."""
    out = raw.copy()
    out.loc[: at - 1, PRICES] = raw.loc[: at - 1, PRICES] * ratio
    out.loc[: at - 1, "Volume"] = raw.loc[: at - 1, "Volume"] / ratio
    return out
