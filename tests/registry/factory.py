"""Registry records made without training: runs and models with real artifact folders, built
through the same record builders and writes as a run, for tests of the registry and its
consoles (and the scale benchmark)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ifns_train.data.index import load_index
from ifns_train.registry import artifacts, ids, log, model_registry
from ifns_train.registry.database import Registry
from ifns_train.registry.publish import Run, experiment_entry, model_draft
from ifns_train.registry.records import FamilyRecord, ModelRecord

FAMILY = FamilyRecord(
    family_id="MF_DIR_CORE_V1", name="dir_core", description="directional core",
    roles=["primary_directional"], task="classification", prediction_type="probabilities",
    input_requirements={}, supported_environments=["offline"], baselines=["momentum_sign"])
DATASET = "DS_DEMO_CORE_V1"


RULES = {"name": "dir_core", "min_improvement": 0.0, "require_significant": False,
         "regime_floor": 0.02, "max_calibration_error": 0.05, "max_walk_forward_std": 0.03,
         "min_deflated_sharpe": 0.95, "max_pbo": 0.5, "pbo_blocks": 4}
HORIZON = 20


def selection(sharpe: float = 1.0, trials: int = 1) -> dict[str, Any]:
    """Selection evidence as a run records it: 20 start offsets of 100 periods whose excess
    has an annualised Sharpe ratio of `sharpe`, deflated by `trials` trials of that Sharpe."""
    from ifns_train.core.calendar import TRADING_DAYS_PER_YEAR
    from ifns_train.evaluation.selection import deflate, per_period_sharpe
    from ifns_train.evaluation.standard import SELECTION_STATISTIC

    ppy = TRADING_DAYS_PER_YEAR / HORIZON
    offsets = [{"sharpe": per_period_sharpe(sharpe, ppy), "n": 100, "skew": 0.0,
                "kurtosis": 3.0}] * HORIZON
    return {"statistic": SELECTION_STATISTIC, "baseline": "momentum_sign",
            "model_sharpe_annualised": sharpe,
            **deflate(offsets, trials=trials, trial_sharpes=[sharpe] * trials,
                      periods_per_year=ppy)}


def key_metrics(auc: float = 0.58, eligible: bool = True, sharpe: float = 1.0,
                controls: bool = True) -> dict[str, Any]:
    """Key figures as a run records them (through the evaluator's own check and verdict
    functions): `eligible` False fails the improvement check; `controls` says whether the
    walk-forward and placebo were run (and passed)."""
    from ifns_train.evaluation.promotion import promotion_checks

    # The momentum baseline at 0.53, or just below an eligible model's AUC.
    base = 0.53 if not eligible or auc > 0.53 else round(auc - 0.02, 10)
    gain = (auc - base) if eligible else -0.01
    split = {"rows": 1000, "primary_metric": "auc", "model": {"auc": auc, "hit_rate": 0.55},
             "best_baseline": {"auc": "momentum_sign"}, "baseline": {"auc": base},
             "improvement": {"auc": auc - base}, "intervals": {}}
    report = {"primary_metric": "auc", "model": {"auc": auc, "ece": 0.01},
              "best_baseline": {"auc": "momentum_sign"},
              "improvement_over_best": {"auc": gain}, "intervals": {}, "slices": {}}
    chosen = selection(sharpe)
    stability = {"walk_forward": {"metric": "auc", "spread": {
        "n": 3, "std": 0.01, "min": auc - 0.01, "max": auc + 0.01}}} if controls else {}
    placebo = {"placebo": {"experiment_id": "EXP_placebo", "metric": "auc",
                           "improvement": 0.0, "significantly_better": False}} \
        if controls else {}
    promotion = promotion_checks(report, RULES, stability=stability, selection=chosen,
                                 controls=placebo)
    return {"val": split, "test": split, "selection": chosen, "promotion": promotion}


def new_run(reg: Registry, name: str = "t", family: FamilyRecord = FAMILY,
            dataset: str = DATASET, n: int | None = None) -> Run:
    now = ids.utc_now()
    exp_id, model_id = ids.new_ids(name, family.family_id, now)
    if n is not None:  # unique and ordered without waiting for the clock
        exp_id, model_id = f"{exp_id}_{n:06d}", f"{model_id}_{n:06d}"
    index = load_index(reg.dir)["datasets"] if (reg.dir / "datasets_index.json").exists() \
        else {}
    fingerprint = (index.get(dataset) or {}).get("fingerprint", "sha256:none")
    config = {"experiment_name": name, "seed": 1, "model": {"lr": 0.001},
              "features": {"families": ["Feature_TREND_MTF_V1"]},
              "labels": {"target": "Label_Direction_Horizon_20d_V1"},
              "family": {"prediction_type": family.prediction_type,
                         "supported_environments": family.supported_environments}}
    return Run(
        experiment_id=exp_id, model_id=model_id, experiment_name=name,
        family_id=family.family_id, roles=list(family.roles), started_ts=ids.iso(now),
        config=config, config_hash="sha256:test", code_version={}, run_dir="/tmp/run",
        artifact_path=f"models/{family.family_id}/{model_id}",
        datasets={"ids": {s: dataset for s in ("train", "val", "test")},
                  "windows": {"train": ["2014-01-02", "2019-10-18"],
                              "val": ["2019-10-21", "2021-09-23"],
                              "test": ["2021-09-24", "2023-08-30"]},
                  "fingerprints": {dataset: fingerprint}},
        training={}, host="testhost", pid=1)


def add_model(reg: Registry, name: str = "t", *, auc: float = 0.58, eligible: bool = True,
              family: FamilyRecord = FAMILY, dataset: str = DATASET, n: int | None = None,
              sharpe: float = 1.0, controls: bool = True,
              predictions: Any = None, sweep_dir: str | None = None,
              features: tuple[str, ...] = ("Feature_TREND_MTF_V1",),
              attribution: dict[str, Any] | None = None) -> ModelRecord:
    """A completed run and its `candidate` model, with an artifact folder of two files;
    with `predictions` (a test prediction table, `planted_test_table`) also that table as
    predictions_test.parquet, named by its metrics.json as a run names it; `sweep_dir`: a
    trial of that sweep (its `artifacts.sweep_dir`); `features`: the feature families it
    declares; `attribution`: its metrics.json's attribution block (`planted_attribution`)."""
    # Imported here: the evaluation imports torch (~2 s), which the processes that
    # tests/registry/test_concurrency.py starts to call this would otherwise pay each.
    from ifns_train.evaluation.standard import METRICS_VERSION

    run = new_run(reg, name, family, dataset, n)
    run.sweep_dir = sweep_dir
    log.begin_run(reg, experiment_entry(run, "running", None, {}))
    folder = reg.dir / run.artifact_path
    folder.mkdir(parents=True)
    (folder / "model.ckpt").write_bytes(b"weights" * 100)
    (folder / "metrics.json").write_text(json.dumps({"model_id": run.model_id}))
    if predictions is not None:
        plant_test_table(folder, run.model_id, predictions)
    if attribution is not None:
        doc = json.loads((folder / "metrics.json").read_text())
        (folder / "metrics.json").write_text(json.dumps({**doc, "attribution": attribution}))
    run.config["features"]["families"] = list(features)
    metrics = key_metrics(auc, eligible, sharpe, controls)
    now = ids.iso(ids.utc_now())
    draft = model_draft(run, now=now, metrics=metrics, metrics_version=METRICS_VERSION,
                        features_used=list(features),
                        labels_used=["Label_Direction_Horizon_20d_V1"], horizons=[20],
                        feature_columns=["trend_20d"],
                        resources={}, artifact_hashes=artifacts.folder_hashes(folder))
    return model_registry.publish(reg, family, experiment_entry(run, "completed", now, metrics),
                                  draft)


def planted_attribution(leaned: str = "Feature_VOL_LIQ_V1", drop: float = 0.04, *,
                        tree: bool = False, per_feature: bool = True) -> dict[str, Any]:
    """An attribution block as the recorder stores it (test split, AUC), of a model that
    leans on one column of the family `leaned` (its drop `drop`, interval +-0.01: better)
    and on nothing else (drops within noise around 0); `tree`: with gain shares;
    `per_feature` False: families only, the per-feature pass skipped."""
    def figure(value: float, half: float, evidence: str) -> dict[str, Any]:
        return {"drop": value, "low": value - half, "high": value + half, "evidence": evidence}

    other = "Feature_TREND_MTF_V1" if leaned != "Feature_TREND_MTF_V1" else "Feature_VOL_LIQ_V1"
    features = {
        "vol_20d": {**figure(drop, 0.01, "better"), "family": leaned},
        "liq_ratio": {**figure(0.0002, 0.002, "within noise"), "family": leaned},
        "trend_20d": {**figure(0.0004, 0.003, "within noise"), "family": other},
        "trend_60d": {**figure(-0.0003, 0.002, "within noise"), "family": other}}
    block: dict[str, Any] = {
        "split": "test", "metric": "auc", "prediction": "prob", "full": 0.58,
        "method": "the fall of the AUC when a feature is permuted across symbols within "
                  "dates, one shuffle per block of 20 dates",
        "block_dates": 20, "seed": 0, "rows": 1440, "dates": 120,
        "bootstrap": {"reps": 200, "level": 0.95, "method": "stationary", "block": 20},
        "features": features if per_feature else None,
        "families": {leaned: {**figure(drop + 0.001, 0.01, "better"), "columns": 2},
                     other: {**figure(0.0001, 0.003, "within noise"), "columns": 2}},
        "skipped": None if per_feature else "3000 columns, above max_features 64"}
    if tree:
        block["gain"] = {"vol_20d": 0.7, "liq_ratio": 0.1, "trend_20d": 0.15,
                         "trend_60d": 0.05}
    return block


# What a planted model's metrics.json records of its evaluation: few replicates, to stay fast.
PLANTED_BOOTSTRAP = {"reps": 200, "level": 0.95, "block": "auto", "method": "stationary",
                     "seed": 0}


def planted_test_table(edge: float = 0.3, *, noise: int = 1, dates: int = 120,
                       symbols: int = 12, start: str = "2021-09-24", labels: int = 0) -> Any:
    """A directional test prediction table (a DataFrame, as a run saves it): labels drawn
    with seed `labels` (the same for every model given the same seed, dates and symbols),
    P(up) = 0.5 + `edge` x (label - 0.5) + noise (seed `noise`, sd 0.25), clipped to [0, 1].
    The same arguments give the same table: two models with identical scores."""
    import numpy as np

    from ifns_train.evaluation.predictions import PredictionArrays, prediction_table

    days = np.busday_offset(np.datetime64(start, "D"), np.arange(dates), roll="forward")
    y = (np.random.default_rng(labels).random(dates * symbols) < 0.5).astype(np.float64)
    jitter = np.random.default_rng(noise).normal(0.0, 0.25, y.size)
    prob = np.clip(0.5 + edge * (y - 0.5) + jitter, 0.0, 1.0)
    return prediction_table(PredictionArrays(
        dates=np.repeat(days, symbols).astype("datetime64[ns]"),
        symbols=np.tile(np.array([f"S{i:02d}" for i in range(symbols)], dtype=object), dates),
        y=y, model={"prob": prob, "pred": (prob > 0.5).astype(np.float64)}, baselines={},
        inputs={}, context={}))


def plant_test_table(folder: Path, model_id: str, table: Any) -> None:
    """The table as the model's predictions_test.parquet and a metrics.json naming it with
    the evaluation settings a comparison reads (metric set, horizon, bootstrap)."""
    table.to_parquet(folder / "predictions_test.parquet", index=False)
    (folder / "metrics.json").write_text(json.dumps({
        "model_id": model_id, "prediction_tables": {"version": 1,
                                                    "test": "predictions_test.parquet"},
        "evaluation": {"metric_set": "directional", "horizon_days": HORIZON,
                       "bootstrap": PLANTED_BOOTSTRAP},
        "splits": {"test": {"primary_metric": "auc"}}}))


def add_failed(reg: Registry, name: str = "t", error: str = "ValueError: boom",
               n: int | None = None) -> str:
    run = new_run(reg, name, n=n)
    log.begin_run(reg, experiment_entry(run, "running", None, {}))
    log.finish(reg, experiment_entry(run, "failed", ids.iso(ids.utc_now()), {}, error=error),
               "run failed")
    return run.experiment_id


def add_running(reg: Registry, name: str = "t", host: str = "testhost", pid: int = 1) -> Run:
    run = new_run(reg, name)
    run.host, run.pid = host, pid
    log.begin_run(reg, experiment_entry(run, "running", None, {}))
    return run


def open_registry(path: Path, url: str | None = None) -> Registry:
    return Registry(path, url)


def edit_stored(reg: Registry, subject: str, subject_id: str, **changes: Any) -> None:
    """Change fields of a stored record behind the registry's back (a hand edit, a bug of
    another tool): `subject` is "model" or "experiment"."""
    from sqlalchemy import update

    from ifns_train.registry.database import dumps
    from ifns_train.registry.schema import experiments, models

    table, key = (models, models.c.model_id) if subject == "model" else \
        (experiments, experiments.c.experiment_id)
    with reg.read() as conn:
        raw = json.loads(conn.execute(table.select().where(key == subject_id)).first().record)
    raw.update(changes)
    with reg.write() as conn:
        conn.execute(update(table).where(key == subject_id).values(record=dumps(raw)))


def set_status(reg: Registry, model_id: str, status: str, actor: str = "dra-test") -> None:
    """Put a model in `status` as a decision would (its status and an appended history row),
    without the lifecycle's transitions or promotion gate: for tests that need a canary or a
    promoted model whatever its evidence."""
    from sqlalchemy import update

    from ifns_train.registry.schema import models

    old = model_registry.get(reg, model_id).status
    with reg.write() as conn:
        conn.execute(update(models).where(models.c.model_id == model_id)
                     .values(status=status, last_updated_ts=ids.iso(ids.utc_now())))
        log.append_history(conn, "model", model_id, old, status, actor, "test set-up")


def change_table_value(registry_dir: Path, dataset_id: str = DATASET,
                       column: str = "trend_ret_20d", row: int = 100) -> Path:
    """Rewrite a registered dataset's Parquet file with one value changed, its index entry
    untouched (a hand edit, a bad copy); returns the file."""
    import pandas as pd

    path = registry_dir / "datasets" / f"{dataset_id}.parquet"
    frame = pd.read_parquet(path)
    frame.loc[row, column] = frame.loc[row, column] + 0.001
    frame.to_parquet(path, index=False)
    return path


def raw_sql(reg: Registry, statement: str, **params: Any) -> int:
    """Run one SQL statement behind the registry's back; returns the rows it changed."""
    from sqlalchemy import text

    with reg.write() as conn:
        return conn.execute(text(statement), params).rowcount
