"""Companion runs: walk-forward folds, extra seeds and a placebo, each an experiment of its own
linked to the main one, whose evidence holds their figures; none registers a model or counts as
a trial of the deflated Sharpe ratio."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pandas as pd

from ifns_train.data.demo import FEATURE_FAMILIES, LABEL_FAMILIES, default_splits, generate_panel
from ifns_train.data.index import register_dataset
from ifns_train.registry import doctor
from ifns_train.registry import log as xlog
from ifns_train.registry.database import Registry
from ifns_train.run.train import train
from tests.registry.docs import log_doc, models_doc

DIRECTION = "Label_Direction_Horizon_20d_V1"


def _log(registry: Path) -> dict[str, dict]:
    entries = log_doc(registry)["experiments"]
    return {e["experiment_id"]: e for e in entries}


def _metrics(summary: dict) -> dict:
    return json.loads((Path(summary["artifact_dir"]) / "metrics.json").read_text())


def _stay_companions(registry: Path, summary: dict, kind: str) -> list[dict]:
    """The main run's companions of `kind`, checked to be evidence only: the one registered
    model is the main run's, each companion is a completed experiment of `kind` linked to the
    main one with its folder under controls/ (claimed: the doctor finds no orphan), and the
    deflated Sharpe ratio counts one trial."""
    assert [m["model_id"] for m in models_doc(registry)["models"]] == [summary["model_id"]]
    log = _log(registry)
    main = log[summary["experiment_id"]]
    companions = [log[e] for e in main["links"][kind]]
    assert companions and main["kind"] == "model"
    for entry in companions:
        assert (entry["kind"], entry["status"]) == (kind, "completed")
        assert entry["parent_experiment_id"] == main["experiment_id"]
        assert entry["artifacts"]["artifact_path"].startswith("controls/")
    reg = Registry(registry, create=False)
    assert xlog.trials(reg, "MF_DIR_CORE_V1", DIRECTION, "DS_DEMO_CORE_V1")["count"] == 1
    assert doctor.diagnose(reg).clean
    return companions


def test_walk_forward_folds_are_linked_experiments(make_cfg, registry: Path) -> None:
    summary = train(make_cfg(
        "evaluation.walk_forward.folds=3", "evaluation.walk_forward.scheme=rolling",
        "evaluation.walk_forward.train_days=250", "evaluation.walk_forward.val_days=100",
        "evaluation.walk_forward.test_days=100"))
    folds = _stay_companions(registry, summary, "fold")
    main = _log(registry)[summary["experiment_id"]]
    assert len(folds) == 2
    # The last fold is the main run: its test window ends on the dataset's last date, and each
    # earlier fold's 100 trading days before.
    ends = [e["datasets"]["windows"]["test"][1] for e in (*folds, main)]
    dates = pd.read_parquet(registry / "datasets" / "DS_DEMO_CORE_V1.parquet",
                            columns=["date"])["date"].drop_duplicates().sort_values()
    days = [d.date().isoformat() for d in dates]
    assert ends == [days[-201], days[-101], days[-1]]
    # The folds' figures are the main model's evidence, not models of their own.
    split = _metrics(summary)["stability"]["split"]
    stability = _metrics(summary)["stability"]["walk_forward"]
    aucs = [f["metrics"][split]["model"]["auc"] for f in folds]
    aucs.append(summary["metrics"][split]["model"]["auc"])
    assert [r["experiment_id"] for r in stability["runs"]] == [*main["links"]["fold"],
                                                               main["experiment_id"]]
    assert [r["value"] for r in stability["runs"]] == aucs
    assert stability["spread"]["std"] == statistics.stdev(aucs)


def test_a_seed_companion_is_evidence_not_a_model(make_cfg, registry: Path) -> None:
    summary = train(make_cfg("seed=42", "evaluation.seeds=[42,43]"))
    (seed,) = _stay_companions(registry, summary, "seed")
    assert sorted(e["seed"] for e in log_doc(registry)["experiments"]) == [42, 43]
    assert seed["seed"] == 43
    # Its figures are in the main model's stability, beside the main run's.
    stability = _metrics(summary)["stability"]
    split, seeds = stability["split"], stability["seeds"]
    assert seeds["runs"] == [
        {"experiment_id": seed["experiment_id"],
         "value": seed["metrics"][split]["model"]["auc"]},
        {"experiment_id": summary["experiment_id"],
         "value": summary["metrics"][split]["model"]["auc"]}]
    assert seeds["spread"]["n"] == 2 and seeds["spread"]["std"] > 0


def test_a_sound_pipeline_passes_its_placebo(make_cfg, registry: Path) -> None:
    summary = train(make_cfg("evaluation.placebo=true"))
    metrics = _metrics(summary)
    placebo = metrics["controls"]["placebo"]
    assert placebo["permutation"] == {"train": "within_date", "val": "within_date"}
    assert placebo["significantly_better"] is False
    check = next(c for c in metrics["promotion"]["checks"] if c["name"] == "placebo")
    assert check["passed"] is True
    log = _log(registry)
    entry = log[placebo["experiment_id"]]
    assert entry["kind"] == "placebo" and entry["status"] == "completed"
    assert entry["parent_experiment_id"] == summary["experiment_id"]
    assert entry["artifacts"]["artifact_path"].startswith("controls/")
    # A placebo is evidence, never a model anyone may use: no record of it in the registry.
    models = models_doc(registry)["models"]
    assert [m["experiment_id"] for m in models] == [summary["experiment_id"]]


def test_a_leak_makes_the_placebo_fail_promotion(make_cfg, registry: Path) -> None:
    # A feature that knows each date's future market direction (a leak through the cross
    # section): labels permuted within a date keep their date's mean, so the placebo learns it.
    # Eight years, so that the test split holds enough independent 20-day periods to tell.
    frame = generate_panel(n_symbols=8, n_years=8.0)
    future = frame.groupby("date")[DIRECTION].transform("mean").fillna(0.5)
    frame["trend_ret_5d"] = future - 0.5
    register_dataset(registry, "DS_LEAK_V1", frame, feature_families=FEATURE_FAMILIES,
                     label_families=LABEL_FAMILIES, splits=default_splits(frame))
    summary = train(make_cfg("dataset.id=DS_LEAK_V1", "evaluation.placebo=true"))
    metrics = _metrics(summary)
    assert metrics["controls"]["placebo"]["significantly_better"] is True
    assert not metrics["promotion"]["eligible"]
    assert any(r.startswith("placebo: ") for r in metrics["promotion"]["reasons"])
    assert summary["metrics"]["promotion"]["eligible"] is False
