"""Searches: the trials of a sweep (or of any experiments named by id) and the probability that
picking the best of them overfit (PBO, `evaluation.pbo`).

Why here: a search's trials are known only from the experiment log (each trial's entry carries
its sweep folder, `artifacts.sweep_dir`, whatever launcher ran it), and their per-date figures
only from their registered test prediction tables. The run's sweep callback (`run.sweeps`),
`registry.current` (the `pbo` check made current), Admin and the Mirror all read them here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ifns_train.core.errors import RegistryError
from ifns_train.evaluation.pbo import cscv
from ifns_train.registry import ids, model_registry, views
from ifns_train.registry import log as xlog
from ifns_train.registry.database import Registry
from ifns_train.registry.decision_table import read_decision_table
from ifns_train.registry.records import NO_MODEL_KINDS, ExperimentEntry

RANKED = ("completed", "selected", "discarded")  # the statuses of a trial with a model
# What readers of many models share (`registry.current.TrialCache`), so that each search's
# tables are read once, not once per model: a search's PBO (or `{"error": why}`) under
# ("pbo", sweep folder, blocks), every experiment's sweep folder under SWEEPS.
Cache = dict[tuple[str, str, str], dict[str, Any]]
SWEEPS = ("sweeps", "", "")


def resolved(sweep_dir: str) -> str:
    return str(Path(sweep_dir).resolve())


def slug(sweep_dir: str, family: str) -> str:
    """A short stable name of a search, a sweep folder's trials of one family (the Mirror's
    page of it)."""
    return hashlib.sha256(f"{resolved(sweep_dir)}\0{family}".encode()).hexdigest()[:12]


def sweep_trials(reg: Any, sweep_dir: str, family: str | None = None
                 ) -> list[ExperimentEntry]:
    """The model runs (not their companions) of one sweep, of `family` if given, oldest first:
    found among the log's rows (`views.experiment_rows`, which decodes only a few fields of
    each record), then read whole.

    Why by family: a search picks among models of one family; a multirun over families
    (`-m family=dir_core,ret_core`) holds one search per family, not one search."""
    wanted = resolved(sweep_dir)
    found = [row["experiment_id"] for row in views.experiment_rows(reg)
             if row["kind"] not in NO_MODEL_KINDS and row["artifacts"].get("sweep_dir")
             and resolved(row["artifacts"]["sweep_dir"]) == wanted
             and (family is None or row["model_family"] == family)]
    entries = [xlog.get(reg, i) for i in found]
    return sorted(entries, key=lambda e: (e.timestamp, e.experiment_id))


def named_trials(reg: Registry, refs: Iterable[str]) -> list[ExperimentEntry]:
    """The experiments named by experiment or model id (a model stands for its run)."""
    out = []
    for ref in refs:
        if ref.startswith("MDL_"):
            ref = model_registry.get(reg, ref).experiment_id
        out.append(xlog.get(reg, ref))
    return out


def ranked(trials: Iterable[ExperimentEntry]) -> list[ExperimentEntry]:
    """The trials that count: a model run that completed (selected or discarded since)."""
    return [e for e in trials if e.status in RANKED and e.kind not in NO_MODEL_KINDS]


def trial_table(reg: Registry, model_id: str) -> tuple[Any, str, int]:
    """A trial's decision table (`decision_table.read_decision_table`: hash-checked), its
    primary metric and label horizon."""
    arrays, scoring = read_decision_table(reg, model_registry.get(reg, model_id))
    return arrays, str(scoring["metric"]), int(scoring["horizon"])


def recorded_blocks(reg: Registry, trials: Iterable[ExperimentEntry]) -> int:
    """The blocks (`promotion.pbo_blocks`) the trials' `pbo` checks were recorded with."""
    for entry in ranked(trials):
        checks = (model_registry.get(reg, entry.proposed_model_id).metrics.get("promotion")
                  or {}).get("checks") or []
        blocks = next((c.get("blocks") for c in checks if c.get("name") == "pbo"), None)
        if blocks:
            return int(blocks)
    raise RegistryError("no number of blocks recorded with these trials; give --blocks S")


def search_pbo(reg: Registry, trials: Iterable[ExperimentEntry], blocks: int
               ) -> dict[str, Any]:
    """The PBO (`evaluation.pbo.cscv`) of the ranked trials, on their per-date test figures,
    with `trials_ids` (experiment: model), `primary_metric`, `selected` (the trial marked
    so, or None) and `as_of`. RegistryError (one line) when it cannot be computed."""
    from ifns_train.evaluation.performance_matrix import per_date_words, performance_matrix

    counted = ranked(trials)
    if len(counted) < 2:
        raise RegistryError(f"a PBO needs at least 2 completed trials with a model, found "
                            f"{len(counted)}")
    tables, primaries, horizons = {}, set(), set()
    for entry in counted:
        arrays, primary, horizon = trial_table(reg, entry.proposed_model_id)
        tables[entry.experiment_id] = arrays
        primaries.add(primary)
        horizons.add(horizon)
    if len(primaries) > 1:
        raise RegistryError(f"the trials rank by different primary metrics "
                            f"({', '.join(sorted(primaries))}): no one performance matrix")
    primary = primaries.pop()
    try:
        _, matrix, _ = performance_matrix(tables, primary)
        figures = cscv(matrix, blocks, max(horizons))
    except ValueError as exc:
        raise RegistryError(f"PBO of {len(counted)} trials: {exc}") from None
    selected = [e.experiment_id for e in counted if e.status == "selected"]
    return {**figures, "primary_metric": primary, "per_date": per_date_words(primary),
            "as_of": ids.iso(ids.utc_now()),
            "trial_ids": {e.experiment_id: e.proposed_model_id for e in counted},
            "selected": selected[0] if selected else None}


def sweep_of(reg: Registry, experiment_id: str, cache: Cache | None = None) -> str | None:
    """The sweep folder of an experiment (None: not from a sweep), from one pass over the log
    when a `cache` is shared."""
    if cache is None:
        return xlog.get(reg, experiment_id).artifacts.get("sweep_dir")
    if SWEEPS not in cache:
        cache[SWEEPS] = {row["experiment_id"]: row["artifacts"].get("sweep_dir")
                         for row in views.experiment_rows(reg)}
    return cache[SWEEPS].get(experiment_id)


def sweep_pbo(reg: Registry, sweep_dir: str, family: str, blocks: int,
              cache: Cache | None = None) -> dict[str, Any] | None:
    """`search_pbo` of one sweep's trials of `family` now (with its `sweep_dir`,
    `model_family` and `slug`), once per search and blocks when a `cache` is shared; None
    when the sweep holds fewer than two ranked trials of the family (no search to have
    overfit); RegistryError when it cannot be computed."""
    key = ("pbo", resolved(sweep_dir), f"{family}/{blocks}")
    if cache is not None and key in cache:
        if "error" in cache[key]:
            raise RegistryError(cache[key]["error"])
        return cache[key] or None
    trials = sweep_trials(reg, sweep_dir, family)
    if len(ranked(trials)) < 2:
        if cache is not None:
            cache[key] = {}
        return None
    try:
        figures = {**search_pbo(reg, trials, blocks), "sweep_dir": key[1],
                   "model_family": family, "slug": slug(key[1], family)}
    except RegistryError as exc:
        if cache is not None:
            cache[key] = {"error": str(exc)}
        raise
    if cache is not None:
        cache[key] = figures
    return figures
