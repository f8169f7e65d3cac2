"""Named points where a test can kill a run (`IFNS_FAULT_AT=<point>`), to prove that the
registry stays consistent whatever instant a run dies at. In normal use this is one lookup of
an environment variable per point.

The points, in the order a run passes them:
  run-registered         the experiment is entered as `running`
  resolved               the data is resolved, before training
  trained                fit has ended, before predicting
  staged                 the artifact folder is written under its hidden staging name
  artifact-in-place      the folder has its final name, before the registry transaction
  publish-before-commit  inside the registry transaction, before its commit
  published              after the commit
"""

from __future__ import annotations

import os
import signal

ENV = "IFNS_FAULT_AT"
POINTS = ("run-registered", "resolved", "trained", "staged", "artifact-in-place",
          "publish-before-commit", "published")


def point(name: str) -> None:
    """Die here, as a SIGKILL would, when the environment names this point."""
    assert name in POINTS, name
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
