"""A third kind of backbone from outside the package: one module of the user's own (a ridge
regression in numpy) and one `conf/model/ridge.yaml` naming it (`model.learner`), with no edit
of ifns_train. It trains through the run's shared steps, is recorded with its file hashed,
scores new rows through `ifns-predict`'s path, and is re-evaluated from its tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from ifns_train.config import CONF_DIR, use_user_conf
from ifns_train.core.errors import ConfigError
from ifns_train.registry import model_registry
from ifns_train.registry.database import Registry
from tests.conftest import ATTRIBUTION, FAST
from tests.user_project import user_project

LEARNER = '''\
"""Ridge regression on the standardised features: a learner in one module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ifns_train.core.errors import ConfigError
from ifns_train.data.module import EVAL_SPLITS
from ifns_train.learners.base import FitRequest, Fitted

FILES = ("ridge.json",)


class RidgeScorer:
    def __init__(self, family: Any, doc: dict[str, Any]) -> None:
        self.family, self.doc = family, doc
        self.lookback, self.vocab, self.n_features = 1, {}, len(doc["coef"])

    def outputs(self, x: Any, cat: Any) -> np.ndarray:
        z = (x.numpy().astype(np.float64) - self.doc["mean"]) / self.doc["std"]
        return z @ np.asarray(self.doc["coef"]) + self.doc["intercept"]

    def predictions(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        return self.family.predictions_from(outputs, self.doc["target_mean"],
                                            self.doc["target_std"])


def check_config(config: dict[str, Any]) -> None:
    if config["model"]["lookback"] != 1:
        raise ConfigError("model.lookback: a ridge reads the current row")
    if "alpha" not in config["model"]["params"]:
        raise ConfigError("model.params.alpha: the ridge penalty is not set")


def check_init(parent: Any, config: dict[str, Any]) -> None:
    raise ConfigError("is a ridge; a ridge is fitted in closed form, from nothing")


def load(folder: Path, family: Any, record: Any) -> RidgeScorer:
    return RidgeScorer(family, json.loads((folder / FILES[0]).read_text()))


def fit(request: FitRequest) -> Fitted:
    import torch

    train = request.data.splits["train"]
    x = train.table.features[train.rows].astype(np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    target_mean, target_std = request.family.target_scaling(train.label.astype(np.float64))
    z, y = (x - mean) / std, (train.label.astype(np.float64) - target_mean) / target_std
    alpha = float(request.config["model"]["params"]["alpha"])
    coef = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ (y - y.mean()))
    doc = {"mean": mean.tolist(), "std": std.tolist(), "coef": coef.tolist(),
           "intercept": float(y.mean()), "target_mean": target_mean, "target_std": target_std}
    scorer = RidgeScorer(request.family, doc)
    request.mark("setup")
    outputs = {name: scorer.outputs(torch.from_numpy(np.ascontiguousarray(
        request.data.splits[name].table.features[request.data.splits[name].rows])), None)
        for name in EVAL_SPLITS}
    loss = float(np.mean((z @ coef + y.mean() - y) ** 2))

    def save(folder: Path) -> None:
        (folder / FILES[0]).write_text(json.dumps(doc))

    return Fitted(outputs=outputs, scorer=scorer, save=save,
                  training={"learner": request.config["model"]["learner"], "best_epoch": 1,
                            "steps_taken": 1, "alpha": alpha},
                  history={1: {"train_loss": loss}}, parameter_count=len(coef) + 1,
                  fit_seconds=0.0, resources={"accelerator": "cpu", "devices": 1},
                  loggers=[], log_step=1)
'''

MODEL_YAML = """\
backbone: ridge
learner: userlearn.ridge
lookback: 1
hidden_sizes: null
dropout: null
optimizer: null
lr: null
weight_decay: null
batch_size: null
params:
  alpha: 10.0
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project folder of the user's: their package `userlearn` (on sys.path) and their
    conf/model/ridge.yaml, the working directory and IFNS_ROOT."""
    with user_project(tmp_path / "project", {
            "userlearn/__init__.py": "", "userlearn/ridge.py": LEARNER,
            "conf/model/ridge.yaml": MODEL_YAML}, "userlearn", monkeypatch) as root:
        yield root


def _cfg(registry: Path, out: Path, *overrides: str) -> DictConfig:
    use_user_conf()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=[
            "family=ret_core", "model=ridge", f"paths.registry_dir={registry}",
            f"paths.output_dir={out}", "callbacks=none", *FAST, "model.batch_size=null",
            ATTRIBUTION,
            *overrides])


def test_a_learner_of_ones_own_trains_records_scores_and_reevaluates(
        project: Path, registry: Path, tmp_path: Path) -> None:
    from ifns_train.run.reevaluation import reevaluate
    from ifns_train.run.train import train
    from ifns_train.signals.scoring import score, usable_model

    summary = train(_cfg(registry, tmp_path / "run"))
    folder = Path(summary["artifact_dir"])
    reg = Registry(registry, create=False)
    try:
        record = model_registry.get(reg, summary["model_id"])
        assert record.training["learner"] == "userlearn.ridge"
        assert "ridge.json" in record.artifact_hashes and not (folder / "model.ckpt").exists()
        assert record.resources["parameter_count"] == len(record.feature_columns) + 1
        # Scored through ifns-predict's path, from its own file: the recorded test predictions.
        record, scorer = usable_model(reg, record.model_id, "offline")
        start, end = record.dataset_windows["test"]
        scored = score(reg, record, scorer, record.train_dataset_id, start, end)
        saved = json.loads((folder / "metrics.json").read_text())
        table = pd.read_parquet(folder / "predictions_test.parquet")
        got = pd.DataFrame({"date": scored.dates, "symbol": scored.symbols.astype(str),
                            "pred": scored.predictions["pred"]})
        both = table.assign(symbol=table["symbol"].astype(str)).merge(
            got, on=["date", "symbol"], how="left", validate="one_to_one")
        assert len(both) == saved["splits"]["test"]["rows"] and both["pred"].notna().all()
        np.testing.assert_allclose(both["pred"], both["model:pred"], rtol=1e-12)
        # Its attribution, through the same seam.
        assert set(saved["attribution"]["families"]) == set(record.features_used)
        assert reevaluate(reg, record.model_id)["status"] == "reproduced"
    finally:
        reg.close()


def test_a_learner_refuses_what_it_cannot_do_before_any_work(
        project: Path, registry: Path, tmp_path: Path) -> None:
    from ifns_train.run.train import train

    with pytest.raises(ConfigError, match=r"model\.params\.alpha: the ridge penalty"):
        train(_cfg(registry, tmp_path / "run", "~model.params.alpha"))
    with pytest.raises(ConfigError, match=r"model\.learner 'userlearn\.nothing' cannot be "
                                          r"imported"):
        train(_cfg(registry, tmp_path / "run2", "model.learner=userlearn.nothing"))
