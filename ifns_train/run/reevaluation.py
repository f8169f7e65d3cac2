"""A registered model's figures, recomputed from its saved prediction tables without retraining
(and from the evidence inputs recorded with them), by `ifns-evaluate model_id=<id>`.

Under the same `METRICS_VERSION` as recorded, the figures must come out equal, to the last digit:
the result says "reproduced" or lists what differs. Under a newer version, the new figures
replace the old in metrics.json and in the model record (the old file is kept beside it as
`metrics_v<old>.json`), with the pictures' numbers written again (`run.curves`; their images
too where the model's config asked for them, `evaluation.curves.images`).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from ifns_train.core.errors import RegistryError
from ifns_train.core.files import atomic_write_json
from ifns_train.evaluation import standard  # its METRICS_VERSION read at the call
from ifns_train.evaluation.predictions import read_table
from ifns_train.evaluation.standard import EvaluationSpec, evaluate, key_figures
from ifns_train.registry import artifacts, ids, log, model_registry
from ifns_train.registry.database import Registry


def _differences(old: Any, new: Any, path: str = "") -> list[str]:
    """Paths (a.b.c) where two JSON documents differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            if key not in old or key not in new:
                out.append(f"{path}{key} (only in the {'new' if key in new else 'recorded'})")
            else:
                out += _differences(old[key], new[key], f"{path}{key}.")
        return out
    return [] if old == new else [f"{path.rstrip('.')}: recorded {old!r}, now {new!r}"]


def reevaluate(registry: Registry, model_id: str) -> dict[str, Any]:
    """Recompute a model's figures; returns what happened (see the module docstring)."""
    record = model_registry.get(registry, model_id)
    folder = registry.dir / record.artifact_path
    path = folder / "metrics.json"
    try:
        recorded = json.loads(path.read_text())
        files = {k: v for k, v in recorded["prediction_tables"].items() if k != "version"}
        spec = EvaluationSpec.from_dict(recorded["evaluation"])
        version = int(recorded["metrics_version"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RegistryError(f"model {model_id}: {path} has no readable evaluation ({exc}); it "
                            "was recorded before prediction tables were saved") from None
    # The inputs must be the tables recorded; metrics.json is what is compared, so a figure
    # changed by hand is reported as a difference rather than refused.
    artifacts.verify(folder, record.artifact_hashes, model_id, only=tuple(files.values()))
    tables = {}
    for name, file in files.items():
        table_path = folder / file
        try:
            tables[name] = read_table(pd.read_parquet(table_path), str(table_path))
        except (OSError, ValueError) as exc:
            raise RegistryError(f"model {model_id}: cannot read {table_path}: {exc}") from None
    inputs = recorded.get("evidence_inputs", {})
    fresh = json.loads(json.dumps(evaluate(tables, spec, inputs), allow_nan=False))
    if standard.METRICS_VERSION < version:
        raise RegistryError(f"model {model_id} was evaluated under metrics version {version}, "
                            f"newer than this code's {standard.METRICS_VERSION}; upgrade "
                            "ifns-train")
    if standard.METRICS_VERSION == version:
        differs = _differences({k: recorded[k] for k in fresh}, fresh)
        return {"model_id": model_id, "metrics_version": version, "status":
                "differs" if differs else "reproduced", "differences": differs}
    atomic_write_json(folder / f"metrics_v{version}.json", recorded)
    atomic_write_json(path, {**recorded, **fresh})
    # The pictures of the new figures, written as at training (images as its config asked);
    # the hashes recorded next cover them with every other file of the folder.
    from ifns_train.run.curves import images_of, write_curves  # only to upgrade

    write_curves(folder / "curves", fresh, tables,
                 images=images_of(log.get(registry, record.experiment_id).config))
    model_registry.update_metrics(registry, model_id, key_figures(fresh),
                                  standard.METRICS_VERSION,
                                  artifacts.folder_hashes(folder), ids.iso(ids.utc_now()))
    return {"model_id": model_id, "metrics_version": standard.METRICS_VERSION,
            "status": "upgraded",
            "archived": f"metrics_v{version}.json", "differences": []}
