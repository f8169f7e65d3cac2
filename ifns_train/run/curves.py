"""The pictures of a model's `curves/` folder: `<name>.png` with `<name>.json` beside it.

`write_curves` is the one writer, called wherever a model's metrics.json is written (the
recorder at training, `ifns-evaluate` when it upgrades the figures, an evaluation on new data):
for each evaluated split, the pictures of its metric set (`evaluation.curve_data.PICTURES`),
the numbers of each (`curve_data`) drawn here and written atomically, the JSON holding exactly
what is drawn with the title and axis labels (a scatter's points, subsampled, are the
exception: its JSON holds the binned means drawn over them); the test split adds the pictures
of `curve_data.TEST_PICTURES`. `write_learning_curves` draws the one picture of a whole run
(the recorder alone: it needs the fit's losses); an evaluation with an `attribution` adds
`feature_attribution` (`run.attribution_curve`). A picture that cannot be drawn is a warning
and is left out, never the run's failure. Small files: 5 x 4 in at 100 dpi, drawn on
fixed margins (`_layout`) with one legend size; drawing is the recording phase's largest cost.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display is needed or wanted
import matplotlib.dates as mdates
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ifns_train.core.files import atomic_write_bytes, atomic_write_json
from ifns_train.evaluation.curve_data import PICTURES, TEST_PICTURES, Picture
from ifns_train.evaluation.learning_curve import learning_curve_data
from ifns_train.evaluation.predictions import PredictionArrays
from ifns_train.run.attribution_curve import attribution_picture, draw_feature_attribution

log = logging.getLogger("ifns_train")

SIZE = (5.0, 4.0)
DPI = 100
LEGEND = 7  # points: readable at 1:1 on the Mirror's 1,400-pixel page
_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
            "tab:pink", "tab:olive", "tab:cyan")


def write_curves(folder: Path, evaluation: Mapping[str, Any],
                 tables: Mapping[str, PredictionArrays]) -> list[str]:
    """Draw every picture of every split of `evaluation` that has a table into `folder`;
    returns the file stems written."""
    spec = evaluation.get("evaluation", {})
    written = []
    for split, report in evaluation.get("splits", {}).items():
        arrays = tables.get(split)
        if arrays is None:
            continue
        metric_set = report.get("metric_set")
        builds = (*PICTURES.get(metric_set, ()),
                  *(TEST_PICTURES.get(metric_set, ()) if split == "test" else ()))
        for build in builds:
            try:
                picture = build(split, arrays, report, spec)
                write_picture(folder, picture)
            except Exception as exc:  # a picture is a view of the figures, never a failure
                log.warning("curves: %s on the %s split not drawn (%s: %s)", build.__name__,
                            split, type(exc).__name__, str(exc).strip()[:300])
                continue
            written.append(picture.name)
    if evaluation.get("attribution"):  # the test split's, put there by the recorder
        try:
            picture = attribution_picture(evaluation["attribution"])
            write_picture(folder, picture)
            written.append(picture.name)
        except Exception as exc:  # a picture is a view of the figures, never a failure
            log.warning("curves: feature attribution not drawn (%s: %s)", type(exc).__name__,
                        str(exc).strip()[:300])
    return written


def write_learning_curves(folder: Path, history: Mapping[int, Mapping[str, float]],
                          chosen_epoch: int | None) -> str | None:
    """`learning_curves.{png,json}`: one per run (not per split); returns the stem, or None
    when it could not be drawn (a warning, as for every picture)."""
    data = learning_curve_data(history, chosen_epoch)
    picture = Picture("learning_curves", "learning_curves", {
        "title": "learning curves" + ("" if chosen_epoch is None
                                      else f", weights kept from epoch {chosen_epoch}"),
        "xlabel": "epoch", "ylabel": "loss (epoch mean)", **data})
    try:
        write_picture(folder, picture)
    except Exception as exc:  # a picture is a view of the figures, never a failure
        log.warning("curves: learning curves not drawn (%s: %s)", type(exc).__name__,
                    str(exc).strip()[:300])
        return None
    return picture.name


def write_picture(folder: Path, picture: Picture) -> None:
    """`<name>.png` and `<name>.json`, each replaced atomically; both are made in memory
    first, so a picture that fails leaves no file."""
    json.dumps(picture.data, allow_nan=False)  # refuses NaN before anything is written
    fig = Figure(figsize=SIZE, dpi=DPI)
    DRAW[picture.kind](fig, picture)
    if picture.data.get("note"):
        fig.text(0.01, 0.005, _wrap(picture.data["note"]), fontsize=6, color="dimgrey",
                 va="bottom")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    atomic_write_bytes(folder / f"{picture.name}.png", buffer.getvalue())
    atomic_write_json(folder / f"{picture.name}.json", picture.data)


def _wrap(text: str, width: int = 110) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def _empty(ax: Any, data: Mapping[str, Any]) -> None:
    ax.text(0.5, 0.5, "nothing to draw", ha="center", va="center", transform=ax.transAxes,
            fontsize=9, color="grey")


def _layout(fig: Figure, data: Mapping[str, Any]) -> None:
    """Fixed margins sized for the 6-8 pt text of every picture, room kept for a note:
    `tight_layout` measured every text first and cost about half of drawing a picture."""
    bottom = 0.13 + (0.05 if data.get("note") else 0.0)
    fig.subplots_adjust(left=0.14, right=0.97, top=0.93, bottom=bottom, hspace=0.12)


def _date_axis(ax: Any) -> None:
    """Short date labels (years, then months) that need no rotation."""
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _finish(fig: Figure, ax: Any, data: Mapping[str, Any]) -> None:
    ax.set_title(data["title"], fontsize=8)
    ax.set_xlabel(data["xlabel"], fontsize=8)
    ax.set_ylabel(data["ylabel"], fontsize=8)
    ax.tick_params(labelsize=7)
    _layout(fig, data)


def _reliability(fig: Figure, picture: Picture) -> None:
    """One line per predictor over the diagonal; under it, the model's rows per bin."""
    data = picture.data
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfect")
    for i, (name, bins) in enumerate(data["curves"].items()):
        if not bins:
            continue
        ece = data["ece"]["estimate"] if name == "model" else data["ece_baselines"].get(name)
        label = f"{name} ({sum(b['count'] for b in bins)} rows" + \
            ("" if ece is None else f", ECE {ece:.3f}") + ")"
        top.plot([b["mean_prob"] for b in bins], [b["frac_up"] for b in bins], marker="o",
                 markersize=3, color=_COLOURS[i % len(_COLOURS)], label=label)
    top.set(xlim=(0, 1), ylim=(0, 1))
    top.legend(loc="upper left", fontsize=LEGEND)
    model = data["curves"].get("model") or []
    bottom.bar([(b["bin_lower"] + b["bin_upper"]) / 2 for b in model],
               [b["count"] for b in model],
               width=[max(b["bin_upper"] - b["bin_lower"], 0.01) * 0.9 for b in model],
               color=_COLOURS[0])
    bottom.set_ylabel(data["count_label"], fontsize=7)
    bottom.tick_params(labelsize=7)
    top.set_title(data["title"], fontsize=8)
    top.set_ylabel(data["ylabel"], fontsize=8)
    top.tick_params(labelsize=7)
    bottom.set_xlabel(data["xlabel"], fontsize=8)
    _layout(fig, data)


def _deciles(fig: Figure, picture: Picture) -> None:
    data = picture.data
    ax = fig.subplots()
    bins = [b for b in data["deciles"] if b["mean_realised"] is not None]
    if bins:
        values = [b["mean_realised"] for b in bins]
        ax.bar([b["bucket"] for b in bins], values,
               color=["tab:green" if v >= 0 else "tab:red" for v in values])
        ax.set_xticks([b["bucket"] for b in data["deciles"]])
    else:
        _empty(ax, data)
    if data["overall_mean"] is not None:
        ax.axhline(data["overall_mean"], color="grey", linestyle="--", linewidth=1,
                   label="mean of all rows")
        ax.legend(fontsize=LEGEND)
    ax.axhline(0, color="black", linewidth=0.5)
    _finish(fig, ax, data)


def _cumulative_ic(fig: Figure, picture: Picture) -> None:
    data = picture.data
    ax = fig.subplots()
    if data["dates"]:
        days = _dates(data["dates"])
        ax.plot(days, data["cumulative_ic"], label="IC", linewidth=1)
        ax.plot(days, data["cumulative_rank_ic"], label="rank IC", linewidth=1)
        ax.legend(fontsize=LEGEND)
        if _iso(data["dates"][0]):
            _date_axis(ax)
    else:
        _empty(ax, data)
    ax.axhline(0, color="black", linewidth=0.5)
    _finish(fig, ax, data)


def _iso(text: str) -> bool:
    return len(text) == 10 and text[4] == "-" and text[7] == "-"


def _scatter(fig: Figure, picture: Picture) -> None:
    """The points, coloured by group, the binned means over them and the y = x line."""
    data, points = picture.data, picture.points
    ax = fig.subplots()
    groups = [g for g in data["bins"] if g != "all"]
    colours = {g: _COLOURS[i % len(_COLOURS)] for i, g in enumerate(groups)}
    if points:
        for group in groups or ["all"]:
            sel = points["group"] == group
            ax.scatter(points["x"][sel], points["y"][sel], s=2, alpha=0.25, linewidths=0,
                       color=colours.get(group, "tab:blue"), rasterized=True)
        lo = float(min(points["x"].min(), points["y"].min()))
        hi = float(max(points["x"].max(), points["y"].max()))
        ax.plot([lo, hi], [lo, hi], color="grey", linestyle=":", linewidth=1, label="y = x")
    else:
        _empty(ax, data)
    for group, bins in data["bins"].items():
        drawn = [b for b in bins if b["rows"] > 0]
        ax.plot([b["mean_pred"] for b in drawn], [b["mean_realised"] for b in drawn],
                marker="o", markersize=3, linewidth=1.5 if group == "all" else 1,
                color="black" if group == "all" else colours[group],
                label=f"{group} ({sum(b['rows'] for b in drawn)} rows)")
    if data["scale"] == "log" and points and np.all(points["x"] > 0):
        ax.set_xscale("log")
        ax.set_yscale("log")
    if data["bins"] or points:
        ax.legend(fontsize=LEGEND, loc="upper left")
    _finish(fig, ax, data)


# How a regime's point is drawn, by its evidence word (keyword arguments of a Line2D).
EVIDENCE_STYLE: dict[str, dict[str, Any]] = {
    "better": {"marker": "o", "color": "tab:blue"},
    "worse": {"marker": "o", "color": "tab:red"},
    "within noise": {"marker": "o", "markerfacecolor": "white", "color": "grey"},
}
NO_CLAIM: dict[str, Any] = {"marker": "x", "color": "grey"}


def _regime_improvement(fig: Figure, picture: Picture) -> None:
    """A point per regime with its interval: blue when significantly better, red when
    significantly worse, hollow within noise, grey crosses for a small slice (no claim) or a
    figure without an interval."""
    data = picture.data
    ax = fig.subplots()
    regimes = [r for r in data["regimes"] if r["estimate"] is not None]
    for i, r in enumerate(regimes):
        style = EVIDENCE_STYLE.get(str(r["evidence"]), NO_CLAIM)
        if r["low"] is not None and r["high"] is not None:
            ax.errorbar([i], [r["estimate"]],
                        yerr=[[r["estimate"] - r["low"]], [r["high"] - r["estimate"]]],
                        color=style["color"], capsize=3, linewidth=1)
        ax.plot([i], [r["estimate"]], linestyle="none", markersize=6, **style)
    if regimes:
        level = f"{data['level'] or 0.95:.0%} interval"
        ax.legend(handles=[
            Line2D([], [], linestyle="none", label=f"significantly {word} ({level} "
                   f"{'above' if word == 'better' else 'below'} 0)", **EVIDENCE_STYLE[word])
            for word in ("better", "worse")] + [
            Line2D([], [], linestyle="none", label="within noise",
                   **EVIDENCE_STYLE["within noise"]),
            Line2D([], [], linestyle="none", label="no claim (small slice or no interval)",
                   **NO_CLAIM),
        ], fontsize=LEGEND, loc="best")
        ax.set_xticks(range(len(regimes)))
        ax.set_xticklabels([f"{r['regime']}\n({r['rows']} rows)" for r in regimes],
                           fontsize=6)
        ax.set_xlim(-0.5, len(regimes) - 0.5)
    else:
        _empty(ax, data)
    ax.axhline(0, color="black", linewidth=0.8)
    _finish(fig, ax, data)


def _dates(texts: list[str]) -> np.ndarray:
    return np.asarray(texts, dtype="datetime64[D]") if texts and _iso(texts[0]) \
        else np.arange(len(texts))


def _score_distribution(fig: Figure, picture: Picture) -> None:
    """Each class's share of rows per score bin, as steps over the same edges."""
    data = picture.data
    ax = fig.subplots()
    edges = data["edges"]
    for i, (name, cls) in enumerate(data["classes"].items()):
        if not cls["rows"]:
            continue
        mean = cls["mean_score"]
        ax.stairs(cls["share"], edges, color=_COLOURS[i], linewidth=1.2, fill=False,
                  label=f"{name}: {cls['rows']} rows, mean {mean:.4f}")
        ax.axvline(mean, color=_COLOURS[i], linestyle=":", linewidth=1)
    ax.axvline(0.5, color="grey", linewidth=0.6)
    if any(c["rows"] for c in data["classes"].values()):
        ax.legend(fontsize=LEGEND, loc="upper left")
    else:
        _empty(ax, data)
    _finish(fig, ax, data)


def _equity_curve(fig: Figure, picture: Picture) -> None:
    """Cumulative return above, drawdown below, model and best baseline after costs."""
    data = picture.data
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    days = _dates(data["dates"])
    for i, (name, book) in enumerate(data["books"].items()):
        colour = _COLOURS[i]
        top.plot(days, book["cumulative_return"], color=colour, linewidth=1,
                 label=f"{name}: {book['final_return']:+.1%}, max drawdown "
                       f"{book['max_drawdown']:.1%}")
        bottom.fill_between(days, [-v for v in book["drawdown"]], 0, color=colour,
                            alpha=0.35, linewidth=0)
    if data["books"]:
        top.legend(fontsize=LEGEND, loc="upper left")
        if _iso(data["dates"][0]):
            _date_axis(bottom)
    else:
        _empty(top, data)
    top.axhline(0, color="black", linewidth=0.5)
    top.set_title(data["title"], fontsize=8)
    top.set_ylabel(data["ylabel"], fontsize=8)
    bottom.set_ylabel("drawdown", fontsize=7)
    bottom.set_xlabel(data["xlabel"], fontsize=8)
    for ax in (top, bottom):
        ax.tick_params(labelsize=7)
    _layout(fig, data)


def _primary_over_time(fig: Figure, picture: Picture) -> None:
    """A point per period with its interval; the best baseline's figure as a grey line."""
    data = picture.data
    ax = fig.subplots()
    periods = data["periods"]
    x = np.arange(len(periods))
    shown = [i for i, p in enumerate(periods) if p["model"] is not None]
    for i in shown:
        p = periods[i]
        if p["low"] is not None:
            ax.plot([i, i], [p["low"], p["high"]], color=_COLOURS[0], linewidth=1)
    ax.plot([x[i] for i in shown], [periods[i]["model"] for i in shown], marker="o",
            markersize=3, linewidth=0.8, color=_COLOURS[0],
            label=f"model ({data['level']:.0%} interval)")
    based = [i for i, p in enumerate(periods) if p["baseline"] is not None]
    if based:
        ax.plot([x[i] for i in based], [periods[i]["baseline"] for i in based],
                color="grey", linestyle="--", linewidth=1, label=f"{data['baseline']}")
    if shown:
        ax.legend(fontsize=LEGEND, loc="best")
        step = max(1, len(periods) // 8)
        ax.set_xticks(x[::step])
        ax.set_xticklabels([p["period"] for p in periods][::step], fontsize=7)
    else:
        _empty(ax, data)
    _finish(fig, ax, data)


def _learning_curves(fig: Figure, picture: Picture) -> None:
    data = picture.data
    ax = fig.subplots()
    epochs = data["epochs"]
    for i, key in enumerate(("train_loss", "val_loss")):
        pts = [(e, v) for e, v in zip(epochs, data[key], strict=True) if v is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o", markersize=3, linewidth=1,
                    color=_COLOURS[i], label=key.replace("_", " "))
    if data["chosen_epoch"] is not None and data["chosen_epoch"] in epochs:
        ax.axvline(data["chosen_epoch"], color="tab:green", linestyle="--", linewidth=1,
                   label=f"kept: epoch {data['chosen_epoch']}")
    if epochs:
        ax.legend(fontsize=LEGEND)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        _empty(ax, data)
    _finish(fig, ax, data)


DRAW = {"reliability": _reliability, "deciles": _deciles, "cumulative_ic": _cumulative_ic,
        "scatter": _scatter, "regime_improvement": _regime_improvement,
        "score_distribution": _score_distribution, "equity_curve": _equity_curve,
        "primary_over_time": _primary_over_time, "learning_curves": _learning_curves,
        "feature_attribution": draw_feature_attribution}
