"""Signals by registry id: predictions reproduce training, bad inputs are refused, a model is
used only where its status allows, a job of several models writes one valid signal table whose
rows carry the model's status and whether they are in-sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ifns_train.config.schema import Environment
from ifns_train.core.errors import ContractError, RegistryError
from ifns_train.registry import lifecycle, model_registry
from ifns_train.registry.database import Registry
from ifns_train.registry.jobs import jobs
from ifns_train.registry.records import USABLE_IN
from ifns_train.run.train import train
from ifns_train.signals import scoring
from ifns_train.signals.contract import (
    DRIFT_KEY,
    SIGNAL_SCHEMA,
    VERSION_KEY,
    SignalError,
    validate,
)
from ifns_train.signals.scoring import ENVIRONMENTS, run_job, score, usable_model
from tests.conftest import run_cli
from tests.registry.factory import edit_stored, set_status
from tests.signals.drift_data import limits

DATASET = "DS_DEMO_CORE_V1"


@pytest.mark.parametrize("model", [[], ["model=gru", "model.lookback=3",
                                        "model.hidden_sizes=[16]"]], ids=["mlp", "gru"])
def test_prediction_by_id_reproduces_the_saved_test_predictions(trained, registry: Path,
                                                                model: list[str]) -> None:
    summary = trained(*model)
    reg = Registry(registry, create=False)
    record, module = usable_model(reg, summary["model_id"], "offline")
    start, end = record.dataset_windows["test"]
    scored = score(reg, record, module, DATASET, start, end, batch_size=1000)
    saved = pd.read_parquet(Path(summary["artifact_dir"]) / "predictions_test.parquet")
    got = pd.DataFrame({"date": scored.dates, "symbol": scored.symbols.astype(str),
                        "prob": scored.predictions["prob"]})
    both = saved.assign(symbol=saved["symbol"].astype(str)).merge(
        got, on=["date", "symbol"], how="left", validate="one_to_one")
    assert both["prob"].notna().all() and len(got) >= len(saved)
    np.testing.assert_allclose(both["prob"], both["model:prob"], rtol=0, atol=1e-6)


def test_bad_uses_are_refused_before_scoring(make_cfg, registry: Path) -> None:
    summary = train(make_cfg("family.supported_environments=[offline,paper]"))
    reg = Registry(registry, create=False)
    model_id = summary["model_id"]
    set_status(reg, model_id, "promoted")  # whatever its status, live is not its environment
    with pytest.raises(RegistryError, match=f"model {model_id} does not support env=live"):
        usable_model(reg, model_id, "live")
    record, module = usable_model(reg, model_id, "paper")
    columns = list(record.feature_columns)
    edit_stored(reg, "model", model_id, feature_columns=[*columns[:-1], "ret_60d_future"])
    record, module = usable_model(reg, model_id, "offline")
    with pytest.raises(ContractError, match=f"dataset {DATASET} lacks feature column "
                                            f"'ret_60d_future' \\(model {model_id}\\)"):
        score(reg, record, module, DATASET)
    edit_stored(reg, "model", model_id, feature_columns=[columns[1], columns[0], *columns[2:]])
    record, module = usable_model(reg, model_id, "offline")
    with pytest.raises(ContractError, match=f"has '{columns[0]}' as feature column 0, the "
                                            f"model was trained with '{columns[1]}' there"):
        score(reg, record, module, DATASET)
    (Path(summary["artifact_dir"]) / "metrics.json").write_text("{}")
    with pytest.raises(RegistryError, match=r"non-compliant and may not be used: .*metrics\.json"):
        usable_model(reg, model_id, "offline")


def test_the_environments_are_defined_once() -> None:
    assert ENVIRONMENTS == tuple(USABLE_IN) == tuple(e.value for e in Environment)
    assert all(set(allowed) <= set(lifecycle.STATUSES)
               for allowed in USABLE_IN.values())


def test_the_status_decides_where_a_model_may_be_used(trained, registry: Path,
                                                      tmp_path: Path) -> None:
    summary = trained("family.supported_environments=[offline,paper,live]")
    reg = Registry(registry, create=False)
    model_id = summary["model_id"]
    out = tmp_path / "signals.parquet"
    # A candidate: refused on live and paper before anything is read or scored.
    for env, needs in (("live", "a promoted model"), ("paper", "a canary or promoted model")):
        with pytest.raises(RegistryError, match=f"^model {model_id} is candidate: env={env} "
                                                f"needs {needs}$"):
            run_job(reg, [model_id], DATASET, out, drift=limits(), env=env)
    assert not out.exists() and jobs(reg) == []
    usable_model(reg, model_id, "offline")
    set_status(reg, model_id, "canary")
    usable_model(reg, model_id, "paper")
    with pytest.raises(RegistryError, match=f"model {model_id} is canary: env=live needs a "
                                            "promoted model"):
        usable_model(reg, model_id, "live")
    set_status(reg, model_id, "promoted")
    record = model_registry.get(reg, model_id)
    train_start = record.dataset_windows["train"][0]
    val_end = record.dataset_windows["val"][1]
    job = run_job(reg, [model_id], DATASET, out, drift=limits(), env="live")
    frame = validate(out).to_pandas()
    assert frame["model_status"].eq("promoted").all()
    day = frame["date"].map(lambda d: d.isoformat())
    # Rows of the train and validation windows are in-sample, those after them are not.
    assert frame["in_sample"].eq((day >= train_start) & (day <= val_end)).all()
    assert frame["in_sample"].any() and (~frame["in_sample"]).any()
    assert not frame.loc[day > val_end, "in_sample"].any()
    (logged,) = jobs(reg)
    assert logged["env"] == "live" and logged["details"] == job["details"]
    assert {k: v for k, v in logged["details"]["models"][model_id].items() if k != "drift"} \
        == {"status": "promoted", "in_sample_rows": int(frame["in_sample"].sum())}
    set_status(reg, model_id, "retired")  # offline still scores a retired model
    usable_model(reg, model_id, "offline")


def test_a_three_model_job_writes_one_valid_table(make_cfg, registry: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [train(make_cfg(f"family={f}", "model.hidden_sizes=[8]"))["model_id"]
           for f in ("dir_core", "risk_vol", "exec_cost")]
    reg = Registry(registry, create=False)
    out = tmp_path / "signals.parquet"
    start, end = model_registry.get(reg, ids[0]).dataset_windows["test"]
    reads = []
    real_load = scoring.load_table
    monkeypatch.setattr(scoring, "load_table",
                        lambda *a, **k: reads.append(k["feature_families"]) or real_load(*a, **k))
    job = run_job(reg, ids, DATASET, out, drift=limits(), start=start, end=end)
    # The three read the same feature families and no categorical input: one read of the table.
    assert reads == [["Feature_TREND_MTF_V1", "Feature_VOL_LIQ_V1"]]
    table = validate(out)
    assert table.schema.equals(SIGNAL_SCHEMA)
    assert {k: v for k, v in table.schema.metadata.items() if k != DRIFT_KEY} \
        == SIGNAL_SCHEMA.metadata
    frame = table.to_pandas()
    assert sorted(frame["model_id"].unique()) == sorted(ids) and job["rows"] == len(frame)
    per_model = frame.groupby("model_id").size()
    assert per_model.nunique() == 1  # every model scored every row of the window
    assert frame.groupby("model_family")["prediction_type"].nunique().eq(1).all()
    directional = frame[frame["model_family"] == "MF_DIR_CORE_V1"]["value"]
    assert directional.between(0, 1).all()
    assert frame["date"].min().isoformat() >= start and frame["date"].max().isoformat() <= end
    assert frame["regime_tag"].notna().all() and frame["job_id"].eq(job["job_id"]).all()
    # Candidates on their own test window: nothing in-sample.
    assert frame["model_status"].eq("candidate").all() and not frame["in_sample"].any()
    assert not frame.duplicated(["date", "symbol", "model_id"]).any()
    (logged,) = jobs(reg)
    assert logged["job_id"] == job["job_id"] and logged["model_ids"] == ids
    assert logged["rows"] == len(frame) and logged["window"] == [start, end]
    assert logged["dataset_fingerprint"].startswith("sha256:")
    assert {i: {k: v for k, v in m.items() if k != "drift"}
            for i, m in logged["details"]["models"].items()} == {
        i: {"status": "candidate", "in_sample_rows": 0} for i in ids}


def test_the_validator_names_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    row = {"date": pa.array([0, 0], pa.date32()), "symbol": ["A", "A"], "model_id": ["M", "M"],
           "model_family": ["F", "F"], "model_version": pa.array([1, 1], pa.int32()),
           "role": ["r", "r"], "horizon": pa.array([20, 20], pa.int32()),
           "prediction_type": ["probabilities"] * 2, "value": [0.2, 0.4],
           "regime_tag": [None, None], "structure_state": [None, None],
           "model_status": ["promoted", "promoted"], "in_sample": [False, True],
           "job_id": ["J", "J"]}
    pq.write_table(pa.Table.from_pydict(row, schema=SIGNAL_SCHEMA), path)
    with pytest.raises(SignalError, match="1 duplicate \\(date, symbol, model_id\\) rows"):
        validate(path)
    pq.write_table(pa.Table.from_pydict(row, schema=SIGNAL_SCHEMA).replace_schema_metadata({}),
                   path)
    with pytest.raises(SignalError, match=r"no ifns\.signal_schema_version"):
        validate(path)
    pq.write_table(pa.Table.from_pydict({**row, "symbol": ["A", "B"], "value": [0.2, 1.5]},
                                        schema=SIGNAL_SCHEMA), path)
    with pytest.raises(SignalError, match="a probability outside"):
        validate(path)
    pq.write_table(pa.Table.from_pydict({**row, "symbol": ["A", "B"],
                                         "model_status": ["promoted", "approved"]},
                                        schema=SIGNAL_SCHEMA), path)
    with pytest.raises(SignalError, match="model_status 'approved' is not a status"):
        validate(path)
    # A table of version 1, before each row carried its model's status and in-sample flag.
    version_1 = {k: v for k, v in row.items() if k not in ("model_status", "in_sample")}
    pq.write_table(pa.Table.from_pydict({**version_1, "symbol": ["A", "B"]}).
                   replace_schema_metadata({VERSION_KEY: b"1"}), path)
    with pytest.raises(SignalError, match=r"signal schema version 1, older than this code's 2 "
                                          r"\(it lacks model_status and in_sample\); score "
                                          "again with ifns-predict"):
        validate(path)


@pytest.mark.slow
def test_the_cli_writes_signals_and_refuses_in_one_line(trained, registry: Path,
                                                        tmp_path: Path) -> None:
    summary = trained("family.supported_environments=[offline,paper,live]")
    out = tmp_path / "out" / "signals.parquet"
    proc = run_cli(f"model_id={summary['model_id']}", f"dataset.id={DATASET}",
                   f"paths.registry_dir={registry}", f"output={out}",
                   cwd=tmp_path, module="ifns_train.cli.predict")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert str(out) in proc.stdout + proc.stderr
    assert f"on {DATASET} (offline) written to" in proc.stdout + proc.stderr
    table = validate(out)
    seen = sum(table["in_sample"].to_pylist())
    assert 0 < seen < table.num_rows  # the whole dataset: its train window included
    assert f"; {seen} of them in-sample" in proc.stdout + proc.stderr
    (job,) = jobs(Registry(registry, create=False))
    assert job["env"] == "offline" and job["output"] == str(out)
    proc = run_cli(f"model_id={summary['model_id']}", f"dataset.id={DATASET}", "env=live",
                   f"paths.registry_dir={registry}", cwd=tmp_path, module="ifns_train.cli.predict")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"ifns-predict: model {summary['model_id']} is candidate: env=live needs a " \
           "promoted model" in proc.stderr
    proc = run_cli("model_id=MDL_NOPE", f"dataset.id={DATASET}",
                   f"paths.registry_dir={registry}", cwd=tmp_path, module="ifns_train.cli.predict")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "ifns-predict: no model 'MDL_NOPE'" in proc.stderr
