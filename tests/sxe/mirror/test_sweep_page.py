"""The Mirror's page of a search: its trials and its PBO, the logits drawn as an SVG."""

from __future__ import annotations

import re
from pathlib import Path

from ifns_train.registry import searches
from ifns_train.registry.database import Registry
from ifns_train.sxe.mirror import site
from ifns_train.sxe.mirror.sweep_page import histogram_bars
from tests.registry.factory import add_model, planted_test_table


def test_histogram_bars_scale_to_the_tallest() -> None:
    bars = histogram_bars({"edges": [-1.0, 0.0, 1.0], "counts": [1, 4]})
    assert [b["height"] for b in bars] == [30.0, 120.0] and bars[0]["overfit"]
    assert bars[1]["y"] == 0.0 and not bars[1]["overfit"]


def test_a_sweep_has_a_page_with_its_pbo(reg: Registry, tmp_path: Path) -> None:
    sweep = str((tmp_path / "sweep").resolve())
    made = [add_model(reg, n=i, sweep_dir=sweep,
                      predictions=planted_test_table(0.4 if i == 0 else 0.0, noise=i,
                                                     dates=240))
            for i in range(4)]
    out = tmp_path / "site"
    site.build(reg, out)
    name = searches.slug(sweep, made[0].model_family)
    page = (out / "sweeps" / f"{name}.html").read_text()
    assert "PBO 0.000" in page and "6 halvings of 240 test dates" in page
    assert len(re.findall(r"<rect class=\"bar", page)) == 20  # the fixed bins
    assert all(m.model_id in page for m in made)
    # Each trial's page and the timeline lead to the search's page.
    assert all(f'href="../sweeps/{name}.html"' in (out / "models" / f"{m.model_id}.html"
                                                   ).read_text() for m in made)
    assert sum(t.read_text().count(f'"{name}"') for t in (out / "data").glob(
        "experiments-*.js")) == len(made)
    assert "<script>" not in page.replace('<script src=', '')
