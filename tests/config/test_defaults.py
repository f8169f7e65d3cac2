"""Each default is defined in one place: the composed config is the wiring diagram.

Which place holds which key is set out at the top of `ifns_train/config/schema.py`: the
values of the model, evaluation, promotion, labels, features and trainer groups live in their
YAML options (the schema leaves those fields MISSING); the dataset keys, the family's optional
keys and the top-level keys have their default in the schema, and an option sets one of them
only to choose another value. This module holds every option of every group to that, and the
Python code that takes these values (FamilyModule, the backbones, PanelDataModule, the
evaluation functions the run calls) to having no second default: a required argument, a
`None` meaning "not applicable", or a default that is the schema's own constant.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

from ifns_train.config import CONF_DIR, schema
from ifns_train.data import index
from ifns_train.data.module import PanelDataModule
from ifns_train.data.resolve import resolve
from ifns_train.evaluation import (
    classification,
    gating,
    intervals,
    proxies,
    regression,
    report,
    slices,
    standard,
    weighted_stats,
)
from ifns_train.families import family_class
from ifns_train.families.base import FamilyModule
from ifns_train.nets.backbones import build_backbone
from ifns_train.nets.sequence import GRUBackbone, TCNBackbone
from tests.defaults import UNUSED, config, module_kwargs

PACKAGE = Path(schema.__file__).resolve().parents[1]  # ifns_train/
# The groups whose values live in their options (the schema leaves them MISSING).
OPTION_GROUPS = ("model", "evaluation", "promotion", "labels", "features", "trainer")
# Each group of the composed config and its schema node (None: an untyped dict).
GROUP_SCHEMA: dict[str, type | None] = {
    "family": schema.FamilyConfig, "dataset": schema.DatasetConfig,
    "features": schema.FeaturesConfig, "labels": schema.LabelsConfig,
    "model": schema.ModelConfig, "evaluation": schema.EvaluationConfig,
    "promotion": schema.PromotionConfig, "paths": schema.PathsConfig,
    "trainer": None, "callbacks": None, "logger": None,
}


def _options() -> list[tuple[str, Path]]:
    return [(group.name, option) for group in sorted(CONF_DIR.iterdir()) if group.is_dir()
            for option in sorted(group.glob("*.yaml"))]


OPTIONS = _options()
IDS = [f"{group}={option.stem}" for group, option in OPTIONS]


def _is_global(option: Path) -> bool:
    return "# @package _global_" in option.read_text()


def _leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every leaf a YAML file sets; lists are leaves."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}{key}.")
    else:
        yield prefix[:-1], node


def _plain(value: Any) -> Any:
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=False, enum_to_str=True)
    return value.name if isinstance(value, Enum) else value


_ABSENT = object()


def _schema_default(key: str) -> Any:
    """The schema's default of a dotted config key: `MISSING` when the schema leaves it to the
    options, `_ABSENT` when the schema does not type it (an untyped dict such as `trainer`)."""
    group, _, rest = key.partition(".")
    if not rest:  # a top-level key
        fields = {f.name: f for f in dataclasses.fields(schema.Config)}
        if group not in fields or group in GROUP_SCHEMA:
            return _ABSENT
        f = fields[group]
        return f.default if f.default is not dataclasses.MISSING else f.default_factory()
    cls = GROUP_SCHEMA.get(group, schema.RegistryConfig if group == "registry" else None)
    if cls is None:
        return _ABSENT
    node: Any = OmegaConf.structured(cls)
    *parents, last = rest.split(".")
    for part in parents:
        if not isinstance(node, DictConfig) or part not in node or OmegaConf.is_missing(node,
                                                                                       part):
            return _ABSENT
        node = node[part]
    if not isinstance(node, DictConfig) or last not in node:
        return _ABSENT
    if OmegaConf.is_missing(node, last):
        return dataclasses.MISSING
    return _plain(node)[last]  # unresolved: `${.id}` is compared as written


def _option_keys(group: str, option: Path) -> list[tuple[str, Any]]:
    raw = OmegaConf.to_container(OmegaConf.load(option), resolve=False)
    assert isinstance(raw, dict)
    raw.pop("defaults", None)
    if not _is_global(option):
        raw = {group: raw}
    raw.pop("hydra", None)  # Hydra's own settings (sweeper, launcher): not ours
    return list(_leaves(raw))


# --- the config: every option composes, MISSING keys are set, no schema default repeated -----


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=IDS)
def test_every_option_composes_with_every_key_set(group: str, option: Path) -> None:
    cfg = config(f"{group}={option.stem}")
    missing = OmegaConf.missing_keys(OmegaConf.create(cfg))
    assert not missing, f"{group}={option.stem} leaves {missing} unset"


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=IDS)
def test_no_option_repeats_a_schema_default(group: str, option: Path) -> None:
    repeated = [f"{key}: {value!r}" for key, value in _option_keys(group, option)
                if (default := _schema_default(key)) not in (_ABSENT, dataclasses.MISSING)
                and value == default]
    assert not repeated, (
        f"{option.relative_to(CONF_DIR)} sets {repeated}, the schema's own default: drop it "
        f"(ifns_train/config/schema.py is that key's one place)")


def test_config_yaml_repeats_no_schema_default() -> None:
    """config.yaml chooses the groups; the top-level keys (seed, ...) are the schema's."""
    raw = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "config.yaml"), resolve=False)
    assert isinstance(raw, dict)
    raw.pop("defaults", None)
    raw.pop("hydra", None)
    repeated = [f"{key}: {value!r}" for key, value in _leaves(raw)
                if (default := _schema_default(key)) not in (_ABSENT, dataclasses.MISSING)
                and value == default]
    assert not repeated, f"config.yaml repeats the schema's defaults: {repeated}"


@pytest.mark.parametrize("group", OPTION_GROUPS)
def test_option_groups_have_their_values_in_the_options_only(group: str) -> None:
    """The schema types an option group's keys but gives them no value (bar keys no option
    sets, such as model.min_steps); the default option sets every other key."""
    cls = GROUP_SCHEMA[group]
    if cls is None:  # untyped: the options are all there is
        return
    composed = config()[group]
    default_option = CONF_DIR / group / f"{_default_choice(group)}.yaml"
    set_by_option = {k.split(".", 1)[1].split(".")[0] for k, _ in
                     _option_keys(group, default_option)}
    for f in dataclasses.fields(cls):
        has_default = (f.default not in (dataclasses.MISSING, MISSING)
                       or f.default_factory is not dataclasses.MISSING)
        if f.name in set_by_option:
            assert not has_default or _is_structured(f), (
                f"{group}.{f.name} has a value both in the schema and in "
                f"conf/{group}/{default_option.name}")
        else:
            assert has_default, f"{group}.{f.name} is set nowhere"
        assert f.name in composed


def _is_structured(f: dataclasses.Field) -> bool:
    """A nested dataclass node (e.g. evaluation.bootstrap), whose own fields are checked."""
    return f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(
        f.default_factory())


def _default_choice(group: str) -> str:
    defaults = OmegaConf.load(CONF_DIR / "config.yaml")["defaults"]
    for entry in defaults:
        if isinstance(entry, DictConfig) and group in entry:
            return str(entry[group])
    raise AssertionError(f"config.yaml has no default for {group}")


def test_the_default_run_takes_each_value_from_its_one_place() -> None:
    """Every value of the default run is its schema default merged with the default option of
    its group: nothing else (config.yaml, another group) sets one on the side."""
    composed = config()
    for group, cls in GROUP_SCHEMA.items():
        choice = _default_choice(group)
        option = CONF_DIR / group / f"{choice}.yaml"
        raw = OmegaConf.load(option)
        if _is_global(option):
            raw = raw[group]
        else:
            raw = OmegaConf.masked_copy(raw, [k for k in raw if k != "defaults"])
        base = OmegaConf.structured(cls) if cls is not None else OmegaConf.create({})
        expected = _plain(OmegaConf.merge(base, raw))
        if group == "paths":  # set by tests.defaults: Hydra's run folder exists in a run only
            expected["output_dir"] = UNUSED
        assert composed[group] == expected, group
    top = {f.name: f for f in dataclasses.fields(schema.Config)
           if f.name not in GROUP_SCHEMA and f.name != "registry"}
    for name, f in top.items():
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        assert composed[name] == default, f"{name}: config.yaml repeats or changes the schema"


# --- Python: no second default -------------------------------------------------------------

BOOTSTRAP = ("level", "reps", "seed", "block", "method")
# Parameters that carry a config value: no default at all.
REQUIRED: dict[Callable[..., Any], tuple[str, ...]] = {
    FamilyModule.__init__: ("backbone", "hidden_sizes", "dropout", "lookback", "optimizer", "lr",
                            "weight_decay"),
    build_backbone: ("lookback", "hidden_sizes", "dropout"),
    GRUBackbone.__init__: ("hidden_size", "num_layers", "dropout"),
    TCNBackbone.__init__: ("channels", "kernel_size", "dropout"),
    intervals.metric_interval: ("horizon", *BOOTSTRAP),
    intervals.series_interval: ("horizon", *BOOTSTRAP),
    intervals.block_length: ("method",),
    intervals.date_weights: ("block", "reps", "seed", "method"),
    report.split_report: ("min_rows", "n_bins", "horizon_days"),
    slices.by_slice: ("min_rows",),
    classification.binary_metrics: ("n_bins",),
    classification.binary_scores: ("n_bins",),
    regression.return_metrics: ("horizon_days",),
    regression.return_scores: ("horizon_days",),
    proxies.trading_proxies: ("horizon_days", "cost_bps"),
    proxies.quantile_spread: ("horizon_days",),
    proxies.positions_from_probability: ("band",),
    proxies.positions_from_call: ("band",),
    proxies.positions_from_forecast: ("band",),
    gating.gating_effect: ("threshold",),
    gating.gating_scores: ("threshold",),
}
# Parameters whose None means "not applicable" (required where it applies).
NONE_MEANS_NOT_APPLICABLE: dict[Callable[..., Any], tuple[str, ...]] = {
    intervals.metric_interval: ("n_bins",),  # the ECE's only
    weighted_stats.row_metric_stat: ("n_bins",),
    report.split_report: ("gate_threshold",),  # the overlay metric set's only
}
# Parameters with a default that must be the one place's own (a name, never a literal):
# a checkpoint saved before the key existed loads with it.
FROM_THE_ONE_PLACE: dict[Callable[..., Any], dict[str, str]] = {
    FamilyModule.__init__: {"loss": "family.loss", "huber_delta": "family.huber_delta",
                            "compile": "model.compile"},
    PanelDataModule.__init__: {"device_resident": "dataset.device_resident",
                               "shuffle_buffer_mb": "dataset.shuffle_buffer_mb"},
    resolve: {"embargo_days": "dataset.embargo_days", "verify": "dataset.verify_fingerprint",
              "generate_demo": "dataset.generate_demo_if_missing"},
}


def _default_nodes(fn: Callable[..., Any]) -> dict[str, ast.expr]:
    """Each parameter's default as written in the source (an AST expression)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    func = next(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef,
                                                             ast.AsyncFunctionDef)))
    args = func.args
    positional = args.posonlyargs + args.args
    out = dict(zip([a.arg for a in positional[len(positional) - len(args.defaults):]],
                   args.defaults, strict=True))
    out.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                if d is not None})
    return out


def _name(fn: Callable[..., Any]) -> str:
    return fn.__qualname__


@pytest.mark.parametrize("fn", list(REQUIRED), ids=_name)
def test_config_values_are_required_arguments(fn: Callable[..., Any]) -> None:
    params = inspect.signature(fn).parameters
    with_default = {p: params[p].default for p in REQUIRED[fn]
                    if params[p].default is not inspect.Parameter.empty}
    assert not with_default, f"{_name(fn)} has a second default: {with_default}"


@pytest.mark.parametrize("fn", list(NONE_MEANS_NOT_APPLICABLE), ids=_name)
def test_not_applicable_is_none_not_a_value(fn: Callable[..., Any]) -> None:
    params = inspect.signature(fn).parameters
    for p in NONE_MEANS_NOT_APPLICABLE[fn]:
        assert params[p].default in (None, inspect.Parameter.empty), f"{_name(fn)}({p})"


@pytest.mark.parametrize("fn", list(FROM_THE_ONE_PLACE), ids=_name)
def test_python_defaults_are_the_one_place_itself(fn: Callable[..., Any]) -> None:
    params = inspect.signature(fn).parameters
    nodes = _default_nodes(fn)
    composed = config()
    for p, key in FROM_THE_ONE_PLACE[fn].items():
        group, name = key.split(".")
        assert params[p].default == composed[group][name], f"{_name(fn)}({p}) vs {key}"
        assert isinstance(nodes[p], (ast.Name, ast.Attribute)), (
            f"{_name(fn)}({p}) repeats {key} as a literal: import it from the schema")


def test_family_modules_take_exactly_what_a_run_passes() -> None:
    """Every net's model option, with every family option, builds its module from the config
    alone (another learner's option builds no module)."""
    vocab = {"regime_tag": ["bull", "bear"], "structure_state": ["range", "trend"]}
    for model in sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml")):
        if config(f"model={model}")["model"]["learner"] != schema.LIGHTNING_LEARNER:
            continue
        for family in sorted(p.stem for p in (CONF_DIR / "family").glob("*.yaml")):
            cls = family_class(config(f"family={family}")["family"]["name"])
            module = cls(n_features=3, vocab=vocab,
                         **module_kwargs(f"model={model}", f"family={family}"))
            cfg = config(f"model={model}", f"family={family}")
            for key in ("backbone", "hidden_sizes", "dropout", "lookback", "optimizer", "lr",
                        "weight_decay", "compile"):
                assert _plain(module.hparams[key]) == cfg["model"][key], (model, key)
            assert module.hparams["huber_delta"] == cfg["family"]["huber_delta"]


def test_evaluation_spec_has_no_default_of_a_config_value() -> None:
    fields = {f.name: f for f in dataclasses.fields(standard.EvaluationSpec)}
    for name in ("min_rows", "n_bins", "horizon_days", "gate_threshold", "bootstrap",
                 "cost_bps", "proxy_band"):
        f = fields[name]
        assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, name


def test_a_record_older_than_the_bootstrap_is_recomputed_as_it_was_evaluated() -> None:
    """A metrics-version-1 record lacks bootstrap, cost_bps, proxy_band: version 1 drew 1,000
    stationary-bootstrap resamples at 95% with seed 0, and charged no cost and no band, so its
    figures are recomputed with those, not with today's configured cost."""
    spec = standard.EvaluationSpec.from_dict({
        "metric_set": "directional", "baselines": ["class_prior"], "slice_by": ["regime_tag"],
        "min_rows": 200, "n_bins": 10, "horizon_days": 20, "gate_threshold": 0.5})
    assert spec.bootstrap == {"reps": 1000, "level": 0.95, "block": "auto",
                              "method": "stationary", "seed": 0}
    assert (spec.cost_bps, spec.proxy_band) == (0.0, 0.0)
    assert config()["evaluation"]["cost_bps"] != 0.0  # so the distinction is a real one


# A literal default that is not a second copy of a config value: (file, function, parameter)
# -> why. `resolve(lookback=1)` is "each row alone", what a library caller reading rows means;
# a run always passes `model.lookback`. A new one fails the test.
KNOWN_LEFTOVERS = {
    ("data/resolve.py", "resolve", "lookback"): "each row alone, without a window",
}
# Parameter names that carry a config value, wherever they appear.
CONFIG_PARAMETERS = {
    "backbone", "hidden_sizes", "dropout", "lookback", "optimizer", "lr", "weight_decay",
    "huber_delta", "loss", "min_rows", "n_bins", "horizon", "horizon_days", "cost_bps", "band",
    "level", "reps", "block", "method", "gate_threshold", "threshold", "shuffle_buffer_mb",
    "device_resident", "embargo_days", "purge_days", "verify", "generate_demo", "keep",
    "cache_keep", "batch_size", "min_steps", "min_steps_per_epoch",
}
SWEPT = ("config", "data", "evaluation", "families", "nets")


def _literal_defaults() -> dict[tuple[str, str, str], Any]:
    found = {}
    for sub in SWEPT:
        for path in sorted((PACKAGE / sub).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for func in ast.walk(tree):
                if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                args = func.args
                positional = args.posonlyargs + args.args
                pairs = list(zip(positional[len(positional) - len(args.defaults):],
                                 args.defaults, strict=True))
                pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                          if d is not None]
                for arg, default in pairs:
                    if arg.arg in CONFIG_PARAMETERS and isinstance(default, ast.Constant) \
                            and default.value is not None:
                        where = (str(path.relative_to(PACKAGE)), func.name, arg.arg)
                        found[where] = default.value
    return found


def test_no_literal_default_of_a_config_value_in_the_source() -> None:
    found = _literal_defaults()
    new = {k: v for k, v in found.items() if k not in KNOWN_LEFTOVERS}
    assert not new, f"literal defaults of config values (make them required): {new}"


def test_the_trading_day_constant_is_written_once() -> None:
    """252 appears as a number only in core/calendar.py; everything else imports it."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and type(node.value) in (int, float) \
                    and node.value == 252:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert len(found) == 1 and found[0].startswith("core/calendar.py:"), found


# Lists of the context columns outside data/index.py: copies in files this change does not own,
# each to import `index.CONTEXT_COLUMNS` instead. A new copy fails the test.
CONTEXT_COPIES: set[str] = set()


def test_the_context_columns_are_listed_once() -> None:
    wanted = set(index.CONTEXT_COLUMNS)
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and node.elts and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
                if {e.value for e in node.elts} == wanted:  # type: ignore[attr-defined]
                    found.add(str(path.relative_to(PACKAGE)))
    assert "data/index.py" in found
    assert found - {"data/index.py"} <= CONTEXT_COPIES, found - {"data/index.py"} - CONTEXT_COPIES
    # The copies left agree with the one place, in its order.
    from ifns_train.data import features
    from ifns_train.sxe.mirror import model_page

    assert tuple(features.CONTEXT_COLUMNS) == index.CONTEXT_COLUMNS
    assert tuple(model_page.CHART_DIMENSIONS) == index.CONTEXT_COLUMNS
    # What a run slices by is a choice among them (conf/evaluation/default.yaml).
    assert set(config()["evaluation"]["slice_by"]) <= wanted
