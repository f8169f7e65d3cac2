"""Figures of a model or a run, read from its record and its artifact folder's metrics.json
(key figures per split against the best baseline, the regime breakdown, the promotion checks),
and their rendering, shared by `models show` and `experiments show`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from ifns_train.sxe import render as r

SPLITS = ("val", "test")


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def dig(value: Any, *keys: Any) -> Any:
    """value[k1][k2]...; None where a level is missing or not a mapping (a record written by
    another version may lack any part)."""
    for key in keys:
        value = mapping(value).get(key)
    return value


def primary_of(metrics: dict[str, Any], split: str = "test") -> str | None:
    name = mapping(metrics.get(split)).get("primary_metric")
    return name if isinstance(name, str) else None


def split_figures(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Per split and metric: the model's value, the best baseline and its value, the
    improvement and its interval (where one was computed)."""
    rows = []
    for split in SPLITS:
        rep = mapping(metrics.get(split))
        primary = rep.get("primary_metric")
        model = mapping(rep.get("model"))
        names = sorted(model, key=lambda m: (m != primary, m))
        for name in names:
            iv = mapping(mapping(rep.get("intervals")).get(name))
            rows.append({
                "split": split, "metric": name, "primary": name == primary,
                "model": model.get(name),
                "best_baseline": mapping(rep.get("best_baseline")).get(name),
                "baseline": mapping(rep.get("baseline")).get(name),
                "improvement": mapping(rep.get("improvement")).get(name),
                "low": iv.get("low"), "high": iv.get("high"), "level": iv.get("level"),
                "significant": iv.get("significant"),
            })
    return rows


def read_metrics_file(registry_dir: Path, artifact_path: str
                      ) -> tuple[dict[str, Any], str | None]:
    """The artifact folder's metrics.json, or ({}, why it could not be read)."""
    path = registry_dir / artifact_path / "metrics.json"
    try:
        doc = msgspec.json.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError) as exc:
        return {}, f"{path}: {exc.strerror if isinstance(exc, OSError) else exc}"
    return (doc, None) if isinstance(doc, dict) else ({}, f"{path}: not a JSON object")


def promotion(metrics: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """The promotion checks (value, threshold, passed) and the verdict: the record's key
    figures' (`metrics`), or metrics.json's for a record that kept only the verdict."""
    recorded = mapping(metrics.get("promotion"))
    from_file = mapping(doc.get("promotion"))
    checks = [c for c in recorded.get("checks") or from_file.get("checks") or []
              if isinstance(c, dict)]
    return {"rules": from_file.get("rules"), "checks": checks,
            "eligible": recorded.get("eligible", from_file.get("eligible")),
            "reasons": recorded.get("reasons", from_file.get("reasons")) or []}


def regime_breakdown(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per split, slice dimension and slice: the model's primary metric against a baseline and
    the improvement (with its interval where the evaluation computed one)."""
    rows = []
    for split, rep in mapping(doc.get("splits")).items():
        rep = mapping(rep)
        primary = rep.get("primary_metric")
        best = dig(rep, "best_baseline", primary)
        intervals = mapping(rep.get("slice_intervals"))
        for dimension, slices in mapping(rep.get("slices")).items():
            for name, sl in mapping(slices).items():
                sl = mapping(sl)
                iv = mapping(dig(intervals, dimension, name))
                baseline = iv.get("baseline") or best
                improvement = iv.get("estimate") if iv else \
                    dig(sl, "improvement", baseline, primary)
                rows.append({
                    "split": split, "dimension": dimension, "slice": name,
                    "rows": sl.get("rows"), "small_slice": sl.get("small_slice"),
                    "metric": primary, "model": dig(sl, "model", primary),
                    "baseline": baseline,
                    "baseline_value": dig(sl, "baselines", baseline, primary),
                    "improvement": improvement, "low": iv.get("low"), "high": iv.get("high"),
                    "significant": iv.get("significant"),
                })
    return rows


# --- rendering -------------------------------------------------------------------------------
def render_figures(out: Any, figures: list[dict[str, Any]], selection: dict[str, Any]) -> None:
    rows = [[r.esc(f["split"]), ("[bold]" if f["primary"] else "") + r.esc(f["metric"])
             + (" (primary)[/bold]" if f["primary"] else ""),
             r.num(f["model"]), r.esc(f["best_baseline"] or "-"), r.num(f["baseline"]),
             r.num(f["improvement"], signed=True), r.interval(f["low"], f["high"]),
             r.yes_no(f["significant"]) if f["significant"] is not None else "-"]
            for f in figures]
    out.print(r.table("Key figures", ["split", "metric", "model", "best baseline", "baseline",
                                      "improvement", "interval", "significant"], rows,
                      no_wrap=(0, 1)))
    if selection:
        out.print(r.fields("Selection evidence", [
            (r.esc(k), r.num(v) if isinstance(v, (int, float)) or v is None else r.esc(v))
            for k, v in selection.items()]))


def render_regimes(out: Any, regimes: list[dict[str, Any]], problem: str | None) -> None:
    if not regimes:
        out.print("[bold]Regime breakdown[/bold]: "
                  + (r.esc(f"unavailable ({problem})") if problem else "none recorded"))
        return
    for split in dict.fromkeys(g["split"] for g in regimes):
        rows = [[r.esc(g["dimension"]), r.esc(g["slice"]), r.num(g["rows"]), r.num(g["model"]),
                 r.esc(g["baseline"]), r.num(g["baseline_value"]),
                 r.num(g["improvement"], signed=True), r.interval(g["low"], g["high"]),
                 r.yes_no(g["significant"]) if g["significant"] is not None else "-",
                 "small slice" if g["small_slice"] else ""]
                for g in regimes if g["split"] == split]
        metric = next(g["metric"] for g in regimes if g["split"] == split)
        out.print(r.table(f"Regime breakdown ({r.esc(split)}, {r.esc(metric)})", [
            "dimension", "slice", "rows", "model", "baseline", "baseline value",
            "improvement", "interval", "significant", "note"], rows, no_wrap=(0, 1)))


def render_promotion(out: Any, promo: dict[str, Any]) -> None:
    if promo["checks"]:
        out.print(r.table(f"Promotion checks ({r.esc(promo['rules'])})",
                          ["check", "value", "threshold", "passed", "detail"], [
            [r.esc(c.get("name")), r.num(c.get("value")), r.num(c.get("threshold")),
             r.yes_no(c.get("passed")) if c.get("passed") is not None else "not run",
             r.esc(c.get("detail") or "")] for c in promo["checks"]]))
    verdict = {True: "[green]eligible[/green]", False: "[red]not eligible[/red]"}.get(
        promo["eligible"], "no promotion checks recorded")
    out.print(f"[bold]Promotion[/bold]: {verdict}"
              + (": " + "; ".join(r.esc(x) for x in promo["reasons"]) if promo["reasons"]
                 else ""))
