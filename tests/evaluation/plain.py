"""Shared check: evaluation output is plain JSON (no numpy scalars, no NaN or inf)."""

from __future__ import annotations

import math


def assert_plain_json(obj: object) -> None:
    """Recursively: only dict/list/str/int/float/bool/None, never numpy scalars or NaN."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert type(k) is str
            assert_plain_json(v)
    elif isinstance(obj, list):
        for v in obj:
            assert_plain_json(v)
    else:
        assert obj is None or type(obj) in (str, int, float, bool), type(obj)
        if type(obj) is float:
            assert math.isfinite(obj)
