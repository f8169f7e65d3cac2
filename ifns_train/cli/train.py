"""`python -m ifns_train` / `ifns-train`: the Hydra entry point."""

from __future__ import annotations

import atexit
import functools
import logging
import sys
from typing import Any

import hydra
import yaml
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.syntax import Syntax
from rich.text import Text
from rich.tree import Tree

from ifns_train.config import CONF_DIR, use_user_conf
from ifns_train.core import process
from ifns_train.core.errors import RunTerminated
from ifns_train.core.user_errors import user_errors
from ifns_train.evaluation.promotion import verdict_words
from ifns_train.run import timing

log = logging.getLogger("ifns_train")


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _main(cfg: DictConfig) -> float | None:
    timing.CLOCK.mark("config")  # Hydra's parse and composition
    from ifns_train.run.train import train  # heavy imports after Hydra has parsed the command line

    timing.CLOCK.mark("imports")
    process.release_collector()

    if cfg.print_config:
        print_config_tree(cfg)
    try:
        with user_errors("ifns-train"):
            summary = train(cfg)
    except Exception as exc:
        # In a sweep a failed trial (already recorded failed) must not end the sweep: Hydra
        # would raise it after the batch and skip the later batches and on_multirun_end.
        # SweepOutcome fails the sweep's process at its end instead. A single run still raises.
        from ifns_train.run.sweeps import in_multirun, trial_failed

        if not in_multirun():
            raise
        trial_failed(exc)
        return None
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
            "improvement %s (%s to %s: %s; positive: the model is better); artifacts in %s",
            summary["model_id"], summary["experiment_id"], primary,
            _figure(test["model"].get(primary)), best or "no baseline",
            _figure(test.get("baseline", {}).get(primary)), test["rows"],
            _figure(test.get("improvement", {}).get(primary)), _figure(low), _figure(high),
            interval.get("evidence") or "no interval", summary["artifact_dir"],
        )
    promotion = metrics.get("promotion")
    if promotion is not None:
        log.info("promotion checks: %s", verdict_words(promotion)
                 + "".join(f"; {reason}" for reason in promotion["reasons"]))
    if "phase_seconds" in summary:  # the process that recorded (not DDP's other ranks)
        log.info("time: %s", phase_words(summary["phase_seconds"]))
        _log_exit_at_exit()
    # The value a sweeper optimises: the validation primary metric of the model.
    return val.get("model", {}).get(val.get("primary_metric"))


def print_config_tree(cfg: DictConfig) -> None:
    """The resolved config as a tree, a branch per top-level key, on global rank 0 only (the
    processes Lightning starts for DDP have RANK/LOCAL_RANK set and stay quiet). A config that
    does not resolve is shown as written: the run then says what is wrong with it."""
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    if getattr(rank_zero_only, "rank", 0) != 0:
        return

    try:
        config = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        title = "config"
    except Exception:
        config = OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)
        title = "config (unresolved)"
    assert isinstance(config, dict)
    tree = Tree(Text(title, style="bold"), guide_style="dim")

    def syntax(value: dict[Any, Any] | list[Any]) -> Syntax:
        text = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=10_000)
        return Syntax(text.rstrip(), "yaml", theme="ansi_dark", background_color="default",
                      word_wrap=True)

    for key, value in config.items():
        if isinstance(value, (dict, list)) and value:
            tree.add(Text(str(key), style="bold cyan")).add(syntax(value))
        else:
            tree.add(syntax({key: value}))
    console = Console()
    if not console.is_terminal:  # a log file or a pipe: wider than rich's default of 80
        console = Console(width=max(console.width, 120))
    console.print(tree)


def phase_words(phases: dict[str, float]) -> str:
    """`imports 3.05 s, config 0.31 s, ...; 5.62 s from the process's start to the record`:
    where the run's wall time went (its record's `training.phase_seconds`)."""
    return ", ".join(f"{phase} {seconds:.2f} s" for phase, seconds in phases.items()) \
        + f"; {sum(phases.values()):.2f} s from the process's start to the record"


@functools.cache
def _log_exit_at_exit() -> None:
    """The time from the record to the interpreter's exit (the summary, the loggers' close,
    Hydra's job end), in the job log: the one phase the record cannot hold. Registered after
    `logging`'s own exit handler, so it runs before the log files close (once per process)."""
    atexit.register(lambda: log.info("exit: %.2f s after the record",
                                      timing.CLOCK.since_last()))


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def main() -> None:
    timing.CLOCK.mark("imports")
    process.hold_collector()
    use_user_conf()  # the project root's conf/ before the package's
    try:
        _main()
        sweeps = sys.modules.get("ifns_train.run.sweeps")  # loaded by Hydra's callback, if any
        if sweeps is not None and sweeps.FAILED_SWEEPS:
            print("ifns-train: " + "\nifns-train: ".join(sweeps.FAILED_SWEEPS), file=sys.stderr)
            sys.exit(1)
    except RunTerminated as exc:
        print(f"ifns-train: {exc}; the experiment is recorded as failed", file=sys.stderr)
        sys.exit(143)
    finally:
        process.release_collector()  # a command that ended before loading the libraries


if __name__ == "__main__":
    main()
