"""What a model's page shows, read from its record and its artifact folder: the key figures,
the breakdowns by regime, structure, volatility band and cluster against the best baseline,
the feature attribution (`evaluation.attribution_view`), the pictures of its `curves/`, the
trading proxies, the walk-forward folds and seeds, the promotion checks, the lifecycle and
the proposals, and the config, datasets and fingerprints.

A figure the model's folder cannot give (an older record, a missing file) is shown as missing
with the reason, never invented.

The pictures: a run records each picture's numbers (`curves/<name>.json`) and, by default, no
image (`run.curves`), so the build renders the image from the JSON (`run.curve_drawing`) into
`pictures/<hash>.png`, named by the JSON's recorded hash: a picture is rendered once, on the
first build that shows it, and never again while its numbers stand (models sharing numbers
share the file); its JSON is read only then, and checked against the recorded hash first, so
a changed file is reported, not drawn. A PNG recorded in the artifact (a model recorded before
this, or with `evaluation.curves.images=true`) is placed as it is, beside the page.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import msgspec

from ifns_train.core.files import atomic_write_bytes
from ifns_train.data.index import CONTEXT_COLUMNS
from ifns_train.evaluation.attribution_view import TOP_FEATURES, summary
from ifns_train.sxe.admin_curves import CURVES
from ifns_train.sxe.figures import (
    dig,
    mapping,
    promotion,
    read_metrics_file,
    regime_breakdown,
    split_figures,
    version_of,
)
from ifns_train.sxe.mirror.render import environment
from ifns_train.sxe.mirror.writer import place, write

PICTURES = "pictures/"  # site folder of the pictures rendered from their JSON, by its hash
PARALLEL_FROM = 64  # pages to render before a pool of processes pays for its start
PROXY_FIGURES = ("sharpe", "expectancy", "hit_rate", "max_drawdown")
CHART_DIMENSIONS = CONTEXT_COLUMNS


def _read_json(path: Path) -> tuple[dict[str, Any], str | None]:
    try:
        doc = msgspec.json.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError) as exc:
        return {}, f"{path.name}: {exc.strerror if isinstance(exc, OSError) else exc}"
    return (doc, None) if isinstance(doc, dict) else ({}, f"{path.name}: not a JSON object")


# What each picture shows, in the order a reviewer reads them (the learning curves, then the
# test split's pictures, then the validation split's); a picture not named here comes last.
CAPTIONS = {
    "learning_curves": "Learning curves: the training and validation loss per epoch; the "
                       "dashed line marks the epoch whose weights were kept (best validation "
                       "loss).",
    "feature_attribution": "Which inputs the model leans on: the fall of the primary metric "
                           "when each feature (above) or feature family (below) is permuted "
                           "across symbols within dates, with its interval; a tree's gain "
                           "share beside.",
    "equity_curve": "The trading proxy after costs: cumulative return (top) and drawdown "
                    "(bottom) of the model's book against its best baseline's.",
    "primary_over_time": "The primary metric per month or quarter with its block-bootstrap "
                         "interval, and the best baseline's (dashed): a decay shows as a "
                         "downward drift.",
    "score_distribution": "Predicted P(up) by realised class: the further apart the two "
                          "histograms, the better the model tells up from down.",
    "return_forecast": "Realised against forecast return, pooled: the means per forecast "
                       "decile over the points.",
    "deciles": "Mean realised return per forecast bucket, ranked on each date.",
    "cumulative_ic": "Cumulative per-date IC and rank IC: a steady climb is a steady edge.",
    "reliability": "Reliability: observed up-rate against predicted P(up), per bin.",
    "vol_forecast": "Realised against forecast volatility (log-log), by regime.",
    "cost_forecast": "Realised against predicted cost.",
    "regime_improvement": "Improvement over the best baseline per regime, with its interval.",
}
SPLIT_ORDER = ("", "test", "val")


def _picture_key(stem: str) -> tuple[str, str]:
    """(picture, split) of a curves/ file stem: `equity_curve_test` -> ("equity_curve",
    "test"); a picture of the whole run (the learning curves) has the split ""."""
    head, _, tail = stem.rpartition("_")
    return (head, tail) if tail in SPLIT_ORDER[1:] else (stem, "")


def curves_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The pictures of the model's `curves/` (recorded in its artifact hashes): the JSON of the
    numbers drawn and its recorded hash, the PNG where one was recorded, and the caption, in
    reading order; `src`, the image's site path, is set when the page is rendered."""
    hashes = mapping(record.get("artifact_hashes"))
    stems = {f[len(CURVES):].rpartition(".")[0] for f in hashes
             if f.startswith(CURVES) and f.endswith((".png", ".json"))}
    order = list(CAPTIONS)
    out = []
    for stem in stems:
        picture, split = _picture_key(stem)
        png, data = f"{CURVES}{stem}.png", f"{CURVES}{stem}.json"
        out.append({"name": stem, "png": png if png in hashes else None,
                    "json": data if data in hashes else None, "hash": hashes.get(data),
                    "src": None, "problem": None,
                    "title": stem.replace("_", " "), "split": split,
                    "caption": CAPTIONS.get(picture, picture.replace("_", " ")),
                    "order": (SPLIT_ORDER.index(split),
                              order.index(picture) if picture in order else len(order), stem)})
    return sorted(out, key=lambda c: c["order"])


def rendered(out: Path, source: Path, recorded: str) -> tuple[str, bool]:
    """The site path of the picture whose JSON is `source`, recorded with hash `recorded`,
    and whether it was rendered now (False: an earlier build did). A JSON that no longer
    has its recorded hash, or that cannot be drawn, is a ValueError or an OSError."""
    rel = f"{PICTURES}{recorded.removeprefix('sha256:')[:32]}.png"
    if (out / rel).is_file():
        return rel, False
    raw = source.read_bytes()
    if "sha256:" + hashlib.sha256(raw).hexdigest() != recorded:
        raise ValueError(f"{source.name} differs from its recorded hash; not drawn")
    from ifns_train.run.curve_drawing import render as draw  # matplotlib: only to draw

    atomic_write_bytes(out / rel, draw(msgspec.json.decode(raw)), sync=False)
    return rel, True


def regime_map(regimes: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Test-split regime slices -> [improvement, low, high, evidence]: the model rows'
    per-regime figures (for the compare page)."""
    return {g["slice"]: [g["improvement"], g["low"], g["high"], g["evidence"]]
            for g in regimes if g["split"] == "test" and g["dimension"] == "regime_tag"}


def charts(regimes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per slice dimension of the test split: the improvement of each slice with its interval
    where one was computed, scaled for an inline SVG dot-and-whisker chart."""
    out = []
    for dimension in CHART_DIMENSIONS:
        rows = [g for g in regimes if g["split"] == "test" and g["dimension"] == dimension]
        values = [v for g in rows for v in (g["improvement"], g["low"], g["high"])
                  if isinstance(v, (int, float)) and math.isfinite(v)]
        if not values:
            continue
        span = max(abs(v) for v in values) or 1.0

        def x(v: Any, span: float = span) -> float | None:
            ok = isinstance(v, (int, float)) and math.isfinite(v)
            return round(50 + 45 * v / span, 2) if ok else None

        out.append({"dimension": dimension, "metric": rows[0]["metric"], "span": span,
                    "slices": [{**g, "x": x(g["improvement"]), "x_low": x(g["low"]),
                                "x_high": x(g["high"]), "tone": tone(g)}
                               for g in rows]})
    return out


def tone(figure: dict[str, Any]) -> str:
    """How an improvement reads (one convention: > 0 is better): "better" or "worse" than the
    baseline where its interval lies wholly on that side of zero, "noise" where it holds zero,
    "unknown" where no interval was computed or the slice is too small to judge."""
    return {"better": "better", "worse": "worse", "within noise": "noise"}.get(
        str(figure.get("evidence")), "unknown")


def proxies(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Test-split trading proxies of the model and each baseline, gross and net of costs, and
    the model's excess over the best baseline's (what its deflated Sharpe ratio is of); for a
    return model the same market-neutral: the mean over start offsets with its range."""
    rep = mapping(dig(doc, "splits", "test", "proxies"))
    if not rep:
        return []
    out = []
    for book, part in (("", rep), ("market-neutral ", mapping(rep.get("market_neutral")))):
        if not part:
            continue
        runs = {"model": mapping(part.get("model")), **mapping(part.get("baselines"))}
        excess = mapping(part.get("excess"))
        if excess:
            runs[f"excess over {excess.get('baseline')}"] = excess
        for name, run in runs.items():
            for side in ("gross", "net"):
                figures = {f: mapping(dig(run, side, f)) for f in PROXY_FIGURES}
                out.append({"predictor": book + name, "side": side, "figures": figures,
                            "cost_bps": rep.get("cost_bps")})
    return out


def _facts(experiments: dict[str, dict[str, Any]], experiment_id: Any
           ) -> dict[str, Any] | None:
    """The log's facts of an experiment, by its id as a record gives it (None: not logged)."""
    return experiments.get(experiment_id) if isinstance(experiment_id, str) else None


def stability(doc: dict[str, Any], experiments: dict[str, dict[str, Any]]
              ) -> list[dict[str, Any]]:
    """Walk-forward folds and seeds: each run's figure, its window where the log has it."""
    stab = mapping(doc.get("stability"))
    out = []
    for name in ("walk_forward", "seeds"):
        part = mapping(stab.get(name))
        if not part:
            continue
        runs = [{**r, "window": (_facts(experiments, r.get("experiment_id")) or {})
                 .get("test_window")}
                for r in part.get("runs") or [] if isinstance(r, dict)]
        out.append({"name": name, "metric": part.get("metric"), "runs": runs,
                    "spread": mapping(part.get("spread"))})
    return out


def context(registry_dir: Path, record: dict[str, Any], proposals: list[dict[str, Any]],
            experiments: dict[str, dict[str, Any]], companions: list[str]) -> dict[str, Any]:
    """Everything the model template shows; `experiments`: facts of the log's entries by id
    (for the folds and the experiment that trained the model); `companions`: the ids of
    the runs that serve the model's experiment (folds, seeds, placebo)."""
    metrics = mapping(record.get("metrics"))
    doc, problem = read_metrics_file(registry_dir, record["artifact_path"])
    train, train_problem = _read_json(registry_dir / record["artifact_path"]
                                      / "train_config.json")
    regimes = regime_breakdown(doc)
    return {
        "record": record,
        "figures": split_figures(metrics, version_of(record.get("metrics_version"))),
        "selection": mapping(metrics.get("selection")),
        "promotion": promotion(metrics, doc),
        "evidence_now": mapping(record.get("evidence_now")),
        "regimes": regimes,
        "regime_map": regime_map(regimes),
        "charts": charts(regimes),
        "proxies": proxies(doc),
        "stability": stability(doc, experiments),
        "complexity": dig(doc, "stability", "complexity"),
        "attribution": summary(doc, record.get("metrics_version"), TOP_FEATURES),
        "curves": curves_of(record),
        "proposals": proposals,
        "experiment": _facts(experiments, record.get("experiment_id")),
        "companions": [experiments[e] for e in companions if e in experiments],
        "metrics_problem": problem,
        "config": train.get("resolved_config") or train.get("hyperparameters"),
        "config_problem": train_problem,
    }


@dataclass(frozen=True)
class ModelJob:
    """A model page to render: the record and what of the log and the proposals it shows
    (`facts`: its experiment's and its companions' facts), and the digest of all that."""

    record: dict[str, Any]
    proposals: list[dict[str, Any]]
    facts: dict[str, dict[str, Any]]
    companions: list[str]
    key: str

    @property
    def rel(self) -> str:
        return f"models/{self.record['model_id']}.html"


_ENV: list[Any] = []  # the Jinja environment of this process, made once


def render(registry_dir: Path, out: Path, job: ModelJob
           ) -> tuple[dict[str, list[Any]], list[str], int]:
    """Write the model's page and place its pictures beside it (each only if changed);
    returns its regime figures, the site paths written and the count left as they were."""
    if not _ENV:
        _ENV.append(environment())
    record = job.record
    ctx = context(registry_dir, record, job.proposals, job.facts, job.companions)
    folder = f"models/{record['model_id']}"
    written, unchanged = [], 0
    if ctx["curves"]:
        (out / folder).mkdir(parents=True, exist_ok=True)
    artifact = registry_dir / record["artifact_path"]
    for curve in ctx["curves"]:
        for kind in ("png", "json"):
            if not curve[kind]:
                continue
            rel = f"{folder}/{Path(curve[kind]).name}"
            placed = place(out / rel, artifact / curve[kind])
            if placed is None:
                curve[kind] = None
            elif placed:
                written.append(rel)
            else:
                unchanged += 1
            if kind == "png" and curve["png"]:
                curve["src"] = rel
        if curve["src"] is None and curve["json"]:
            try:
                src, new = rendered(out, artifact / curve["json"], curve["hash"])
            except Exception as exc:  # a picture is a view of the figures: the page stands
                curve["problem"] = f"not drawn ({type(exc).__name__}: {exc})"
                continue
            curve["src"] = src
            if new:
                written.append(src)
            else:
                unchanged += 1
    html = _ENV[0].get_template("model.html").render(root="../", title=record["model_id"],
                                                     **ctx)
    if write(out / job.rel, html.encode()):
        written.append(job.rel)
    else:
        unchanged += 1
    return ctx["regime_map"], written, unchanged


def render_all(registry_dir: Path, out: Path, jobs: list[ModelJob], workers: int | None = None
               ) -> Iterator[tuple[ModelJob, tuple[dict[str, list[Any]], list[str], int]]]:
    """Every job rendered and written, in order: in a pool of processes (one per core) when
    there are many, since a page is CPU work (its metrics.json parsed, its template
    filled)."""
    workers = workers or os.cpu_count() or 1
    work = partial(render, registry_dir, out)
    if workers < 2 or len(jobs) < PARALLEL_FROM:
        yield from ((job, work(job)) for job in jobs)
        return
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        yield from zip(jobs, pool.map(work, jobs, chunksize=16), strict=True)
