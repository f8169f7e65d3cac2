"""The numbers of the pictures drawn into each model's `curves/` folder, one split at a time.

Pure: a split's prediction arrays and its report (the `metrics.json` content of that split)
in, one `Picture` per picture out, whose `data` is what the picture's JSON holds (the numbers
drawn, the title and the axis labels; JSON-ready, None where a figure is undefined): the run
records that JSON (`run.curves`) and the image is drawn from it alone, later and elsewhere
(`run.curve_drawing`), adding nothing but ink. Per metric set (`PICTURES`):

* directional, overlay: `reliability_<split>`: the reliability curves of the model and each
  baseline (the report's bins), the model's rows per bin, and its calibration error (ECE)
  with a block-bootstrap interval over dates (`intervals.metric_interval("ece", ...)`);
* return: `deciles_<split>`: the mean realised label per bucket of the model's forecast,
  ranked on each date (10 buckets, fewer when dates hold fewer names); and
  `cumulative_ic_<split>`: the cumulative per-date IC and rank IC (`evidence.per_date_ic`,
  undefined dates skipped);
* risk: `vol_forecast_<split>`: realised against forecast volatility, log-log, by regime;
* cost: `cost_forecast_<split>`: realised against predicted cost in bps;
* every set: `regime_improvement_<split>`: the primary metric's improvement over the best
  baseline per regime_tag, with its interval (`slice_intervals`; the report's point figures
  without one on a split without intervals).

For the test split alone (`TEST_PICTURES`): `score_distribution_test` (directional, overlay:
P(up) by realised class, `score_distribution`), `return_forecast_test` (return: realised
against forecast, pooled), `equity_curve_test` (the trading proxy's cumulative return and
drawdown after costs, model against the best baseline, `equity_curve`) and
`primary_over_time_test` (the primary figure per month or quarter with its interval,
`period_figures`). The learning curves are one per run (`learning_curve`, drawn by the
recorder).

A scatter's JSON holds its points too, so that the JSON alone draws it: a seeded subsample of
at most `MAX_POINTS`, each value to `POINT_DIGITS` significant digits (finer than a pixel of
the picture, and half the bytes), the group of each point as an index into `groups`. Odd
data (one class, constant forecasts, a tiny universe, non-positive volatilities) gives a
picture with a `note`, never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ifns_train.evaluation.compare import HIGHER_IS_BETTER
from ifns_train.evaluation.equity_curve import equity_curve_data
from ifns_train.evaluation.evidence import per_date_ic
from ifns_train.evaluation.intervals import metric_interval
from ifns_train.evaluation.period_figures import period_figures_data
from ifns_train.evaluation.predictions import PredictionArrays
from ifns_train.evaluation.promotion import best_in_cell
from ifns_train.evaluation.regression import IC_MIN_NAMES
from ifns_train.evaluation.score_distribution import class_histograms

N_BUCKETS = 10
MAX_POINTS = 20_000
POINTS_SEED = 0
POINT_DIGITS = 6
REGIME = "regime_tag"


@dataclass
class Picture:
    """One picture: `name` is the file stem, `kind` the drawing, `data` its numbers."""

    name: str
    kind: str
    data: dict[str, Any]


Builder = Callable[[str, PredictionArrays, Mapping[str, Any], Mapping[str, Any]], Picture]


def _num(value: Any) -> float | None:
    """A plain float, None for None, NaN or inf."""
    if value is None:
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _date_text(value: Any) -> str:
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, "D"))
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value)


# --- buckets ---------------------------------------------------------------------------------


def rank_buckets(values: np.ndarray, groups: np.ndarray, k: int) -> np.ndarray:
    """Bucket 0..k-1 of each value within its group: floor((rank - 1/2) k / n), the average
    rank of ties (tied values share a bucket), n the group's size."""
    frame = pd.DataFrame({"g": groups, "v": values})
    rank = frame.groupby("g")["v"].rank(method="average").to_numpy()
    n = frame.groupby("g")["v"].transform("size").to_numpy()
    return np.clip(np.floor((rank - 0.5) * k / n), 0, k - 1).astype(np.int64)


def _bins(bucket: np.ndarray, pred: np.ndarray, real: np.ndarray, k: int
          ) -> list[dict[str, Any]]:
    rows = np.bincount(bucket, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pred = np.bincount(bucket, pred, minlength=k) / rows
        mean_real = np.bincount(bucket, real, minlength=k) / rows
    return [{"bucket": b + 1, "rows": int(rows[b]), "mean_pred": _num(mean_pred[b]),
             "mean_realised": _num(mean_real[b])} for b in range(k)]


def decile_data(pred: np.ndarray, y: np.ndarray, dates: np.ndarray) -> dict[str, Any]:
    """The mean realised label per forecast bucket, the forecast ranked on each date into
    `N_BUCKETS` buckets, or as many as the median date's names allow (at least 2)."""
    pred, y = np.asarray(pred, np.float64), np.asarray(y, np.float64)
    ok = np.isfinite(pred) & np.isfinite(y)
    codes, _ = pd.factorize(pd.Series(np.asarray(dates)[ok]), sort=True)
    names = np.bincount(codes) if codes.size else np.zeros(0, np.int64)
    usable = np.flatnonzero(names >= 2)
    out: dict[str, Any] = {"buckets": 0, "overall_mean": None, "deciles": [], "note": None}
    if usable.size == 0:
        out["note"] = "no date has 2 or more names to rank"
        return out
    k = int(min(N_BUCKETS, max(2, np.median(names[usable]))))
    keep = np.isin(codes, usable)
    p, r, c = pred[ok][keep], y[ok][keep], codes[keep]
    bucket = rank_buckets(p, c, k)
    bins = _bins(bucket, p, r, k)
    notes = []
    if k < N_BUCKETS:
        notes.append(f"{k} buckets: the median date has {int(np.median(names[usable]))} names")
    filled = sum(b["rows"] > 0 for b in bins)
    if filled < k:
        notes.append(f"{filled} of {k} buckets hold rows: tied forecasts share a bucket")
    skipped = int(names.size - usable.size)
    if skipped:
        notes.append(f"{skipped} dates with a single name left out")
    out.update(buckets=k, overall_mean=_num(r.mean()), deciles=bins,
               note="; ".join(notes) or None)
    return out


# --- pictures --------------------------------------------------------------------------------


def reliability(split: str, arrays: PredictionArrays, report: Mapping[str, Any],
                spec: Mapping[str, Any]) -> Picture:
    # `spec`: the recorded `EvaluationSpec` (as_dict), whose bootstrap and bins are the run's.
    boot = spec["bootstrap"]
    model = report["model"]
    note = None
    ece: dict[str, Any] = {"estimate": _num(model.get("ece")), "low": None, "high": None,
                           "level": boot["level"]}
    try:
        interval = metric_interval(
            "ece", arrays.y, arrays.model["prob"], arrays.dates,
            horizon=int(spec["horizon_days"]), n_bins=int(spec["n_bins"]),
            **{k: boot[k] for k in ("level", "reps", "seed", "block", "method")})
        model_interval = interval["model"]
        assert model_interval is not None  # only "improvement" can be None
        ece.update({k: model_interval[k] for k in ("estimate", "low", "high", "level",
                                                    "block", "reps", "skipped")})
        if ece["low"] is None:
            note = "no ECE interval: too few dates (or replicates) to resample"
    except ValueError as exc:
        note = f"no ECE interval: {exc}"
    classes = np.unique(arrays.y)
    if classes.size == 1:
        note = "; ".join(filter(None, [f"every label is {classes[0]:g} (one class)", note]))
    level = ece["level"]
    est = ece["estimate"]
    title = f"{split}: reliability, model ECE " + ("n/a" if est is None else f"{est:.4f}")
    if ece["low"] is not None:
        title += f" [{ece['low']:.4f}, {ece['high']:.4f}] ({level:.0%})"
    curves = {"model": list(model.get("reliability") or []),
              **{b: list(r.get("reliability") or []) for b, r in report["baselines"].items()}}
    return Picture(f"reliability_{split}", "reliability", {
        "title": title, "xlabel": "predicted P(up)", "ylabel": "observed up-rate",
        "count_label": "model rows per bin", "ece": ece,
        "ece_baselines": {b: _num(r.get("ece")) for b, r in report["baselines"].items()},
        "curves": curves, "note": note})


def deciles(split: str, arrays: PredictionArrays, report: Mapping[str, Any],
            spec: Mapping[str, Any]) -> Picture:
    data = decile_data(arrays.model["pred"], arrays.y, arrays.dates)
    return Picture(f"deciles_{split}", "deciles", {
        "title": f"{split}: realised return by forecast bucket (ranked per date)",
        "xlabel": f"forecast bucket (1 = lowest of {data['buckets']})",
        "ylabel": "mean realised label", **data})


def cumulative_ic_data(pred: np.ndarray, y: np.ndarray, dates: np.ndarray) -> dict[str, Any]:
    """The running sums of the per-date IC and rank IC over the dates where both are defined."""
    if len(y) == 0:
        days, ic, rank_ic = np.empty(0), np.empty(0), np.empty(0)
    else:
        days, ic, rank_ic = per_date_ic(np.asarray(pred, np.float64),
                                        np.asarray(y, np.float64), np.asarray(dates))
    keep = np.isfinite(ic) & np.isfinite(rank_ic)
    note = None
    if not keep.any():
        note = (f"no date with the IC defined (at least {IC_MIN_NAMES} names and neither "
                "forecast nor label constant)")
    return {"dates": [_date_text(d) for d in days[keep]],
            "cumulative_ic": [float(v) for v in np.cumsum(ic[keep])],
            "cumulative_rank_ic": [float(v) for v in np.cumsum(rank_ic[keep])],
            "dates_used": int(keep.sum()), "dates_skipped": int((~keep).sum()), "note": note}


def cumulative_ic(split: str, arrays: PredictionArrays, report: Mapping[str, Any],
                  spec: Mapping[str, Any]) -> Picture:
    data = cumulative_ic_data(arrays.model["pred"], arrays.y, arrays.dates)
    return Picture(f"cumulative_ic_{split}", "cumulative_ic", {
        "title": f"{split}: cumulative per-date IC ({data['dates_used']} dates)",
        "xlabel": "date", "ylabel": "cumulative sum of the per-date IC", **data})


def _significant(values: np.ndarray, digits: int) -> list[float]:
    """`values` to `digits` significant digits, as JSON numbers (short: 0.0123457, not
    0.012345678901234)."""
    scale = np.zeros(values.shape)
    nonzero = values != 0
    scale[nonzero] = np.floor(np.log10(np.abs(values[nonzero])))
    factor = 10.0 ** (digits - 1 - scale)
    return (np.round(values * factor) / factor).tolist()


def scatter_data(pred: np.ndarray, real: np.ndarray, groups: np.ndarray | None, *,
                 log: bool) -> dict[str, Any]:
    """Per group and overall ("all"), the mean forecast and mean realised value per forecast
    decile (deciles of the whole split); and a seeded subsample of the points."""
    pred, real = np.asarray(pred, np.float64), np.asarray(real, np.float64)
    ok = np.isfinite(pred) & np.isfinite(real)
    if log:
        ok &= (pred > 0) & (real > 0)
    labels = (np.full(pred.size, "all", dtype=object) if groups is None
              else np.array([str(g) for g in groups], dtype=object))
    p, r, g = pred[ok], real[ok], labels[ok]
    dropped = int(pred.size - p.size)
    notes = []
    if dropped:
        why = "not finite" + (" or not positive (log scale)" if log else "")
        notes.append(f"{dropped} rows left out: {why}")
    data: dict[str, Any] = {"scale": "log" if log else "linear", "rows": int(p.size),
                            "rows_left_out": dropped, "buckets": 0, "bins": {}}
    points: dict[str, list[Any]] = {"groups": [], "group": [], "x": [], "y": []}
    if p.size == 0:
        notes.append("no row to draw")
    else:
        k = int(min(N_BUCKETS, p.size))
        bucket = rank_buckets(p, np.zeros(p.size, np.int64), k)
        data["buckets"] = k
        data["bins"]["all"] = _bins(bucket, p, r, k)
        if groups is not None:
            for value in sorted(set(g)):
                sel = g == value
                data["bins"][value] = _bins(bucket[sel], p[sel], r[sel], k)
        if np.all(p == p[0]):
            notes.append("the forecast is constant: one bucket")
        idx = np.arange(p.size)
        if p.size > MAX_POINTS:
            rng = np.random.default_rng(POINTS_SEED)
            idx = np.sort(rng.choice(p.size, MAX_POINTS, replace=False))
        names, codes = np.unique(g[idx], return_inverse=True)
        points = {"groups": [str(n) for n in names], "group": codes.tolist(),
                  "x": _significant(p[idx], POINT_DIGITS),
                  "y": _significant(r[idx], POINT_DIGITS)}
    data.update(points_drawn=len(points["x"]), points_seed=POINTS_SEED,
                note="; ".join(notes) or None, points=points)
    return data


def vol_forecast(split: str, arrays: PredictionArrays, report: Mapping[str, Any],
                 spec: Mapping[str, Any]) -> Picture:
    data = scatter_data(arrays.model["pred"], arrays.y, arrays.context.get(REGIME),
                                log=True)
    return Picture(f"vol_forecast_{split}", "scatter", {
        "title": f"{split}: realised vs forecast volatility (means per forecast decile)",
        "xlabel": "forecast volatility", "ylabel": "realised volatility", **data})


def cost_forecast(split: str, arrays: PredictionArrays, report: Mapping[str, Any],
                  spec: Mapping[str, Any]) -> Picture:
    data = scatter_data(arrays.model["pred"], arrays.y, None, log=False)
    return Picture(f"cost_forecast_{split}", "scatter", {
        "title": f"{split}: realised vs predicted cost (means per predicted decile)",
        "xlabel": "predicted cost (bps)", "ylabel": "realised cost (bps)", **data})


def regime_improvement_data(report: Mapping[str, Any]) -> dict[str, Any]:
    """Per regime_tag: the primary metric's improvement over the regime's best baseline
    (positive: the model is better) with its interval and evidence word from
    `slice_intervals`; without intervals on this split, the slices' point figures."""
    primary = report["primary_metric"]
    cells = report.get("slices", {}).get(REGIME, {})
    has_intervals = "slice_intervals" in report
    intervals = (report.get("slice_intervals") or {}).get(REGIME, {})
    regimes = []
    for value, cell in cells.items():
        interval = intervals.get(value)
        if interval is not None:
            baseline, estimate = interval.get("baseline"), interval.get("estimate")
            low, high, word = interval.get("low"), interval.get("high"), \
                interval.get("evidence")
        else:
            baseline = best_in_cell(cell, primary)
            estimate = (cell.get("improvement", {}).get(baseline, {}).get(primary)
                        if baseline else None)
            low = high = word = None
        regimes.append({"regime": value, "rows": cell.get("rows"),
                        "small_slice": cell.get("small_slice"), "baseline": baseline,
                        "estimate": _num(estimate), "low": _num(low), "high": _num(high),
                        "evidence": word})
    notes = []
    if not cells:
        notes.append(f"no {REGIME} slices on this split")
    elif not has_intervals:
        notes.append("no intervals on this split (the bootstrap runs on the test split)")
    undefined = sum(r["estimate"] is None for r in regimes)
    if undefined:
        notes.append(f"{undefined} of {len(regimes)} regimes without a figure ({primary} "
                     "undefined there, e.g. one class or a constant forecast)")
    if any(r["small_slice"] for r in regimes):
        notes.append("small slices make no claim of significance")
    return {"metric": primary, "higher_is_better": HIGHER_IS_BETTER.get(primary),
            "level": next((i.get("level") for i in intervals.values()), None),
            "regimes": regimes, "note": "; ".join(notes) or None}


def regime_improvement(split: str, arrays: PredictionArrays, report: Mapping[str, Any],
                       spec: Mapping[str, Any]) -> Picture:
    data = regime_improvement_data(report)
    return Picture(f"regime_improvement_{split}", "regime_improvement", {
        "title": f"{split}: {data['metric']} improvement over the best baseline by regime "
                 "(+: better)",
        "xlabel": REGIME, "ylabel": f"{data['metric']} improvement", **data})


def return_forecast(split: str, arrays: PredictionArrays, report: Mapping[str, Any],
                    spec: Mapping[str, Any]) -> Picture:
    data = scatter_data(arrays.model["pred"], arrays.y, None, log=False)
    return Picture(f"return_forecast_{split}", "scatter", {
        "title": f"{split}: realised vs forecast return (means per forecast decile, pooled)",
        "xlabel": "forecast return", "ylabel": "realised return", **data})


def score_distribution(split: str, arrays: PredictionArrays, report: Mapping[str, Any],
                       spec: Mapping[str, Any]) -> Picture:
    data = class_histograms(arrays.model["prob"], arrays.y)
    slope = data["discrimination_slope"]
    return Picture(f"score_distribution_{split}", "score_distribution", {
        "title": f"{split}: predicted P(up) by realised class"
                 + ("" if slope is None else f" (mean gap {slope:+.4f})"),
        "xlabel": "predicted P(up)", "ylabel": "share of the class's rows", **data})


def equity_curve(split: str, arrays: PredictionArrays, report: Mapping[str, Any],
                 spec: Mapping[str, Any]) -> Picture:
    proxies = report.get("proxies") or {}
    series = (proxies.get("model") or {}).get("series")
    excess = proxies.get("excess") or {}
    base = excess.get("baseline")
    # metrics.json keeps the model's series and its excess over the best baseline (model less
    # baseline, date by date), not the baseline's own: it is their difference.
    base_net = None if series is None or "series" not in excess else \
        (np.asarray(series["net"]) - np.asarray(excess["series"]["net"])).tolist()
    if series is None:
        data = {**equity_curve_data([], [], None, None, int(spec["horizon_days"])),
                "note": "no trading proxy with its per-date series on this split (the family "
                        "has no realised return to trade, or the split was evaluated without "
                        "intervals)"}
    else:
        data = {**equity_curve_data(series["dates"], series["net"],
                                    base_net, base,
                                    int(proxies["model"]["horizon_days"])),
                "note": f"net of {proxies.get('cost_bps')} bps per unit of turnover; "
                        f"{proxies['model']['horizon_days']} sleeves, one per start offset"}
    return Picture(f"equity_curve_{split}", "equity_curve", {
        "title": f"{split}: trading proxy after costs, model vs "
                 f"{data['baseline'] or 'no baseline'}",
        "xlabel": "date the holding opened", "ylabel": "cumulative return", **data})


def primary_over_time(split: str, arrays: PredictionArrays, report: Mapping[str, Any],
                      spec: Mapping[str, Any]) -> Picture:
    data = period_figures_data(arrays, report, spec["bootstrap"], int(spec["horizon_days"]))
    undefined = sum(p["model"] is None for p in data["periods"])
    note = f"{undefined} period(s) without a figure" if undefined else None
    return Picture(f"primary_over_time_{split}", "primary_over_time", {
        "title": f"{split}: {data['metric']} per {data['period']}, "
                 f"{data['level']:.0%} interval (block bootstrap over dates)",
        "xlabel": data["period"], "ylabel": data["metric"], "note": note, **data})


PICTURES: dict[str, tuple[Builder, ...]] = {
    "directional": (reliability, regime_improvement),
    "overlay": (reliability, regime_improvement),
    "return": (deciles, cumulative_ic, regime_improvement),
    "risk": (vol_forecast, regime_improvement),
    "cost": (cost_forecast, regime_improvement),
}
"""The pictures of each metric set, in drawing order."""

TEST_PICTURES: dict[str, tuple[Builder, ...]] = {
    "directional": (score_distribution, equity_curve, primary_over_time),
    "overlay": (score_distribution, equity_curve, primary_over_time),
    "return": (return_forecast, equity_curve, primary_over_time),
    "risk": (primary_over_time,),
    "cost": (primary_over_time,),
}
"""The pictures drawn for the test split alone (the validation split serves selection): risk
and cost have no trading proxy, and their predicted-against-realised picture is their
`vol_forecast`/`cost_forecast`, drawn for every split."""
