"""`python -m ifns_train.cli.predict model_id=<id> dataset.id=<ID>` / `ifns-predict`: signals from
registered models, by registry id (spec section 10: other stages reference models through the
registry, never by file paths).

For each model: the registry record is found and audited (a non-compliant model, one whose
supported environments exclude `env`, or one whose status `env` does not allow, `USABLE_IN`, is
refused with the reason), its checkpoint is verified against the recorded hash and loaded with
`weights_only=True`, the dataset must carry exactly the feature columns, in the order and of the
versioned families the model was trained on, and the rows are scored in large batches without
gradients, with the same lookback windows as in training for a sequence backbone. The rows'
features are compared with each model's training rows (`signals.drift_gate`): a warning above
`drift.soft_psi`, `env=live` refused above `drift.hard_psi` unless `allow_drift=true`. The job
writes one signal table (`signals.contract`: each row with the model's status and whether its
date lies inside the model's train or validation window) and is logged in the registry.
"""

from __future__ import annotations

import getpass
import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from ifns_train.config import CONF_DIR, use_user_conf
from ifns_train.core import process
from ifns_train.core.user_errors import user_errors
from ifns_train.signals.drift_gate import DriftLimits, summary

log = logging.getLogger("ifns_train")


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="predict")
def _main(cfg: DictConfig) -> None:

    from ifns_train.registry.database import Registry
    from ifns_train.signals.scoring import run_job

    with user_errors("ifns-predict"):
        reg = Registry(Path(to_absolute_path(cfg.paths.registry_dir)), cfg.registry.url,
                       create=False)
        model_ids = [cfg.model_id] if isinstance(cfg.model_id, str) else list(cfg.model_id)
        output = Path(to_absolute_path(cfg.output)) if cfg.output else \
            Path(HydraConfig.get().runtime.output_dir) / "signals.parquet"
        env = str(getattr(cfg.env, "value", cfg.env))  # the schema's Environment enum
        drift = DriftLimits(**cfg.drift, allow_drift=cfg.allow_drift)
        job = run_job(reg, model_ids, cfg.dataset.id, output, drift=drift, start=cfg.start,
                      end=cfg.end, env=env, batch_size=cfg.batch_size, actor=getpass.getuser())
    for model_id, model in job["details"]["models"].items():
        log.info("%s", summary(model_id, model["drift"]))
    seen = sum(m["in_sample_rows"] for m in job["details"]["models"].values())
    log.info("%s: %d signal rows from %s on %s (%s) written to %s%s", job["job_id"], job["rows"],
             ", ".join(job["model_ids"]), job["dataset_id"], job["env"], job["output"],
             f"; {seen} of them in-sample (dated inside their model's train or validation "
             "window: in_sample=true)" if seen else "")


def main() -> None:
    process.freeze_at_exit()
    use_user_conf()  # the project root's conf/ before the package's
    _main()


if __name__ == "__main__":
    main()
