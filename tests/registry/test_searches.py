"""A search's PBO from its trials' planted test tables, and the `pbo` promotion check made
current where it is used (`registry.current`, hence the gate of a decision)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ifns_train.core.errors import RegistryError
from ifns_train.registry import current, lifecycle, model_registry, searches
from ifns_train.registry.database import Registry
from tests.registry.factory import FAMILY, add_model, edit_stored, planted_test_table

DATES, BLOCKS = 240, 4  # the factory's rules: pbo_blocks 4, max_pbo 0.5; horizon 20


def _block_edge(trial: int) -> Any:
    """Noise, but perfect scores on the dates of block `trial` only: the trial that looks
    best in sample is the one whose block fell in sample, and is noise out of sample, where
    the others' blocks are: a search that overfits."""
    table = planted_test_table(0.0, noise=trial, dates=DATES)
    days = np.sort(table["date"].unique())
    block = table["date"].isin(days[trial * DATES // BLOCKS:(trial + 1) * DATES // BLOCKS])
    table.loc[block, "model:prob"] = table.loc[block, "label"]
    return table


def _search(reg: Registry, sweep: Path, tables: list[Any]) -> list[str]:
    return [add_model(reg, n=i, predictions=t, sweep_dir=str(sweep)).model_id
            for i, t in enumerate(tables)]


def _pbo(promotion: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in promotion["checks"] if c["name"] == "pbo")


def test_an_overfit_search_fails_the_check(reg: Registry, tmp_path: Path) -> None:
    models = _search(reg, tmp_path / "sweep", [_block_edge(i) for i in range(BLOCKS)])
    figures = searches.sweep_pbo(reg, str(tmp_path / "sweep"), "MF_DIR_CORE_V1", BLOCKS)
    assert figures["trials"] == 4 and figures["blocks"] == 4 and figures["dates"] == DATES
    assert figures["pbo"] > 0.5 and figures["primary_metric"] == "auc"
    now = current.evidence_now(reg, model_registry.get(reg, models[0]))
    check = _pbo(now["promotion"])
    assert check["passed"] is False and check["value"] == figures["pbo"]
    assert now["current"]["verdict"] == "not_eligible" and now["current"]["pbo"] > 0.5
    assert now["selection"]["pbo"]["pbo"] == figures["pbo"] and now["changed"]
    reasons, _ = lifecycle.gate(reg, models[0], "canary")
    assert any("pbo: PBO 1.000 over 4 trials" in r for r in reasons), reasons


def test_a_search_with_a_real_edge_passes(reg: Registry, tmp_path: Path) -> None:
    tables = [planted_test_table(0.4 if i == 0 else 0.0, noise=i, dates=DATES)
              for i in range(5)]
    models = _search(reg, tmp_path / "sweep", tables)
    now = current.evidence_now(reg, model_registry.get(reg, models[0]))
    check = _pbo(now["promotion"])
    assert check["passed"] is True and check["value"] < 0.1
    assert now["current"]["verdict"] == "eligible"
    assert "5 trials of the search" in check["detail"]


def test_a_model_from_no_search_is_not_checked(reg: Registry) -> None:
    model = add_model(reg, predictions=planted_test_table(0.3))
    now = current.evidence_now(reg, model)
    check = _pbo(now["promotion"])
    assert check["passed"] is None and check["threshold"] == 0.5
    assert now["pbo"] is None and now["current"]["verdict"] == "eligible"


def test_a_trial_without_its_table_fails_closed(reg: Registry, tmp_path: Path) -> None:
    models = _search(reg, tmp_path / "sweep", [planted_test_table(0.2, noise=i, dates=DATES)
                                               for i in range(3)])
    record = model_registry.get(reg, models[2])
    (reg.dir / record.artifact_path / "predictions_test.parquet").unlink()
    check = _pbo(current.evidence_now(reg, model_registry.get(reg, models[0]))["promotion"])
    assert check["passed"] is False
    assert "cannot be computed" in check["detail"] and models[2] in check["detail"]


def test_a_search_trial_recorded_before_the_check_is_stale(reg: Registry, tmp_path: Path
                                                           ) -> None:
    models = _search(reg, tmp_path / "sweep", [planted_test_table(0.2, noise=i, dates=DATES)
                                               for i in range(2)])
    record = model_registry.get(reg, models[0])
    metrics = dict(record.metrics)
    metrics["promotion"] = {**metrics["promotion"], "checks": [
        c for c in metrics["promotion"]["checks"] if c["name"] != "pbo"]}
    edit_stored(reg, "model", models[0], metrics=metrics)
    now = current.evidence_now(reg, model_registry.get(reg, models[0]))
    assert now["stale"] and "re-evaluate it" in now["stale"]


def test_named_trials_and_their_errors(reg: Registry, tmp_path: Path) -> None:
    models = _search(reg, tmp_path / "sweep", [planted_test_table(0.2, noise=i, dates=DATES)
                                               for i in range(3)])
    trials = searches.named_trials(reg, models)
    assert searches.search_pbo(reg, trials, BLOCKS)["trials"] == 3
    with pytest.raises(RegistryError, match="at least 2 completed trials"):
        searches.search_pbo(reg, trials[:1], BLOCKS)
    with pytest.raises(RegistryError, match="cannot be cut into 400 blocks"):
        searches.search_pbo(reg, trials, 400)
    assert searches.sweep_trials(reg, str(tmp_path / "nothing")) == []


def test_a_sweep_over_families_holds_one_search_per_family(reg: Registry, tmp_path: Path
                                                           ) -> None:
    """`-m family=a,b`: the lone trial of a family was picked from nothing (no PBO, nothing
    owed); the family with several trials is its own search, the other family left out."""
    sweep = tmp_path / "sweep"
    other = FAMILY.model_copy(update={"family_id": "MF_DIR_OTHER_V1"})
    searched = _search(reg, sweep, [planted_test_table(0.4 if i == 0 else 0.0, noise=i,
                                                       dates=DATES) for i in range(3)])
    lone = add_model(reg, "lone", family=other, n=9, sweep_dir=str(sweep),
                     predictions=planted_test_table(0.2, dates=DATES))
    now = current.evidence_now(reg, lone)
    assert _pbo(now["promotion"])["passed"] is None and now["pbo"] is None
    figures = current.evidence_now(reg, model_registry.get(reg, searched[0]))["pbo"]
    assert figures["trials"] == 3 and figures["model_family"] == FAMILY.family_id
    assert lone.experiment_id not in figures["trial_ids"]
