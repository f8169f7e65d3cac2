"""Figures of a model or a run, read from its record and its artifact folder's metrics.json
(key figures per split against the best baseline, the regime breakdown, the promotion checks),
and their rendering, shared by `models show` and `experiments show`.

Improvements are shown in the one convention of `evaluation.compare` (positive: the model is
better, whatever the metric), with the word their interval supports (better, worse, within
noise); a record of an earlier metrics version is turned on reading (`as_favourable`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from ifns_train.evaluation.compare import FAVOURABLE_SINCE, as_favourable
from ifns_train.evaluation.promotion import verdict_of, verdict_words
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


def version_of(value: Any) -> int:
    """A record's or document's metrics version (the current convention where none is said)."""
    return value if isinstance(value, int) else FAVOURABLE_SINCE


def key_figures_version(metrics: dict[str, Any]) -> int:
    """The metrics version of key figures that do not say theirs (a log entry's): intervals
    worded with `evidence` are of the current convention, those without of an earlier one."""
    intervals = [iv for split in SPLITS for iv in mapping(dig(metrics, split, "intervals"))
                 .values() if isinstance(iv, dict)]
    if not intervals:
        return FAVOURABLE_SINCE
    return FAVOURABLE_SINCE if any("evidence" in iv for iv in intervals) else \
        FAVOURABLE_SINCE - 1


def split_figures(metrics: dict[str, Any], metrics_version: int = FAVOURABLE_SINCE
                  ) -> list[dict[str, Any]]:
    """Per split and metric: the model's value, the best baseline and its value, the
    improvement and its interval (where one was computed) with its evidence word."""
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
                **as_favourable(name, mapping(rep.get("improvement")).get(name),
                                iv.get("low"), iv.get("high"), metrics_version),
                "level": iv.get("level"),
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
    """The promotion checks (value, threshold, passed) and the verdict: the key figures'
    (`metrics`: a record's, or its checks made current), or metrics.json's for a record that
    kept only the verdict."""
    recorded = mapping(metrics.get("promotion"))
    from_file = mapping(doc.get("promotion"))
    checks = [c for c in recorded.get("checks") or from_file.get("checks") or []
              if isinstance(c, dict)]
    source = recorded or from_file
    if not source:
        return {"rules": None, "checks": [], "eligible": None, "verdict": None,
                "controls_not_run": [], "reasons": [], "words": verdict_words({})}
    fields = verdict_of({**source, "checks": checks})
    return {"rules": recorded.get("rules") or from_file.get("rules"), "checks": checks,
            **fields, "words": verdict_words(fields)}


def regime_breakdown(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per split, slice dimension and slice: the model's primary metric against a baseline and
    the improvement (with its interval where the evaluation computed one)."""
    rows = []
    version = version_of(doc.get("metrics_version"))
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
                    **as_favourable(primary, improvement, iv.get("low"), iv.get("high"),
                                    version, bool(sl.get("small_slice"))),
                })
    return rows


# --- rendering -------------------------------------------------------------------------------
def evidence_cell(word: str | None) -> str:
    return {"better": "[green]significantly better[/green]",
            "worse": "[red]significantly worse[/red]",
            "within noise": "within noise"}.get(str(word), "-")


IMPROVEMENT_HEADER = "improvement (+: model better)"


def render_figures(out: Any, figures: list[dict[str, Any]], selection: dict[str, Any]) -> None:
    rows = [[r.esc(f["split"]), ("[bold]" if f["primary"] else "") + r.esc(f["metric"])
             + (" (primary)[/bold]" if f["primary"] else ""),
             r.num(f["model"]), r.esc(f["best_baseline"] or "-"), r.num(f["baseline"]),
             r.num(f["improvement"], signed=True), r.interval(f["low"], f["high"]),
             evidence_cell(f["evidence"])]
            for f in figures]
    out.print(r.table("Key figures", ["split", "metric", "model", "best baseline", "baseline",
                                      IMPROVEMENT_HEADER, "interval", "evidence"], rows,
                      no_wrap=(0, 1)))
    if selection:
        shown = {k: v for k, v in selection.items() if k not in ("offsets", "pbo")}
        pbo = selection.get("pbo")
        if pbo:  # the search's PBO in one line; `experiments pbo` shows it whole
            shown["pbo"] = (f"{pbo['pbo']:.3f} over {pbo['trials']} trials of "
                            f"{pbo.get('sweep_dir')} (S={pbo['blocks']}, {pbo['dates']} dates)")
        out.print(r.fields("Selection evidence", [
            (r.esc(k), r.num(v) if isinstance(v, (int, float)) or v is None else r.esc(v))
            for k, v in shown.items()]))


def render_regimes(out: Any, regimes: list[dict[str, Any]], problem: str | None) -> None:
    if not regimes:
        out.print("[bold]Regime breakdown[/bold]: "
                  + (r.esc(f"unavailable ({problem})") if problem else "none recorded"))
        return
    for split in dict.fromkeys(g["split"] for g in regimes):
        rows = [[r.esc(g["dimension"]), r.esc(g["slice"]), r.num(g["rows"]), r.num(g["model"]),
                 r.esc(g["baseline"]), r.num(g["baseline_value"]),
                 r.num(g["improvement"], signed=True), r.interval(g["low"], g["high"]),
                 evidence_cell(g["evidence"]), "small slice" if g["small_slice"] else ""]
                for g in regimes if g["split"] == split]
        metric = next(g["metric"] for g in regimes if g["split"] == split)
        out.print(r.table(f"Regime breakdown ({r.esc(split)}, {r.esc(metric)})", [
            "dimension", "slice", "rows", "model", "baseline", "baseline value",
            IMPROVEMENT_HEADER, "interval", "evidence", "note"], rows, no_wrap=(0, 1)))


VERDICT_STYLE = {"eligible": "green", "eligible_without_controls": "yellow",
                 "not_eligible": "red"}


def render_promotion(out: Any, promo: dict[str, Any], now: dict[str, Any] | None = None
                     ) -> None:
    """The checks and the verdict; with `now` (`registry.current.evidence_now`), as they
    stand at this moment, beside what was recorded when they differ."""
    when = f", as of {r.ts(now['as_of'])}" if now else ""
    if promo["checks"]:
        out.print(r.table(f"Promotion checks ({r.esc(promo['rules'])}{when})",
                          ["check", "value", "threshold", "passed", "detail"], [
            [r.esc(c.get("name")), r.num(c.get("value")), r.num(c.get("threshold")),
             r.yes_no(c.get("passed")) if c.get("passed") is not None else "not run",
             r.esc(c.get("detail") or "")] for c in promo["checks"]]))
    style = VERDICT_STYLE.get(str(promo.get("verdict")))
    words = r.esc(promo["words"])
    out.print("[bold]Promotion[/bold]: " + (f"[{style}]{words}[/{style}]" if style else words)
              + (": " + "; ".join(r.esc(x) for x in promo["reasons"]) if promo["reasons"]
                 else ""))
    if now and now.get("stale"):
        out.print(f"  [red]stale evidence[/red]: {r.esc(now['stale'])}")
    if now and now["changed"]:
        out.print(f"  recorded {r.ts(now['recorded_ts'])}: "
                  f"{r.esc(summary_words(now['recorded']))}; now: "
                  f"{r.esc(summary_words(now['current']))}")


def summary_words(figures: dict[str, Any]) -> str:
    """'eligible, deflated Sharpe ratio 0.993 over 2 trials': a `current.evidence_now`
    summary (recorded or current) in words, as every reader shows it."""
    dsr = figures.get("deflated_sharpe_ratio")
    words = verdict_words({"verdict": figures.get("verdict"),
                           "controls_not_run": figures.get("controls_not_run")}) \
        if figures.get("verdict") else "no verdict"
    pbo = figures.get("pbo")
    return words + (f", deflated Sharpe ratio {dsr:.3f} over {figures.get('trials')} trials"
                    if isinstance(dsr, (int, float)) else "") + (
        f", PBO of its search {pbo:.3f}" if isinstance(pbo, (int, float)) else "")
