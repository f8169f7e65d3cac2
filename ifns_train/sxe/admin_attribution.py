"""Which models lean on a feature family, as measured: `ifns-admin models list --depends-on
FAMILY [--min-drop X]` beside the declared `features_used` (spec 5.2, "which models depend on
which data definitions?"), and the attribution shown by `models show`.

A model's attribution lives in its artifact folder's metrics.json, not in the registry's
tables, so `--depends-on` reads the metrics.json of every model the other filters leave (one
file read and a decode of that one key each, about 0.2 ms for a trained model's 250 KB file:
2 s per 10,000 models; the same on SQLite and PostgreSQL, whose rows only name the folder)
before `--limit` applies. The rule of "leans on" is
`evaluation.attribution_view.depends_on`, the one the Mirror shows.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import msgspec

from ifns_train.core.errors import RegistryError
from ifns_train.evaluation.attribution_view import (
    DEPENDS_ON_MIN_DROP,
    attribution_of,
    depends_on,
    family_figure,
)
from ifns_train.sxe import render as r


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    return value


def add_list_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--depends-on", metavar="FAMILY",
                   help="models whose feature attribution says they lean on this feature "
                        "family (its drop's interval above --min-drop), beside whether they "
                        "declare it")
    p.add_argument("--min-drop", type=finite_float, default=DEPENDS_ON_MIN_DROP, metavar="X",
                   help="with --depends-on: the low end of the family's drop interval must "
                        f"exceed X (default {DEPENDS_ON_MIN_DROP:g}: significantly leaned on)")


class _AttributionOnly(msgspec.Struct):
    """The one key of metrics.json that --depends-on reads: decoding into it skips the rest
    (a trained model's 250 KB file in 0.2 ms instead of 1.1 ms)."""

    attribution: Any = None


def _attribution(registry_dir: Path, row: dict[str, Any]) -> dict[str, Any] | None:
    """The model's attribution block; None where there is none or its metrics.json cannot
    be read (not measured, as far as a listing can tell; `models show` says why)."""
    path = registry_dir / row["artifact_path"] / "metrics.json"
    try:
        doc = msgspec.json.decode(path.read_bytes(), type=_AttributionOnly)
    except (OSError, msgspec.DecodeError):
        return None
    return attribution_of({"attribution": doc.attribution})


def leaning_on(reg: Any, rows: list[dict[str, Any]], family: str, min_drop: float
               ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows (in their order) whose attribution puts `family` above `min_drop`, each with
    `attribution` (declares, drop, low, high, evidence); and what the listing says besides:
    the models among `rows` that declare the family but were not measured. A family no
    model declares and no attribution names is an error (a typo, not an empty answer)."""
    from ifns_train.registry import model_registry

    declared = {m["model_id"] for m in model_registry.search(reg, feature=family, limit=None,
                                                             records=False)}
    kept, not_measured, seen = [], [], False
    for row in rows:
        block = _attribution(reg.dir, row)
        figure = family_figure(block, family)
        seen = seen or figure is not None
        leans = depends_on(block, family, min_drop)
        if leans is None and row["model_id"] in declared:
            not_measured.append(row["model_id"])
        if leans and figure is not None:
            kept.append({**row, "attribution": {
                "declares": row["model_id"] in declared,
                **{k: figure[k] for k in ("drop", "low", "high", "evidence")}}})
    if not declared and not seen and not _anywhere(reg, family):
        known = model_registry.input_names(reg, "feature")
        raise RegistryError(f"models list: unknown feature family {family!r} for --depends-on: "
                            "no model declares it or has it in its attribution (declared: "
                            f"{', '.join(known) or 'none'})")
    return kept, {"family": family, "min_drop": min_drop, "not_measured": not_measured}


def _anywhere(reg: Any, family: str) -> bool:
    """Does any model's attribution name `family` (read only when the filtered rows did not:
    the error path)."""
    from ifns_train.registry import model_registry

    return any(family_figure(_attribution(reg.dir, row), family) is not None
               for row in model_registry.search(reg, limit=None, records=False))


COLUMNS = ["declared", "drop", "interval"]


def title(depends: dict[str, Any]) -> str:
    low = f"above {depends['min_drop']:g}" if depends["min_drop"] else "above 0"
    return (f" leaning on {r.esc(depends['family'])} (its drop's interval {low}; "
            "declared: in its features_used)")


def cells(row: dict[str, Any]) -> list[str]:
    a = row["attribution"]
    return [r.yes_no(a["declares"]), r.num(a["drop"], signed=True),
            r.interval(a["low"], a["high"])]


def not_measured_line(depends: dict[str, Any]) -> str:
    ids = depends["not_measured"]
    return (f"{len(ids)} model(s) declare {r.esc(depends['family'])} but have no attribution "
            "(not measured)" + (f": {r.joined(ids)}" if ids else ""))


# --- show ------------------------------------------------------------------------------------
def render_attribution(out: Any, view: dict[str, Any]) -> None:
    """`models show`: the families and the top features (`attribution_view.summary`)."""
    if not view["measured"]:
        out.print(f"[bold]Feature attribution[/bold]: {r.esc(view['words'])}")
        return
    gain = ["gain share"] if view["tree"] else []
    level = f"{view['level']:.0%} interval" if view["level"] is not None else "interval"
    head = ["drop (+: leans on it)", level, "reading", *gain]

    def figures(row: dict[str, Any]) -> list[str]:
        return [r.num(row["drop"], signed=True), r.interval(row["low"], row["high"]),
                r.esc(row["reading"]), *([r.num(row["gain"])] if view["tree"] else [])]

    out.print(r.table(
        f"Feature attribution ({r.esc(view['split'])} split, {r.esc(view['metric'])} "
        f"{r.num(view['full'])} unpermuted, {r.num(view['rows'])} rows over "
        f"{r.num(view['dates'])} dates)", ["feature family", "columns", *head],
        [[r.esc(f["name"]), r.num(f["columns"]), *figures(f)] for f in view["families"]],
        no_wrap=(0,)))
    if view["features"]:
        out.print(r.table(f"Top {len(view['features'])} of {view['features_total']} features",
                          ["feature", "family", *head],
                          [[r.esc(f["name"]), r.esc(f["family"]), *figures(f)]
                           for f in view["features"]], no_wrap=(0, 1)))
    if view["skipped"]:
        out.print(f"  per feature not measured: {r.esc(view['skipped'])}", soft_wrap=True)
    if view["method"]:
        out.print(f"  method: {r.esc(view['method'])}", soft_wrap=True)
