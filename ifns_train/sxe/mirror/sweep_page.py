"""The Mirror's page of a search, `sweeps/<slug>.html`: its trials (status, validation figure,
the hyperparameters that differ between them) and the probability that its pick overfit, the
logits drawn as an inline SVG histogram (no script).

Why a page per sweep and not per model: the PBO is a figure of the search, the same for each
of its trials; the model pages and the timeline name the sweep, this page explains it. The
figures come from the build's shared cache (`registry.current.TrialCache`), filled while the
models' checks were made current, so no test table is read twice.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from ifns_train.registry import searches
from ifns_train.registry.database import Registry
from ifns_train.sxe.mirror.writer import SiteWriter

SVG_WIDTH, SVG_HEIGHT = 400, 120  # the histogram's viewBox


def histogram_bars(logits: dict[str, Any]) -> list[dict[str, Any]]:
    """One bar per bin in viewBox units: x, width, y, height, the bin and its count."""
    edges, counts = logits["edges"], logits["counts"]
    top = max(counts) or 1
    width = SVG_WIDTH / len(counts)
    return [{"x": round(i * width, 2), "width": round(width - 1, 2),
             "height": round(SVG_HEIGHT * c / top, 2),
             "y": round(SVG_HEIGHT - SVG_HEIGHT * c / top, 2),
             "low": edges[i], "high": edges[i + 1], "count": c, "overfit": edges[i + 1] <= 0}
            for i, c in enumerate(counts)]


def _trials(reg: Registry, sweep_dir: str, family: str
            ) -> tuple[list[dict[str, Any]], list[str]]:
    """The search's trials as rows, and the hyperparameters whose values differ among them."""
    entries = searches.sweep_trials(reg, sweep_dir, family)
    params = [e.hyperparameters for e in entries]
    keys = sorted({k for p in params for k in p})
    differ = [k for k in keys if len({repr(p.get(k)) for p in params}) > 1]
    rows = []
    for e in entries:
        val = e.metrics.get("val") if isinstance(e.metrics.get("val"), dict) else {}
        metric = (val or {}).get("primary_metric")
        rows.append({"experiment_id": e.experiment_id, "model_id": e.proposed_model_id,
                     "status": e.status, "metric": metric,
                     "value": ((val or {}).get("model") or {}).get(metric) if metric else None,
                     "params": [e.hyperparameters.get(k) for k in differ]})
    return rows, differ


def pages(cache: searches.Cache) -> dict[tuple[str, str], dict[str, Any]]:
    """(sweep folder, family) -> its PBO figures (or `{"error": why}`): each search the build
    judged, one page each; a sweep with no other trial of a family is no search and has none."""
    return {(key[1], key[2].rsplit("/", 1)[0]): figures
            for key, figures in sorted(cache.items()) if key[0] == "pbo" and figures}


def write_sweeps(env: Environment, writer: SiteWriter, reg: Registry,
                 cache: searches.Cache) -> None:
    """A page for each search whose PBO the build computed (or tried to: the page says why
    it could not)."""
    for (sweep_dir, family), figures in pages(cache).items():
        rows, differ = _trials(reg, sweep_dir, family)
        name = searches.slug(sweep_dir, family)
        writer.text(f"sweeps/{name}.html", env.get_template(
            "sweep.html").render(
                root="../", title=f"Search {name}", sweep_dir=sweep_dir, family=family,
                figures=figures, error=figures.get("error"), trials=rows, differ=differ,
                bars=[] if "error" in figures else histogram_bars(figures["logits"]),
                width=SVG_WIDTH, height=SVG_HEIGHT))
