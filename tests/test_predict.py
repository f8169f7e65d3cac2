"""Signals by registry id: predictions reproduce training, bad inputs are refused, a job of
several models writes one valid signal table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ifns_train.data import resolve as resolve_module
from ifns_train.errors import ContractError, RegistryError
from ifns_train.predict import run_job, score, usable_model
from ifns_train.registry import model_registry
from ifns_train.registry.database import Registry
from ifns_train.registry.jobs import jobs
from ifns_train.signals import SIGNAL_SCHEMA, SignalError, validate
from ifns_train.train import train
from tests.conftest import run_cli
from tests.registry.factory import edit_stored

DATASET = "DS_DEMO_CORE_V1"


@pytest.mark.parametrize("model", [[], ["model=gru", "model.lookback=3",
                                        "model.hidden_sizes=[16]"]], ids=["mlp", "gru"])
def test_prediction_by_id_reproduces_the_saved_test_predictions(make_cfg, registry: Path,
                                                                model: list[str]) -> None:
    summary = train(make_cfg(*model))
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


def test_a_three_model_job_writes_one_valid_table(make_cfg, registry: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [train(make_cfg(f"family={f}", "model.hidden_sizes=[8]"))["model_id"]
           for f in ("dir_core", "risk_vol", "exec_cost")]
    reg = Registry(registry, create=False)
    out = tmp_path / "signals.parquet"
    start, end = model_registry.get(reg, ids[0]).dataset_windows["test"]
    reads = []
    real_load = resolve_module.load_table
    monkeypatch.setattr(resolve_module, "load_table",
                        lambda *a, **k: reads.append(k["feature_families"]) or real_load(*a, **k))
    job = run_job(reg, ids, DATASET, out, start=start, end=end)
    # The three read the same feature families and no categorical input: one read of the table.
    assert reads == [["Feature_TREND_MTF_V1", "Feature_VOL_LIQ_V1"]]
    table = validate(out)
    assert table.schema.equals(SIGNAL_SCHEMA, check_metadata=True)
    frame = table.to_pandas()
    assert sorted(frame["model_id"].unique()) == sorted(ids) and job["rows"] == len(frame)
    per_model = frame.groupby("model_id").size()
    assert per_model.nunique() == 1  # every model scored every row of the window
    assert frame.groupby("model_family")["prediction_type"].nunique().eq(1).all()
    directional = frame[frame["model_family"] == "MF_DIR_CORE_V1"]["value"]
    assert directional.between(0, 1).all()
    assert frame["date"].min().isoformat() >= start and frame["date"].max().isoformat() <= end
    assert frame["regime_tag"].notna().all() and frame["job_id"].eq(job["job_id"]).all()
    assert not frame.duplicated(["date", "symbol", "model_id"]).any()
    (logged,) = jobs(reg)
    assert logged["job_id"] == job["job_id"] and logged["model_ids"] == ids
    assert logged["rows"] == len(frame) and logged["window"] == [start, end]
    assert logged["dataset_fingerprint"].startswith("sha256:")


def test_the_validator_names_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    row = {"date": pa.array([0, 0], pa.date32()), "symbol": ["A", "A"], "model_id": ["M", "M"],
           "model_family": ["F", "F"], "model_version": pa.array([1, 1], pa.int32()),
           "role": ["r", "r"], "horizon": pa.array([20, 20], pa.int32()),
           "prediction_type": ["probabilities"] * 2, "value": [0.2, 0.4],
           "regime_tag": [None, None], "structure_state": [None, None], "job_id": ["J", "J"]}
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


@pytest.mark.slow
def test_the_cli_writes_signals_and_refuses_in_one_line(make_cfg, registry: Path,
                                                        tmp_path: Path) -> None:
    summary = train(make_cfg())
    out = tmp_path / "out" / "signals.parquet"
    proc = run_cli(f"model_id={summary['model_id']}", f"dataset.id={DATASET}",
                   f"paths.registry_dir={registry}", f"output={out}",
                   cwd=tmp_path, module="ifns_train.predict")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert str(out) in proc.stdout + proc.stderr
    assert f"on {DATASET} (offline) written to" in proc.stdout + proc.stderr
    assert validate(out).num_rows > 0
    (job,) = jobs(Registry(registry, create=False))
    assert job["env"] == "offline" and job["output"] == str(out)
    proc = run_cli("model_id=MDL_NOPE", f"dataset.id={DATASET}",
                   f"paths.registry_dir={registry}", cwd=tmp_path, module="ifns_train.predict")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "ifns-predict: no model 'MDL_NOPE'" in proc.stderr
