"""The recorder's figures where users look: the run's Lightning loggers (CSV, TensorBoard,
MLflow) get the evaluated figures, the resolved config and the reliability diagrams; a logger's
error is a warning, never the run's failure."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightning.pytorch.loggers import Logger

from ifns_train.run import log_figures
from ifns_train.run.train import train
from tests.registry.docs import log_doc, models_doc

BASELINES = ("class_prior", "momentum_sign")  # dir_core's


def _metrics_json(summary: dict[str, Any]) -> dict[str, Any]:
    return json.loads((Path(summary["artifact_dir"]) / "metrics.json").read_text())


def _last_values(path: Path) -> dict[str, float]:
    """The last non-empty value of each column of a CSV logger's metrics.csv."""
    values: dict[str, float] = {}
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            values.update({k: float(v) for k, v in row.items() if v not in ("", None)})
    return values


def test_csv_logger_gets_the_figures_and_the_config(make_cfg) -> None:
    cfg = make_cfg("logger=csv")
    checkpoint_log = _Records()
    logging.getLogger("lightning.pytorch.trainer.connectors.checkpoint_connector").addHandler(
        checkpoint_log)
    try:
        summary = train(cfg)
    finally:
        logging.getLogger("lightning.pytorch.trainer.connectors.checkpoint_connector"
                          ).removeHandler(checkpoint_log)
    folder = Path(cfg.paths.output_dir) / "csv"
    values = _last_values(folder / "metrics.csv")
    metrics = _metrics_json(summary)
    test, val = metrics["splits"]["test"], metrics["splits"]["val"]

    # The model's headline figures of both splits, as recorded.
    assert values["test/auc"] == pytest.approx(test["model"]["auc"])
    assert values["val/auc"] == pytest.approx(val["model"]["auc"])
    for key in ("hit_rate", "brier", "log_loss", "ece"):
        assert values[f"test/{key}"] == pytest.approx(test["model"][key])
    # Every baseline, the improvement over the best one and its interval.
    for name in BASELINES:
        assert values[f"test/baseline/{name}/auc"] == pytest.approx(test["baselines"][name]["auc"])
    interval = test["intervals"]["improvement"]["auc"]
    assert values["test/improvement/auc"] == pytest.approx(test["improvement_over_best"]["auc"])
    assert values["test/improvement/auc_low"] == pytest.approx(interval["low"])
    assert values["test/improvement/auc_high"] == pytest.approx(interval["high"])
    # Selection and promotion.
    assert values["selection/sharpe"] == pytest.approx(
        metrics["selection"]["model_sharpe_annualised"])
    assert values["selection/excess_sharpe"] == pytest.approx(
        metrics["selection"]["sharpe_annualised"])
    assert values["selection/dsr"] == pytest.approx(
        metrics["selection"]["deflated_sharpe_ratio"])
    assert values["promotion/eligible"] == float(metrics["promotion"]["eligible"])
    # The training losses Lightning logged are still there.
    assert "val_loss" in values

    hparams = yaml.safe_load((folder / "hparams.yaml").read_text())
    assert hparams["family_id"] == "MF_DIR_CORE_V1"
    assert hparams["seed"] == 42
    assert hparams["experiment_id"] == summary["experiment_id"]
    assert hparams["model_id"] == summary["model_id"]
    assert hparams["train_dataset_id"] == hparams["test_dataset_id"] == "DS_DEMO_CORE_V1"
    assert hparams["model/lr"] == cfg.model.lr  # the resolved config, flattened
    assert hparams["family/family_id"] == "MF_DIR_CORE_V1"

    # The recorder's checkpoint save says what it keeps (no "`weights_only` was not set").
    assert not [m for m in checkpoint_log.messages if "weights_only" in m]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_tensorboard_gets_figures_hp_metric_and_the_reliability_diagram(make_cfg) -> None:
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = make_cfg("logger=tensorboard")
    summary = train(cfg)
    folder = Path(cfg.paths.output_dir) / "tensorboard"
    events = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    test = _metrics_json(summary)["splits"]["test"]

    assert "test/auc" in tags["scalars"] and "test/improvement/auc_low" in tags["scalars"]
    assert events.Scalars("test/auc")[-1].value == pytest.approx(test["model"]["auc"], rel=1e-6)
    # hp_metric is the test primary metric, never Lightning's placeholder -1.
    hp = [e.value for e in events.Scalars("hp_metric")]
    assert hp == [pytest.approx(test["model"]["auc"], rel=1e-6)]
    assert {"reliability/val", "reliability/test"} <= set(tags["images"])
    image = events.Images("reliability/test")[-1]
    assert image.width > 100 and image.height > 100 and image.encoded_image_string[:4] == \
        b"\x89PNG"
    # The resolved config and the run's ids, in TensorBoard's hparams view.
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["experiment_id"].string_value == summary["experiment_id"]
    assert hparams["family_id"].string_value == "MF_DIR_CORE_V1"
    assert hparams["seed"].number_value == 42
    assert hparams["model/lr"].number_value == pytest.approx(cfg.model.lr)


def test_mlflow_one_store_per_project_runs_named_after_experiments(make_cfg,
                                                                    tmp_path: Path) -> None:
    pytest.importorskip(
        "mlflow", reason="the mlflow extra is not installed (it pins pyarrow<26, so it is not "
                         "in the shared dev environment; pip install -e '.[mlflow]' to run this)")
    from mlflow.tracking import MlflowClient

    root = tmp_path / "project"
    first = train(make_cfg("logger=mlflow", f"paths.root_dir={root}"))
    second = train(make_cfg("logger=mlflow", f"paths.root_dir={root}", "seed=7"))

    store = root / "outputs" / "mlflow.db"
    assert store.is_file()
    client = MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("default")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {first["experiment_id"], second["experiment_id"]}
    run = runs[first["experiment_id"]]
    test = _metrics_json(first)["splits"]["test"]
    assert run.data.metrics["test/auc"] == pytest.approx(test["model"]["auc"])
    assert run.data.params["family_id"] == "MF_DIR_CORE_V1"
    assert run.data.params["seed"] == "42"
    assert run.data.tags["ifns.model_id"] == first["model_id"]
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "curves")]
    assert "curves/reliability_test.png" in artifacts


class BrokenLogger(Logger):
    """A logger that works while training and fails on everything the recorder hands it."""

    def __init__(self) -> None:
        super().__init__()
        self.recorded_figures = False

    @property
    def name(self) -> str:
        return "broken"

    @property
    def version(self) -> str:
        return "0"

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if "test/auc" in metrics:
            self.recorded_figures = True
            raise ConnectionError("tracking server unreachable")

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        if "experiment_id" in params:
            raise ValueError("parameter too long")

    def finalize(self, status: str) -> None:
        if self.recorded_figures:
            raise OSError("flush failed")


def test_a_failing_logger_is_a_warning_and_the_run_is_recorded(
    make_cfg, registry: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = make_cfg("logger=csv", f"+logger.broken._target_={__name__}.BrokenLogger")
    with caplog.at_level(logging.WARNING, logger="ifns_train"):
        summary = train(cfg)
    warnings = [r.getMessage() for r in caplog.records if r.name == "ifns_train"]
    assert any("BrokenLogger: log_metrics failed (ConnectionError" in w for w in warnings)
    assert any("BrokenLogger: log_hyperparams failed (ValueError" in w for w in warnings)
    assert any("BrokenLogger: finalize failed (OSError" in w for w in warnings)
    assert models_doc(registry)["models"][0]["model_id"] == summary["model_id"]
    assert log_doc(registry)["experiments"][0]["status"] == "completed"
    # The other logger still got everything.
    assert "test/auc" in _last_values(Path(cfg.paths.output_dir) / "csv" / "metrics.csv")


def test_figures_skip_missing_values() -> None:
    evaluation = {
        "evaluation": {"metric_set": "directional"},
        "splits": {"test": {
            "primary_metric": "auc",
            "model": {"auc": 0.6, "brier": None, "hit_rate": float("nan")},
            "baselines": {"prior": {"auc": 0.5, "brier": 0.25}},
            "improvement_over_best": {"auc": 0.1, "brier": None},
            "intervals": {"improvement": {"auc": {"low": 0.01, "high": None}}},
        }},
        "selection": {"model_sharpe_annualised": 0.4, "deflated_sharpe_ratio": None},
        "promotion": {"eligible": False},
    }
    assert log_figures.figures(evaluation) == {
        "test/auc": 0.6,
        "test/baseline/prior/auc": 0.5,
        "test/baseline/prior/brier": 0.25,
        "test/improvement/auc": 0.1,
        "test/improvement/auc_low": 0.01,
        "selection/sharpe": 0.4,
        "promotion/eligible": 0.0,
    }


def _reliability_json(folder: Path, split: str) -> Path:
    """A reliability diagram's JSON as a run writes it (`run.curves`), with no image."""
    from ifns_train.evaluation.curve_data import Picture
    from ifns_train.run.curves import write_picture

    bins = [{"bin_lower": 0.4, "bin_upper": 0.5, "mean_prob": 0.45, "frac_up": 0.5,
             "count": 10}, {"bin_lower": 0.5, "bin_upper": 0.6, "mean_prob": 0.55,
                            "frac_up": 0.6, "count": 12}]
    write_picture(folder, Picture(f"reliability_{split}", "reliability", {
        "title": "t", "xlabel": "x", "ylabel": "y", "count_label": "rows", "note": None,
        "curves": {"model": bins}, "ece": {"estimate": 0.05}, "ece_baselines": {}}),
        images=False)
    return folder / f"reliability_{split}.json"


def test_images_are_rendered_from_the_json_only_for_loggers_that_take_them(
        tmp_path: Path, monkeypatch) -> None:
    from lightning.pytorch.loggers import CSVLogger

    from ifns_train.run import curve_drawing

    _reliability_json(tmp_path, "test")
    images = log_figures.reliability_images(tmp_path, ["val", "test"])
    assert list(images) == ["test"] and images["test"][:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "reliability_test.png").write_bytes(b"drawn in the run")  # taken as it is
    assert log_figures.reliability_images(tmp_path, ["test"]) == {"test": b"drawn in the run"}

    calls = []
    monkeypatch.setattr(curve_drawing, "render", lambda doc: calls.append(doc) or b"")
    (tmp_path / "reliability_test.png").unlink()
    evaluation = {"evaluation": {"metric_set": "directional"}, "splits": {"test": {}}}
    log_figures.log_run([CSVLogger(tmp_path / "csv")], evaluation, {}, {}, tmp_path, 1)
    assert calls == []  # a CSV logger takes no image: nothing is drawn for it
    assert log_figures.reliability_images(tmp_path, ["test"]) == {"test": b""} and calls
