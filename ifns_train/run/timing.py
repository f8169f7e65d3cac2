"""Where a run's wall time goes: cheap marks at the phase boundaries of `train`.

A GPU run can spend most of its time outside training (imports, reading and verifying data,
evaluation); these marks say how much, per phase, at the cost of a `perf_counter` call each.
A phase ends at its mark and starts at the mark before it, so marking a phase again (e.g. the
end of evaluation, once the evaluation standard has run) moves its end and the next phase's start.
The fit itself is timed by its learner (`Fitted.fit_seconds`; the recorder reports it).
"""

from __future__ import annotations

import time

# The phases of one run, in order: data, setup, training, evaluation, recording; a phase not
# marked merges into the next one marked.


class PhaseClock:
    """Marks of one process's current run: `start()` at the run's start, `mark(phase)` at the
    end of each phase."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.marks: dict[str, float] = {}

    def start(self) -> None:
        self.started, self.marks = time.perf_counter(), {}

    def mark(self, phase: str) -> None:
        if self.started is not None:
            self.marks[phase] = time.perf_counter()

    def seconds(self) -> dict[str, float]:
        """Seconds per phase marked so far, in run order, rounded to the millisecond."""
        if self.started is None:
            return {}
        out, previous = {}, self.started
        for phase in sorted(self.marks, key=self.marks.__getitem__):
            out[phase] = round(self.marks[phase] - previous, 3)
            previous = self.marks[phase]
        return out


CLOCK = PhaseClock()
