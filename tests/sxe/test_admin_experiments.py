"""`ifns-admin experiments pbo`: a search's PBO from the log, and the inputs it refuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ifns_train.registry.database import Registry
from tests.registry.factory import add_model, planted_test_table


def _sweep(reg: Registry, sweep: Path, trials: int = 4) -> list[Any]:
    return [add_model(reg, n=i, sweep_dir=str(sweep),
                      predictions=planted_test_table(0.4 if i == 0 else 0.0, noise=i,
                                                     dates=240))
            for i in range(trials)]


def test_pbo_of_a_sweep(adm: Callable[..., Any], reg: Registry, tmp_path: Path) -> None:
    models = _sweep(reg, tmp_path / "sweep")
    shown = adm("experiments", "pbo", str(tmp_path / "sweep")).out
    assert "PBO 0.000" in shown
    assert "4 trials; per date, the rank IC of the score against the label" in shown
    assert "240 test dates in S=4 blocks, 6 halvings, purge 20 date(s)" in shown
    assert "selected: (none marked)" in shown and "#" in shown
    doc = json.loads(adm("experiments", "pbo", str(tmp_path / "sweep"), "--json").out)
    assert doc["pbo"] == 0.0 and doc["combinations"] == 6
    assert set(doc["trial_ids"].values()) == {m.model_id for m in models}
    by_ids = json.loads(adm("experiments", "pbo", *[m.model_id for m in models], "--blocks",
                            "2", "--json").out)
    assert by_ids["blocks"] == 2 and by_ids["combinations"] == 2


def test_pbo_refuses_in_one_line(adm: Callable[..., Any], reg: Registry, tmp_path: Path
                                 ) -> None:
    models = _sweep(reg, tmp_path / "sweep", trials=2)
    cases = [
        ((str(tmp_path / "empty"),), "no trial in the log has the sweep folder"),
        (("EXP_NOPE_20240101T000000Z_000000",), "no experiment"),
        ((models[0].model_id,), "at least 2 completed trials"),
        ((str(tmp_path / "sweep"), "--blocks", "500"), "cannot be cut into 500 blocks"),
        ((str(tmp_path / "sweep"), "--blocks", "3"), "even"),
    ]
    for args, words in cases:
        result = adm("experiments", "pbo", *args, code=1)
        assert words in result.err and "Traceback" not in result.err, (args, result)
        assert len(result.err.strip().splitlines()) == 1, result.err
