"""Named points where a test can kill a run (`IFNS_FAULT_AT=<point>`), to prove that what a run
writes stays consistent whatever instant it dies at, or hold a decision (`HOOKS`, in the test's
own process) to prove that two decisions made at the same instant cannot both win. In normal
use this is one lookup of a dict and of an environment variable per point. In core, so that
every wing can name a point (the dataset cache as well as the registry).

The points, in the order a run passes them:
  cache-block-written    a block of a dataset cache entry's array is written (its temporary folder)
  cache-arrays-written   every array of the entry is written, before its meta.json
  cache-meta-written     meta.json is written, before the folder is renamed into place
  run-registered         the experiment is entered as `running`
  resolved               the data is resolved, before training
  trained                fit has ended, before predicting
  staged                 the artifact folder is written under its hidden staging name
  artifact-in-place      the folder has its final name, before the registry transaction
  publish-before-commit  inside the registry transaction, before its commit
  published              after the commit

and, in a status decision (`lifecycle.decide`, `log.set_status`):
  decide-checked         the gate was passed on the status read before the transaction
  decide-in-transaction  the write transaction has begun (PostgreSQL: not yet serialised)
  status-read            `set_status` read the status inside its transaction
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

ENV = "IFNS_FAULT_AT"
CACHE_POINTS = ("cache-block-written", "cache-arrays-written", "cache-meta-written")
POINTS = ("run-registered", "resolved", "trained", "staged", "artifact-in-place",
          "publish-before-commit", "published")
DECISION_POINTS = ("decide-checked", "decide-in-transaction", "status-read")
# point -> a function a test calls there (e.g. waiting on a barrier); empty in normal use.
HOOKS: dict[str, Callable[[], None]] = {}


def point(name: str) -> None:
    """Call the test's hook for this point, if any; die here, as a SIGKILL would, when the
    environment names it."""
    assert name in POINTS or name in DECISION_POINTS or name in CACHE_POINTS, name
    hook = HOOKS.get(name)
    if hook is not None:
        hook()
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
