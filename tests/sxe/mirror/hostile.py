"""A registry holding values that would run as code if a page did not escape them."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert, update

from ifns_train.registry import lifecycle
from ifns_train.registry.database import Registry, dumps
from ifns_train.registry.schema import experiment_tags, experiments
from tests.registry.factory import FAMILY as DIR_FAMILY
from tests.registry.factory import add_failed
from tests.sxe.helpers import add_model, metrics_document

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
NAME = f"{SCRIPT}name"
TAG = f"{SCRIPT}tag"
ERROR = f"ValueError: bad {IMG} in {SCRIPT}"
REASON = f"beats momentum {IMG}"
SLICE = f"{SCRIPT}C9"
FAMILY = DIR_FAMILY.model_copy(update={"description": f"directional {SCRIPT}",
                                       "input_requirements": {"note": IMG}})


def set_experiment(reg: Registry, experiment_id: str, **changes: Any) -> None:
    """Change an experiment's columns and record behind the registry's back (another tool,
    a hand edit): the checks of a run would refuse these values."""
    with reg.read() as conn:
        record = json.loads(conn.execute(experiments.select().where(
            experiments.c.experiment_id == experiment_id)).first().record)
    record.update(changes)
    with reg.write() as conn:
        conn.execute(update(experiments).where(experiments.c.experiment_id == experiment_id)
                     .values(record=dumps(record),
                             **{k: v for k, v in changes.items() if k in experiments.c}))


def hostile_registry(reg: Registry) -> dict[str, str]:
    """A model with a hostile experiment name, tag, slice (a symbol cluster) and proposal
    reason, a failed run with a hostile error, and a family description with markup."""
    model = add_model(reg, family=FAMILY, full_metrics=True, n=1001)
    folder = reg.dir / model.artifact_path
    doc = metrics_document(model.model_id)
    doc["splits"]["test"]["slices"]["symbol_cluster"] = {SLICE: {
        "rows": 300, "small_slice": False, "model": {"auc": 0.6},
        "baselines": {"momentum_sign": {"auc": 0.55}},
        "improvement": {"momentum_sign": {"auc": 0.05}}}}
    (folder / "metrics.json").write_text(json.dumps(doc))
    set_experiment(reg, model.experiment_id, experiment_name=NAME)
    with reg.write() as conn:
        conn.execute(insert(experiment_tags).values(experiment_id=model.experiment_id, tag=TAG))
    failed = add_failed(reg, error=ERROR, n=1002)
    lifecycle.propose(reg, model.model_id, "canary", "reviewer", REASON)
    return {"model_id": model.model_id, "experiment_id": model.experiment_id,
            "failed_id": failed}
