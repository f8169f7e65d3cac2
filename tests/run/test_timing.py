"""The phase clock: phases add up, what comes before a run is its own, idle time is not."""

from __future__ import annotations

import pytest

from ifns_train.run import timing


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> tuple[timing.PhaseClock, list[float]]:
    now = [100.0]
    monkeypatch.setattr(timing, "process_age", lambda: 2.0)
    monkeypatch.setattr(timing.time, "perf_counter", lambda: now[0])
    return timing.PhaseClock(), now


def test_a_console_run_counts_from_the_process_start(clock) -> None:
    c, now = clock
    now[0] = 101.0
    c.mark("imports")  # 3 s since the kernel started the process (2 s before the clock)
    now[0] = 101.5
    c.mark("config")
    now[0] = 103.0
    c.mark("imports")  # more imports after Hydra's composition: the same phase
    c.enter()  # the console marked: nothing is reset
    now[0] = 103.25
    c.start()  # the checks before the run: config
    now[0] = 104.0
    c.mark("data")
    now[0] = 106.0
    c.mark("fit")
    assert c.seconds() == {"imports": 4.5, "config": 0.75, "data": 0.75, "fit": 2.0}
    c.finish()
    now[0] = 110.0  # idle, then a second run in the process: only its own time
    c.enter()
    now[0] = 110.5
    c.start()
    now[0] = 111.0
    c.mark("data")
    assert c.seconds() == {"config": 0.5, "data": 0.5}


def test_a_direct_call_counts_from_the_call(clock) -> None:
    c, now = clock
    now[0] = 500.0  # a notebook, long after its imports
    c.enter()
    now[0] = 500.25
    c.start()
    now[0] = 501.0
    c.mark("evaluation")
    assert c.seconds() == {"config": 0.25, "evaluation": 0.75}
    assert list(timing.PHASES) == ["imports", "config", "data", "setup", "fit", "evaluation",
                                   "recording"]
