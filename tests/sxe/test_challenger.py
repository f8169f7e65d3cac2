"""A champion against challenger comparison in words (`sxe.challenger`), as `ifns-decide` and
`models show` print a decision's `challenger` figures: a loss with its Diebold-Mariano line."""

from __future__ import annotations

from ifns_train.sxe.challenger import challenger_words, comparison_words

LOSS = {"metric": "qlike", "rows": 5000, "dates": 250, "difference": 0.0123,
        "champion": {"figure": 0.3123}, "challenger": {"figure": 0.3},
        "interval": {"low": 0.004, "high": 0.02, "level": 0.9},
        "diebold_mariano": {"statistic": 2.5, "p_value": 0.0124, "lags": 4, "dates": 250}}


def test_a_loss_comparison_in_words() -> None:
    assert comparison_words(LOSS) == (
        "qlike +0.0123 (0.3000 against 0.3123) on 5000 rows, 250 dates, 90% interval +0.0040 "
        "to +0.0200: significantly better; Diebold-Mariano +2.50, p 0.0124 (HAC, 4 lags, 250 "
        "dates; > 0: the challenger's loss is lower)")
    constant = {**LOSS, "diebold_mariano": {"statistic": None, "p_value": None, "lags": 4,
                                            "dates": 250}}
    assert comparison_words(constant).endswith(
        "Diebold-Mariano undefined (a constant loss differential over 250 dates)")


def test_a_decision_s_comparison_in_one_line() -> None:
    doc = {**LOSS, "holder": "MDL_a", "rule": "superior", "margin": 0.01, "passed": False}
    assert challenger_words(doc).startswith("challenger against holder MDL_a: qlike +0.0123")
    assert challenger_words(doc).endswith("; superior margin 0.01: failed")
    failed = {"holder": "MDL_a", "passed": False, "error": "cannot compare with holder MDL_a: "
                                                           "no shared rows"}
    assert challenger_words(failed) == ("challenger failed: cannot compare with holder MDL_a: "
                                        "no shared rows")
