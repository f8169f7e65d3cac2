"""The Mirror as a person uses it, in headless Chromium: counts, figures equal to the
registry's, sorting, paging, filtering, links, comparison, and registry values shown as text
(no dialog opens, nothing is fetched from outside the disk)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ifns_train.evaluation.promotion import verdict_words
from ifns_train.registry import current, lifecycle, model_registry
from ifns_train.registry.database import Registry
from ifns_train.sxe.mirror import site
from tests.browser import screenshot
from tests.registry import factory
from tests.sxe.helpers import RISK, add_model
from tests.sxe.mirror import hostile

DIR = "MF_DIR_CORE_V1"


@pytest.fixture
def built(reg: Registry, tmp_path: Path) -> dict[str, Any]:
    models = [add_model(reg, auc=0.5 + (i * 37 % 60) / 1000, n=i, full_metrics=True)
              for i in range(60)]
    add_model(reg, family=RISK, n=61)
    lifecycle.decide(reg, models[0].model_id, "canary", "dra-test", "set-up")
    lifecycle.decide(reg, models[1].model_id, "retired", "dra-test", "superseded")
    # The walk-around: an improvement whose interval lies wholly below 0 was shown as
    # "significant" in green.
    worse = add_model(reg, auc=0.49, eligible=False, n=62)
    metrics = worse.metrics
    metrics["test"]["intervals"] = {"auc": {"low": -0.0896, "high": -0.0034, "level": 0.95,
                                            "evidence": "worse", "significant": False,
                                            "baseline": "momentum_sign"}}
    factory.edit_stored(reg, "model", worse.model_id, metrics=metrics)
    ids = hostile.hostile_registry(reg)
    out = tmp_path / "site"
    site.build(reg, out)
    return {"out": out, "models": models, "ids": ids, "worse": worse}


def loaded_widths(page: Any) -> list[int]:
    """The natural width of each picture of #curves, each scrolled to and loaded first (the
    page loads them lazily, as a reader scrolls)."""
    widths = []
    for img in page.locator("#curves img").all():
        img.scroll_into_view_if_needed()
        widths.append(img.evaluate(
            "e => e.complete ? e.naturalWidth : new Promise(done => "
            "e.addEventListener('load', () => done(e.naturalWidth)))"))
    return widths


def shown_test_values(page: Any) -> list[float]:
    """The test figures of the rows shown, as the page holds them (full precision)."""
    return [float(v) for v in page.eval_on_selector_all(
        "table[data-role=rows] tbody span[data-value]", "els => els.map(e => e.dataset.value)")]


def test_overview_counts_models_per_status(built: dict[str, Any], reg: Registry,
                                           browser_page: Any) -> None:
    page = browser_page.open(built["out"] / "index.html")
    counts = model_registry.status_counts(reg)
    for family, by_status in counts.items():
        row = page.locator(f'tr[data-family="{family}"]')
        for status in lifecycle.STATUSES:
            cell = row.locator(f'td[data-status="{status}"]').inner_text()
            assert int(cell) == by_status.get(status, 0), (family, status)
    assert f"directional {hostile.SCRIPT}" in page.inner_text("main")
    assert hostile.REASON in page.locator("#proposals").inner_text()
    browser_page.clean()


def test_family_table_sorts_filters_and_pages(built: dict[str, Any], reg: Registry,
                                              browser_page: Any) -> None:
    page = browser_page.open(built["out"] / "families" / f"{DIR}.html")
    page.wait_for_selector("table[data-role=rows] tbody tr")
    assert page.locator("table[data-role=rows] tbody tr").count() == 50
    assert page.inner_text("[data-role=page]") == "Page 1 of 2"
    page.click("button[data-role=next]")
    assert page.locator("table[data-role=rows] tbody tr").count() == 12  # 62 models
    page.click("button[data-role=prev]")
    page.click('th button[data-key="test_value"]')  # numbers sort largest first
    values = shown_test_values(page)
    assert values == sorted(values, reverse=True) and len(values) == 50
    assert values[0] == max(r["record"].metrics["test"]["model"]["auc"]
                            for r in model_registry.search(reg, family=DIR, limit=None))
    page.click('th button[data-key="test_value"]')
    values = shown_test_values(page)
    assert values == sorted(values)
    page.select_option("select[data-filter=status]", "canary")
    shown = page.eval_on_selector_all("tbody tr[data-model]",
                                      "els => els.map(e => e.dataset.model)")
    assert shown == [built["models"][0].model_id]
    page.select_option("select[data-filter=status]", "")
    page.fill("input[data-filter=query]", built["models"][5].model_id)
    assert page.locator("tbody tr[data-model]").count() == 1
    # One sign convention and its words: wholly below zero is "significantly worse", in red;
    # the verdict as it stands now, filterable.
    page.fill("input[data-filter=query]", "")
    page.select_option("select[data-filter=evidence]", "significantly worse")
    worse = built["worse"].model_id
    assert page.eval_on_selector_all("tbody tr[data-model]",
                                     "els => els.map(e => e.dataset.model)") == [worse]
    cell = page.locator(f'tr[data-model="{worse}"] span[data-evidence]')
    assert cell.inner_text() == "significantly worse"
    assert "worse" in (cell.get_attribute("class") or "")
    assert page.locator(f'tr[data-model="{worse}"] span[data-verdict]').inner_text() \
        .startswith("not eligible (improvement")
    page.select_option("select[data-filter=evidence]", "")
    page.select_option("select[data-filter=verdict]", "not eligible")
    assert page.eval_on_selector_all("tbody tr[data-model]",
                                     "els => els.map(e => e.dataset.model)") == [worse]
    browser_page.clean()


def test_compare_shows_models_side_by_side(built: dict[str, Any], browser_page: Any) -> None:
    page = browser_page.open(built["out"] / "families" / f"{DIR}.html")
    a, b = built["models"][2], built["models"][3]
    for model in (a, b):
        page.fill("input[data-filter=query]", model.model_id)
        page.check(f'input[data-pick="{model.model_id}"]')
    page.click("button[data-role=compare]")
    page.wait_for_selector("table[data-role=compare]")
    heads = page.eval_on_selector_all("table[data-role=compare] th[data-model]",
                                      "els => els.map(e => e.dataset.model)")
    assert heads == [a.model_id, b.model_id]
    values = page.eval_on_selector_all('tr[data-field="Test value"] span[data-value]',
                                       "els => els.map(e => Number(e.dataset.value))")
    assert values == [a.metrics["test"]["model"]["auc"], b.metrics["test"]["model"]["auc"]]
    assert "Regime bear_calm" in page.inner_text("table[data-role=compare]")
    browser_page.clean()


def test_timeline_shows_values_as_text_and_links_to_models(built: dict[str, Any],
                                                          browser_page: Any) -> None:
    ids = built["ids"]
    page = browser_page.open(built["out"] / "timeline.html")
    page.wait_for_selector("table[data-role=rows] tbody tr")
    page.fill("input[data-filter=query]", "script")
    text = page.inner_text("table[data-role=rows]")
    assert hostile.NAME in text and hostile.TAG in text and hostile.ERROR in text
    page.fill("input[data-filter=query]", "")
    page.select_option("select[data-filter=status]", "failed")
    assert page.eval_on_selector_all("tbody tr[data-experiment]",
                                     "els => els.map(e => e.dataset.experiment)") == \
        [ids["failed_id"]]
    page.select_option("select[data-filter=status]", "")
    page.fill("input[data-filter=query]", ids["experiment_id"])
    page.click(f'tr[data-experiment="{ids["experiment_id"]}"] a[data-role=model-link]')
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/models/{ids['model_id']}.html")
    assert page.inner_text("#model-id") == ids["model_id"]
    main = page.inner_text("main")
    assert hostile.SLICE in main and hostile.REASON in main
    # And back: the model's experiment opens the timeline on its row.
    page.click("#provenance a[href*=timeline]")
    page.wait_for_selector(f'tr.hit[data-experiment="{ids["experiment_id"]}"]')
    browser_page.clean()


@pytest.mark.slow
def test_mirror_of_a_sweep_over_five_families(swept: dict[str, Any], browser_page: Any
                                              ) -> None:
    """A sweep over the five families, a promotion proposal and a failed run, as trained
    and recorded by the CLI, then `ifns-admin mirror`: what the reviewer sees."""
    out, reg = swept["out"], swept["reg"]
    page = browser_page.open(out / "index.html")
    counts = model_registry.status_counts(reg)
    assert len(counts) == 5
    for family, by_status in counts.items():
        for status in lifecycle.STATUSES:
            cell = page.locator(f'tr[data-family="{family}"] td[data-status="{status}"]')
            assert int(cell.inner_text()) == by_status.get(status, 0)
    assert page.locator("#proposals tbody tr").count() == 1
    screenshot(page, "mirror-overview")
    for row in model_registry.search(reg, limit=None):
        record = row["record"]
        page = browser_page.open(out / "models" / f"{record.model_id}.html")
        test = record.metrics["test"]
        primary = test["primary_metric"]
        cell = page.locator(f'#key-figures tr[data-split="test"][data-metric="{primary}"] td')
        assert float(cell.nth(2).get_attribute("data-value")) == test["model"][primary]
        assert float(cell.nth(5).get_attribute("data-value")) == test["improvement"][primary]
        now = current.evidence_now(reg, record)
        assert page.inner_text("#verdict h2") == \
            f"Promotion checks: {verdict_words(now['promotion'])}"
        images = loaded_widths(page)
        assert images and all(w > 0 for w in images), record.model_id
        if record.model_family == DIR:
            screenshot(page, "mirror-model")
    page = browser_page.open(out / "timeline.html")
    page.wait_for_selector("tbody tr[data-experiment]")
    assert page.locator("tbody tr[data-experiment]").count() == 6
    page.select_option("select[data-filter=status]", "failed")
    assert "DS_MISSING_V1" in page.inner_text("table[data-role=rows]")
    page.select_option("select[data-filter=status]", "")
    page.select_option("select[data-filter=group]", "grouped")
    groups = page.eval_on_selector_all("tr.group", "els => els.map(e => e.innerText)")
    assert groups[0] == "Single runs" and groups[1].endswith(" · 5 run(s)"), groups
    page.locator("a[data-role=model-link]").first.click()
    page.wait_for_load_state("load")
    assert "/models/MDL_" in page.url
    browser_page.clean()


# --- the pictures a reviewer looks for, and tables that fit a 1,400-pixel window ----------------

REVIEWER_PICTURES = ("learning_curves", "equity_curve_test", "primary_over_time_test",
                     "score_distribution_test")
TRIALS = [{"backbone": "mlp", "lr": 0.001, "hidden_sizes": [64, 32], "batch_size": 8192},
          {"backbone": "mlp", "lr": 0.003, "hidden_sizes": [64, 32], "batch_size": 8192},
          {"backbone": "mlp", "lr": 0.003, "hidden_sizes": [128, 64], "batch_size": 8192}]


def _draw_pictures(reg: Registry, model: Any) -> None:
    """The curves/ of a run, written from a planted test split (with a realised return, so the
    trading proxy is drawn), and the model's hashes brought up to date."""
    import numpy as np

    from ifns_train.evaluation.standard import EvaluationSpec, evaluate
    from ifns_train.registry import artifacts
    from ifns_train.run.curves import write_curves, write_learning_curves
    from tests.defaults import spec_settings
    from tests.evaluation.test_curve_data import BOOT, _arrays

    arrays = _arrays("directional", n_dates=120, names=12)
    arrays.inputs["realised_return"] = np.random.default_rng(1).normal(0, 0.02, arrays.y.size)
    spec = EvaluationSpec(metric_set="directional", baselines=("naive",),
                          slice_by=("regime_tag",),
                          **{**spec_settings(), "min_rows": 20, "horizon_days": 2,
                             "bootstrap": BOOT})
    folder = reg.dir / model.artifact_path
    write_curves(folder / "curves", evaluate({"test": arrays}, spec), {"test": arrays},
                 images=False)  # as a default run: the Mirror renders them from their JSON
    write_learning_curves(folder / "curves", {1: {"train_loss": 0.70, "val_loss": 0.69},
                                              2: {"train_loss": 0.68, "val_loss": 0.685},
                                              3: {"train_loss": 0.66, "val_loss": 0.688}}, 2,
                          images=False)
    factory.edit_stored(reg, "model", model.model_id,
                        artifact_hashes=artifacts.folder_hashes(folder))


@pytest.fixture
def reviewed(reg: Registry, tmp_path: Path) -> dict[str, Any]:
    """Three trials of a sweep (lr and hidden_sizes differ, backbone and batch size do not),
    the first with the pictures of a run, and the Mirror built."""
    models = [add_model(reg, auc=0.55 + i / 100, n=i, full_metrics=True)
              for i in range(len(TRIALS))]
    for model, params in zip(models, TRIALS, strict=True):
        factory.edit_stored(reg, "experiment", model.experiment_id, hyperparameters=params)
    _draw_pictures(reg, models[0])
    out = tmp_path / "site"
    site.build(reg, out)
    return {"out": out, "models": models}


def no_cut_column(page: Any, host: str) -> None:
    """The table in `host` fits it (nothing to scroll sideways) and the page fits the window:
    every header cell ends inside the viewport."""
    sizes = page.eval_on_selector(host, "e => [e.scrollWidth, e.clientWidth]")
    assert sizes[0] <= sizes[1], sizes
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    rights = page.eval_on_selector_all(f"{host} th", "els => els.map(e => "
                                       "e.getBoundingClientRect().right)")
    assert rights and max(rights) <= 1400, max(rights)


def test_model_page_shows_the_reviewer_pictures(reviewed: dict[str, Any],
                                                browser_page: Any) -> None:
    model = reviewed["models"][0]
    page = browser_page.open(reviewed["out"] / "models" / f"{model.model_id}.html")
    names = page.eval_on_selector_all("#curves figure", "els => els.map(e => e.dataset.curve)")
    assert names[:len(REVIEWER_PICTURES)] == list(REVIEWER_PICTURES), names  # reading order
    assert all(w > 0 for w in loaded_widths(page))
    for name in REVIEWER_PICTURES:
        figure = page.locator(f'figure[data-curve="{name}"]')
        caption = figure.locator("figcaption").inner_text()
        assert "the numbers drawn (JSON)" in caption, caption
        assert (reviewed["out"] / "models" / model.model_id / f"{name}.json").is_file()
    assert "epoch whose weights were kept" in \
        page.locator('figure[data-curve="learning_curves"] figcaption').inner_text()
    browser_page.clean()


def test_family_and_compare_tables_show_what_differs_and_fit_1400_pixels(
        reviewed: dict[str, Any], browser_page: Any) -> None:
    page = browser_page.open(reviewed["out"] / "families" / f"{DIR}.html")
    page.wait_for_selector("table[data-role=rows] tbody tr")
    assert page.viewport_size["width"] == 1400
    heads = page.eval_on_selector_all("table[data-role=rows] th", "els => els.map(e => e.title)")
    assert [h for h in heads if h] == ["model.hidden_sizes", "model.lr"]  # not the shared ones
    for model, params in zip(reviewed["models"], TRIALS, strict=True):
        row = page.locator(f'tr[data-model="{model.model_id}"]')
        assert row.locator('[data-hp="model.lr"]').inner_text() == str(params["lr"])
        assert row.locator('[data-hp="model.hidden_sizes"]').inner_text() == \
            str(params["hidden_sizes"])
    no_cut_column(page, "#models")
    a, b = reviewed["models"][1], reviewed["models"][2]  # the same lr: only the sizes differ
    for model in (a, b):
        page.check(f'input[data-pick="{model.model_id}"]')
    page.click("button[data-role=compare]")
    page.wait_for_selector("table[data-role=compare]")
    fields = page.eval_on_selector_all("table[data-role=compare] tr[data-field]",
                                       "els => els.map(e => e.dataset.field)")
    assert "model.hidden_sizes" in fields and "model.lr" not in fields
    no_cut_column(page, "#compare")
    browser_page.clean()


def test_a_search_page_and_a_drift_panel_in_the_browser(reg: Registry, tmp_path: Path,
                                                        browser_page: Any) -> None:
    """A planted search of four trials, one of them scored by a drifted job: from the trial's
    page the drift panel shows the drifted feature first, and its link leads to the search's
    page, whose histogram is drawn (20 bars, the overfit ones marked) with no script error."""
    from tests.signals.planted_jobs import plant_job

    sweep = str((tmp_path / "sweep").resolve())
    made = [factory.add_model(reg, n=i, sweep_dir=sweep, predictions=factory.planted_test_table(
        0.4 if i == 0 else 0.0, noise=i, dates=240)) for i in range(4)]
    plant_job(reg, "JOB_20260102T000000_bbbbbbbb", [made[0].model_id],
              "2026-01-02T00:00:00.000000Z", scale=2.0)
    out = tmp_path / "site"
    site.build(reg, out)
    page = browser_page.open(out / "models" / f"{made[0].model_id}.html")
    assert page.get_attribute("#drift-job", "data-band") == "hard"
    first = page.locator("#drift-worst tbody tr").first
    assert first.get_attribute("data-feature") == "vol_feature"
    assert first.is_visible()
    page.click("a[data-role=sweep-link]")
    page.wait_for_selector("#pbo-histogram")
    assert "PBO 0.000" in page.inner_text("#pbo-value")
    assert page.locator("#pbo-histogram rect.bar").count() == 20
    box = page.locator("#pbo-histogram").bounding_box()
    assert box is not None and 0 < box["width"] <= 640 and box["height"] > 0
    assert page.locator("#trial-table tbody tr").count() == len(made)
    browser_page.clean()
