"""A console process's own start and end: its age, and the cyclic garbage collector around the
libraries it loads.

Why the collector. A training console loads torch, Lightning, pandas, Hydra and the rest: a
heap of objects that live as long as the process. CPython runs a full collection each time
the long-lived heap grows by a quarter, and each walks every one of them: 8 full collections
taking 1.6 s in a default run (counted with `gc.callbacks` on the 2-core VM). At exit the
interpreter collects again while it tears the modules down: `python -c "import
ifns_train.run.train"` took 1.21 times as long as the same ending in `os._exit` (paired runs;
1.03 with `gc.freeze()` at its end). So `ifns-train` holds the collector
while it loads its libraries, then freezes what is loaded (`gc.freeze`: moved out of the
collector's sight, still freed by reference counting) and lets it run on the run's own
objects; and every console freezes again at exit, so the teardown walks nothing.

Nothing written depends on the collector: every record, file and logger is closed or flushed
explicitly before a console returns, and `logging.shutdown` (registered before, so run after,
the freeze at exit) flushes the log handlers (tests/cli/test_exit.py checks all of it on a
real process). What a freeze costs: cycles already garbage at that instant are never
collected. That is why the freeze after loading happens once per process (a test session that
calls the consoles in-process freezes once), and at exit it no longer matters.
"""

from __future__ import annotations

import atexit
import gc
import os
import time
from pathlib import Path

_STATE = {"held": False, "frozen": False, "exit_hook": False}


def process_age() -> float | None:
    """Seconds since the kernel started this process (its `starttime` in /proc, against the
    boot clock it counts from), so the time spent before any Python code of ours ran (the
    interpreter's start, the first imports) is measured too; None where /proc is absent."""
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, after "pid (comm)"
        return max(time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK"),
                   0.0)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def hold_collector() -> None:
    """At a training console's start: no collection while its libraries load (once per
    process), and the freeze at exit."""
    freeze_at_exit()
    if not _STATE["frozen"] and not _STATE["held"]:
        _STATE["held"] = True
        gc.disable()


def release_collector() -> None:
    """Once the libraries are loaded (or the command ended before): freeze them and collect
    again. Idempotent; call it in a `finally` too, so an early error never leaves the
    collector off."""
    if _STATE["held"]:
        _STATE["held"], _STATE["frozen"] = False, True
        gc.freeze()
        gc.enable()


def freeze_at_exit() -> None:
    """Freeze the heap when the interpreter starts to exit (registered once)."""
    if not _STATE["exit_hook"]:
        _STATE["exit_hook"] = True
        atexit.register(gc.freeze)
