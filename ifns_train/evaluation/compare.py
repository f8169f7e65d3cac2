"""Compare a model's metrics with baselines' (dicts as returned by the metric functions).

A model only earns its keep by beating the simple baselines (always-up, base rate,
momentum); these helpers make that comparison direction-aware without each caller
remembering which metrics are losses.

**One sign convention.** An *improvement* is the model's advantage over a baseline in the
metric's favourable direction: model minus baseline for a metric where higher is better,
baseline minus model for a loss or an error. Positive is better for the model, whatever the
metric, in every figure recorded (``improvement``, its interval, slices, controls) and shown.
``evidence`` words an interval of it the same way everywhere: ``better`` when it lies wholly
above 0, ``worse`` when wholly below, ``within noise`` when it holds 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from numbers import Real
from typing import Any

HIGHER_IS_BETTER: dict[str, bool] = {
    "hit_rate": True,
    "auc": True,
    "precision_up": True,
    "recall_up": True,
    "precision_down": True,
    "recall_down": True,
    "brier": False,
    "log_loss": False,
    "ece": False,
    # returns (regression)
    "r2": True,
    "pearson": True,
    "spearman": True,
    "ic_mean": True,
    "ic_ir": True,
    "rank_ic_mean": True,
    "rank_ic_ir": True,
    "ic_hit_rate": True,
    "rmse": False,
    "mae": False,
    # volatility (risk) and trading cost
    "corr": True,
    "qlike": False,
    "log_rmse": False,
    "mae_bps": False,
    "rmse_bps": False,
    "p90_abs_error_bps": False,
}
"""Direction of each metric with one; losses and errors are lower-is-better.

Signed errors (bias, bias_bps) and dispersions (ic_std, rank_ic_std) are left out: neither
larger nor smaller is better, so they are not compared by default.
"""


FAVOURABLE_SINCE = 3
"""The metrics version from which recorded improvements follow this convention; an earlier
record stored model minus baseline, and its readers turn it (`as_favourable`)."""
EVIDENCE = ("better", "worse", "within noise")
"""How an improvement's interval reads (see the module docstring); None: no claim (a small
slice, or no interval)."""


def favourable(metric: str, difference: float | None) -> float | None:
    """``model - baseline`` of ``metric`` turned so that > 0 is better for the model."""
    if difference is None:
        return None
    return difference if HIGHER_IS_BETTER[metric] else -difference


def evidence_of(low: float | None, high: float | None, small: bool = False) -> str | None:
    """The word for an improvement's interval [low, high] (favourable convention)."""
    if small or low is None or high is None:
        return None
    return "better" if low > 0.0 else "worse" if high < 0.0 else "within noise"


def as_favourable(metric: str | None, value: float | None, low: float | None,
                  high: float | None, metrics_version: int, small: bool = False
                  ) -> dict[str, Any]:
    """A recorded improvement and its interval in the one convention, with its evidence word:
    as recorded from ``FAVOURABLE_SINCE`` on; turned for a loss recorded earlier."""
    if metrics_version < FAVOURABLE_SINCE and metric in HIGHER_IS_BETTER \
            and not HIGHER_IS_BETTER[metric]:
        value = None if value is None else -value
        low, high = (None if high is None else -high), (None if low is None else -low)
    return {"improvement": value, "low": low, "high": high,
            "evidence": evidence_of(low, high, small)}


def improvement(
    model: Mapping[str, Any],
    baseline: Mapping[str, Any],
    keys: Iterable[str] | None = None,
) -> dict[str, float | None]:
    """The model's favourable advantage over the baseline per metric (see the module
    docstring); None where either side is None.

    With ``keys=None`` the metrics of ``HIGHER_IS_BETTER`` present in both dicts with
    numeric values are compared; explicitly named keys must have a direction, be present in
    both and numeric (or None).
    """
    explicit = keys is not None
    names = list(keys) if keys is not None else list(HIGHER_IS_BETTER)
    out: dict[str, float | None] = {}
    for name in names:
        if name not in HIGHER_IS_BETTER:
            raise KeyError(f"metric {name!r} has no known direction to improve in")
        missing = [side for side, d in (("model", model), ("baseline", baseline)) if name not in d]
        if missing:
            if explicit:
                raise KeyError(f"metric {name!r} missing from {' and '.join(missing)} metrics")
            continue
        m, b = model[name], baseline[name]
        if not (_is_numeric_or_none(m) and _is_numeric_or_none(b)):
            if explicit:
                raise TypeError(f"metric {name!r} is not numeric: model={m!r}, baseline={b!r}")
            continue
        m_f, b_f = _as_float(m), _as_float(b)
        out[name] = None if m_f is None or b_f is None else favourable(name, m_f - b_f)
    return out


def best_baseline(
    baselines: Mapping[str, Mapping[str, Any]],
    metric: str,
    *,
    higher_is_better: bool | None = None,
) -> str:
    """Name of the baseline best on ``metric``; baselines without a value are ignored.

    Direction comes from ``HIGHER_IS_BETTER`` unless ``higher_is_better`` is given
    (for other families' metrics). Ties go to the first baseline in ``baselines``.
    """
    if higher_is_better is None:
        if metric not in HIGHER_IS_BETTER:
            raise KeyError(
                f"no known direction for metric {metric!r}; pass higher_is_better explicitly"
            )
        higher_is_better = HIGHER_IS_BETTER[metric]
    scores: dict[str, float] = {}
    for name, metrics in baselines.items():
        value = metrics.get(metric)
        if _is_numeric_or_none(value):
            value_f = _as_float(value)
            if value_f is not None:
                scores[name] = value_f
    if not scores:
        raise ValueError(f"no baseline has a value for metric {metric!r}")
    pick = max if higher_is_better else min
    return pick(scores, key=scores.__getitem__)


def _is_numeric_or_none(value: Any) -> bool:
    """Real numbers and None; bools are flags, not metrics."""
    return value is None or (isinstance(value, Real) and not isinstance(value, bool))


def _as_float(value: Any) -> float | None:
    """Plain float, with None (and a stray NaN) as None so outputs never hold NaN."""
    if value is None:
        return None
    f = float(value)
    return None if math.isnan(f) else f
