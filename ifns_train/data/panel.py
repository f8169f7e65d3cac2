"""Wide prices -> the long Stage 02 table: the one step shared by the demo and the importer.

Why one place: a model trained on the demo panel and one trained on imported prices must see
the same columns under the same definitions, so the features, the label families (and which
forward label each family id names) and the context rules are assembled here once, and the
demo generator (`demo.generate_panel`) and the OHLCV importer (`ohlcv.derive`) only say which
cells of their wide frames become table rows.

Wide frames have one row per trading row and one column per symbol (`features` computes on
them column by column). The table's rows are cells of those frames, given as `rows` and `cols`
(trading row and symbol position of each table row, in table order). The context needs the
whole cross-section, so it is computed once for all table rows (`context_columns`): the
importer derives its features in chunks of symbols and its context at the end.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from ifns_train.data.features import (
    CONTEXT_COLUMNS,
    HL_SPREAD_LABEL,
    LABEL_HORIZON_DAYS,
    RETURN_LABEL_FAMILIES,
    cluster_names,
    compute_features,
    forward_return_labels,
    hl_spread_bps,
    regime_tags,
    structure_states,
    vol_bands,
)


def return_labels(close: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The forward-return label families as wide frames: the one mapping from a family id to its
    forward label (the family's ``kind`` names the `forward_return_labels` output)."""
    forward = forward_return_labels(close, LABEL_HORIZON_DAYS)
    return {name: forward[meta["kind"]] for name, meta in RETURN_LABEL_FAMILIES.items()}


def wide_columns(
    close: pd.DataFrame,
    high: pd.DataFrame,
    low: pd.DataFrame,
    volume: pd.DataFrame | None,
    *,
    spread_label: bool = False,
    extra_labels: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, pd.DataFrame]:
    """Every feature, then the label columns, as wide frames in table column order.

    Labels: the forward-return families, the high-low spread label if `spread_label`, then
    `extra_labels` (e.g. the demo's execution cost). A flat window gives 0/0 or log(0): the
    value is NaN or inf, which the caller checks, so numpy's warnings are silenced here.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        columns = compute_features(close, high, low, volume)
        columns.update(return_labels(close))
        if spread_label:
            columns[HL_SPREAD_LABEL] = hl_spread_bps(high, low, close)
    columns.update(extra_labels or {})
    return columns


def take_cells(
    wide: Mapping[str, pd.DataFrame], rows: np.ndarray, cols: np.ndarray
) -> dict[str, np.ndarray]:
    """The value of each wide frame at each table row's (trading row, symbol) cell."""
    return {name: frame.to_numpy(np.float64)[rows, cols] for name, frame in wide.items()}


def states(features: Mapping[str, np.ndarray]) -> np.ndarray:
    """The structure state of each table row from its feature values (`structure_states`)."""
    return structure_states(
        features["struct_swing_score"],
        features["trend_px_vs_ma60"],
        features["struct_breakout_up_20d"],
        features["struct_breakout_dn_20d"],
    )


def context_columns(
    structure_state: np.ndarray,
    *,
    market: pd.Series,
    vol_by_date: pd.DataFrame,
    date_pos: np.ndarray,
    symbol_pos: np.ndarray,
    clusters: np.ndarray,
) -> dict[str, np.ndarray]:
    """The four context columns of the table rows (object arrays of shared str).

    `structure_state` is `states` of the table rows; `market` (the equal-weighted mean daily
    log return) and `vol_by_date` (vol_20d, date x symbol, of every row of the panel, written
    or not) are on one date axis, and `date_pos`/`symbol_pos` place each table row on it;
    `clusters` gives each symbol's static cluster number.
    """
    return {
        "regime_tag": regime_tags(market)[date_pos],
        "structure_state": structure_state,
        "vol_band": vol_bands(vol_by_date)[date_pos, symbol_pos],
        "symbol_cluster": cluster_names(clusters)[symbol_pos],
    }


# What ``astype(str)`` gives: pandas' Arrow-backed str (pandas 3), else object.
_STR = pd.Series(["x"], dtype=object).astype(str).dtype


def _as_str(values: np.ndarray) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """An object array of a few distinct str as the table's str column: what ``astype(str)``
    gives, built through an Arrow dictionary (half the time on millions of rows)."""
    if not (isinstance(_STR, pd.StringDtype) and _STR.storage == "pyarrow"):
        return pd.Series(values, dtype=object).astype(str).to_numpy()
    codes, names = pd.factorize(values)
    encoded = pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(np.int32)), pa.array([str(n) for n in names], pa.large_string())
    )
    return pd.array(encoded.cast(pa.large_string()), dtype=_STR)


def table_frame(
    date: np.ndarray, symbol: np.ndarray, columns: Mapping[str, np.ndarray]
) -> pd.DataFrame:
    """The Stage 02 table: date (datetime64[ns]), symbol, then `columns` as given; the symbol and
    context columns as str. The float arrays are used as they are, not copied."""
    text = {"symbol", *CONTEXT_COLUMNS}
    data = {"date": date.astype("datetime64[ns]", copy=False), "symbol": symbol, **columns}
    return pd.DataFrame(
        {name: _as_str(values) if name in text else values for name, values in data.items()},
        copy=False,
    )


def long_table(
    close: pd.DataFrame,
    high: pd.DataFrame,
    low: pd.DataFrame,
    volume: pd.DataFrame | None,
    *,
    dates: pd.DatetimeIndex,
    keep_from: int,
    clusters: np.ndarray,
    extra_labels: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """A panel whose symbols share one calendar (wide row t is date t for every symbol) as the
    long table: the rows from `keep_from` on (dated `dates`), sorted by date then symbol; the
    market is the mean of the symbols' daily log returns."""
    wide = wide_columns(close, high, low, volume, extra_labels=extra_labels)
    n_symbols = close.shape[1]
    rows = np.repeat(np.arange(keep_from, len(close)), n_symbols)
    cols = np.tile(np.arange(n_symbols), len(close) - keep_from)
    columns = take_cells(wide, rows, cols)
    columns.update(context_columns(
        states(columns),
        market=np.log(close).diff().mean(axis=1),
        vol_by_date=wide["vol_20d"],
        date_pos=rows,
        symbol_pos=cols,
        clusters=clusters,
    ))
    symbols = np.array([str(c) for c in close.columns], dtype=object)
    return table_frame(np.repeat(dates.to_numpy(), n_symbols), symbols[cols], columns)
