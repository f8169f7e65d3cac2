"""The gate on real runs: a search's first trial is judged, at a decision, by the trials the log
holds then; its figures are those a fresh deflation of its recorded moments gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ifns_train.core.errors import RegistryError
from ifns_train.evaluation.selection import deflate
from ifns_train.registry import current, lifecycle, log, model_registry
from ifns_train.registry.database import Registry
from ifns_train.run.train import train

TRIALS = 3


@pytest.mark.slow
def test_the_first_trial_is_judged_by_the_whole_search(make_cfg, registry: Path) -> None:
    runs = [train(make_cfg(f"seed={seed}")) for seed in range(TRIALS)]
    docs = [json.loads((Path(r["artifact_dir"]) / "metrics.json").read_text()) for r in runs]
    assert [d["selection"]["trials"] for d in docs] == list(range(1, TRIALS + 1))
    reg = Registry(registry)
    first = model_registry.get(reg, runs[0]["model_id"])
    recorded = first.metrics["selection"]
    # The log holds every trial's excess Sharpe ratio, as each run recorded it.
    sharpes = [d["selection"]["sharpe_annualised"] for d in docs]
    found = log.trials(reg, first.model_family, first.labels_used[0], first.train_dataset_id)
    assert found["count"] == TRIALS
    assert found["sharpes"] == [s for s in sharpes if s is not None]
    now = current.evidence_now(reg, first)
    # What the first model's recorded moments give when deflated by the whole search.
    expected = deflate(docs[0]["selection"]["offsets"], trials=TRIALS,
                       trial_sharpes=found["sharpes"],
                       periods_per_year=docs[0]["selection"]["periods_per_year"])
    assert now["current"]["trials"] == TRIALS and recorded["trials"] == 1
    assert now["current"]["deflated_sharpe_ratio"] == expected["deflated_sharpe_ratio"]
    assert now["recorded"]["deflated_sharpe_ratio"] == recorded["deflated_sharpe_ratio"]
    # The last trial recorded the same deflation of its own moments when it ran.
    assert docs[-1]["selection"]["trials"] == TRIALS
    assert docs[-1]["selection"]["deflated_sharpe_ratio"] == deflate(
        docs[-1]["selection"]["offsets"], trials=TRIALS, trial_sharpes=found["sharpes"],
        periods_per_year=docs[-1]["selection"]["periods_per_year"])["deflated_sharpe_ratio"]
    # The decision acts on the current figures, and keeps them with its history row.
    if now["current"]["verdict"] == "not_eligible":
        with pytest.raises(RegistryError, match=f"over {TRIALS} trial"):
            lifecycle.decide(reg, first.model_id, "canary", "dra", "after the search")
    else:
        lifecycle.decide(reg, first.model_id, "canary", "dra", "after the search")
        figures = model_registry.get(reg, first.model_id).status_history[-1].figures
        assert figures["current"]["trials"] == TRIALS
        assert figures["current"]["deflated_sharpe_ratio"] == \
            now["current"]["deflated_sharpe_ratio"]
