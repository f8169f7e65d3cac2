"""`ifns-admin jobs list|show`: each job with its worst drift, one job's report in full."""

from __future__ import annotations

import json

from ifns_train.registry.database import Registry
from tests.signals.planted_jobs import plant_job

OLD, NEW = "JOB_20260101T000000_aaaaaaaa", "JOB_20260102T000000_bbbbbbbb"


def test_jobs_list_and_show(reg: Registry, adm) -> None:
    plant_job(reg, OLD, ["MDL_A"], "2026-01-01T00:00:00.000000Z", scale=1.0)
    plant_job(reg, NEW, ["MDL_A", "MDL_B"], "2026-01-02T00:00:00.000000Z", scale=2.0)
    out = adm("jobs", "list").out
    assert out.index(NEW) < out.index(OLD)  # newest first
    new_row = next(line for line in out.splitlines() if NEW in line)
    old_row = next(line for line in out.splitlines() if OLD in line)
    assert "vol_feature (hard)" in new_row and "(ok)" in old_row
    doc = json.loads(adm("jobs", "list", "--model", "MDL_B", "--json").out)
    assert [j["job_id"] for j in doc["jobs"]] == [NEW]
    assert doc["jobs"][0]["worst_drift"]["feature"] == "vol_feature"
    assert doc["jobs"][0]["worst_drift"]["psi"] > 0.25

    shown = adm("jobs", "show", NEW).out
    assert "MDL_A" in shown and "MDL_B" in shown and "drift hard on 2000 rows" in shown
    overall = shown[shown.index("Overall, worst first"):]
    assert overall.index("vol_feature") < overall.index("calm_feature")
    assert "bull_calm" in shown and "bear_volatile" in shown  # per regime
    assert json.loads(adm("jobs", "show", NEW, "--json").out)["details"]["models"]["MDL_B"][
        "drift"]["band"] == "hard"
    err = adm("jobs", "show", "JOB_nope", code=1).err
    assert err == "ifns-admin: no prediction job 'JOB_nope' in the registry\n"


def test_a_job_without_a_reference_says_so(reg: Registry, adm) -> None:
    plant_job(reg, OLD, ["MDL_A"], "2026-01-01T00:00:00.000000Z", scale=1.0, reference=False)
    assert "no reference" in adm("jobs", "list").out
    assert "no drift reference recorded" in adm("jobs", "show", OLD).out
