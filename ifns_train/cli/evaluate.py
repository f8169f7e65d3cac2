"""`ifns-evaluate model_id=<id>` (`python -m ifns_train.cli.evaluate`): a registered model's
figures, recomputed from its saved prediction tables without retraining (and from the evidence
inputs recorded with them: the experiment log's trials and the companion runs' figures as they
were).

Under the same `METRICS_VERSION` as recorded, the figures must come out equal, to the last
digit: the command says "reproduced" or lists what differs (exit 1). Under a newer version, the
new figures replace the old in metrics.json and in the model record (and the pictures of
`curves/` are drawn again from them), and the old are kept:
metrics.json is archived as `metrics_v<old>.json` and the record's earlier key figures go to its
`metrics_history`. An older version than recorded is refused.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from ifns_train.config import CONF_DIR, use_user_conf
from ifns_train.core import process
from ifns_train.core.user_errors import RunError, user_errors
from ifns_train.registry.database import Registry

log = logging.getLogger("ifns_train")


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="evaluate")
def _main(cfg: DictConfig) -> None:
    with user_errors("ifns-evaluate"):
        registry = Registry(Path(to_absolute_path(cfg.paths.registry_dir)), cfg.registry.url,
                            create=False)
        if cfg.dataset.id is not None:
            from ifns_train.run.evaluation_run import evaluate_new_data

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
        from ifns_train.run.reevaluation import reevaluate

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
    process.freeze_at_exit()
    use_user_conf()  # the project root's conf/ before the package's
    _main()


if __name__ == "__main__":
    main()
