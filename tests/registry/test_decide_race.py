"""One promoted model per role on every backend: two decisions made at the same instant cannot
both win. Each test holds both decisions at a named point (`faults.HOOKS`) until both have
reached it, so the race is forced, not left to timing.

On PostgreSQL the point is inside the write transaction, before the family's decisions are
serialised: without the lock and the guarded write, both transactions would read `canary` and
both would promote. On SQLite a write transaction holds the database's one write lock from its
`BEGIN IMMEDIATE`, so a second decision cannot enter one meanwhile; the point there is the
gate, passed by both on the same status read before either writes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ifns_train.core import faults
from ifns_train.core.errors import RegistryError
from ifns_train.registry import lifecycle, log, model_registry
from ifns_train.registry.database import Registry
from tests.registry.factory import add_model, planted_test_table, set_status

ROLE = "primary_directional"


@pytest.fixture
def held() -> Iterator[Callable[[str, int], threading.Barrier]]:
    """Hold `parties` callers at a decision point until all have reached it."""
    def hold(point: str, parties: int = 2) -> threading.Barrier:
        barrier = threading.Barrier(parties, timeout=30)
        faults.HOOKS[point] = barrier.wait
        return barrier

    yield hold
    faults.HOOKS.clear()


def _race(*calls: Callable[[], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run the calls in threads at once; their results and their errors."""
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(call: Callable[[], Any]) -> None:
        try:
            results.append(call())
        except BaseException as exc:  # collected, asserted by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, errors


def _point(reg: Registry) -> str:
    return "decide-in-transaction" if reg.backend == "postgresql" else "decide-checked"


def test_two_concurrent_promotions_of_one_model(reg: Registry, held: Any) -> None:
    # The same planted scores: the challenger is no worse than the holder (`champion`).
    old = add_model(reg, n=1, predictions=planted_test_table())
    set_status(reg, old.model_id, "canary")
    set_status(reg, old.model_id, "promoted")
    new = add_model(reg, n=2, predictions=planted_test_table())
    set_status(reg, new.model_id, "canary")
    held(_point(reg))

    def promote(actor: str) -> Callable[[], Any]:
        return lambda: lifecycle.decide(reg, new.model_id, "promoted", actor, "both at once")

    results, errors = _race(promote("dra-1"), promote("dra-2"))
    assert len(results) == 1 and len(errors) == 1, errors
    assert isinstance(errors[0], RegistryError)
    assert f"model {new.model_id} became promoted meanwhile" in str(errors[0])
    print(f"[{reg.backend}] winner: {results[0]['changes']}")
    print(f"[{reg.backend}] refused: {errors[0]}")
    # One promoted model for the role, the old holder retired once, one history row each.
    promoted = model_registry.search(reg, status="promoted", role=ROLE, records=False)
    assert [r["model_id"] for r in promoted] == [new.model_id]
    assert [h.status for h in model_registry.get(reg, old.model_id).status_history] == [
        "candidate", "canary", "promoted", "retired"]
    assert [h.status for h in model_registry.get(reg, new.model_id).status_history] == [
        "candidate", "canary", "promoted"]


def test_two_models_promoted_to_one_role_at_once(reg: Registry, held: Any) -> None:
    # No holder yet: both decisions find none when they check. Serialised, the later one
    # sees the earlier one's model promoted: a holder it was not compared against
    # (`champion`), so it is refused ("changed meanwhile", decide again), never a silent
    # replacement. The outcome, not the mechanism: both start together, but nothing holds one
    # between its write and its read of the holders (a hold there would deadlock against the
    # lock), so unserialised code may pass by timing; the test above is the one that fails
    # without it.
    a, b = add_model(reg, n=1), add_model(reg, n=2)
    for model in (a, b):
        set_status(reg, model.model_id, "canary")
    held(_point(reg))
    results, errors = _race(
        lambda: lifecycle.decide(reg, a.model_id, "promoted", "dra-1", "a"),
        lambda: lifecycle.decide(reg, b.model_id, "promoted", "dra-2", "b"))
    assert len(results) == 1 and len(errors) == 1, errors
    assert "holders changed meanwhile" in str(errors[0]) and "decide again" in str(errors[0])
    promoted = model_registry.search(reg, status="promoted", role=ROLE, records=False)
    assert len(promoted) == 1
    statuses = {m.model_id: model_registry.get(reg, m.model_id).status for m in (a, b)}
    assert sorted(statuses.values()) == ["canary", "promoted"]


def test_an_experiment_is_selected_once(reg: Registry, held: Any) -> None:
    model = add_model(reg)
    if reg.backend == "postgresql":  # SQLite's write lock lets only one read the status
        held("status-read")
    results, errors = _race(
        *(lambda who=who: log.set_status(reg, model.experiment_id, "selected", who, "best")
          for who in ("rev-1", "rev-2")))
    assert len(results) == 1 and len(errors) == 1
    assert "selected" in str(errors[0])
    history = log.status_history(reg, model.experiment_id)
    assert [h.status for h in history] == ["running", "completed", "selected"]
