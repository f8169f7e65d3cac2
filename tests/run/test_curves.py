"""The pictures of curves/: written for every family by the recorder (and by ifns-evaluate's
upgrade and an evaluation on new data, through the same writer), each a JSON of its numbers
hashed with the model, its image drawn from that JSON alone (`curve_drawing.render`) outside
the run, or in it with `evaluation.curves.images=true`; odd data gives a picture with a note,
never a failed run."""

from __future__ import annotations

import importlib.abc
import io
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from ifns_train.evaluation import standard
from ifns_train.evaluation.curve_data import PICTURES, TEST_PICTURES
from ifns_train.evaluation.standard import EvaluationSpec, evaluate
from ifns_train.registry import artifacts
from ifns_train.registry.database import Registry
from ifns_train.run import curve_drawing, provenance, reevaluation
from ifns_train.run.curve_drawing import render
from ifns_train.run.curves import write_curves
from ifns_train.run.evaluation_run import evaluate_new_data
from tests.defaults import spec_settings
from tests.evaluation.test_curve_data import BOOT, PICTURE_NAMES, TEST_PICTURE_NAMES, _arrays
from tests.registry.docs import models_doc

PNG = b"\x89PNG\r\n\x1a\n"
METRIC_SETS = {"dir_core": "directional", "struct_aware": "overlay", "ret_core": "return",
               "risk_vol": "risk", "exec_cost": "cost"}


def _files(split: str, metric_set: str, images: bool = False) -> set[str]:
    names = PICTURE_NAMES[metric_set] + (TEST_PICTURE_NAMES[metric_set] if split == "test"
                                         else ())
    return {f"{name}_{split}.{ext}" for name in names
            for ext in (("png", "json") if images else ("json",))}


def _check_png(png: bytes) -> None:
    """A PNG of a picture: its signature, and decoded, 500 pixels wide and 3 or 4 channels."""
    import matplotlib.image

    assert png[:8] == PNG and 2_000 < len(png) < 200_000
    pixels = matplotlib.image.imread(io.BytesIO(png))
    assert pixels.shape[1] == 500 and pixels.shape[0] >= 400 and pixels.shape[2] in (3, 4)


def _check_folder(folder: Path, splits: tuple[str, ...], metric_set: str,
                  trained: bool = False, images: bool = False) -> None:
    expected = set().union(*(_files(s, metric_set, images) for s in splits))
    exts = ("png", "json") if images else ("json",)
    if trained:  # the learning curves: one per run, not per split
        expected |= {f"learning_curves.{ext}" for ext in exts}
        if "attribution" in json.loads((folder.parent / "metrics.json").read_text()):
            expected |= {f"feature_attribution.{ext}" for ext in exts}
    assert {p.name for p in folder.iterdir()} == expected
    for name in expected:
        path = folder / name
        if name.endswith(".png"):
            _check_png(path.read_bytes())
        else:
            data = json.loads(path.read_text())
            assert {"kind", "title", "xlabel", "ylabel", "note"} <= set(data)


@pytest.mark.parametrize("family", list(METRIC_SETS))
def test_every_family_records_its_pictures(trained, registry: Path, family: str) -> None:
    summary = trained(f"family={family}")
    folder = Path(summary["artifact_dir"])
    metric_set = METRIC_SETS[family]
    _check_folder(folder / "curves", ("val", "test"), metric_set, trained=True)
    hashes = models_doc(registry)["models"][0]["artifact_hashes"]
    for name in _files("test", metric_set) | _files("val", metric_set) | {
            "learning_curves.json"}:
        assert hashes[f"curves/{name}"] == artifacts.file_hash(folder / "curves" / name)
    assert not [name for name in hashes if name.endswith(".png")]  # no image drawn in the run
    metrics = json.loads((folder / "metrics.json").read_text())
    test = metrics["splits"]["test"]
    regimes = json.loads((folder / "curves" / "regime_improvement_test.json").read_text())
    for row in regimes["regimes"]:
        assert row["estimate"] == test["slice_intervals"]["regime_tag"][row["regime"]]["estimate"]
    if metric_set in ("directional", "overlay"):
        reliability = json.loads((folder / "curves" / "reliability_test.json").read_text())
        # metrics.json sums the bins over the slices' cells: the same to rounding.
        assert reliability["ece"]["estimate"] == pytest.approx(test["model"]["ece"], rel=1e-12)
        assert reliability["ece"]["low"] <= reliability["ece"]["high"]
        assert reliability["curves"]["model"] == test["model"]["reliability"]
    # Every epoch run is on the learning curves (not only those up to the best checkpoint,
    # whose callback states the predict pass restores), the kept one marked.
    training = json.loads((folder / "train_config.json").read_text())["training"]
    learning = json.loads((folder / "curves" / "learning_curves.json").read_text())
    assert learning["epochs"] == list(range(1, training["epochs_run"] + 1))
    assert learning["chosen_epoch"] == training["best_epoch"]
    assert all(v is not None for v in learning["train_loss"] + learning["val_loss"])
    over_time = json.loads((folder / "curves" / "primary_over_time_test.json").read_text())
    assert sum(p["rows"] for p in over_time["periods"]) == test["rows"]
    if test.get("proxies"):
        equity = json.loads((folder / "curves" / "equity_curve_test.json").read_text())
        assert set(equity["books"]) == {"model", test["proxies"]["excess"]["baseline"]}


def test_a_default_run_records_the_numbers_of_its_pictures_and_no_image(
        trained, registry: Path) -> None:
    summary = trained()
    folder = Path(summary["artifact_dir"])
    hashes = models_doc(registry)["models"][0]["artifact_hashes"]
    for split in ("val", "test"):  # the spec's reliability diagrams, as their numbers
        name = f"curves/reliability_{split}.json"
        assert hashes[name] == artifacts.file_hash(folder / name)
        doc = json.loads((folder / name).read_text())
        assert doc["kind"] == "reliability" and doc["curves"]["model"]
        _check_png(render(doc))  # the JSON alone draws it
    assert not list((folder / "curves").glob("*.png"))
    assert not [name for name in hashes if name.endswith(".png")]


class _ImportWatch(importlib.abc.MetaPathFinder):
    """Records every import of the watched modules (and finds nothing itself)."""

    def __init__(self, watched: tuple[str, ...]) -> None:
        self.watched, self.seen = watched, []

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name in self.watched:
            self.seen.append(name)


@pytest.mark.slow  # trains a model of its own: the import is watched from the run's start
def test_a_default_run_never_imports_the_drawing(make_cfg, monkeypatch) -> None:
    from ifns_train.run.train import train

    watched = ("ifns_train.run.curve_drawing", "matplotlib.backends.backend_agg")
    for name in watched:
        monkeypatch.delitem(sys.modules, name, raising=False)
    watch = _ImportWatch(watched)
    monkeypatch.setattr(sys, "meta_path", [watch, *sys.meta_path])
    summary = train(make_cfg())
    assert watch.seen == []
    assert {p.suffix for p in (Path(summary["artifact_dir"]) / "curves").iterdir()} == {".json"}


@pytest.mark.slow  # trains a model of its own
def test_images_true_draws_hashed_pngs_in_the_run(trained, registry: Path) -> None:
    summary = trained("evaluation.curves.images=true")
    folder = Path(summary["artifact_dir"])
    _check_folder(folder / "curves", ("val", "test"), "directional", trained=True, images=True)
    hashes = models_doc(registry)["models"][0]["artifact_hashes"]
    pngs = sorted((folder / "curves").glob("*.png"))
    assert len(pngs) == len(list((folder / "curves").glob("*.json")))
    for png in pngs:  # hashed, and the very image its JSON renders
        assert hashes[f"curves/{png.name}"] == artifacts.file_hash(png)
        assert png.read_bytes() == render(json.loads(png.with_suffix(".json").read_text()))


def test_the_images_switch_is_not_part_of_the_config_hash(make_cfg) -> None:
    """How a run keeps its pictures is not what it computes: a run with images hashes as the
    default run does, and as a config recorded before the switch existed."""
    def hashed(config: dict[str, Any]) -> str:
        return provenance.config_hash(provenance.definition(config))

    default = OmegaConf.to_container(make_cfg(), resolve=False)
    assert isinstance(default, dict)
    images = OmegaConf.to_container(make_cfg("evaluation.curves.images=true"), resolve=False)
    assert isinstance(images, dict) and images["evaluation"]["curves"]["images"] is True
    before = {**default, "evaluation": {k: v for k, v in default["evaluation"].items()
                                        if k != "curves"}}
    assert hashed(images) == hashed(default) == hashed(before)
    other = OmegaConf.to_container(make_cfg("evaluation.cost_bps=5"), resolve=False)
    assert isinstance(other, dict) and hashed(other) != hashed(default)


@pytest.mark.slow  # trains, upgrades and evaluates on new data: ~6 s
def test_evaluate_upgrade_and_new_data_draw_the_same_pictures(trained, registry: Path,
                                                              monkeypatch) -> None:
    summary = trained()
    folder = Path(summary["artifact_dir"])
    reg = Registry(registry, create=False)
    (folder / "curves" / "reliability_test.json").unlink()  # written again by an upgrade
    monkeypatch.setattr(standard, "METRICS_VERSION", standard.METRICS_VERSION + 1)
    assert reevaluation.reevaluate(reg, summary["model_id"])["status"] == "upgraded"
    _check_folder(folder / "curves", ("val", "test"), "directional", trained=True)
    record = models_doc(registry)["models"][0]
    assert artifacts.mismatches(folder, record["artifact_hashes"]) == []
    done = evaluate_new_data(reg, summary["model_id"], "DS_OTHER_V1", allow_overlap=True)
    _check_folder(Path(done["artifact_dir"]) / "curves", ("test",), "directional")


@pytest.mark.parametrize("metric_set", list(PICTURE_NAMES))
@pytest.mark.parametrize("case", ["one_class", "three_names", "constant"])
def test_odd_data_is_drawn_with_a_note(tmp_path: Path, caplog, metric_set: str,
                                       case: str) -> None:
    arrays = _arrays(metric_set, n_dates=30, names=3 if case == "three_names" else 12,
                     one_class=case == "one_class", constant=case == "constant")
    if metric_set == "risk":
        arrays.y[0] = 0.01
    spec = EvaluationSpec(metric_set=metric_set, baselines=("naive",), slice_by=("regime_tag",),
                          **{**spec_settings(), "min_rows": 20, "horizon_days": 2,
                             "bootstrap": BOOT})
    evaluation = evaluate({"test": arrays}, spec)
    with caplog.at_level(logging.WARNING, logger="ifns_train"):
        written = write_curves(tmp_path, evaluation, {"test": arrays}, images=False)
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert written == [f"{n}_test" for n in PICTURE_NAMES[metric_set]
                       + TEST_PICTURE_NAMES[metric_set]]
    _check_folder(tmp_path, ("test",), metric_set)
    pictures = [build("test", arrays, evaluation["splits"]["test"], evaluation["evaluation"])
                for build in PICTURES[metric_set] + TEST_PICTURES[metric_set]]
    for picture in pictures:  # the JSON is the picture's numbers, as computed, and its drawing
        doc = json.loads((tmp_path / f"{picture.name}.json").read_text())
        assert doc == {"kind": picture.kind, **picture.data}
        _check_png(render(doc))  # odd numbers draw too, from the JSON alone


def test_a_picture_that_fails_is_a_warning_and_leaves_no_file(tmp_path: Path, caplog,
                                                              monkeypatch) -> None:
    arrays = _arrays("return", n_dates=30, names=12)
    spec = EvaluationSpec(metric_set="return", baselines=("naive",), slice_by=("regime_tag",),
                          **{**spec_settings(), "min_rows": 20, "horizon_days": 2,
                             "bootstrap": BOOT})
    evaluation = evaluate({"test": arrays}, spec)

    def broken(*args, **kwargs):
        raise RuntimeError("no ink")

    monkeypatch.setitem(curve_drawing.DRAW, "deciles", broken)
    with caplog.at_level(logging.WARNING, logger="ifns_train"):
        written = write_curves(tmp_path, evaluation, {"test": arrays}, images=True)
    assert written == ["cumulative_ic_test", "regime_improvement_test", "return_forecast_test",
                       "equity_curve_test", "primary_over_time_test"]
    assert "deciles on the test split not drawn (RuntimeError: no ink)" in caplog.text
    assert not list(tmp_path.glob("deciles_test*"))
    _check_png((tmp_path / "cumulative_ic_test.png").read_bytes())
    # Without images the JSON is all a run writes, and an image of earlier numbers goes.
    assert write_curves(tmp_path, evaluation, {"test": arrays}, images=False) == [
        "deciles_test", *written]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.json" for n in [
        "deciles_test", *written])


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels, from the PNG's header."""
    head = path.read_bytes()[16:24]
    return int.from_bytes(head[:4], "big"), int.from_bytes(head[4:], "big")


def test_the_feature_attribution_picture(tmp_path: Path, caplog) -> None:
    """Drawn when the evaluation carries an attribution, its JSON the rows drawn; taller with
    more features; absent without one; a block it cannot draw is a warning."""
    from tests.registry.factory import planted_attribution

    block = planted_attribution(tree=True)
    with caplog.at_level(logging.WARNING, logger="ifns_train"):
        assert write_curves(tmp_path, {"splits": {}, "attribution": block}, {},
                            images=True) == [
            "feature_attribution"]
    assert not caplog.records, caplog.text
    assert (tmp_path / "feature_attribution.png").read_bytes()[:8] == PNG
    data = json.loads((tmp_path / "feature_attribution.json").read_text())
    assert [r["name"] for r in data["features"]] == ["vol_20d", "trend_20d", "liq_ratio",
                                                     "trend_60d"]
    assert data["gain"] and data["features"][0]["gain"] == 0.7
    assert [f["name"] for f in data["families"]] == ["Feature_VOL_LIQ_V1",
                                                     "Feature_TREND_MTF_V1"]
    small = _png_size(tmp_path / "feature_attribution.png")
    many = {**block, "gain": {}, "features": {
        f"col_{i:02d}": {"drop": 0.001 * i, "low": 0.0, "high": 0.002 * i,
                         "evidence": "within noise", "family": "Feature_VOL_LIQ_V1"}
        for i in range(40)}}
    big = tmp_path / "big"
    big.mkdir()
    assert write_curves(big, {"splits": {}, "attribution": many}, {}, images=True) == [
        "feature_attribution"]
    data = json.loads((big / "feature_attribution.json").read_text())
    assert len(data["features"]) == 20 and data["features"][0]["name"] == "col_39"
    assert not data["gain"] and "of 40" in data["note"]
    width, height = _png_size(big / "feature_attribution.png")
    assert width == small[0] == 500 and height > small[1] >= 400
    none = tmp_path / "none"
    none.mkdir()
    assert write_curves(none, {"splits": {}}, {}, images=True) == []
    assert not list(none.iterdir())
    with caplog.at_level(logging.WARNING, logger="ifns_train"):
        assert write_curves(none, {"splits": {}, "attribution": {"families": 3}}, {},
                            images=True) == [
            "feature_attribution"]  # nothing to draw, said so
        assert write_curves(none, {"splits": {}, "attribution": {
            **block, "full": "x" * 3}}, {}, images=True) == ["feature_attribution"]
    assert not caplog.records
