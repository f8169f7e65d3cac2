"""Champion against challenger on the same rows (`evaluation.paired`): the figures by hand,
the pairing (identical models: a zero-width interval at 0), the Diebold-Mariano statistic
against Newey-West worked by hand, and the errors that name the rows at fault."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ifns_train.evaluation.paired import (
    NotComparable,
    diebold_mariano,
    paired_comparison,
    shared_rows,
)
from ifns_train.evaluation.predictions import PredictionArrays

BOOT = {"level": 0.95, "reps": 200, "seed": 0, "block": "auto", "method": "stationary"}
NAMES = ("MDL_champion", "MDL_challenger")


def _arrays(dates: list[str], symbols: list[str], y: list[float], **model: list[float]
            ) -> PredictionArrays:
    return PredictionArrays(
        dates=np.array(dates, dtype="datetime64[ns]"), symbols=np.array(symbols, dtype=object),
        y=np.array(y, dtype=np.float64),
        model={k: np.array(v, dtype=np.float64) for k, v in model.items()},
        baselines={}, inputs={}, context={})


def _compare(a: PredictionArrays, b: PredictionArrays, metric_set: str, metric: str,
             horizon: int = 1, **boot: object) -> dict:
    return paired_comparison(a, b, metric_set=metric_set, metric=metric, horizon=horizon,
                             bootstrap={**BOOT, **boot}, names=NAMES)


DATES6 = ["2021-01-04"] * 2 + ["2021-01-05"] * 2 + ["2021-01-06"] * 2
SYMBOLS6 = ["A", "B"] * 3
Y6 = [1, 0, 1, 0, 0, 1]


def test_auc_difference_by_hand_on_the_shared_rows() -> None:
    # Ups (rows 0, 2, 5) and downs (rows 1, 3, 4): 9 pairs. The challenger orders all 9;
    # the champion's ups 0.6, 0.4, 0.7 against downs 0.5, 0.45, 0.3: 0.6 beats all three,
    # 0.4 beats only 0.3, 0.7 all three: 7 of 9. Difference 1 - 7/9 = 2/9.
    champion = _arrays(DATES6, SYMBOLS6, Y6, prob=[0.6, 0.5, 0.4, 0.45, 0.3, 0.7],
                       pred=[1, 0, 0, 0, 0, 1])
    challenger = _arrays(DATES6, SYMBOLS6, Y6, prob=[0.9, 0.1, 0.8, 0.2, 0.3, 0.7],
                         pred=[1, 0, 1, 0, 0, 1])
    out = _compare(champion, challenger, "directional", "auc")
    assert out["champion"]["figure"] == pytest.approx(7 / 9)
    assert out["challenger"]["figure"] == pytest.approx(1.0)
    assert out["difference"] == pytest.approx(2 / 9)
    assert (out["rows"], out["dates"], out["first_date"], out["last_date"]) == (
        6, 3, "2021-01-04", "2021-01-06")
    assert out["diebold_mariano"] is None  # AUC: higher is better, no loss to difference
    interval = out["interval"]
    assert interval["low"] <= interval["high"] and interval["reps"] == 200
    assert interval["block"] == 1 and interval["block_rule"] == "horizon"
    # The other way round the difference turns sign: > 0 always means the challenger is better.
    assert _compare(challenger, champion, "directional", "auc")["difference"] == \
        pytest.approx(-2 / 9)


def test_identical_models_give_a_zero_width_interval_at_zero() -> None:
    rng = np.random.default_rng(3)
    n_dates, names = 40, 6
    dates = list(np.repeat(np.datetime64("2021-01-04") + np.arange(n_dates), names).astype(str))
    symbols = [f"S{i}" for i in range(names)] * n_dates
    y = list((rng.random(n_dates * names) < 0.5).astype(float))
    prob = list(rng.random(n_dates * names))
    same = _arrays(dates, symbols, y, prob=prob, pred=[float(p > 0.5) for p in prob])
    out = _compare(same, same, "directional", "auc", horizon=5)
    # Each replicate scores both models on the same resampled dates: the difference is 0 on
    # every one. Unpaired resampling would give a wide interval around 0.
    assert (out["interval"]["low"], out["interval"]["high"], out["difference"]) == (0, 0, 0)
    assert out["interval"]["evidence"] == "within noise"
    assert out["interval"]["block"] >= 5  # never shorter than the label horizon


def test_an_integer_block_is_raised_to_the_horizon() -> None:
    champion = _arrays(DATES6, SYMBOLS6, Y6, prob=[0.6, 0.5, 0.4, 0.45, 0.3, 0.7],
                       pred=[1, 0, 0, 0, 0, 1])
    out = _compare(champion, champion, "directional", "auc", horizon=3, block=1)
    assert out["interval"]["block"] == 3


def test_rank_ic_difference_by_hand() -> None:
    # Two dates of five names, labels ranked 1..5 on each. Spearman = 1 - 6 sum d² / (n(n²-1)):
    # challenger: ranks identical (1), then two neighbours swapped (1 - 12/120 = 0.9);
    # champion: two neighbours swapped (0.9), then reversed (-1). Means 0.95 and -0.05.
    dates = ["2021-01-04"] * 5 + ["2021-01-05"] * 5
    symbols = list("ABCDE") * 2
    y = [1, 2, 3, 4, 5] * 2
    champion = _arrays(dates, symbols, y, pred=[2, 1, 3, 4, 5, 5, 4, 3, 2, 1])
    challenger = _arrays(dates, symbols, y, pred=[1, 2, 3, 4, 5, 1, 2, 3, 5, 4])
    out = _compare(champion, challenger, "return", "rank_ic_mean")
    assert out["champion"]["figure"] == pytest.approx(-0.05)
    assert out["challenger"]["figure"] == pytest.approx(0.95)
    assert out["difference"] == pytest.approx(1.0)


def test_a_loss_gets_the_diebold_mariano_statistic_worked_by_hand() -> None:
    # One name on five dates; MAE in bps. Errors: champion 2, 3, 5, 0, 6 (MAE 3.2), challenger
    # 1, 0, 1, 2, 1 (MAE 1.0): difference (favourable, champion minus challenger) 2.2.
    dates = [f"2021-01-{d:02d}" for d in (4, 5, 6, 7, 8)]
    y = [10, 20, 30, 40, 50]
    champion = _arrays(dates, ["S"] * 5, y, pred=[12, 17, 35, 40, 44])
    challenger = _arrays(dates, ["S"] * 5, y, pred=[11, 20, 31, 42, 49])
    out = _compare(champion, challenger, "cost", "mae_bps", horizon=2)
    assert (out["champion"]["figure"], out["challenger"]["figure"]) == (
        pytest.approx(3.2), pytest.approx(1.0))
    assert out["difference"] == pytest.approx(2.2)
    # d = 1, 3, 4, -2, 5 (mean 2.2); e = d - 2.2 = -1.2, 0.8, 1.8, -4.2, 2.8.
    # g0 = (1.44 + 0.64 + 3.24 + 17.64 + 7.84) / 5 = 6.16
    # g1 = (0.8(-1.2) + 1.8(0.8) + (-4.2)(1.8) + 2.8(-4.2)) / 5 = -18.84 / 5 = -3.768
    # lags = horizon - 1 = 1, Bartlett weight 1 - 1/2: S = 6.16 + 2(0.5)(-3.768) = 2.392
    # se = sqrt(S / 5); DM = 2.2 / se; two-sided normal p = erfc(|DM| / sqrt 2).
    se = math.sqrt(2.392 / 5)
    dm = out["diebold_mariano"]
    assert dm["statistic"] == pytest.approx(2.2 / se, rel=1e-9)
    assert dm["p_value"] == pytest.approx(math.erfc(2.2 / se / math.sqrt(2)), rel=1e-6)
    assert (dm["lags"], dm["dates"], dm["mean"]) == (1, 5, pytest.approx(2.2))


def test_diebold_mariano_of_a_constant_differential_is_undefined() -> None:
    assert diebold_mariano(np.zeros(10), 5)["statistic"] is None
    assert diebold_mariano(np.array([0.5]), 1)["p_value"] is None
    with pytest.raises(ValueError, match="horizon must be a positive int"):
        diebold_mariano(np.ones(3), 0)


def test_only_the_rows_both_scored_are_compared() -> None:
    champion = _arrays(DATES6, SYMBOLS6, Y6, prob=[0.6] * 6, pred=[1] * 6)
    # The challenger lacks the first date and has a name the champion did not score.
    challenger = _arrays([*DATES6[2:], "2021-01-06"], [*SYMBOLS6[2:], "C"], [*Y6[2:], 1],
                         prob=[0.5] * 5, pred=[1] * 5)
    rows = shared_rows(champion, challenger, "prob", NAMES)
    assert rows.y.size == 4 and (rows.only_champion, rows.only_challenger) == (2, 1)
    assert list(rows.symbols) == ["A", "B", "A", "B"]


def test_no_shared_rows_is_an_error_naming_both_windows() -> None:
    champion = _arrays(DATES6, SYMBOLS6, Y6, prob=[0.6] * 6, pred=[1] * 6)
    later = _arrays([d.replace("2021", "2023") for d in DATES6], SYMBOLS6, Y6, prob=[0.6] * 6,
                    pred=[1] * 6)
    with pytest.raises(NotComparable) as error:
        _compare(champion, later, "directional", "auc")
    assert str(error.value) == (
        "MDL_champion and MDL_challenger share no scored rows (MDL_champion: "
        "2021-01-04..2021-01-06, 2 symbol(s), 6 rows; MDL_challenger: 2023-01-04..2023-01-06, "
        "2 symbol(s), 6 rows)")


def test_a_label_that_differs_on_a_shared_row_is_named() -> None:
    champion = _arrays(DATES6, SYMBOLS6, Y6, prob=[0.6] * 6, pred=[1] * 6)
    other = _arrays(DATES6, SYMBOLS6, [1, 0, 0, 0, 0, 1], prob=[0.6] * 6, pred=[1] * 6)
    with pytest.raises(NotComparable, match=r"different labels on 1 of 6 shared row\(s\), "
                                            r"first 2021-01-05 A: 1\.0 against 0\.0"):
        _compare(champion, other, "directional", "auc")
    with pytest.raises(NotComparable, match="no paired comparison of 'auc' for metric set "
                                            "'risk'"):
        _compare(champion, champion, "risk", "auc")
