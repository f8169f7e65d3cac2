"""The Mirror's build: pages and data files from the registry, rewritten only where the
registry changed, every registry value escaped; `ifns-admin mirror` refuses a folder it
would clobber."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ifns_train.registry import lifecycle
from ifns_train.registry.database import Registry
from ifns_train.sxe.mirror import render, site
from ifns_train.sxe.mirror.rows import EXPERIMENT_COLUMNS, MODEL_COLUMNS
from ifns_train.sxe.mirror.writer import MANIFEST
from tests.registry.factory import add_failed, edit_stored, raw_sql
from tests.sxe.helpers import RISK, add_model
from tests.sxe.mirror import hostile

DIR = "MF_DIR_CORE_V1"


def data(out: Path, name: str) -> Any:
    """The payload of a data file (`IFNS.put("name", payload);`)."""
    text = (out / "data" / f"{name}.js").read_text()
    match = re.fullmatch(r'IFNS\.put\("([^"]+)",(.*)\);\n', text, re.S)
    assert match and match.group(1) == name
    return json.loads(match.group(2))


def rows(out: Path, name: str, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    payload = data(out, name)
    assert tuple(payload["columns"]) == columns
    return [dict(zip(columns, r, strict=True)) for r in payload["rows"]]


def test_js_literal_cannot_end_a_script() -> None:
    text = render.js_literal({"a": "</script><!--\u2028&"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!--\u2028&"}


def test_site_holds_every_model_and_experiment(reg: Registry, tmp_path: Path) -> None:
    a, b, c = (add_model(reg, auc=0.55 + i / 100, n=i, full_metrics=True) for i in range(3))
    risk = add_model(reg, family=RISK, n=3)
    lifecycle.decide(reg, a.model_id, "canary", "dra-test", "set-up")
    lifecycle.decide(reg, b.model_id, "retired", "dra-test", "superseded")
    failed = add_failed(reg, error="ValueError: boom", n=4)
    out = tmp_path / "site"
    report = site.build(reg, out)
    assert (report.models, report.experiments) == (4, 5)
    for page in ("index.html", "timeline.html", "compare.html", f"families/{DIR}.html",
                 f"families/{RISK.family_id}.html", "assets/mirror.js", "assets/mirror.css"):
        assert (out / page).is_file(), page
    for model in (a, b, c, risk):
        assert (out / "models" / f"{model.model_id}.html").is_file()
    models = rows(out, f"models-{DIR}", MODEL_COLUMNS)
    assert {m["model_id"]: m["status"] for m in models} == {
        a.model_id: "canary", b.model_id: "retired", c.model_id: "candidate"}
    got = next(m for m in models if m["model_id"] == c.model_id)
    assert got["test_value"] == c.metrics["test"]["model"]["auc"]
    assert got["improvement"] == c.metrics["test"]["improvement"]["auc"]
    assert got["regimes"]["bear_calm"] == [0.0201, -0.0123, 0.0456, "within noise"]
    assert (got["verdict"], got["verdict_recorded"], got["controls_not_run"]) == (
        "eligible", "eligible", [])
    assert got["trials"] == 3  # the three dir_core trials on the demo data, as of the build
    index = data(out, "timeline")
    assert index["total"] == 5 and [s["rows"] for s in index["shards"]] == [5]
    log = rows(out, index["shards"][0]["name"], EXPERIMENT_COLUMNS)
    by_id = {e["experiment_id"]: e for e in log}
    assert by_id[failed]["status"] == "failed" and by_id[failed]["error"] == "ValueError: boom"
    assert by_id[failed]["model_id"] is None  # no model: no link that leads nowhere
    assert by_id[a.experiment_id]["model_id"] == a.model_id
    overview = (out / "index.html").read_text()
    row = re.search(rf'<tr data-family="{DIR}">(.*?)</tr>', overview, re.S).group(1)
    counts = dict(re.findall(r'data-status="(\w+)"><span class="badge \w+">(\d+)<', row))
    assert counts == {"candidate": "1", "canary": "1", "promoted": "0", "retired": "1"}


def test_a_new_run_rewrites_only_what_it_changed(reg: Registry, tmp_path: Path) -> None:
    for i in range(3):
        add_model(reg, n=i, full_metrics=True)
    out = tmp_path / "site"
    first = site.build(reg, out)
    assert first.skipped == 0
    again = site.build(reg, out)
    assert again.written == [] and again.skipped == 3
    # A run on other data is no trial of theirs: their pages stay as they are.
    new = add_model(reg, n=9, full_metrics=True, dataset="DS_OTHER_V1")
    after = site.build(reg, out)
    assert after.skipped == 3
    assert sorted(after.written) == sorted([
        "index.html", f"families/{DIR}.html", f"data/models-{DIR}.js",
        f"models/{new.model_id}.html", "data/experiments-0000.js", "data/timeline.js",
        "timeline.html", MANIFEST])
    lifecycle.propose(reg, new.model_id, "canary", "reviewer", "strong in every regime")
    after = site.build(reg, out)
    assert sorted(after.written) == sorted([f"models/{new.model_id}.html", "index.html",
                                           MANIFEST])
    # A new trial of the same search deflates the earlier trials' Sharpe ratios further:
    # their pages show it (the trials the log holds at the build).
    trial = add_model(reg, n=10, full_metrics=True)
    after = site.build(reg, out)
    rewritten = {w for w in after.written if w.startswith("models/")}
    assert len(rewritten) == 4 and f"models/{new.model_id}.html" not in rewritten
    page = (out / f"models/{trial.model_id}.html").read_text()
    assert "over 4 trial(s) in the experiment log" in page
    earlier = next(w for w in rewritten if trial.model_id not in w)
    page = (out / earlier).read_text()
    assert "As of this build (the trials the log holds now): eligible, deflated Sharpe ratio " \
        "0.997 over 4 trials." in page
    assert "eligible, deflated Sharpe ratio 0.997 over 1 trials." in page  # as recorded


def test_timeline_shards_keep_old_runs_in_place(reg: Registry, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(site, "SHARD_ROWS", 2)
    for i in range(5):
        add_failed(reg, n=i)
    out = tmp_path / "site"
    site.build(reg, out)
    assert [s["rows"] for s in data(out, "timeline")["shards"]] == [2, 2, 1]
    add_failed(reg, n=7)
    after = site.build(reg, out)
    assert "data/experiments-0000.js" not in after.written
    assert "data/experiments-0001.js" not in after.written
    assert "data/experiments-0002.js" in after.written


def test_every_registry_value_is_escaped(reg: Registry, tmp_path: Path) -> None:
    ids = hostile.hostile_registry(reg)
    out = tmp_path / "site"
    site.build(reg, out)
    for path in out.rglob("*.html"):
        text = path.read_text()
        # The only script elements are the shipped one; no value became markup.
        assert re.findall(r"<script[^>]*>", text) == [
            f'<script src="{"../" if path.parent != out else ""}assets/mirror.js" defer>'], path
        assert "<img src=x" not in text and "onerror=\"" not in text, path
    model = (out / "models" / f"{ids['model_id']}.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;C9" in model  # the slice, as text
    assert "beats momentum &lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in model
    for name in ("timeline", "experiments-0000", f"models-{DIR}"):
        text = (out / "data" / f"{name}.js").read_text()
        assert "<" not in text and ">" not in text, name
    log = rows(out, "experiments-0000", EXPERIMENT_COLUMNS)
    assert {e["experiment_name"] for e in log} >= {hostile.NAME}
    assert any(hostile.TAG in e["tags"] for e in log)
    assert any(e["error"] == hostile.ERROR for e in log)


def test_model_page_says_what_its_folder_cannot_give(reg: Registry, tmp_path: Path) -> None:
    model = add_model(reg, n=1)
    (reg.dir / model.artifact_path / "metrics.json").unlink()
    out = tmp_path / "site"
    site.build(reg, out)
    page = (out / "models" / f"{model.model_id}.html").read_text()
    assert "Breakdowns unavailable: " in page and "metrics.json" in page
    assert "No pictures were recorded with this model." in page


def test_an_invalid_record_is_shown_as_invalid_and_the_build_goes_on(
        reg: Registry, tmp_path: Path, adm: Any) -> None:
    good, bad = add_model(reg, n=1, full_metrics=True), add_model(reg, n=2, full_metrics=True)
    failed = add_failed(reg, n=3)
    forged = {**bad.metrics, "test": {**bad.metrics["test"], "model": {"auc": 0.987654}}}
    edit_stored(reg, "model", bad.model_id, metrics=forged, unknown_field="x")
    raw_sql(reg, "UPDATE experiments SET record = '{not json' WHERE experiment_id = :e",
            e=failed)
    out = tmp_path / "site"
    report = site.build(reg, out)
    assert (report.models, report.experiments) == (2, 3)
    assert len(report.invalid) == 2
    assert report.invalid[0].startswith(f"model {bad.model_id}: invalid record: field "
                                        "'unknown_field'")
    assert report.invalid[1].startswith(f"experiment {failed}: record is not valid JSON")
    models = {m["model_id"]: m for m in rows(out, f"models-{DIR}", MODEL_COLUMNS)}
    assert models[good.model_id]["invalid"] is None and models[good.model_id]["test_value"]
    assert models[bad.model_id]["invalid"] == report.invalid[0]
    assert models[bad.model_id]["test_value"] is None and models[bad.model_id]["status"] == \
        "candidate"
    page = (out / "models" / f"{bad.model_id}.html").read_text()
    assert "Invalid record" in page and "unknown_field" in page and "0.987654" not in page
    assert "0.987654" not in (out / "data" / f"models-{DIR}.js").read_text()
    assert "Invalid record" not in (out / "models" / f"{good.model_id}.html").read_text()
    shard = data(out, "timeline")["shards"][0]["name"]
    log = {e["experiment_id"]: e for e in rows(out, shard, EXPERIMENT_COLUMNS)}
    assert log[failed]["invalid"] == report.invalid[1] and log[failed]["status"] == "failed"
    assert log[good.experiment_id]["invalid"] is None
    printed = adm("mirror", "--out", str(tmp_path / "again")).out
    assert f"shown as invalid: model {bad.model_id}" in printed.replace("\n", "")


def test_cli_builds_and_refuses_a_folder_it_would_clobber(reg: Registry, registry: Path,
                                                          tmp_path: Path, adm: Any) -> None:
    add_model(reg, n=1)
    out = tmp_path / "site"
    result = adm("mirror", "--out", str(out))
    assert "mirror: 1 model(s), 1 experiment(s)" in result.out and (out / MANIFEST).is_file()
    doc = json.loads(adm("--json", "mirror", "--out", str(out)).out)
    assert doc["files_written"] == 0 and doc["pages_skipped"] == 1
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    err = adm("mirror", "--out", str(mine), code=2).err
    assert f"--out {mine}: a folder with other files in it" in err
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    err = adm("mirror", "--out", str(registry / "site"), code=2).err
    assert "inside the registry folder" in err and not (registry / "site").exists()
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert "not a folder" in adm("mirror", "--out", str(a_file), code=2).err


def test_site_from_a_postgresql_registry(registry: Path, postgres_url: str,
                                         tmp_path: Path) -> None:
    """The whole-registry reads the build uses work on PostgreSQL as on SQLite."""
    pg = Registry(registry, postgres_url)
    try:
        model = add_model(pg, n=1, full_metrics=True)
        failed = add_failed(pg, n=2)
        lifecycle.propose(pg, model.model_id, "canary", "reviewer", "strong")
        out = tmp_path / "site"
        report = site.build(pg, out)
    finally:
        pg.close()
    assert (report.models, report.experiments) == (1, 2)
    log = rows(out, "experiments-0000", EXPERIMENT_COLUMNS)
    assert {e["experiment_id"]: e["status"] for e in log} == {
        model.experiment_id: "completed", failed: "failed"}
    got = rows(out, f"models-{DIR}", MODEL_COLUMNS)[0]
    assert got["regimes"]["bear_calm"] == [0.0201, -0.0123, 0.0456, "within noise"]
    assert "strong" in (out / "models" / f"{model.model_id}.html").read_text()


def test_a_build_killed_midway_is_completed_by_the_next(reg: Registry, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest is written last: after a build dies half-way, the next one leaves no page
    stale and none half-written (a page is skipped only if the manifest says it is current)."""
    from ifns_train.sxe.mirror import model_page, writer

    for i in range(3):
        add_model(reg, n=i, full_metrics=True)
    out, clean = tmp_path / "site", tmp_path / "clean"
    site.build(reg, out)
    add_model(reg, n=7, full_metrics=True)
    lifecycle.propose(reg, add_model(reg, n=8).model_id, "canary", "reviewer", "strong")
    real, calls = writer.write, []

    def dying(path: Path, data: bytes) -> bool:
        calls.append(path)
        if len(calls) == 4:
            raise KeyboardInterrupt  # the build killed after three files
        return real(path, data)

    monkeypatch.setattr(model_page, "write", dying)
    monkeypatch.setattr(writer, "write", dying)
    with pytest.raises(KeyboardInterrupt):
        site.build(reg, out)
    monkeypatch.undo()
    site.build(reg, out)
    site.build(reg, clean)
    mine = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    theirs = {p.relative_to(clean): p.read_bytes() for p in clean.rglob("*") if p.is_file()}
    assert mine == theirs


def test_the_model_page_shows_the_latest_jobs_drift(reg: Registry, tmp_path: Path) -> None:
    from tests.signals.planted_jobs import plant_job

    model = add_model(reg, n=1)
    out = tmp_path / "site"
    site.build(reg, out)
    page = out / "models" / f"{model.model_id}.html"
    assert "No prediction job has scored this model." in page.read_text()
    plant_job(reg, "JOB_20260101T000000_aaaaaaaa", [model.model_id],
              "2026-01-01T00:00:00.000000Z", scale=1.0)
    assert f"models/{model.model_id}.html" in site.build(reg, out).written  # a new job: redrawn
    assert 'id="drift-job" data-band="ok"' in page.read_text()
    plant_job(reg, "JOB_20260102T000000_bbbbbbbb", [model.model_id],
              "2026-01-02T00:00:00.000000Z", scale=2.0)
    site.build(reg, out)
    html = page.read_text()
    assert "JOB_20260102T000000_bbbbbbbb" in html and 'data-band="hard"' in html
    assert re.search(r'<tr data-feature="vol_feature" data-band="hard"><td>vol_feature</td>'
                     r'<td class="n">\d+\.\d{3}</td>', html)
    assert html.index('data-feature="vol_feature"') < html.index('data-feature="calm_feature"')
    assert 'data-regime="bear_volatile"' in html
