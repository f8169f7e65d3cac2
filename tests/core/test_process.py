"""The console process's age and its collector: held while loading, frozen once, at exit too."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time

import pytest

from ifns_train.core import process


def test_process_age_counts_from_the_kernel_start() -> None:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", "import time; time.sleep(0.3); from ifns_train.core.process "
         "import process_age; print(process_age())"],
        capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - started
    age = float(out)
    tick = 1 / os.sysconf("SC_CLK_TCK")  # the kernel keeps the start in clock ticks
    assert 0.3 <= age <= wall + tick  # the sleep before any code of ours is counted


def test_the_collector_is_held_then_frozen_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "_STATE", {"held": False, "frozen": False, "exit_hook": False})
    freezes: list[int] = []
    hooks: list[object] = []
    monkeypatch.setattr(process.gc, "freeze", lambda: freezes.append(1))
    monkeypatch.setattr(process.atexit, "register", hooks.append)
    was_enabled = gc.isenabled()
    try:
        process.hold_collector()
        assert not gc.isenabled() and len(hooks) == 1
        process.release_collector()
        assert gc.isenabled() and freezes == [1]
        process.release_collector()  # idempotent: the `finally` after the run's own release
        process.hold_collector()  # a second run in the process: nothing held, nothing frozen
        assert gc.isenabled() and freezes == [1] and len(hooks) == 1
    finally:
        if was_enabled:
            gc.enable()
