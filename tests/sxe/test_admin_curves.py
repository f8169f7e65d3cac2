"""`ifns-admin curves MODEL_ID [--out DIR]`: a model's pictures as PNG files, drawn from the
recorded JSON alone (a recorded PNG copied), every file checked against its recorded hash
first; an unknown id, a model without pictures or a changed file is one line and exit 1."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest

from ifns_train.registry import artifacts
from ifns_train.registry.database import Registry
from ifns_train.run.curves import write_curves
from ifns_train.sxe import admin
from tests.registry.docs import models_doc
from tests.registry.factory import add_model, edit_stored, planted_attribution

PNG = b"\x89PNG\r\n\x1a\n"


def _pixels(path: Path) -> Any:
    data = path.read_bytes()
    assert data[:8] == PNG
    return matplotlib.image.imread(io.BytesIO(data))


def test_every_picture_of_a_trained_model_is_drawn(trained, registry: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    summary = trained()
    model_id = summary["model_id"]
    recorded = models_doc(registry)["models"][0]["artifact_hashes"]
    stems = {name[len("curves/"):-len(".json")] for name in recorded
             if name.startswith("curves/") and name.endswith(".json")}
    assert {"reliability_val", "reliability_test", "learning_curves"} <= stems
    out = tmp_path / "pictures"
    capsys.readouterr()  # what training printed, when this test trained the model
    assert admin.main(["--registry-dir", str(registry), "curves", model_id, "--out",
                       str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {p["name"] for p in doc["pictures"]} == stems
    assert {p["from"] for p in doc["pictures"]} == {"json"}  # a default run drew no image
    assert {p.name for p in out.iterdir()} == {f"{stem}.png" for stem in stems}
    for stem in stems:
        pixels = _pixels(out / f"{stem}.png")
        assert pixels.shape[1] == 500 and pixels.shape[0] >= 400
        assert pixels[..., :3].std() > 0.01  # ink on it, not a blank page


def _model(reg: Registry, n: int, images: bool) -> tuple[str, Path]:
    """A model whose curves/ holds its attribution picture, hashed as the recorder would."""
    model = add_model(reg, n=n, attribution=planted_attribution(tree=True))
    folder = reg.dir / model.artifact_path
    write_curves(folder / "curves", {"splits": {}, "attribution": planted_attribution(
        tree=True)}, {}, images=images)
    edit_stored(reg, "model", model.model_id, artifact_hashes=artifacts.folder_hashes(folder))
    return model.model_id, folder


def test_default_folder_and_a_recorded_png_copied(adm, reg: Registry, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    drawn, _ = _model(reg, 1, images=False)
    copied, folder = _model(reg, 2, images=True)
    monkeypatch.chdir(tmp_path)
    result = adm("curves", drawn)
    assert f"1 picture(s) of {drawn}" in result.out and "1 drawn from their JSON" in result.out
    _pixels(tmp_path / f"curves-{drawn}" / "feature_attribution.png")
    result = adm("curves", copied)
    assert "1 recorded PNG(s) copied" in result.out
    assert (tmp_path / f"curves-{copied}" / "feature_attribution.png").read_bytes() == \
        (folder / "curves" / "feature_attribution.png").read_bytes()


def test_unknown_model_no_pictures_and_a_changed_file_are_one_line(adm, reg: Registry,
                                                                   tmp_path: Path) -> None:
    result = adm("curves", "MDL_DIR_CORE_V1_20200101T000000_abcdef", code=1)
    assert result.err.count("\n") == 1 and "no model 'MDL_DIR_CORE_V1_20200101T000000_abcdef'" \
        in result.err
    bare = add_model(reg, n=1)
    result = adm("curves", bare.model_id, "--out", str(tmp_path / "a"), code=1)
    assert result.err.count("\n") == 1 and "no pictures recorded" in result.err
    assert not (tmp_path / "a").exists()
    changed, folder = _model(reg, 2, images=False)
    data = folder / "curves" / "feature_attribution.json"
    data.write_text(data.read_text().replace("vol_20d", "vol_21d"))
    result = adm("curves", changed, "--out", str(tmp_path / "b"), code=1)
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert "feature_attribution.json: sha256 differs from the record" in result.err
    assert not (tmp_path / "b").exists()
