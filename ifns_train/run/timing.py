"""Where a run's wall time goes, from the process's start to its record: cheap marks at the
phase boundaries, at the cost of a `perf_counter` call each.

A GPU run can spend most of its time outside the fit (imports, reading and verifying data,
evaluation, drawing); a record that hides where is no help in making it faster. So the clock
starts when the kernel started the process (`core.process.process_age`), and the phases are
`PHASES`: imports (the interpreter and every library, also those loaded after Hydra parsed the
command line), config (Hydra's composition, the checks, opening the registry, entering the
run), data, setup (the model and the trainer), fit (marked by the learner when its fit
ends), evaluation (scoring the splits with the fitted model, the evaluation standard, the
attribution) and recording (writing the artifact folder up to its
train_config.json, which holds these figures; the hashing and the registry transaction after
it take milliseconds). They add up to the time from the process's start to the record; what
follows (the summary line, the loggers' close, the interpreter's exit) the console writes to
the job log as `exit` (`cli.train`).

A phase ends at its mark and starts at the mark before it; marking a phase again adds to it
(the imports before and after Hydra's composition are one phase). What is marked before a run
starts (`start`) belongs to the first run that starts after it, so each run's figures add up
to the time since the previous run of the process ended: a sweep's second trial or a companion
run records its own config, not the process's imports again, and a run started by calling `train`
without a console counts from that call (`enter`).
"""

from __future__ import annotations

import time

from ifns_train.core.process import process_age

PHASES = ("imports", "config", "data", "setup", "fit", "evaluation", "recording")
"""The phases of one run, in order; a phase not marked merges into the next one marked."""


class PhaseClock:
    """The phases of this process's current run: `mark(phase)` at the end of each phase,
    `start()` at a run's start (what was marked before it is the run's too)."""

    def __init__(self) -> None:
        age = process_age()
        self.last = time.perf_counter() - (age or 0.0)
        self.pending: dict[str, float] = {}
        self.run: dict[str, float] | None = None

    def mark(self, phase: str) -> None:
        now = time.perf_counter()
        target = self.pending if self.run is None else self.run
        target[phase] = target.get(phase, 0.0) + now - self.last
        self.last = now

    def enter(self) -> None:
        """`train` is called: without a console's marks before it (a script, a notebook, a
        test calling `train`), its phases count from here, not from the process's start or
        the previous run's end (idle time is no phase of a run)."""
        if self.run is None and not self.pending:
            self.last = time.perf_counter()

    def start(self) -> None:
        """A run starts: the time since the last mark is config (its checks, the registry)."""
        self.mark("config")
        self.run, self.pending = self.pending, {}

    def finish(self) -> None:
        """The run is recorded: what comes next belongs to the next run."""
        self.run = None

    def seconds(self) -> dict[str, float]:
        """Seconds per phase of the current run so far, in `PHASES` order (others after),
        rounded to the millisecond."""
        run = self.run or {}
        order = [p for p in PHASES if p in run] + [p for p in run if p not in PHASES]
        return {p: round(run[p], 3) for p in order}

    def since_last(self) -> float:
        return time.perf_counter() - self.last


CLOCK = PhaseClock()
