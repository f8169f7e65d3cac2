"""The model page's feature attribution: the families and the top features with their
intervals and readings (a tree's gain share beside), its picture among the others, and "not
measured" for a model recorded without one; and the page's pictures, rendered from their
recorded JSON once per recorded hash, or a recorded PNG placed as it is."""

from __future__ import annotations

import re
from pathlib import Path

from ifns_train.registry import artifacts
from ifns_train.registry.database import Registry
from ifns_train.registry.records import ModelRecord
from ifns_train.run.curves import write_curves
from ifns_train.sxe.mirror import site
from tests.registry.factory import add_model, edit_stored, planted_attribution

VOL, TREND = "Feature_VOL_LIQ_V1", "Feature_TREND_MTF_V1"


def _section(page: str) -> str:
    match = re.search(r'<section id="attribution".*?</section>', page, re.S)
    assert match, "no attribution section"
    return match.group(0)


def _row(section: str, attr: str, name: str) -> str:
    match = re.search(rf'<tr data-{attr}="{name}"[^>]*>(.*?)</tr>', section, re.S)
    assert match, name
    return match.group(0)


def test_the_page_shows_the_attribution(reg: Registry, tmp_path: Path) -> None:
    tree = add_model(reg, n=1, features=(VOL,),
                     attribution=planted_attribution(VOL, 0.04, tree=True))
    net = add_model(reg, n=2, attribution=planted_attribution(TREND, per_feature=False))
    old = add_model(reg, n=3)
    # the tree's picture, hashed with the model as the recorder would
    folder = reg.dir / tree.artifact_path
    (folder / "curves").mkdir()
    write_curves(folder / "curves", {"splits": {}, "attribution": planted_attribution(
        VOL, 0.04, tree=True)}, {}, images=False)
    edit_stored(reg, "model", tree.model_id, artifact_hashes=artifacts.folder_hashes(folder))
    out = tmp_path / "site"
    site.build(reg, out)

    page = (out / "models" / f"{tree.model_id}.html").read_text()
    section = _section(page)
    assert 'data-measured="yes"' in section and "<script" not in section
    assert "1,440 rows over 120 dates; auc 0.5800 unpermuted" in section
    assert "95% bootstrap interval (200 replicates)" in section
    assert "the fall of the AUC when a feature is permuted" in section
    family = _row(section, "family", VOL)
    assert 'data-evidence="better"' in family and "+0.0310 to +0.0510" in family
    assert "leans on it" in family and ">0.8000</td>" in family  # gain: 0.7 + 0.1
    assert "within noise" in _row(section, "family", TREND)
    assert "Top 4 of 4 features" in section
    features = re.findall(r'<tr data-feature="([^"]+)"', section)
    assert features == ["vol_20d", "trend_20d", "liq_ratio", "trend_60d"]
    assert 'data-value="0.7"' in _row(section, "feature", "vol_20d")
    figure = re.search(r'<figure data-curve="feature_attribution">.*?</figure>', page, re.S)
    assert figure and "Which inputs the model leans on" in figure.group(0)
    recorded = artifacts.file_hash(folder / "curves" / "feature_attribution.json")
    src = f"pictures/{recorded.removeprefix('sha256:')[:32]}.png"
    assert f'src="../{src}"' in figure.group(0)
    assert (out / src).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    section = _section((out / "models" / f"{net.model_id}.html").read_text())
    assert "Gain share" not in section and "attribution-features" not in section
    assert "Per feature not measured: 3000 columns, above max_features 64" in section
    assert [f for f in re.findall(r'<tr data-family="([^"]+)"', section)] == [TREND, VOL]

    section = _section((out / "models" / f"{old.model_id}.html").read_text())
    assert 'data-measured="no"' in section and "not measured (" in section


def _with_pictures(reg: Registry, n: int, images: bool) -> tuple[ModelRecord, Path]:
    """A model whose curves/ holds its attribution picture's JSON (and PNG with `images`),
    hashed with the model as the recorder would."""
    model = add_model(reg, n=n, attribution=planted_attribution(VOL, 0.04, tree=True))
    folder = reg.dir / model.artifact_path
    write_curves(folder / "curves", {"splits": {}, "attribution": planted_attribution(
        VOL, 0.04, tree=True)}, {}, images=images)
    edit_stored(reg, "model", model.model_id, artifact_hashes=artifacts.folder_hashes(folder))
    return model, folder


def _src(page: Path, name: str) -> str:
    figure = re.search(rf'<figure data-curve="{name}"><img src="\.\./([^"]+)"',
                       page.read_text())
    assert figure, f"no picture {name}"
    return figure.group(1)


def test_pictures_are_rendered_once_per_recorded_hash(reg: Registry, tmp_path: Path,
                                                       monkeypatch) -> None:
    from ifns_train.run import curve_drawing

    drawn: list[str] = []
    draw = curve_drawing.render
    monkeypatch.setattr(curve_drawing, "render",
                        lambda doc: drawn.append(doc["kind"]) or draw(doc))
    first, _ = _with_pictures(reg, 1, images=False)
    second, _ = _with_pictures(reg, 2, images=False)  # the same numbers: the same file
    out = tmp_path / "site"
    site.build(reg, out)
    assert drawn == ["feature_attribution"]
    src = _src(out / "models" / f"{first.model_id}.html", "feature_attribution")
    assert src == _src(out / "models" / f"{second.model_id}.html", "feature_attribution")
    assert src.startswith("pictures/") and (out / src).read_bytes()[:4] == b"\x89PNG"
    # A page built again (here: its file gone) finds its picture drawn: not rendered again.
    (out / "models" / f"{first.model_id}.html").unlink()
    report = site.build(reg, out)
    assert f"models/{first.model_id}.html" in report.written
    assert drawn == ["feature_attribution"]


def test_a_recorded_png_is_placed_and_a_changed_json_is_not_drawn(reg: Registry,
                                                                   tmp_path: Path) -> None:
    drawn, _ = _with_pictures(reg, 1, images=True)  # images in the run, or an older record
    changed, folder = _with_pictures(reg, 2, images=False)
    data = folder / "curves" / "feature_attribution.json"
    data.write_text(data.read_text().replace("vol_20d", "vol_21d"))
    out = tmp_path / "site"
    site.build(reg, out)
    src = _src(out / "models" / f"{drawn.model_id}.html", "feature_attribution")
    assert src == f"models/{drawn.model_id}/feature_attribution.png"
    assert (out / src).read_bytes() == (reg.dir / drawn.artifact_path / "curves"
                                        / "feature_attribution.png").read_bytes()
    page = (out / "models" / f"{changed.model_id}.html").read_text()
    assert '<figure data-curve="feature_attribution">' not in page
    assert "feature_attribution.json differs from its recorded hash; not drawn" in page
    assert not (out / "pictures").exists()
