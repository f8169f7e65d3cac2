"""The evaluation standard: prediction tables in, the figures of `metrics.json` out. Pure: no
Lightning, no files, so the recorder and `python -m ifns_train.cli.evaluate` compute the very
same figures.

Per split: the report (`report.split_report`: model and baselines, overall and per slice) and
its evidence (`evidence`: the IC's t-statistic, trading proxies, and on the test split, whose
evidence the promotion checks read, the bootstrap intervals). For the model as a
whole, from the test split: the Sharpe ratio of what its trading proxy adds over the best
baseline's, deflated by the trials in the experiment log (`selection`), its stability over
walk-forward folds and seeds, its placebo control, and the pre-DRA promotion checks. What the
evaluator reads besides the tables (the trials in the log, the companion runs' figures, the
model's complexity) is recorded with the figures as `evidence_inputs`, so a re-evaluation
uses the same.

`METRICS_VERSION` names the definitions of the figures. It is raised whenever a figure is added
or its definition changes; a model evaluated under an older version keeps those figures (the
re-evaluation archives them) instead of having them silently replaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ifns_train.evaluation import evidence
from ifns_train.evaluation.predictions import PredictionArrays
from ifns_train.evaluation.promotion import DECISION_SPLIT, promotion_checks
from ifns_train.evaluation.report import key_metrics, split_report
from ifns_train.evaluation.selection import deflate, offset_stats
from ifns_train.evaluation.stability import stability

# 3: improvements in the favourable direction (> 0 better for the model) with an `evidence`
#    word; proxies trade each predictor's own call, with the model's excess over the best
#    baseline (and market-neutral for return models); the deflated Sharpe ratio of that
#    excess over every start offset; a three-valued promotion verdict.
# 4: the `pbo` promotion check (the probability of backtest overfitting of the model's
#    search, computed at each use: `registry.current`).
# 5: `attribution` beside the figures: the permutation attribution of each feature and feature
#    family on the test split (`evaluation.attribution`; measured by the run, which has the
#    model and the data, so a re-evaluation from the tables keeps the recorded one).
METRICS_VERSION = 5


@dataclass(frozen=True)
class EvaluationSpec:
    """Everything besides the predictions that decides the figures; stored in metrics.json.

    No field has a default: a run fills them from its config (`run.context`), whose evaluation
    group (ifns_train/conf/evaluation/default.yaml) is the one place of their values; a
    re-evaluation from the record (`from_dict`). `promotion` None: no promotion checks."""

    metric_set: str
    baselines: tuple[str, ...]
    slice_by: tuple[str, ...]
    min_rows: int
    n_bins: int
    horizon_days: int
    gate_threshold: float | None  # the overlay family's threshold; None for the others
    bootstrap: dict[str, Any]
    cost_bps: float
    proxy_band: float
    promotion: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> EvaluationSpec:
        """The spec a record holds. A record of metrics version 1 predates `bootstrap`,
        `cost_bps` and `proxy_band`: it was evaluated with `METRICS_V1_SETTINGS`, so its
        figures are recomputed with them (today's configured values would change them)."""
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                  for k, v in raw.items()}
        return cls(**{**METRICS_V1_SETTINGS, **fields})


# What metrics version 1 evaluated with, before the spec recorded these settings: a fact of
# history, not a default (a run takes its settings from the evaluation group).
METRICS_V1_SETTINGS: dict[str, Any] = {
    "bootstrap": {"reps": 1000, "level": 0.95, "block": "auto", "method": "stationary",
                  "seed": 0},
    "cost_bps": 0.0,
    "proxy_band": 0.0,
}


def evaluate_split(arrays: PredictionArrays, spec: EvaluationSpec, intervals: bool = True
                   ) -> dict[str, Any]:
    """One split's report and evidence: the model and the spec's baselines on the same rows.
    The bootstrap intervals (they cost the most) and the proxies' per-date series (most of
    metrics.json) only with `intervals`: only the decision split's are read."""
    missing = [b for b in spec.baselines if b not in arrays.baselines]
    if missing:
        raise ValueError(f"the prediction table has no baseline {', '.join(missing)}")
    arrays = PredictionArrays(**{**arrays.__dict__, "baselines": {
        b: arrays.baselines[b] for b in spec.baselines}})
    report = split_report(
        spec.metric_set,
        y=arrays.y,
        model=arrays.model,
        baselines=arrays.baselines,
        context={c: arrays.context[c] for c in spec.slice_by},
        inputs={"dates": arrays.dates, **arrays.inputs},
        min_rows=spec.min_rows,
        n_bins=spec.n_bins,
        horizon_days=spec.horizon_days,
        gate_threshold=spec.gate_threshold,
    )
    h, boot = spec.horizon_days, spec.bootstrap
    if intervals:
        grids = evidence.Grids()  # the split's scores sorted once for all its intervals
        report["intervals"] = evidence.split_intervals(arrays, report, boot, h, grids)
        report["slice_intervals"] = evidence.slice_intervals(arrays, report, boot, h, grids)
    if spec.metric_set == "return":
        report["ic_tstat"] = evidence.ic_tstats(arrays, h)
    report["proxies"] = evidence.trading(arrays, spec.metric_set, horizon=h,
                                         cost_bps=spec.cost_bps, band=spec.proxy_band,
                                         series=intervals)
    return report


SELECTION_STATISTIC = "net excess of the trading proxy over the best baseline's"
# What a record keeps of `selection`: enough to deflate its Sharpe ratio again later, by the
# trials of the log at that time (`ifns_train.registry.current`).
SELECTION_KEYS = ("statistic", "baseline", "sharpe_annualised", "model_sharpe_annualised",
                  "periods_per_year", "offsets", "trials", "trials_with_sharpe",
                  "trials_sharpe_std", "expected_max_sharpe_annualised",
                  "probabilistic_sharpe_ratio", "deflated_sharpe_ratio",
                  "deflated_sharpe_ratio_range")


def earlier_trials(inputs: Mapping[str, Any]) -> tuple[int, list[float]]:
    """(count, Sharpe ratios) of the earlier trials recorded in `evidence_inputs` (`trials`;
    an evaluation of metrics version 2 or earlier recorded only `trial_sharpes`)."""
    if "trials" in inputs:
        return int(inputs["trials"]["count"]), list(inputs["trials"]["sharpes"])
    sharpes = list(inputs.get("trial_sharpes", []))
    return len(sharpes), sharpes


def _selection(report: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    """The deflated Sharpe ratio of what the model adds: the net excess of its proxy over the
    best baseline's, on every start offset, deflated by the log's earlier trials and this one."""
    proxies = report.get("proxies")
    if not proxies:
        return None
    model, excess = proxies["model"], proxies["excess"]
    offsets = offset_stats(excess["series"]["net"], model["horizon_days"])
    periods = model["periods_per_year"]
    own = deflate(offsets, trials=1, trial_sharpes=[], periods_per_year=periods)
    count, sharpes = earlier_trials(inputs)
    if own["sharpe_annualised"] is not None:
        sharpes.append(own["sharpe_annualised"])
    return {"statistic": SELECTION_STATISTIC, "baseline": excess["baseline"],
            "model_sharpe_annualised": model["net"]["sharpe"]["mean"],
            **deflate(offsets, trials=count + 1, trial_sharpes=sharpes,
                      periods_per_year=periods)}


def _controls(primary: str, companions: Mapping[str, Any]) -> dict[str, Any]:
    """The placebo's improvement over its best baseline on the primary metric, and whether
    it is significantly better than nothing (which a sound pipeline never is)."""
    runs = companions.get("placebo") or []
    if not runs:
        return {}
    placebo = runs[0]
    figures = placebo["metrics"][DECISION_SPLIT]
    interval = figures.get("intervals", {}).get(primary)
    low = high = None
    if interval and interval.get("low") is not None:
        low, high = interval["low"], interval["high"]
    return {"placebo": {
        "experiment_id": placebo["experiment_id"],
        "metric": primary,
        "model": figures["model"].get(primary),
        "improvement": figures.get("improvement", {}).get(primary),
        "interval": None if low is None else {"low": low, "high": high,
                                               "level": interval["level"]},
        "significantly_better": None if low is None else low > 0,
        "permutation": placebo.get("placebo"),
    }}


def evaluate(tables: Mapping[str, PredictionArrays], spec: EvaluationSpec,
             inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The evaluation part of metrics.json.

    `inputs`: `experiment_id` (this run's), `trials` (`count` and annualised `sharpes` of the
    earlier trials of the same family, label and dataset in the log), `companions`
    (run summaries by kind: fold, seed, placebo) and `complexity` (parameter and feature
    counts).
    """
    inputs = dict(inputs or {})
    splits = {name: evaluate_split(arrays, spec, intervals=name == DECISION_SPLIT)
              for name, arrays in tables.items()}
    out: dict[str, Any] = {
        "metrics_version": METRICS_VERSION,
        "evaluation": spec.as_dict(),
        "evidence_inputs": inputs,
        "splits": splits,
    }
    decision = splits.get(DECISION_SPLIT)
    if decision is None:
        return out
    primary = decision["primary_metric"]
    out["selection"] = _selection(decision, inputs)
    companions = inputs.get("companions", {})
    main = {"experiment_id": inputs.get("experiment_id"),
            "metrics": {DECISION_SPLIT: key_metrics(spec.metric_set, decision)}}
    out["stability"] = stability(primary, main, companions, split=DECISION_SPLIT,
                                 complexity=inputs.get("complexity"))
    out["controls"] = _controls(primary, companions)
    if spec.promotion is not None:
        out["promotion"] = promotion_checks(decision, spec.promotion,
                                            stability=out["stability"],
                                            selection=out["selection"],
                                            controls=out["controls"])
    return out


def key_figures(evaluation: Mapping[str, Any]) -> dict[str, Any]:
    """What a registry record and a log entry carry: per split the model's figures, the best
    baseline's and the improvement, with the improvement's interval; the selection evidence
    (what the deflated Sharpe ratio is of, with the per-offset moments it can be deflated again
    from); and the promotion checks with their verdict."""
    metric_set = evaluation["evaluation"]["metric_set"]
    out: dict[str, Any] = {}
    for name, report in evaluation["splits"].items():
        key = key_metrics(metric_set, report)
        key["intervals"] = {
            m: {k: i.get(k) for k in ("low", "high", "level", "evidence", "significant",
                                      "baseline")}
            for m, i in report.get("intervals", {}).get("improvement", {}).items()
        }
        out[name] = key
    selection = evaluation.get("selection")
    if selection is not None:
        out["selection"] = {k: selection[k] for k in SELECTION_KEYS}
    promotion = evaluation.get("promotion")
    if promotion is not None:
        out["promotion"] = {k: promotion[k] for k in (
            "rules", "eligible", "verdict", "controls_not_run", "reasons", "checks")}
    return out
