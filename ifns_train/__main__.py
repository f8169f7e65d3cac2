"""`python -m ifns_train` / `ifns-train`: the Hydra entry point."""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from ifns_train.cli import user_errors
from ifns_train.config import CONF_DIR
from ifns_train.errors import RunTerminated

log = logging.getLogger("ifns_train")


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _main(cfg: DictConfig) -> float | None:
    from ifns_train.train import train  # heavy imports after Hydra has parsed the command line

    with user_errors("ifns-train"):
        summary = train(cfg)
    if "smoke_test" in summary:
        log.info("smoke test (%s): %d optimiser step(s) ran; nothing was evaluated or recorded",
                 ", ".join(summary["smoke_test"]), summary["steps_taken"])
        return None
    metrics = summary.get("metrics", {})
    test, val = metrics.get("test", {}), metrics.get("val", {})
    primary = test.get("primary_metric")
    if primary:
        best = test.get("best_baseline", {}).get(primary)
        interval = test.get("intervals", {}).get(primary) or {}
        low, high = interval.get("low"), interval.get("high")
        log.info(
            "recorded %s (candidate, experiment %s): test %s %s vs %s %s on %d rows, "
            "improvement %s (%s to %s); artifacts in %s", summary["model_id"],
            summary["experiment_id"], primary, _figure(test["model"].get(primary)),
            best or "no baseline", _figure(test.get("baseline", {}).get(primary)),
            test["rows"], _figure(test.get("improvement", {}).get(primary)), _figure(low),
            _figure(high), summary["artifact_dir"],
        )
    promotion = metrics.get("promotion")
    if promotion is not None:
        log.info("promotion checks: %s", "eligible for promotion" if promotion["eligible"]
                 else "not eligible: " + "; ".join(promotion["reasons"]))
    # The value a sweeper optimises: the validation primary metric of the model.
    return val.get("model", {}).get(val.get("primary_metric"))


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def main() -> None:
    try:
        _main()
    except RunTerminated as exc:
        print(f"ifns-train: {exc}; the experiment is recorded as failed", file=sys.stderr)
        sys.exit(143)


if __name__ == "__main__":
    main()
