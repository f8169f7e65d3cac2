"""`python -m ifns_train.evaluate model_id=<id>` / `ifns-evaluate`: a registered model's figures,
recomputed from its saved prediction tables without retraining (and from the evidence inputs
recorded with them: the experiment log's trials and the companion runs' figures as they were).

Under the same `METRICS_VERSION` as recorded, the figures must come out equal, to the last
digit: the command says "reproduced" or lists what differs (exit 1). Under a newer version, the
new figures replace the old in metrics.json and in the model record (and the pictures of
`curves/` are drawn again from them), and the old are kept:
metrics.json is archived as `metrics_v<old>.json` and the record's earlier key figures go to its
`metrics_history`. An older version than recorded is refused.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from ifns_train.cli import user_errors
from ifns_train.config import CONF_DIR
from ifns_train.errors import RegistryError
from ifns_train.registry.database import Registry

log = logging.getLogger("ifns_train")


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
    from ifns_train.registry import artifacts, model_registry

    record = model_registry.get(registry, model_id)  # before the heavy imports: quick errors
    folder = registry.dir / record.artifact_path
    import pandas as pd

    from ifns_train.evaluation.evaluator import (
        METRICS_VERSION,
        EvaluationSpec,
        evaluate,
        key_figures,
    )
    from ifns_train.evaluation.predictions import read_table
    from ifns_train.registry import ids
    from ifns_train.store import atomic_write_json

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
    if METRICS_VERSION < version:
        raise RegistryError(f"model {model_id} was evaluated under metrics version {version}, "
                            f"newer than this code's {METRICS_VERSION}; upgrade ifns-train")
    if METRICS_VERSION == version:
        differs = _differences({k: recorded[k] for k in fresh}, fresh)
        return {"model_id": model_id, "metrics_version": version, "status":
                "differs" if differs else "reproduced", "differences": differs}
    atomic_write_json(folder / f"metrics_v{version}.json", recorded)
    atomic_write_json(path, {**recorded, **fresh})
    # The pictures of the new figures, drawn as at training; the hashes recorded next cover
    # them with every other file of the folder.
    from ifns_train.callbacks.curves import write_curves

    write_curves(folder / "curves", fresh, tables)
    model_registry.update_metrics(registry, model_id, key_figures(fresh), METRICS_VERSION,
                                  artifacts.folder_hashes(folder), ids.iso(ids.utc_now()))
    return {"model_id": model_id, "metrics_version": METRICS_VERSION, "status": "upgraded",
            "archived": f"metrics_v{version}.json", "differences": []}


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="evaluate")
def _main(cfg: DictConfig) -> None:
    from hydra.utils import to_absolute_path

    from ifns_train.cli import RunError

    with user_errors("ifns-evaluate"):
        registry = Registry(Path(to_absolute_path(cfg.paths.registry_dir)), cfg.registry.url,
                            create=False)
        if cfg.dataset.id is not None:
            from ifns_train.new_data import evaluate_new_data

            done = evaluate_new_data(registry, cfg.model_id, cfg.dataset.id, cfg.start,
                                     cfg.end, allow_overlap=cfg.allow_overlap)
            test = done["metrics"]["test"]
            primary = test["primary_metric"]
            interval = (test.get("intervals") or {}).get(primary) or {}
            seen = done["in_sample"]
            log.info("%s on %s (%s to %s, %d rows%s): %s %.4f, improvement over %s %+.4f "
                     "(%s to %s: %s; positive: the model is better); recorded as evaluation "
                     "%s in %s", done["model_id"],
                     done["dataset_id"], *done["window"], done["rows"],
                     f", IN-SAMPLE: {seen['rows']} dated {seen['dates'][0]} to "
                     f"{seen['dates'][1]}, inside the model's train or validation window"
                     if seen else "", primary,
                     test["model"][primary], test["best_baseline"].get(primary),
                     test["improvement"].get(primary, float("nan")),
                     interval.get("low"), interval.get("high"),
                     interval.get("evidence") or "no interval", done["experiment_id"],
                     done["artifact_dir"])
            return
        if cfg.start is not None or cfg.end is not None or cfg.allow_overlap:
            raise RunError("ifns-evaluate: start/end/allow_overlap apply to an evaluation on "
                           "dataset.id; set dataset.id too")
        result = reevaluate(registry, cfg.model_id)
    if result["status"] == "differs":
        shown = "\n  ".join(result["differences"][:20])
        raise RunError(f"ifns-evaluate: {result['model_id']}: {len(result['differences'])} "
                       f"figure(s) differ from the recorded ones (metrics version "
                       f"{result['metrics_version']}):\n  {shown}")
    if result["status"] == "reproduced":
        log.info("%s: every recorded figure reproduced from the saved predictions (metrics "
                 "version %d)", result["model_id"], result["metrics_version"])
    else:
        log.info("%s: re-evaluated under metrics version %d; the earlier figures are kept in "
                 "%s and the record's metrics_history", result["model_id"],
                 result["metrics_version"], result["archived"])


def main() -> None:
    _main()


if __name__ == "__main__":
    main()
