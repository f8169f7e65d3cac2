"""Sweeps: what a multirun does with a failed trial, and the verdict on a finished sweep.

Why the experiment log and not the launcher's results: a sweep's trials may run in other
processes or on other machines (joblib, submitit, Ray), so the only record every launcher
shares is the log, where each trial's entry carries its sweep folder (`artifacts.sweep_dir`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from ifns_train.core.errors import RegistryError
from ifns_train.core.user_errors import RunError
from ifns_train.evaluation.compare import HIGHER_IS_BETTER
from ifns_train.registry import log as xlog
from ifns_train.registry.database import Registry
from ifns_train.registry.records import ExperimentEntry
from ifns_train.registry.searches import RANKED, search_pbo, sweep_trials

log = logging.getLogger("ifns_train.sweep")
ACTOR = "ifns_train.sweep"
# The failures SweepOutcome found in this process's sweeps; `ifns-train` then exits 1.
FAILED_SWEEPS: list[str] = []


def in_multirun() -> bool:
    """True inside a job of a Hydra multirun (any launcher)."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


FAILED_MARK = "trial_failed.txt"  # in a failed trial's job folder: failures the log lacks


def trial_failed(exc: BaseException) -> None:
    """Log a failed trial and leave its error in the job folder, so the sweep's end can report
    a trial that failed before its run was entered in the log (a config error)."""
    log.error("trial failed; the sweep goes on (a run that started is recorded failed in "
              "the experiment log): %s", exc, exc_info=not isinstance(exc, RunError))
    try:
        out = Path(HydraConfig.get().runtime.output_dir)
        (out / FAILED_MARK).write_text(f"{type(exc).__name__}: {exc}\n")
    except Exception as mark_error:  # the error is logged above; the mark is a convenience
        log.warning("could not write %s: %s", FAILED_MARK, mark_error)


def validation_figure(entry: ExperimentEntry) -> tuple[str | None, float | None]:
    """The validation primary metric of a run and its value (None when not finite)."""
    val = entry.metrics.get("val")
    if not isinstance(val, dict):
        val = {}
    name = val.get("primary_metric")
    value = (val.get("model") or {}).get(name) if name else None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return name, None
    return name, float(value)


@dataclass
class Verdict:
    """What `select_best` decided: the best trial, the others, the figure it ranked by."""

    sweep_dir: str
    metric: str | None = None
    best: str | None = None
    discarded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    # The probability that picking the best overfit (`registry.searches.search_pbo`), or why
    # it could not be computed.
    pbo: dict[str, Any] | None = None
    pbo_error: str | None = None


def select_best(reg: Any, sweep_dir: str, direction: str | None = None,
                blocks: int | None = None) -> Verdict:
    """Mark a sweep's best completed trial `selected` (by its validation primary metric) and its
    other ranked trials `discarded`. Idempotent: a trial already so marked is left as it is;
    failed trials stay failed. `direction` (maximize/minimize) defaults to the metric's own.

    With `blocks` (`promotion.pbo_blocks`; None: not computed), the PBO of the sweep's trials
    is recorded with the selection (`{"pbo": ...}` in the figures of the history row that
    marks the best `selected`); a PBO that cannot be computed is logged, never fails it."""
    trials = sweep_trials(reg, sweep_dir)
    verdict = Verdict(sweep_dir, failed=[e.experiment_id for e in trials
                                         if e.status == "failed"])
    figures = [(e, *validation_figure(e)) for e in trials if e.status in RANKED]
    scored = [(e, name, value) for e, name, value in figures if value is not None]
    if not scored:
        return verdict
    names = {name for _, name, _ in scored}
    if len(names) > 1:
        raise RunError(f"sweep {sweep_dir}: its trials rank by different validation metrics "
                       f"({', '.join(sorted(str(n) for n in names))}); nothing marked")
    metric = verdict.metric = str(names.pop())
    higher = (direction == "maximize") if direction else HIGHER_IS_BETTER.get(metric, True)
    best, _, best_value = (max if higher else min)(scored, key=lambda t: t[2])
    verdict.best = best.experiment_id
    if blocks is not None:
        _pbo(reg, [e for e in trials if e.model_family == best.model_family], blocks, verdict)
    how = "highest" if higher else "lowest"
    for entry, _, value in scored:
        status = "selected" if entry is best else "discarded"
        if status == "discarded":
            verdict.discarded.append(entry.experiment_id)
        if entry.status == status:
            continue
        reason = (f"sweep {sweep_dir}: {'best' if entry is best else 'not the best'} of "
                  f"{len(scored)} trial(s) by validation {metric} ({how} wins): "
                  f"{value:.6g}" + ("" if entry is best else f" vs {best_value:.6g} of "
                                    f"{best.experiment_id}"))
        xlog.set_status(reg, entry.experiment_id, status, ACTOR, reason,
                        evidence=[best.experiment_id],
                        figures={"pbo": verdict.pbo} if entry is best and verdict.pbo else None)
        verdict.changed.append(entry.experiment_id)
    return verdict


def _pbo(reg: Any, trials: list[ExperimentEntry], blocks: int, verdict: Verdict) -> None:
    """The sweep's PBO onto `verdict`, logged in one line (or why there is none)."""
    try:
        verdict.pbo = {**search_pbo(reg, trials, blocks), "selected": verdict.best,
                       "sweep_dir": verdict.sweep_dir, "model_family": trials[0].model_family}
    except Exception as exc:  # the selection stands without it; each use computes it again
        verdict.pbo_error = str(exc)
        log.warning("sweep %s: no PBO: %s", verdict.sweep_dir, exc,
                    exc_info=not isinstance(exc, RegistryError))
        return
    log.info("sweep %s: PBO %.2f over %d trials, S=%d", verdict.sweep_dir, verdict.pbo["pbo"],
             verdict.pbo["trials"], blocks)


def open_registry(config: DictConfig) -> Any:
    """The registry the sweep's trials wrote to, from the sweep's config."""
    reg_dir = Path(str(OmegaConf.select(config, "paths.registry_dir")))
    return Registry(reg_dir, OmegaConf.select(config, "registry.url"))


class SweepOutcome(Callback):
    """At the end of a multirun: optionally mark the best trial (`select: true`, set by the
    `hparams_search` presets), then report the trials from the log, naming failed ones: the
    sweep's process (`ifns-train -m`) then exits 1."""

    def __init__(self, select: bool = False, direction: str | None = None) -> None:
        if direction not in (None, "maximize", "minimize"):
            raise ValueError(f"direction {direction!r}: maximize or minimize")
        self.select, self.direction = select, direction

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = str(Path(str(config.hydra.sweep.dir)).resolve())
        reg = open_registry(config)
        try:
            if self.select:
                verdict = select_best(reg, sweep_dir, self.direction, OmegaConf.select(
                    config, "promotion.pbo_blocks"))
                if verdict.best:
                    log.info("sweep %s: selected %s by validation %s; discarded %d other "
                             "trial(s)", sweep_dir, verdict.best, verdict.metric,
                             len(verdict.discarded))
            trials = sweep_trials(reg, sweep_dir)
        finally:
            reg.close()
        recorded = {str(Path((e.artifacts or {}).get("run_dir") or "").resolve())
                    for e in trials}
        unrecorded = [m for m in sorted(Path(sweep_dir).glob(f"*/{FAILED_MARK}"))
                      if str(m.parent.resolve()) not in recorded]
        failed = [e for e in trials if e.status == "failed"]
        log.info("sweep %s: %d trial(s) in the log, %d failed", sweep_dir, len(trials),
                 len(failed))
        if failed or unrecorded:
            lines = [f"{e.experiment_id}: {e.error}" for e in failed]
            lines += [f"{m.parent} (not in the log): {m.read_text().strip()}"
                      for m in unrecorded]
            message = (f"sweep {sweep_dir}: {len(lines)} trial(s) failed:\n  "
                       + "\n  ".join(lines))
            log.error(message)
            FAILED_SWEEPS.append(message)  # Hydra swallows a callback's error: main() exits 1
