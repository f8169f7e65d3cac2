"""`ifns-admin models list --depends-on FAMILY` (the models whose measured attribution leans on
a feature family, beside what they declare) and the attribution of `models show`, on planted
models whose metrics.json carries an attribution block."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ifns_train.registry.database import Registry
from tests.registry import factory
from tests.registry.factory import planted_attribution

VOL, TREND = "Feature_VOL_LIQ_V1", "Feature_TREND_MTF_V1"


def _plant(reg: Registry) -> dict[str, Any]:
    """declared: VOL and leans on it; undeclared: declares TREND only, yet leans on VOL;
    unmeasured: declares VOL, no attribution; trend: declares both, leans on TREND only."""
    return {
        "declared": factory.add_model(reg, n=1, features=(VOL,),
                                      attribution=planted_attribution(VOL, 0.04)),
        "undeclared": factory.add_model(reg, n=2, features=(TREND,),
                                        attribution=planted_attribution(VOL, 0.02, tree=True)),
        "unmeasured": factory.add_model(reg, n=3, features=(VOL,)),
        "trend": factory.add_model(reg, n=4, features=(TREND, VOL),
                                   attribution=planted_attribution(TREND, 0.03)),
    }


def _json(result: Any) -> Any:
    return json.loads(result.out)


def test_depends_on_lists_the_models_leaning_on_a_family(reg: Registry, adm: Any) -> None:
    m = {k: v.model_id for k, v in _plant(reg).items()}
    doc = _json(adm("models", "list", "--depends-on", VOL, "--json"))
    rows = {row["model_id"]: row["attribution"] for row in doc["models"]}
    assert list(rows) == [m["undeclared"], m["declared"]]  # newest first, as every listing
    assert rows[m["declared"]] == {"declares": True, "drop": pytest.approx(0.041),
                                   "low": pytest.approx(0.031), "high": pytest.approx(0.051),
                                   "evidence": "better"}
    assert rows[m["undeclared"]]["declares"] is False  # leans on what it does not declare
    assert doc["depends_on"] == {"family": VOL, "min_drop": 0.0,
                                 "not_measured": [m["unmeasured"]]}
    assert doc["filters"]["depends_on"] == VOL
    # the threshold is on the interval's low end: 0.031 clears 0.025, 0.011 does not
    assert [r["model_id"] for r in _json(adm("models", "list", "--depends-on", VOL,
                                             "--min-drop", "0.025", "--json"))["models"]] == [
        m["declared"]]
    assert [r["model_id"] for r in _json(adm("models", "list", "--depends-on", TREND,
                                             "--json"))["models"]] == [m["trend"]]
    # with the other filters and the limit, applied after the attribution
    assert [r["model_id"] for r in _json(adm("models", "list", "--depends-on", VOL,
                                             "--feature", VOL, "--json"))["models"]] == [
        m["declared"]]
    assert [r["model_id"] for r in _json(adm("models", "list", "--depends-on", VOL,
                                             "--limit", "1", "--json"))["models"]] == [
        m["undeclared"]]
    out = adm("models", "list", "--depends-on", VOL).out
    assert f"2 model(s) leaning on {VOL} (its drop's interval above 0; declared: in its " \
        "features_used), newest first" in out
    assert "declared" in out and "+0.0410" in out and "+0.0310 to" in out
    assert f"1 model(s) declare {VOL} but have no attribution (not measured): " \
        f"{m['unmeasured']}" in out
    assert m["trend"] not in out.split("not measured")[0]
    none = adm("models", "list", "--depends-on", VOL, "--min-drop", "0.5").out
    assert "no models match" in none and "1 model(s) declare" in none


def test_depends_on_an_unknown_family_is_one_line(reg: Registry, adm: Any) -> None:
    _plant(reg)
    result = adm("models", "list", "--depends-on", "Feature_NOPE_V1", code=1)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err
    assert lines[0].startswith("ifns-admin: models list: unknown feature family "
                               "'Feature_NOPE_V1' for --depends-on") and VOL in lines[0]
    assert "expected a number" in adm("models", "list", "--depends-on", VOL, "--min-drop",
                                      "nan", code=2).err
    # a family no model declares but an attribution names is a fair question
    factory.add_model(reg, n=9, attribution=planted_attribution("Feature_MICRO_V1"))
    assert "0 model(s) declare Feature_MICRO_V1" in adm(
        "models", "list", "--depends-on", "Feature_MICRO_V1", "--status", "canary").out


def test_show_has_the_attribution(reg: Registry, adm: Any) -> None:
    m = _plant(reg)
    out = adm("models", "show", m["undeclared"].model_id).out
    for text in ("Feature attribution (test split, auc 0.5800 unpermuted, 1440 rows over 120 "
                 "dates)", VOL, "+0.0210", "+0.0110 to +0.0310", "leans on it",
                 "within noise", "gain share", "0.8000", "Top 4 of 4 features", "vol_20d",
                 "0.7000", "method: the fall of the AUC"):
        assert text in out, text
    out = adm("models", "show", m["declared"].model_id).out
    assert "Feature attribution" in out and "gain share" not in out
    out = adm("models", "show", m["unmeasured"].model_id).out
    assert "Feature attribution: not measured (" in out
    doc = _json(adm("models", "show", m["declared"].model_id, "--json"))
    assert doc["attribution"]["measured"] and doc["attribution"]["features"][0]["name"] == \
        "vol_20d"


def test_depends_on_postgresql(postgres_url: str, tmp_path: Path, capsys: Any) -> None:
    from ifns_train.sxe.admin import main

    reg = Registry(tmp_path / "pgreg", url=postgres_url)
    try:
        m = {k: v.model_id for k, v in _plant(reg).items()}
    finally:
        reg.close()
    base = ["--registry-dir", str(tmp_path / "pgreg"), "--registry-url", postgres_url]
    assert main([*base, "models", "list", "--depends-on", VOL, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["model_id"] for r in doc["models"]] == [m["undeclared"], m["declared"]]
    assert doc["depends_on"]["not_measured"] == [m["unmeasured"]]
