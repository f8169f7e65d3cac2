"""`curves/feature_attribution`: which inputs a model leans on, its numbers (the JSON) from the
`attribution` block of its evaluation (`evaluation.attribution_view.picture_data`) and its
drawing from that JSON alone.

Horizontal bars of each feature's drop (the top features above, every feature family below),
largest first, with the bootstrap interval as a whisker and the bar coloured by what the
interval says: blue when the model significantly leans on the input, red when permuting it
significantly helps, grey within noise. A tree's share of total gain is drawn beside, on its
own axis: gain says where the splits went, the drop what the predictions need. The picture
grows with its rows, so 20 feature names stay readable. `run.curves` writes the JSON and
`run.curve_drawing.render` draws it; matplotlib is named for the type checker only, so the
run that records the JSON never imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ifns_train.evaluation.attribution_view import TOP_FEATURES, picture_data
from ifns_train.evaluation.curve_data import Picture

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NAME = "feature_attribution"
WIDTH = 5.0  # inches, as every picture of curves/
ROW_INCHES = 0.17  # one bar with a 6-pt label
BASE_INCHES = 1.6  # titles, axis labels and the note
MIN_HEIGHT = 4.0  # inches: no smaller than the other pictures
COLOUR = {"better": "tab:blue", "worse": "tab:red"}
NEUTRAL = "grey"


def attribution_picture(attribution: Mapping[str, Any]) -> Picture:
    return Picture(NAME, NAME, picture_data(attribution, TOP_FEATURES))


def draw_feature_attribution(fig: Figure, data: Mapping[str, Any]) -> None:
    features, families = data["features"], data["families"]
    panels = [(rows, label) for rows, label in ((features, "feature"),
                                                (families, "feature family")) if rows]
    height = BASE_INCHES + ROW_INCHES * sum(len(rows) for rows, _ in panels)
    fig.set_size_inches(WIDTH, max(height, MIN_HEIGHT))
    if not panels:
        ax = fig.subplots()
        ax.text(0.5, 0.5, "nothing to draw", ha="center", va="center",
                transform=ax.transAxes, fontsize=9, color="grey")
        ax.set_title(data["title"], fontsize=8)
        return
    columns = 2 if data["gain"] else 1
    grid = fig.add_gridspec(len(panels), columns,
                            height_ratios=[len(rows) for rows, _ in panels],
                            width_ratios=[3, 1] if columns == 2 else [1])
    for i, (rows, label) in enumerate(panels):
        ax = fig.add_subplot(grid[i, 0])
        _bars(ax, rows, label)
        if i == len(panels) - 1:
            ax.set_xlabel(data["xlabel"], fontsize=7)
        if columns == 2:
            _gain(fig.add_subplot(grid[i, 1], sharey=ax), rows, i == 0,
                  i == len(panels) - 1)
    fig.suptitle(data["title"], fontsize=8)
    inches = fig.get_size_inches()[1]
    bottom = (0.45 + (0.2 if data.get("note") else 0.0)) / inches
    fig.subplots_adjust(left=0.36, right=0.97, top=1 - 0.4 / inches, bottom=bottom,
                        hspace=0.3 * 4 / inches, wspace=0.08)


def _bars(ax: Any, rows: list[dict[str, Any]], label: str) -> None:
    """A bar per row (largest drop at the top), its interval a black whisker."""
    y = list(range(len(rows)))
    drops = [r["drop"] or 0.0 for r in rows]
    ax.barh(y, drops, height=0.7,
            color=[COLOUR.get(str(r["evidence"]), NEUTRAL) for r in rows])
    for j, r in enumerate(rows):
        if r["low"] is not None and r["high"] is not None:
            ax.plot([r["low"], r["high"]], [j, j], color="black", linewidth=0.8)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_yticks(y)
    names = [r["name"] + (f" ({r['columns']})" if r.get("columns") else "") for r in rows]
    ax.set_yticklabels(names, fontsize=6)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_ylabel(label, fontsize=7)
    ax.tick_params(axis="x", labelsize=6)


def _gain(ax: Any, rows: list[dict[str, Any]], first: bool, last: bool) -> None:
    ax.barh(range(len(rows)), [r["gain"] or 0.0 for r in rows], height=0.7,
            color="tab:green")
    ax.set_xlim(0, max([r["gain"] or 0.0 for r in rows] + [0.05]) * 1.1)
    ax.tick_params(axis="y", labelleft=False)
    ax.tick_params(axis="x", labelsize=6)
    if first:
        ax.set_title("tree: gain share", fontsize=7)
    if last:
        ax.set_xlabel("of total gain", fontsize=7)
