"""The LightGBM learner against `FitRequest` directly: same digits twice, each family's
objective and raw-score mapping by hand, the refusals, continued boosting, save and load, gain
importance. (End to end through `train`: tests/learners/test_lightgbm_run.py.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from ifns_train.config import CONF_DIR
from ifns_train.core.errors import ConfigError
from ifns_train.data.module import encode
from ifns_train.data.resolve import ResolvedData, Split, Table
from ifns_train.data.splits import symbol_last_rows
from ifns_train.families import FAMILIES
from ifns_train.learners import lightgbm as learner
from ifns_train.learners.base import FitRequest, Fitted
from ifns_train.run.build import resolve_data, vocabulary

Config = Callable[..., dict[str, Any]]


@pytest.fixture
def config(make_cfg: Callable[..., Any]) -> Config:
    """The composed, resolved config of `model=lightgbm` with `overrides`, on one thread:
    OpenMP threads that wait by spinning are many times slower on a machine whose cores the
    test workers already take (`test_the_same_config_gives_the_same_digits` uses two)."""

    def _config(*overrides: str) -> dict[str, Any]:
        out = OmegaConf.to_container(make_cfg("model=lightgbm", "logger=none",
                                              "model.batch_size=null",
                                              "model.params.num_threads=1", *overrides),
                                     resolve=True)
        assert isinstance(out, dict)
        return out

    return _config


def demo_request(config: dict[str, Any], **changes: Any) -> FitRequest:
    """A request as a run makes it, on the small demo registry the config names."""
    cls = FAMILIES[config["family"]["name"]]
    data = resolve_data(Path(config["paths"]["registry_dir"]), config, cls)
    return FitRequest(config=config, family=cls, data=data, vocab=vocabulary(data, cls),
                      mark=lambda phase: None, **changes)


def planted(labels: np.ndarray, features: np.ndarray, regimes: np.ndarray | None = None
            ) -> ResolvedData:
    """One symbol's rows, the first half train, then a quarter val and a quarter test."""
    n = len(labels)
    symbols = np.asarray(["A"] * n, dtype=object)
    context = {} if regimes is None else {"regime_tag": regimes.astype(object),
                                          "structure_state": np.full(n, "s", dtype=object)}
    table = Table(dataset_id="DS_T_V1", fingerprint="x",
                  features=np.ascontiguousarray(features, dtype=np.float32),
                  label=np.asarray(labels, dtype=np.float32),
                  dates=np.arange(n).astype("datetime64[D]").astype("datetime64[ns]"),
                  symbols=symbols, context=context, extras={}, history=np.arange(n),
                  last_row=symbol_last_rows(symbols))
    cut = [0, n // 2, 3 * n // 4, n]
    splits = {name: Split(name, table, np.arange(cut[i], cut[i + 1]))
              for i, name in enumerate(("train", "val", "test"))}
    families = {"Feature_T_V1": [f"f{i}" for i in range(features.shape[1])]}
    return ResolvedData(feature_families=families, label_family="Label_T_V1", label_kind="x",
                        horizon_days=1, lookback=1, splits=splits)


def fit_planted(config: dict[str, Any], data: ResolvedData, **changes: Any) -> Fitted:
    cls = FAMILIES[config["family"]["name"]]
    return learner.fit(FitRequest(config=config, family=cls, data=data,
                                  vocab=vocabulary(data, cls), mark=lambda phase: None,
                                  **changes))


def saved(fitted: Fitted, folder: Path) -> dict[str, bytes]:
    folder.mkdir()
    fitted.save(folder)
    return {name: (folder / name).read_bytes() for name in learner.FILES}


RECORD: Any = SimpleNamespace(model_id="MD_T")
RNG = np.random.default_rng(0)
N = 2000


# --- the shipped configuration -------------------------------------------------------------
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_takes_the_shipped_options(config: Config, family: str) -> None:
    learner.check_config(config(f"family={family}"))


@pytest.mark.parametrize(("override", "named"), [
    ("model.lookback=20", "model.lookback=20"),
    ("ckpt_path=/x/last.ckpt", "ckpt_path"),
    ("model.params.num_threads=0", "model.params.num_threads"),
    ("model.params.deterministic=false", "model.params.deterministic"),
    ("model.params.force_row_wise=false", "model.params.force_row_wise"),
    ("~model.params.num_boost_round", "model.params.num_boost_round is not set"),
    ("+model.params.num_leafs=7", "model.params.num_leafs is not a LightGBM parameter"),
    ("+model.params.random_state=3", "model.params.random_state is set by the run"),
    ("+model.params.n_estimators=3", "model.params.num_boost_round"),
    ("+model.params.objective=lambdarank", "model.params.objective 'lambdarank'"),
])
def test_a_setting_it_cannot_honour_is_refused_naming_the_key(
        config: Config, override: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        learner.check_config(config("family=ret_core", override))


# --- each family's objective and raw-score mapping, by hand --------------------------------
# With constant features no tree can split: the model is LightGBM's start score, which is
# known per objective, and must come out of the family's predictions as the same constant.
def constant_model(config: Config, family: str, labels: np.ndarray, *overrides: str
                   ) -> dict[str, np.ndarray]:
    regimes = np.full(len(labels), "calm") if family == "struct_aware" else None
    fitted = fit_planted(config(f"family={family}", *overrides),
                         planted(labels, np.zeros((len(labels), 2)), regimes))
    return fitted.scorer.predictions(fitted.outputs["test"])


@pytest.mark.parametrize("family", ["dir_core", "struct_aware"])
def test_binary_start_is_the_training_up_rate(config: Config, family: str) -> None:
    labels = (RNG.random(N) < 0.3).astype(np.float64)
    out = constant_model(config, family, labels)
    up_rate = labels[: N // 2].mean()
    np.testing.assert_allclose(out["prob"], up_rate, rtol=1e-9)
    assert set(out["pred"]) == {0.0}


def test_gamma_start_is_the_root_of_the_mean_training_variance(config: Config) -> None:
    vol = (0.2 * np.sqrt(RNG.chisquare(3, N) / 3)).astype(np.float32)  # as a table holds it
    out = constant_model(config, "risk_vol", vol)
    variance = vol[: N // 2].astype(np.float64) ** 2
    np.testing.assert_allclose(out["pred"], np.sqrt(variance.mean()), rtol=1e-9)


def test_l2_start_is_the_training_mean(config: Config) -> None:
    y = RNG.normal(0.01, 0.05, N)
    out = constant_model(config, "ret_core", y, "family.loss=mse")
    np.testing.assert_allclose(out["pred"], y[: N // 2].mean(), rtol=1e-6)


def test_l1_start_is_the_training_median(config: Config) -> None:
    cost = RNG.lognormal(2.0, 0.8, N + 1)[:N]  # skewed: the median is far from the mean
    out = constant_model(config, "exec_cost", cost)
    median = np.median(cost[: N // 2])
    np.testing.assert_allclose(out["pred"], median, rtol=1e-3)
    assert abs(out["pred"][0] - cost[: N // 2].mean()) > 1.0


def test_scores_follow_a_planted_signal_in_the_family_scale(config: Config) -> None:
    # Variance 0.01 where f0 < 0, 0.09 where f0 > 0: the fitted vol nears 0.1 and 0.3.
    x = RNG.normal(size=(N, 3))
    var = np.where(x[:, 0] > 0, 0.09, 0.01)
    vol = np.sqrt(var * RNG.chisquare(20, N) / 20)
    fitted = fit_planted(config("family=risk_vol"), planted(vol, x))
    pred = fitted.scorer.predictions(fitted.outputs["test"])["pred"]
    high = x[3 * N // 4:, 0] > 0
    np.testing.assert_allclose([pred[~high].mean(), pred[high].mean()], [0.1, 0.3], rtol=0.05)
    gain = learner.gain_importance(fitted.scorer, ["f0", "f1", "f2"])  # type: ignore[arg-type]
    assert list(gain) == ["f0", "f1", "f2"] and sum(gain.values()) == pytest.approx(1.0)
    assert gain["f0"] > 0.95


def test_no_split_no_gain(config: Config) -> None:
    fitted = fit_planted(config("family=dir_core"),
                         planted((RNG.random(400) < 0.5).astype(float), np.zeros((400, 2))))
    assert learner.gain_importance(fitted.scorer, ["f0", "f1"]) == {  # type: ignore[arg-type]
        "f0": 0.0, "f1": 0.0}


# --- same digits, save and load -----------------------------------------------------------
def test_the_same_config_gives_the_same_digits(config: Config, tmp_path: Path) -> None:
    # Two threads, bagging, feature fraction and categorical inputs.
    cfg = config("family=struct_aware", "model.params.num_threads=2")
    first, second = learner.fit(demo_request(cfg)), learner.fit(demo_request(cfg))
    assert saved(first, tmp_path / "a") == saved(second, tmp_path / "b")
    for name in ("val", "test"):
        assert np.array_equal(first.outputs[name], second.outputs[name])
    assert first.training["trees"] > 1  # it learnt something, reproducibly
    other = learner.fit(demo_request(config("family=struct_aware", "seed=7")))
    assert not np.array_equal(first.outputs["test"], other.outputs["test"])


def test_a_loaded_model_scores_as_the_fitted_one(config: Config, tmp_path: Path) -> None:
    request = demo_request(config("family=struct_aware"))
    fitted = learner.fit(request)
    saved(fitted, tmp_path / "m")
    scorer = learner.load(tmp_path / "m", request.family, RECORD)
    test = request.data.splits["test"]
    cat = np.column_stack([encode(test.context[c], request.vocab[c])
                           for c in request.family.categorical_inputs])
    x = torch.from_numpy(test.table.features[test.rows])
    outputs = scorer.outputs(x, torch.from_numpy(cat))
    assert np.array_equal(outputs, fitted.outputs["test"])
    # A lookback window of one row, as a scoring batch may shape it, reads the same.
    assert np.array_equal(scorer.outputs(x[:, None, :], torch.from_numpy(cat)), outputs)
    for key, value in fitted.scorer.predictions(outputs).items():
        assert np.array_equal(scorer.predictions(outputs)[key], value)
    assert (scorer.lookback, scorer.vocab, scorer.n_features) == \
        (1, request.vocab, len(request.data.feature_columns))


def test_what_the_fit_did(config: Config) -> None:
    cfg = config("family=dir_core", "model.params.early_stopping_rounds=5")
    fitted = learner.fit(demo_request(cfg))
    t = fitted.training
    assert t["stopped_by"] == "early_stopping" and t["iterations"] == t["best_iteration"] + 5
    assert (t["best_epoch"], t["steps_taken"], t["objective"]) == \
        (t["best_iteration"], t["iterations"], "binary")
    assert sorted(fitted.history) == list(range(1, t["iterations"] + 1))
    val = [fitted.history[i]["val_loss"] for i in fitted.history]
    assert int(np.argmin(val)) + 1 == t["best_iteration"]
    # Mean binary log-loss per row: the first tree's validation loss is near log 2.
    assert 0.6 < val[0] < 0.75
    # A leaf per fitted value: at most num_leaves per tree, at least 1.
    assert t["trees"] <= fitted.parameter_count <= 31 * t["trees"]
    cap = learner.fit(demo_request(config("family=dir_core", "model.params.num_boost_round=3")))
    assert (cap.training["stopped_by"], cap.training["iterations"]) == ("num_boost_round", 3)


def test_a_smoke_test_fits_one_round_and_returns_no_outputs(config: Config) -> None:
    fitted = learner.fit(demo_request(config(), smoke=["fast_dev_run=1"]))
    assert fitted.outputs == {} and fitted.training["iterations"] == 1


def test_resuming_a_checkpoint_is_refused(config: Config) -> None:
    with pytest.raises(ConfigError, match="ckpt_path: a lightgbm run has no checkpoint"):
        learner.fit(demo_request(config(), resume=SimpleNamespace(path="x.ckpt")))


# --- continued boosting ----------------------------------------------------------------------
def test_init_from_continues_boosting_the_parents_trees(config: Config) -> None:
    cfg = config("family=risk_vol", "model.params.num_boost_round=5")
    parent = learner.fit(demo_request(cfg))
    child_cfg = config("family=risk_vol", "seed=3")
    learner.check_init(parent.scorer, child_cfg)
    child = learner.fit(demo_request(child_cfg, init=parent.scorer))
    p, c = parent.scorer, child.scorer
    assert isinstance(p, learner.TreeScorer) and isinstance(c, learner.TreeScorer)
    assert c.booster.num_trees() > p.booster.num_trees() == 5
    assert (c.target_mean, c.target_std) == (p.target_mean, p.target_std)
    assert child.training["init_iterations"] == 5 and min(child.history) == 6
    x = demo_request(cfg).data.splits["test"]
    matrix = x.table.features[x.rows]
    # Its first five trees are the parent's: the new ones start from the parent's scores.
    np.testing.assert_array_equal(c.booster.predict(matrix, raw_score=True, num_iteration=5),
                                  p.booster.predict(matrix, raw_score=True))


def test_init_from_refuses_another_objective_or_a_net(config: Config) -> None:
    parent = learner.fit(demo_request(config("family=risk_vol",
                                             "model.params.num_boost_round=2")))
    with pytest.raises(ConfigError, match="fitted with objective gamma on risk_vol; this run's "
                                          "is regression"):
        learner.check_init(parent.scorer, config("family=risk_vol",
                                                 "family.loss=log_variance"))


def test_init_from_refuses_a_net(trained: Callable[..., dict[str, Any]],
                                 make_cfg: Callable[..., Any], registry: Path) -> None:
    from ifns_train.registry.database import Registry
    from ifns_train.run.resume import plan_init

    net = trained()["model_id"]
    cfg = OmegaConf.to_container(make_cfg("model=lightgbm", "model.batch_size=null",
                                          f"init_from={net}"), resolve=True)
    assert isinstance(cfg, dict)
    with pytest.raises(ConfigError, match=rf"init_from: model {net} was fitted by "
                                          r"ifns_train\.learners\.lightning; this run's "
                                          r"model\.learner is ifns_train\.learners\.lightgbm"):
        plan_init(cfg, Registry(registry))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_familys_tree_search_tunes_lightgbms_keys(family: str) -> None:
    """`hparams_search=<family>_lightgbm_optuna`: the net preset's study (direction, trials,
    sampler), over the trees' own keys, each one model=lightgbm has."""
    folder = CONF_DIR / "hparams_search"
    trees = OmegaConf.load(folder / f"{family}_lightgbm_optuna.yaml")
    nets = OmegaConf.load(folder / f"{family}_optuna.yaml")
    shipped = OmegaConf.load(CONF_DIR / "model" / "lightgbm.yaml").params
    assert {"override /model": "lightgbm"} in list(trees.defaults)
    sweeper, net_sweeper = trees.hydra.sweeper, nets.hydra.sweeper
    for key in ("direction", "n_trials", "n_jobs", "sampler"):
        assert sweeper[key] == net_sweeper[key]
    searched = {k.removeprefix("model.params.") for k in sweeper.params}
    assert searched == {"num_leaves", "learning_rate", "feature_fraction", "bagging_fraction",
                        "lambda_l1", "lambda_l2", "min_data_in_leaf"}
    assert searched <= set(shipped)


def test_a_nets_setting_is_refused_not_ignored(config: Config) -> None:
    with pytest.raises(ConfigError, match=r"model\.lr=0\.01 is a net's setting; a lightgbm "
                                          r"model takes LightGBM's in model\.params"):
        learner.check_config(config("model.lr=0.01"))
