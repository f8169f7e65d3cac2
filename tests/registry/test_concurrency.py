"""Parallel writers lose nothing: runs recording models and Admin users writing proposals,
links and reviews at the same time, in separate processes, on each backend."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

from ifns_train.registry import lifecycle, log, model_registry
from ifns_train.registry.database import Registry
from tests.registry.factory import add_model

WORKERS, RUNS = 4, 8


def _runs(registry: str, url: str | None, worker: int) -> None:
    reg = Registry(Path(registry), url)
    for i in range(RUNS):
        add_model(reg, f"w{worker}", n=worker * 100 + i)


def _admin(registry: str, url: str | None, worker: int) -> None:
    reg = Registry(Path(registry), url)
    done: set[str] = set()
    deadline = time.monotonic() + 240
    while len(done) < WORKERS * RUNS and time.monotonic() < deadline:
        for row in model_registry.search(reg, limit=None, records=False):
            if row["model_id"] in done:
                continue
            lifecycle.propose(reg, row["model_id"], "canary", f"admin{worker}", "review")
            log.link(reg, row["experiment_id"], "sel", f"SEL_{worker}", f"admin{worker}")
            done.add(row["model_id"])
        time.sleep(0.05)


def test_parallel_runs_and_admin_writes_lose_nothing(registry: Path,
                                                     backend_url: str | None) -> None:
    Registry(registry, backend_url).close()  # schema created once, before the race
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_runs, args=(str(registry), backend_url, w))
             for w in range(WORKERS)]
    procs += [ctx.Process(target=_admin, args=(str(registry), backend_url, w))
              for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    reg = Registry(registry, backend_url)
    rows = model_registry.search(reg, limit=None)
    assert len(rows) == WORKERS * RUNS
    assert sorted(r["model_version"] for r in rows) == list(range(1, WORKERS * RUNS + 1))
    entries = log.search(reg, limit=None)
    assert len(entries) == WORKERS * RUNS and {e.status for e in entries} == {"completed"}
    assert all([h.status for h in log.status_history(reg, e.experiment_id)]
               == ["running", "completed"] for e in entries)
    proposals = lifecycle.proposals_of(reg)
    # Each admin proposed every model once (they raced for none of them).
    assert len(proposals) == 2 * WORKERS * RUNS
    links = log.links_of(reg)
    assert all(len(links[e.experiment_id]) == 2 for e in entries)
