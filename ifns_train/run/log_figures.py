"""The recorder's figures, where users look: the run's Lightning loggers (CSV, TensorBoard,
MLflow, ...).

After evaluation, and before the registry transaction, the recorder hands each configured
logger (`trainer.loggers`, global rank 0 only):

- metrics, at the run's last optimiser step: `<split>/<metric>` for the model's headline metrics
  of each split (`val/auc`, `test/auc`, ...), `<split>/baseline/<name>/<metric>` for every
  baseline, `<split>/improvement/<metric>` over the best baseline on that metric with
  `<split>/improvement/<metric>_low` and `_high` (its interval) where one was computed,
  `<split>/gating/<figure>` for a structure-aware overlay, `selection/sharpe` (the model's
  proxy, annualised), `selection/excess_sharpe` (its excess over the best baseline's, what the
  ratios below are of), `selection/psr`, `selection/dsr`, `selection/trials` and
  `promotion/eligible` (0 or 1); a figure that is None (or not finite) is left out;
- hyperparameters: the whole resolved config, flattened with "/" (`model/lr`), with the
  experiment id, model id, family id, dataset ids, seed and kind at the top; TensorBoard also
  gets the test split's primary metric as `hp_metric`;
- images: the reliability diagrams (`curves/reliability_<split>.png`), to TensorBoard as images
  and to MLflow as artifacts under `curves/` (a CSV logger takes none). A run draws no PNG by
  default (`evaluation.curves.images`), so where one of these loggers is configured and the PNG
  is not there, the image is rendered in memory from the picture's JSON
  (`run.curve_drawing.render`, the one drawing of every picture); a run with no such logger
  renders nothing and never imports matplotlib's drawing.

An MLflow run is named after the experiment id (`name_runs`, at fit start): the id is made by
`train` and cannot be interpolated into the logger's config.

A logger is a window on the run, not its record: any error of a logger becomes one warning line
on the `ifns_train` logger and the run goes on to be recorded.
"""

from __future__ import annotations

import io
import json
import logging
import math
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from numbers import Real
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.loggers import Logger, MLFlowLogger, TensorBoardLogger

from ifns_train.evaluation.report import METRIC_SETS

log = logging.getLogger("ifns_train")

# metrics.json's selection figures under the names the loggers get (`selection/<name>`).
SELECTION_KEYS = {
    "model_sharpe_annualised": "sharpe",  # the model's own proxy, net
    "sharpe_annualised": "excess_sharpe",  # its excess over the best baseline's: what is deflated
    "probabilistic_sharpe_ratio": "psr",
    "deflated_sharpe_ratio": "dsr",
    "trials": "trials",
}


def _number(value: Any) -> float | None:
    """A loggable number: bools as 0/1; None, text and non-finite values as None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, Real) or (hasattr(value, "item") and getattr(value, "ndim", 1) == 0):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def figures(evaluation: Mapping[str, Any]) -> dict[str, float]:
    """The flat metrics the loggers get, from `evaluate(...)`'s output: on each split, the
    headline metrics (the keys of its metric set) of the model, each baseline and the
    improvement over the best one."""
    keys = list(METRIC_SETS[evaluation["evaluation"]["metric_set"]].keys)
    out: dict[str, Any] = {}
    for split, report in evaluation.get("splits", {}).items():
        model = report.get("model", {})
        for k in keys:
            out[f"{split}/{k}"] = model.get(k)
        for name, scores in report.get("baselines", {}).items():
            for k in keys:
                out[f"{split}/baseline/{name}/{k}"] = scores.get(k)
        improvement = report.get("improvement_over_best", {})
        intervals = report.get("intervals", {}).get("improvement", {})
        for k in keys:
            if k not in improvement:
                continue
            out[f"{split}/improvement/{k}"] = improvement[k]
            interval = intervals.get(k) or {}
            out[f"{split}/improvement/{k}_low"] = interval.get("low")
            out[f"{split}/improvement/{k}_high"] = interval.get("high")
        for k, v in (report.get("gating") or {}).items():
            if k != "slices":
                out[f"{split}/gating/{k}"] = v
    selection = evaluation.get("selection") or {}
    for key, name in SELECTION_KEYS.items():
        out[f"selection/{name}"] = selection.get(key)
    promotion = evaluation.get("promotion")
    if promotion is not None:
        out["promotion/eligible"] = bool(promotion.get("eligible"))
    numbers = {k: _number(v) for k, v in out.items()}
    return {k: v for k, v in numbers.items() if v is not None}


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"model": {"lr": 1e-3}}` -> `{"model/lr": 1e-3}`; lists are kept whole."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name))
        else:
            out[name] = dict(value) if isinstance(value, Mapping) else value
    return out


def hyperparameters(config: Mapping[str, Any], **ids: Any) -> dict[str, Any]:
    """The resolved config, flattened, after the run's identifiers (`ids`: experiment_id,
    model_id, ...) and the family id, dataset ids and seed it holds."""
    dataset = config.get("dataset", {})
    head = {
        **ids,
        "family_id": config.get("family", {}).get("family_id"),
        **{f"{s}_dataset_id": dataset.get(f"{s}_dataset_id") for s in ("train", "val", "test")},
        "seed": config.get("seed"),
    }
    return {**head, **flatten(config)}


def _attempt(logger: Logger, what: str, call: Callable[[], Any]) -> None:
    """Run one logger call; an error becomes a warning, never the run's failure."""
    try:
        call()
    except Exception as exc:
        log.warning("logger %s: %s failed (%s: %s); the run is recorded without it",
                    type(logger).__name__, what, type(exc).__name__, str(exc).strip()[:500])


class RunNames(pl.Callback):
    """At the fit's start, on global rank zero, names each MLflow run after the experiment."""

    def __init__(self, experiment_id: str, model_id: str | None) -> None:
        self.experiment_id, self.model_id = experiment_id, model_id

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            name_runs(trainer.loggers, self.experiment_id, self.model_id)


def name_runs(loggers: Iterable[Logger], experiment_id: str, model_id: str | None) -> None:
    """Name each MLflow run after the experiment id (MLflow's `mlflow.runName` tag) and tag it
    with the experiment and model ids."""
    for logger in loggers:
        if isinstance(logger, MLFlowLogger):
            tags = {"mlflow.runName": experiment_id, "ifns.experiment_id": experiment_id,
                    **({"ifns.model_id": model_id} if model_id else {})}
            _attempt(logger, "naming the run", partial(_set_tags, logger, tags))


def _set_tags(logger: MLFlowLogger, tags: Mapping[str, str]) -> None:
    for key, value in tags.items():
        logger.experiment.set_tag(logger.run_id, key, value)


# The loggers that take images; the others (CSV, ...) get none, and none is rendered for them.
IMAGE_LOGGERS = (TensorBoardLogger, MLFlowLogger)


def reliability_images(curves_dir: Path, splits: Iterable[str]) -> dict[str, bytes]:
    """The PNG of each split's reliability diagram: the one the run drew, else rendered from
    its JSON; a split whose picture is missing or cannot be rendered is a warning."""
    out = {}
    for split in splits:
        png, data = (curves_dir / f"reliability_{split}.{ext}" for ext in ("png", "json"))
        try:
            if png.is_file():
                out[split] = png.read_bytes()
            elif data.is_file():
                from ifns_train.run.curve_drawing import render  # matplotlib: only for images

                out[split] = render(json.loads(data.read_text()))
        except Exception as exc:  # a logger's image is a view, never the run's failure
            log.warning("loggers: %s not rendered (%s: %s)", png.name, type(exc).__name__,
                        str(exc).strip()[:300])
    return out


def _add_image(logger: Logger, split: str, png: bytes, step: int) -> None:
    name = f"reliability_{split}.png"
    if isinstance(logger, TensorBoardLogger):
        import matplotlib.image

        image = matplotlib.image.imread(io.BytesIO(png))  # H x W x 4 floats in [0, 1]
        logger.experiment.add_image(f"reliability/{split}", image[..., :3], global_step=step,
                                    dataformats="HWC")
    elif isinstance(logger, MLFlowLogger):
        with tempfile.TemporaryDirectory() as folder:  # MLflow logs files, by their name
            path = Path(folder) / name
            path.write_bytes(png)
            logger.experiment.log_artifact(logger.run_id, str(path), artifact_path="curves")


def publish(loggers: Iterable[Logger], *, metrics: Mapping[str, float],
            params: Mapping[str, Any], hp_metric: float | None, images: Mapping[str, bytes],
            step: int) -> None:
    """Hand each logger the metrics, the hyperparameters and the images (PNG bytes by split),
    then flush it (`finalize`, as Lightning does after each Trainer call); each call is
    attempted alone."""
    for logger in loggers:
        if metrics:
            _attempt(logger, "log_metrics", partial(logger.log_metrics, dict(metrics), step))
        if isinstance(logger, TensorBoardLogger) and hp_metric is not None:
            _attempt(logger, "log_hyperparams", partial(
                logger.log_hyperparams, dict(params), metrics={"hp_metric": hp_metric},
                step=step))
        else:
            _attempt(logger, "log_hyperparams", partial(logger.log_hyperparams, dict(params)))
        if isinstance(logger, IMAGE_LOGGERS):
            for split, png in images.items():
                _attempt(logger, f"logging reliability_{split}.png",
                         partial(_add_image, logger, split, png, step))
        _attempt(logger, "finalize", partial(logger.finalize, "success"))


def log_run(loggers: Sequence[Logger], evaluation: Mapping[str, Any],
            config: Mapping[str, Any], ids: Mapping[str, Any], curves_dir: Path, step: int
            ) -> None:
    """What the recorder calls: the figures of `evaluation`, the config and the reliability
    diagrams of `curves_dir` (only for a logger that takes images), to every logger. Never
    raises (but for an interrupt)."""
    if not loggers:
        return
    try:
        metrics = figures(evaluation)
        test = evaluation.get("splits", {}).get("test", {})
        hp_metric = _number(test.get("model", {}).get(test.get("primary_metric")))
        wanted = any(isinstance(logger, IMAGE_LOGGERS) for logger in loggers)
        images = reliability_images(curves_dir, evaluation.get("splits", {})) if wanted else {}
        params = hyperparameters(config, **ids)
    except Exception as exc:
        log.warning("loggers: the figures could not be prepared (%s: %s); the run is recorded "
                    "without them", type(exc).__name__, exc)
        return
    publish(loggers, metrics=metrics, params=params, hp_metric=hp_metric, images=images,
            step=step)
