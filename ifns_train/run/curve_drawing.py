"""A picture of `curves/` drawn from its JSON alone: `render(doc) -> PNG bytes`.

The run records the numbers of each picture (`run.curves`: `curves/<name>.json`, hashed with the
model); the image is ink over them, drawn here and nowhere else, outside the run by default: by
`ifns-admin curves` (a model's pictures into a folder), by the Mirror's build (each picture once
per recorded hash) and, for a logger that takes images (TensorBoard, MLflow), in memory at
record time. A run draws here only with `evaluation.curves.images=true`, for its PNGs to sit in
the artifact beside the JSON. One backend (Agg, files only) and one figure set-up (5 x 4 in at
100 dpi, fixed margins, one legend size) for every picture; matplotlib's import alone costs
about 0.3 s, so nothing on a run's path imports this module unless an image is wanted.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display is needed or wanted
import matplotlib.dates as mdates
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ifns_train.run.attribution_curve import draw_feature_attribution

SIZE = (5.0, 4.0)
DPI = 100
LEGEND = 7  # points: readable at 1:1 on the Mirror's 1,400-pixel page
_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
            "tab:pink", "tab:olive", "tab:cyan")


def render(doc: Mapping[str, Any]) -> bytes:
    """The PNG of a picture's JSON (`curves/<name>.json` as the run wrote it: its `kind`
    names the drawing); a JSON of another kind, or recorded before the JSON carried its kind,
    is a ValueError."""
    kind = doc.get("kind")
    if kind not in DRAW:
        raise ValueError(f"not a picture's JSON (kind {kind!r}; pictures recorded before "
                         "their JSON named their kind keep their PNG)")
    fig = Figure(figsize=SIZE, dpi=DPI)
    DRAW[kind](fig, doc)
    if doc.get("note"):
        fig.text(0.01, 0.005, _wrap(doc["note"]), fontsize=6, color="dimgrey", va="bottom")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


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


def _reliability(fig: Figure, data: Mapping[str, Any]) -> None:
    """One line per predictor over the diagonal; under it, the model's rows per bin."""
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


def _deciles(fig: Figure, data: Mapping[str, Any]) -> None:
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


def _cumulative_ic(fig: Figure, data: Mapping[str, Any]) -> None:
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


def _scatter(fig: Figure, data: Mapping[str, Any]) -> None:
    """The points, coloured by group, the binned means over them and the y = x line."""
    ax = fig.subplots()
    groups = [g for g in data["bins"] if g != "all"]
    colours = {g: _COLOURS[i % len(_COLOURS)] for i, g in enumerate(groups)}
    points = data["points"]
    x, y = np.asarray(points["x"], np.float64), np.asarray(points["y"], np.float64)
    code = np.asarray(points["group"], np.int64)
    if x.size:
        for i, group in enumerate(points["groups"]):
            sel = code == i
            ax.scatter(x[sel], y[sel], s=2, alpha=0.25, linewidths=0,
                       color=colours.get(group, "tab:blue"), rasterized=True)
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        ax.plot([lo, hi], [lo, hi], color="grey", linestyle=":", linewidth=1, label="y = x")
    else:
        _empty(ax, data)
    for group, bins in data["bins"].items():
        drawn = [b for b in bins if b["rows"] > 0]
        ax.plot([b["mean_pred"] for b in drawn], [b["mean_realised"] for b in drawn],
                marker="o", markersize=3, linewidth=1.5 if group == "all" else 1,
                color="black" if group == "all" else colours[group],
                label=f"{group} ({sum(b['rows'] for b in drawn)} rows)")
    if data["scale"] == "log" and x.size and np.all(x > 0):
        ax.set_xscale("log")
        ax.set_yscale("log")
    if data["bins"] or x.size:
        ax.legend(fontsize=LEGEND, loc="upper left")
    _finish(fig, ax, data)


# How a regime's point is drawn, by its evidence word (keyword arguments of a Line2D).
EVIDENCE_STYLE: dict[str, dict[str, Any]] = {
    "better": {"marker": "o", "color": "tab:blue"},
    "worse": {"marker": "o", "color": "tab:red"},
    "within noise": {"marker": "o", "markerfacecolor": "white", "color": "grey"},
}
NO_CLAIM: dict[str, Any] = {"marker": "x", "color": "grey"}


def _regime_improvement(fig: Figure, data: Mapping[str, Any]) -> None:
    """A point per regime with its interval: blue when significantly better, red when
    significantly worse, hollow within noise, grey crosses for a small slice (no claim) or a
    figure without an interval."""
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


def _score_distribution(fig: Figure, data: Mapping[str, Any]) -> None:
    """Each class's share of rows per score bin, as steps over the same edges."""
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


def _equity_curve(fig: Figure, data: Mapping[str, Any]) -> None:
    """Cumulative return above, drawdown below, model and best baseline after costs."""
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


def _primary_over_time(fig: Figure, data: Mapping[str, Any]) -> None:
    """A point per period with its interval; the best baseline's figure as a grey line."""
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


def _learning_curves(fig: Figure, data: Mapping[str, Any]) -> None:
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
