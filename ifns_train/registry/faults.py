"""The registry's fault points: `ifns_train.core.faults` (moved there so that the dataset cache,
a lower wing, can name points too); imported here under the name the registry's modules and
tests use."""

from __future__ import annotations

from ifns_train.core.faults import DECISION_POINTS, ENV, HOOKS, POINTS, point

__all__ = ["DECISION_POINTS", "ENV", "HOOKS", "POINTS", "point"]
