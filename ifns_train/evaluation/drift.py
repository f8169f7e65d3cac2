"""Drift: whether the rows a model now scores still look like the rows it learned from.

Pure (numpy in, plain JSON out). At record time each input feature's training distribution is
kept as a quantile sketch (`sketch`: the 101 percentiles of its finite values, its count and
the share missing), overall and per value of a grouping column such as `regime_tag` where that
value has enough rows (`reference`); at prediction time the scored rows are compared with it
(`compare`), feature by feature:

* the population stability index (PSI) over the reference's decile bins (their shares in the
  training rows counted exactly when the reference is made), a missing value counting as an
  eleventh bin, each share floored at `PSI_FLOOR` so that a bin empty on one
  side gives a large but finite term; the customary reading: under 0.1 stable, 0.1-0.25 a
  moderate shift, over 0.25 a major one;
* the Kolmogorov-Smirnov statistic: the largest distance between the reference's CDF, read
  from its percentiles, and the scored rows' empirical CDF. Read from a sketch, the reference's
  CDF is known between two neighbouring percentiles only, and its midpoint is taken: the
  statistic is within `ks_error(n)` = half the sketch's spacing (0.005) plus 1/n of the one
  computed from the n raw training values (tests/evaluation/test_drift.py holds it to
  scipy.stats.ks_2samp).

Values are compared as float32 (the tables' feature type) and the percentiles are stored at
float32 precision, so a value the training data held many times (a clipped or flat feature)
falls into the same bin on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

QUANTILE_LEVELS = 101  # the percentiles 0, 1, ..., 100: the sketch's resolution is 1/100
SPACING = 1.0 / (QUANTILE_LEVELS - 1)
PSI_BINS = 10  # deciles of the reference
PSI_FLOOR = 1e-4  # the smallest share a PSI bin counts with
SKETCH_VERSION = 1


def ks_error(n_reference: int) -> float:
    """The bound on |KS from the sketch - KS from the raw reference values| (module doc)."""
    return SPACING / 2 + 1.0 / max(n_reference, 1)


def _float32(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).ravel()


def sketch(values: Any) -> dict[str, Any]:
    """The compact reference of one feature: rows, the share not finite, the percentiles of
    the finite values (the first is the minimum, the last the maximum) at float32 precision,
    and the share of finite values at or below each PSI bin edge (exact, ties included)."""
    return _sketched(_float32(values)[:, None])[0]


def _sketched(features: np.ndarray) -> list[dict[str, Any]]:
    """`sketch` of each column of `features`, from one sort of the whole matrix (a sort is 5-10
    times faster than np.percentile's partitions at 101 levels); the interpolation is
    np.percentile's default ("linear") between the sorted finite values."""
    n = len(features)
    if not n:
        return [{"n": 0, "missing": 0.0, "quantiles": [], "below": []}
                for _ in range(features.shape[1])]
    ordered = np.sort(np.where(np.isfinite(features), features, np.nan), axis=0)  # NaN last
    counts = np.isfinite(ordered).sum(axis=0)
    position = np.linspace(0.0, 1.0, QUANTILE_LEVELS)[:, None] * np.maximum(counts - 1, 0)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, np.maximum(counts - 1, 0))
    below, above = (np.take_along_axis(ordered, i, axis=0).astype(np.float64)
                    for i in (low, high))
    quantiles = (below + (above - below) * (position - low)).astype(np.float32)
    out = []
    for j, c in enumerate(counts):
        cuts = _cuts(quantiles[:, j]) if c else np.empty(0, np.float32)
        shares = np.searchsorted(ordered[:c, j], cuts, side="right") / max(c, 1)
        # str() of a float32 is its shortest exact form: the JSON holds the float32 itself.
        out.append({"n": n, "missing": float(1 - c / n),
                    "quantiles": [float(str(q)) for q in quantiles[:, j]] if c else [],
                    "below": [float(v) for v in shares]})
    return out


def _cuts(quantiles: np.ndarray) -> np.ndarray:
    """The PSI bins' inner edges: the reference's deciles, tied ones (a value the training
    rows held many times) collapsed into one."""
    step = (QUANTILE_LEVELS - 1) // PSI_BINS
    return np.unique(quantiles[step::step][:-1])


def _shares(sorted_finite: np.ndarray, cuts: np.ndarray, missing: float) -> np.ndarray:
    """Shares of the bins (-inf, c1], (c1, c2], ..., (ck, inf) and of the missing values."""
    n = len(sorted_finite)
    below = np.searchsorted(sorted_finite, cuts, side="right") / n if n else np.zeros(len(cuts))
    finite = np.diff(np.concatenate([[0.0], below, [1.0 if n else 0.0]]))
    return np.append(finite * (1 - missing), missing)


def psi(reference: Mapping[str, Any], values: Any) -> float | None:
    """PSI of `values` against a `sketch`, over its decile bins plus a missing-value bin;
    None where either side has no value."""
    q = _float32(reference["quantiles"])
    x = _float32(values)
    if not len(q) or not len(x):
        return None
    cuts = _cuts(q)
    # The reference's share of finite values at or below each cut, counted when it was made.
    ref_below = np.asarray(reference["below"], dtype=np.float64)
    ref_finite = np.diff(np.concatenate([[0.0], ref_below, [1.0]]))
    expected = np.append(ref_finite * (1 - reference["missing"]), reference["missing"])
    finite = np.sort(x[np.isfinite(x)])
    actual = _shares(finite, cuts, 1 - len(finite) / len(x))
    a, e = np.maximum(actual, PSI_FLOOR), np.maximum(expected, PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def ks(reference: Mapping[str, Any], values: Any) -> float | None:
    """The Kolmogorov-Smirnov statistic of the finite `values` against a `sketch` (within
    `ks_error` of the raw one); None where either side has no finite value."""
    q = _float32(reference["quantiles"])
    x = _float32(values)
    x = np.sort(x[np.isfinite(x)])
    if not len(q) or not len(x):
        return None
    # Both CDFs are step functions: their distance is largest at a step, at it or just before.
    at = np.union1d(x, q)
    distance = 0.0
    for side in ("right", "left"):
        ref = np.clip((np.searchsorted(q, at, side=side) - 0.5) * SPACING, 0.0, 1.0)
        new = np.searchsorted(x, at, side=side) / len(x)
        distance = max(distance, float(np.max(np.abs(ref - new))))
    return distance


def sketches(features: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    """Feature name -> `sketch` of its column of `features` (rows x features)."""
    return dict(zip(names, _sketched(features), strict=True))


def _groups(groups: Mapping[str, Any], min_rows: int) -> dict[str, dict[str, np.ndarray]]:
    """Column -> value -> its row mask, for the values with at least `min_rows` rows."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for column, tags in groups.items():
        tags = np.asarray(tags).astype(str)
        values, counts = np.unique(tags, return_counts=True)
        out[column] = {str(v): tags == v for v, c in zip(values, counts, strict=True)
                       if c >= min_rows}
    return out


def reference(features: np.ndarray, names: Sequence[str], groups: Mapping[str, Any],
              min_rows: int) -> dict[str, Any]:
    """The training rows' reference: each feature's sketch overall and per value of each
    grouping column (e.g. {"regime_tag": tags}) that has at least `min_rows` rows."""
    return {
        "sketch_version": SKETCH_VERSION, "quantile_levels": QUANTILE_LEVELS,
        "features": list(names), "rows": len(features), "min_rows": int(min_rows),
        "overall": sketches(features, names),
        "groups": {column: {value: {"rows": int(mask.sum()),
                                    "features": sketches(features[mask], names)}
                            for value, mask in masks.items()}
                   for column, masks in _groups(groups, min_rows).items()},
    }


def _figures(ref: Mapping[str, Any], features: np.ndarray, names: Sequence[str]
             ) -> dict[str, Any]:
    return {name: {"psi": psi(ref[name], features[:, j]), "ks": ks(ref[name], features[:, j])}
            for j, name in enumerate(names) if name in ref}


def compare(ref: Mapping[str, Any], features: np.ndarray, names: Sequence[str],
            groups: Mapping[str, Any], min_rows: int) -> dict[str, Any]:
    """PSI and KS of each feature of the scored rows against `ref` (a `reference`): overall,
    and per group value held by the reference and by at least `min_rows` scored rows."""
    out: dict[str, Any] = {"rows": len(features),
                           "overall": _figures(ref["overall"], features, names), "groups": {}}
    for column, masks in _groups(groups, min_rows).items():
        held = ref["groups"].get(column, {})
        out["groups"][column] = {
            value: {"rows": int(mask.sum()),
                    "features": _figures(held[value]["features"], features[mask], names)}
            for value, mask in masks.items() if value in held}
    return out


def worst(figures: Mapping[str, Mapping[str, Any]], n: int) -> list[dict[str, Any]]:
    """The `n` features of the largest PSI (then KS), as [{"feature", "psi", "ks"}]."""
    ranked = sorted(figures.items(), key=lambda kv: (-(kv[1]["psi"] or 0.0),
                                                      -(kv[1]["ks"] or 0.0), kv[0]))
    return [{"feature": name, **f} for name, f in ranked[:n]]


def band(value: float | None, soft: float, hard: float) -> str:
    """"hard" above `hard`, "soft" above `soft`, else "ok" (also where there is no value)."""
    if value is not None and value > hard:
        return "hard"
    return "soft" if value is not None and value > soft else "ok"
