"""The performance matrix of a search: one figure per test date per trial, what the probability
of backtest overfitting (`pbo.cscv`) splits by dates.

Why per date and not the primary metric itself: CSCV recombines halves of the dates, so it needs
a figure that averages over dates. For a primary metric that ranks (`auc`, `rank_ic_mean`, any
higher-is-better metric), the figure is the date's Spearman rank correlation across symbols
between the model's score and the realised label (the per-date rank IC; for a binary label a
rescaled per-date AUC). For a loss (`qlike`, `mae_bps`, ...), it is minus the date's mean loss,
so higher is better throughout. A date where some trial's figure is undefined (one symbol,
a constant score or label) is left out for every trial, so the trials are compared on the same
dates; trials scored on different dates are an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from ifns_train.evaluation.compare import HIGHER_IS_BETTER
from ifns_train.evaluation.predictions import PredictionArrays


def _squared(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (pred - y) ** 2


def _absolute(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.abs(pred - y)


def _qlike(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    log_r = 2.0 * (np.log(y) - np.log(pred))  # as evaluation.risk computes it
    return np.exp(log_r) - log_r - 1.0


def _log_squared(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (np.log(pred) - np.log(y)) ** 2


def _log_loss(prob: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = np.clip(prob, 1e-15, 1 - 1e-15)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


# The per-row loss whose date mean is each loss metric's per-date figure (for the root-mean
# errors, the mean square: a date's root would not average over dates).
ROW_LOSSES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "qlike": _qlike, "mae": _absolute, "mae_bps": _absolute, "rmse": _squared,
    "rmse_bps": _squared, "log_rmse": _log_squared, "brier": _squared,
    "log_loss": _log_loss,
}


def score_of(arrays: PredictionArrays) -> np.ndarray:
    """The model's score: the probability of a directional family, the prediction otherwise."""
    key = "prob" if "prob" in arrays.model else "pred"
    if key not in arrays.model:
        raise ValueError(f"no model:prob or model:pred column (has "
                         f"{', '.join(sorted(arrays.model))})")
    return arrays.model[key]


def _rank_correlation(frame: pd.DataFrame) -> pd.Series:
    """Per date, the Pearson correlation of the within-date ranks of `y` and `s` (Spearman,
    ties averaged), from grouped sums: NaN where either is constant."""
    ranked = frame.groupby("date")[["y", "s"]].rank()
    ranked["yy"], ranked["ss"] = ranked["y"] ** 2, ranked["s"] ** 2
    ranked["ys"] = ranked["y"] * ranked["s"]
    ranked["n"] = 1.0
    sums = ranked.groupby(frame["date"]).sum()
    n = sums["n"]
    cov = sums["ys"] - sums["y"] * sums["s"] / n
    var_y = sums["yy"] - sums["y"] ** 2 / n
    var_s = sums["ss"] - sums["s"] ** 2 / n
    defined = (var_y > 1e-9) & (var_s > 1e-9)
    return (cov / np.sqrt(var_y * var_s)).where(defined)


def per_date_words(primary: str) -> str:
    """What the per-date figure of `primary` is, in the words Admin and the Mirror show."""
    if HIGHER_IS_BETTER.get(primary, True):
        return f"the rank IC of the score against the label (primary metric {primary})"
    return f"minus the mean {primary}"


def per_date_figures(arrays: PredictionArrays, primary: str) -> pd.Series:
    """The figure of each test date (indexed by date, NaN where undefined) for `primary`."""
    if primary not in HIGHER_IS_BETTER:
        raise ValueError(f"primary metric {primary!r} has no direction to rank trials by")
    frame = pd.DataFrame({"date": arrays.dates, "y": arrays.y, "s": score_of(arrays)})
    if HIGHER_IS_BETTER[primary]:
        figures = _rank_correlation(frame)
    else:
        if primary not in ROW_LOSSES:
            raise ValueError(f"no per-row loss for the primary metric {primary!r}")
        frame["loss"] = ROW_LOSSES[primary](frame["s"].to_numpy(), frame["y"].to_numpy())
        figures = -frame.groupby("date")["loss"].mean()
    return figures.astype(np.float64).sort_index()


def performance_matrix(tables: Mapping[str, PredictionArrays], primary: str
                       ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(dates, T x N matrix, trial names) from each trial's test table, on the dates where
    every trial's figure is defined. ValueError naming the trial whose dates differ."""
    names = list(tables)
    series = {name: per_date_figures(tables[name], primary) for name in names}
    first = series[names[0]].index
    for name in names[1:]:
        index = series[name].index
        if len(index) != len(first) or not (index == first).all():
            raise ValueError(f"trial {name} was tested on other dates than {names[0]} "
                             f"({len(index)} against {len(first)} dates)")
    frame = pd.DataFrame(series).dropna()
    if frame.empty:
        raise ValueError(f"none of the {len(first)} test dates has a per-date figure for "
                         f"every trial (fewer than two symbols on each date, or one class of "
                         f"label, or a constant score)")
    return (frame.index.to_numpy(), frame.to_numpy(dtype=np.float64), names)
