"""Ranks within groups against pandas' and scipy's own, on messy groups: ties, one-row groups,
empty groups, a constant group, negative zero."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from ifns_train.evaluation import ranking
from ifns_train.evaluation.evidence import per_date_ic
from ifns_train.evaluation.ranking import ranks_within, varies


def _messy(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 40, n) * 2  # odd codes: empty groups
    codes[:1] = 81  # a group of one row
    values = np.round(rng.normal(size=n), 1)  # many ties
    values[codes == 4] = 0.25  # a constant group
    values[rng.random(n) < 0.05] = -0.0
    return codes, values


def test_ranks_within_groups_are_pandas_average_ranks() -> None:
    for seed in range(3):
        codes, values = _messy(seed)
        expected = pd.Series(values).groupby(codes).rank(method="average").to_numpy()
        assert ranks_within(codes, 82, values).tolist() == expected.tolist()


def test_ranks_within_by_lexsort_when_the_key_does_not_fit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    codes, values = _messy(4)
    fitted = ranks_within(codes, 82, values)
    monkeypatch.setattr(ranking, "bits_for", lambda n: 40)  # 3 x 40 bits > 64: the fallback
    assert ranks_within(codes, 82, values).tolist() == fitted.tolist()


def test_varies() -> None:
    codes, values = _messy(5)
    frame = pd.DataFrame({"c": codes, "v": values}).groupby("c")["v"]
    expected = np.zeros(82, dtype=bool)
    expected[frame.max().index] = (frame.max() > frame.min()).to_numpy()
    assert varies(codes, 82, values).tolist() == expected.tolist()


def test_per_date_ic_is_scipys_spearman_date_by_date() -> None:
    codes, y = _messy(6)
    rng = np.random.default_rng(6)
    pred = np.round(y + rng.normal(size=y.size), 1)
    dates = np.datetime64("2021-03-01") + codes
    days, ic, rank_ic = per_date_ic(pred, y, dates, min_names=5)
    for k, day in enumerate(days):
        rows = dates == day
        usable = rows.sum() >= 5 and np.ptp(pred[rows]) > 0 and np.ptp(y[rows]) > 0
        if not usable:
            assert np.isnan(ic[k]) and np.isnan(rank_ic[k])
            continue
        assert abs(rank_ic[k] - spearmanr(pred[rows], y[rows]).statistic) < 1e-12
        assert abs(ic[k] - np.corrcoef(pred[rows], y[rows])[0, 1]) < 1e-12
