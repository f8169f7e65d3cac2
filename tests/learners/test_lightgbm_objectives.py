"""The objective each family's loss is fitted with, and the mean loss per row that the
learning curves show, against LightGBM's own figures."""

from __future__ import annotations

from typing import ClassVar

import lightgbm as lgb
import numpy as np
import pytest

from ifns_train.core.errors import ConfigError
from ifns_train.families import FAMILIES
from ifns_train.families.base import FamilyModule
from ifns_train.families.struct_aware import StructAwareModule
from ifns_train.learners.lightgbm_objectives import objective_for, objectives_for


def test_the_family_loss_chooses_the_objective() -> None:
    chosen = {(name, loss): next(iter(objectives_for(cls, loss)))
              for name, cls in FAMILIES.items() for loss in cls.losses}
    assert chosen == {
        ("dir_core", "cross_entropy"): "binary", ("struct_aware", "cross_entropy"): "binary",
        ("ret_core", "huber"): "huber", ("ret_core", "mse"): "regression",
        ("risk_vol", "qlike"): "gamma", ("risk_vol", "log_variance"): "regression",
        ("exec_cost", "huber"): "regression_l1"}


def test_a_family_of_ones_own_fits_as_the_family_it_extends() -> None:
    class Overlay(StructAwareModule):
        family_name = "overlay_mine"

    assert objective_for(Overlay, None, None).name == "binary"


def test_a_loss_it_does_not_know_is_refused_naming_family_loss() -> None:
    class Pinball(FamilyModule):
        family_name = "pinball_fam"
        losses: ClassVar[tuple[str, ...]] = ("pinball",)

    with pytest.raises(ConfigError, match=r"family\.loss 'pinball' of pinball_fam: lightgbm "
                                          r"fits only .*dir_core cross_entropy"):
        objectives_for(Pinball, None)


def test_an_objective_override_must_fit_the_same_label() -> None:
    ret_core, exec_cost = FAMILIES["ret_core"], FAMILIES["exec_cost"]
    assert objective_for(ret_core, "huber", "regression_l1").metric == "l1"
    # exec_cost's Huber delta is in bps, not in the standardised units LightGBM would read.
    with pytest.raises(ConfigError, match=r"model\.params\.objective 'huber' does not fit "
                                          r"exec_cost's family\.loss 'huber': one of "
                                          r"regression_l1, regression"):
        objective_for(exec_cost, None, "huber")


def test_the_gamma_curve_is_qlike_per_row() -> None:
    # LightGBM's gamma_deviance is twice the sum of y/mu - log(y/mu) - 1 over the rows, not
    # a mean; the curve shows QLIKE per row, the risk family's own figure.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 2))
    vol = np.sqrt(np.exp(0.5 * x[:, 0]) * rng.chisquare(5, 600) / 5)
    objective = objective_for(FAMILIES["risk_vol"], "qlike", None)
    label = objective.label(vol, 0.0, 1.0)
    data = lgb.Dataset(x, label=label)
    evals: dict = {}
    booster = lgb.train({**objective.params(1.0), "verbosity": -1, "num_threads": 1,
                         "min_data_in_leaf": 50}, data, 5, valid_sets=[data],
                        valid_names=["val"], callbacks=[lgb.record_evaluation(evals)])
    mu = np.exp(booster.predict(x, raw_score=True))
    ratio = vol ** 2 / mu
    qlike = float(np.mean(ratio - np.log(ratio) - 1))
    value = evals["val"][objective.metric][-1]
    assert objective.per_row(value, len(x)) == pytest.approx(qlike, rel=1e-6)
    assert value == pytest.approx(2 * len(x) * qlike, rel=1e-6)
