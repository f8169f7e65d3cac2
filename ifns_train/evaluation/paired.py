"""Champion against challenger on the same rows: the paired difference of the primary metric.

Why on the rows both scored: two models' recorded test figures differ by their rows (another
window, other symbols, another dataset) as much as by skill, so they cannot be set against each
other. Joined on (date, symbol), both models face the same outcomes; a row whose label differs
between the two tables is an error (two labels, or two datasets, under one key), never a row
silently scored twice.

Why paired: on each bootstrap replicate both models are scored on the same resampled dates
(the champion plays the part of the "baseline" of `intervals`, so the very weights that pair a
model with its baseline pair the two models), and the date noise both models saw cancels in
their difference. The interval is a block bootstrap over dates, blocks never shorter than the
label horizon (neighbouring dates share label days), with the challenger's recorded
`evaluation.bootstrap` settings.

Sign: the difference is the challenger's advantage in the metric's favourable direction
(`compare`): > 0 means the challenger is better, for an AUC or an IC (challenger minus champion)
as for a loss (champion minus challenger).

For a loss (QLIKE, MAE in bps) the Diebold-Mariano statistic (Diebold and Mariano 1995) is
added: the mean of the per-date loss differential d_t = champion's mean loss on date t minus
the challenger's, over its Newey-West (Bartlett) standard error with ``horizon - 1`` lags (an
h-day forecast's errors overlap by h - 1 days), from statsmodels' OLS on a constant with
``cov_type="HAC"``; the two-sided p-value is the normal one (no small-sample correction).

Pure: prediction arrays in, plain JSON out; `registry.champion` reads the tables and applies
the promotion rule, `ifns-admin models compare` shows the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ifns_train.evaluation import intervals
from ifns_train.evaluation.compare import HIGHER_IS_BETTER
from ifns_train.evaluation.evidence import HEADLINE, SERIES_METRICS, date_series
from ifns_train.evaluation.predictions import PredictionArrays
from ifns_train.evaluation.weighted_stats import as_pred, row_metric_stat, series_stat

KEY = ["date", "symbol"]
LABEL_RTOL = 1e-9  # labels of one dataset read twice are equal; this only forgives float noise


class NotComparable(ValueError):
    """Two prediction tables that cannot be compared on shared rows (none shared, a label that
    differs, another metric set): one line naming the models and the row or figure at fault."""


@dataclass(frozen=True)
class SharedRows:
    """The rows both models scored, in (date, symbol) order, with each model's prediction."""

    dates: np.ndarray
    symbols: np.ndarray
    y: np.ndarray
    champion: np.ndarray
    challenger: np.ndarray
    only_champion: int  # rows the champion scored that the challenger did not
    only_challenger: int


def _frame(arrays: PredictionArrays, key: str, name: str) -> pd.DataFrame:
    if key not in arrays.model:
        raise NotComparable(f"{name}: its prediction table has no model:{key} column")
    frame = pd.DataFrame({"date": arrays.dates, "symbol": arrays.symbols, "label": arrays.y,
                          "pred": arrays.model[key]})
    doubled = int(frame.duplicated(KEY).sum())
    if doubled:
        raise NotComparable(f"{name}: {doubled} (date, symbol) row(s) appear twice in its "
                            "prediction table")
    return frame


def _span(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "no rows"
    return (f"{frame['date'].min():%Y-%m-%d}..{frame['date'].max():%Y-%m-%d}, "
            f"{frame['symbol'].nunique()} symbol(s), {len(frame)} rows")


def shared_rows(champion: PredictionArrays, challenger: PredictionArrays, key: str,
                names: tuple[str, str]) -> SharedRows:
    """The rows both scored (see the module docstring); `names` (champion, challenger) are
    how the models are named in an error."""
    a, b = _frame(champion, key, names[0]), _frame(challenger, key, names[1])
    both = a.merge(b, on=KEY, how="inner", suffixes=("_a", "_b")).sort_values(KEY)
    if both.empty:
        raise NotComparable(f"{names[0]} and {names[1]} share no scored rows ({names[0]}: "
                            f"{_span(a)}; {names[1]}: {_span(b)})")
    differ = ~np.isclose(both["label_a"], both["label_b"], rtol=LABEL_RTOL, atol=0.0)
    if differ.any():
        first = both[differ].iloc[0]
        raise NotComparable(
            f"{names[0]} and {names[1]} record different labels on {int(differ.sum())} of "
            f"{len(both)} shared row(s), first {first['date']:%Y-%m-%d} {first['symbol']}: "
            f"{float(first['label_a'])!r} against {float(first['label_b'])!r} (another label or "
            "dataset)")
    return SharedRows(
        dates=both["date"].to_numpy(dtype="datetime64[ns]"),
        symbols=both["symbol"].to_numpy(dtype=object),
        y=both["label_a"].to_numpy(dtype=np.float64),
        champion=both["pred_a"].to_numpy(dtype=np.float64),
        challenger=both["pred_b"].to_numpy(dtype=np.float64),
        only_champion=len(a) - len(both), only_challenger=len(b) - len(both))


def diebold_mariano(differential: np.ndarray, horizon: int) -> dict[str, Any]:
    """DM statistic of a per-date loss differential (champion minus challenger: > 0, the
    challenger's losses are lower) with a Newey-West variance at ``horizon - 1`` lags.

    Returns ``{"statistic", "p_value", "mean", "lags", "dates"}``; statistic and p-value are
    None with fewer than 2 dates or a constant differential (no variance to scale by).
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a positive int, got {horizon!r}")
    d = np.asarray(differential, dtype=np.float64)
    d = d[np.isfinite(d)]
    lags = int(horizon) - 1
    out: dict[str, Any] = {"statistic": None, "p_value": None,
                           "mean": float(d.mean()) if d.size else None, "lags": lags,
                           "dates": int(d.size)}
    if d.size < 2 or np.allclose(d, d.mean(), rtol=1e-9, atol=0.0):  # constant, float noise aside
        return out
    from statsmodels.regression.linear_model import OLS  # ~1 s: a decision's loss metric only

    fit = OLS(d, np.ones(d.size)).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    out["statistic"], out["p_value"] = float(fit.tvalues[0]), float(fit.pvalues[0])
    return out


def _figures(metric: str, rows: SharedRows, options: Mapping[str, Any]
             ) -> tuple[float | None, dict[str, Any], np.ndarray | None]:
    """(champion's figure, the challenger's interval result, per-date loss differential)."""
    if metric in SERIES_METRICS:
        dates, a = date_series(metric, rows.champion, rows.y, rows.dates)
        b = date_series(metric, rows.challenger, rows.y, rows.dates)[1]
        result = intervals.series_interval(b, dates, baseline_values=a, **options)
        return series_stat(a).estimate, result, None
    result = intervals.metric_interval(metric, rows.y, rows.challenger, rows.dates,
                                       baseline_pred=rows.champion, **options)
    codes, n_dates = intervals.date_codes(rows.dates)
    champion = row_metric_stat(metric, rows.y, as_pred(metric, rows.champion, rows.y.shape),
                               codes, n_dates)
    differential = None
    if not HIGHER_IS_BETTER[metric]:
        challenger = row_metric_stat(metric, rows.y,
                                     as_pred(metric, rows.challenger, rows.y.shape), codes,
                                     n_dates)
        differential = champion.per_date - challenger.per_date
    return champion.estimate, result, differential


def paired_comparison(champion: PredictionArrays, challenger: PredictionArrays, *,
                      metric_set: str, metric: str, horizon: int,
                      bootstrap: Mapping[str, Any], names: tuple[str, str]) -> dict[str, Any]:
    """The challenger against the champion on their shared rows (the module docstring).

    ``metric`` is the metric set's primary metric, as the models' evaluation recorded it (one
    of ``evidence.HEADLINE[metric_set]``: the set's table is not imported here, it loads
    torch). ``bootstrap`` holds ``level``, ``reps``, ``seed``, ``block`` (an int is raised to the
    horizon) and ``method``, as ``evaluation.bootstrap``. Returns ``{"metric",
    "higher_is_better", "rows", "dates", "first_date", "last_date", "only_champion",
    "only_challenger", "champion", "challenger"`` (each ``{"name", "figure"}``),
    ``"difference"`` (favourable: > 0 the challenger is better), ``"interval"`` (of the
    difference: low, high, level, method, block, block_rule, reps, seed, skipped, evidence)
    and ``"diebold_mariano"`` (None for a metric where higher is better)}``.
    """
    if metric not in HEADLINE.get(metric_set, {}):
        raise NotComparable(f"no paired comparison of {metric!r} for metric set "
                            f"{metric_set!r}")
    rows = shared_rows(champion, challenger, HEADLINE[metric_set][metric], names)
    block = bootstrap["block"]
    options = {"horizon": horizon, "level": bootstrap["level"], "reps": bootstrap["reps"],
               "seed": bootstrap["seed"], "method": bootstrap["method"],
               "block": block if block == "auto" else max(int(block), int(horizon))}
    champion_figure, result, differential = _figures(metric, rows, options)
    interval = dict(result["improvement"] or {})
    difference = interval.pop("estimate", None)
    interval.pop("significant", None)
    n_dates = intervals.date_codes(rows.dates)[1]
    return {
        "metric": metric,
        "higher_is_better": HIGHER_IS_BETTER[metric],
        "rows": int(rows.y.size), "dates": n_dates,
        "first_date": f"{rows.dates.min().astype('datetime64[D]')}",
        "last_date": f"{rows.dates.max().astype('datetime64[D]')}",
        "only_champion": rows.only_champion, "only_challenger": rows.only_challenger,
        "champion": {"name": names[0], "figure": champion_figure},
        "challenger": {"name": names[1], "figure": result["model"]["estimate"]},
        "difference": difference,
        "interval": interval,
        "diebold_mariano": None if differential is None
        else diebold_mariano(differential, int(horizon)),
    }
