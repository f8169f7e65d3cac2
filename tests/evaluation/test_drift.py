"""The drift figures against hand-computed values and scipy: PSI over the reference's deciles
(with its floor and missing-value bin), KS read from a quantile sketch within its stated
bound of the statistic from the raw values, per-group references where rows allow."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ks_2samp

from ifns_train.evaluation import drift

ONE_TO_100 = np.arange(1, 101, dtype=np.float32)  # exactly 10% of it in each decile bin
ONE_PER_BIN = np.arange(5, 100, 10)  # 5, 15, ..., 95: one value in each of its bins


def test_the_sketch_is_numpys_percentiles_at_float32() -> None:
    values = np.random.default_rng(0).standard_normal(999).astype(np.float32)
    values[:9] = np.nan
    s = drift.sketch(values)
    finite = values[np.isfinite(values)]
    assert s["n"] == 999 and s["missing"] == pytest.approx(9 / 999)
    np.testing.assert_array_equal(np.float32(s["quantiles"]),
                                  np.percentile(finite, np.arange(101)).astype(np.float32))
    assert s["quantiles"][0] == finite.min() and s["quantiles"][-1] == finite.max()
    assert drift.sketch(ONE_TO_100)["below"] == pytest.approx([0.1 * k for k in range(1, 10)])
    assert drift.sketch([])["quantiles"] == [] and drift.sketch([np.nan])["missing"] == 1.0


def test_psi_by_hand() -> None:
    reference = drift.sketch(ONE_TO_100)  # deciles at 10.9, 20.8, ..., 90.1: 10% of rows each
    # Half the new rows in the first decile bin, half in the last, none in the eight between
    # (each floored at 1e-4) nor missing (both sides 0: no term):
    #   2 * (0.5 - 0.1) * ln(0.5 / 0.1) + 8 * (1e-4 - 0.1) * ln(1e-4 / 0.1)
    #   = 0.8 * 1.6094379 + 8 * 0.0999 * 6.9077553 = 1.2875503 + 5.5206780 = 6.8082283
    assert drift.psi(reference, [1] * 5 + [100] * 5) == pytest.approx(6.8082283, abs=1e-6)
    # A fifth of the reference missing, the same finite values new and none missing: the
    # finite bins hold 8% each in the reference, 10% new; the missing bin 20% against 0:
    #   10 * (0.1 - 0.08) * ln(0.1 / 0.08) + (1e-4 - 0.2) * ln(1e-4 / 0.2)
    #   = 0.2 * 0.2231436 + 0.1999 * 7.6009025 = 0.0446287 + 1.5194204 = 1.5640491
    with_missing = drift.sketch(np.append(ONE_TO_100, [np.nan] * 25))
    assert with_missing["missing"] == pytest.approx(0.2)
    assert drift.psi(with_missing, ONE_PER_BIN) == pytest.approx(1.5640491, abs=1e-6)
    assert drift.psi(reference, ONE_PER_BIN) == pytest.approx(0.0, abs=1e-12)
    assert drift.psi(reference, []) is None and drift.psi(drift.sketch([]), [1.0]) is None


def test_identical_and_resampled_distributions_show_no_drift() -> None:
    rng = np.random.default_rng(1)
    train = rng.standard_normal(20_000)
    reference = drift.sketch(train)
    assert drift.psi(reference, train) < 1e-6
    assert drift.ks(reference, train) <= drift.ks_error(len(train))
    # A fresh sample of the same law: PSI's sampling level is about (bins - 1) / n each side.
    assert drift.psi(reference, rng.standard_normal(20_000)) < 0.005
    assert drift.psi(reference, rng.standard_normal(20_000) * 2) > 0.25  # volatility doubled


def test_a_flat_feature_keeps_its_ties_in_one_bin() -> None:
    # Half the rows at 0.1 (a clipped feature): the tied deciles collapse into one cut.
    values = np.concatenate([np.full(500, 0.1), np.linspace(1, 2, 500)]).astype(np.float32)
    reference = drift.sketch(values)
    assert drift.psi(reference, values) == pytest.approx(0.0, abs=1e-6)
    shifted = drift.psi(reference, np.linspace(1, 2, 1000))  # no zeros left
    assert shifted == pytest.approx(
        (1e-4 - 0.5) * math.log(1e-4 / 0.5)
        + 5 * (0.2 - 0.1) * math.log(0.2 / 0.1), rel=0.05)


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.3, 1.5])
@pytest.mark.parametrize("discrete", [False, True], ids=["continuous", "with_ties"])
def test_ks_from_the_sketch_is_within_its_bound_of_scipy(shift: float, discrete: bool) -> None:
    rng = np.random.default_rng(int(shift * 100) + discrete)
    train = rng.standard_normal(5_000).astype(np.float32)
    new = (rng.standard_normal(3_000) + shift).astype(np.float32)
    if discrete:
        train, new = np.round(train * 2) / 2, np.round(new * 2) / 2
    exact = ks_2samp(train, new).statistic
    got = drift.ks(drift.sketch(train), new)
    assert got is not None and abs(got - exact) <= drift.ks_error(len(train))
    assert drift.ks_error(5_000) == pytest.approx(0.005 + 0.0002)


def test_references_per_group_where_rows_allow() -> None:
    rng = np.random.default_rng(2)
    features = rng.standard_normal((1_000, 2)).astype(np.float32)
    tags = np.array(["calm"] * 700 + ["crisis"] * 280 + ["rare"] * 20)
    ref = drift.reference(features, ["a", "b"], {"regime_tag": tags}, min_rows=250)
    assert ref["rows"] == 1_000 and sorted(ref["groups"]["regime_tag"]) == ["calm", "crisis"]
    assert ref["groups"]["regime_tag"]["crisis"]["rows"] == 280
    new = features.copy()
    new[:, 1] *= 3
    out = drift.compare(ref, new[:600], ["a", "b"], {"regime_tag": tags[:600]}, min_rows=250)
    assert out["rows"] == 600 and list(out["groups"]["regime_tag"]) == ["calm"]
    assert [w["feature"] for w in drift.worst(out["overall"], 2)] == ["b", "a"]
    assert out["overall"]["b"]["psi"] > 0.25 > 0.1 > out["overall"]["a"]["psi"]
    assert [drift.band(v, 0.1, 0.25) for v in (None, 0.05, 0.1, 0.2, 0.3)] == \
        ["ok", "ok", "ok", "soft", "hard"]
