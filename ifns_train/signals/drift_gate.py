"""Drift at prediction time: the rows a job scores, compared with each model's training rows
(the `drift_reference.json` its run recorded and hashed with its artifacts), and what the job
does with the figures (spec 10: the evidence a later stage needs to trust a signal).

Per model, per input feature, the population stability index and the Kolmogorov-Smirnov
statistic of the scored rows against the training rows (`evaluation.drift`), overall and per
`regime_tag` value where both hold at least `drift.min_regime_rows` rows. The job's band is the
overall PSI's: above `drift.soft_psi` a warning naming the worst features, above
`drift.hard_psi` `env=live` is refused, naming them, unless `allow_drift=true`, which the job
records. The per-regime figures are reported (and a regime above the hard threshold warned
of) but do not refuse: a scoring window holds few, serially dependent rows of one regime (on
the demo panel, the whole dataset scored shows a per-regime PSI of 0.3 on a volatility feature
where the overall one is 0.1). A model recorded before references were kept has none: it is
reported as such and, on `env=live`, refused as if it had drifted (fail closed).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ifns_train.core.errors import ConfigError, ContractError, RegistryError
from ifns_train.evaluation import drift

REFERENCE_FILE = "drift_reference.json"  # in the model's artifact folder, hashed with it
# The context column the reference and the comparison are broken down by.
REGIME_COLUMN = "regime_tag"
WORST_SHOWN = 5  # features per model in the job's report and its lines
NO_REFERENCE = "no drift reference recorded"
REFUSED_ENV = "live"  # the environment a drift above the hard threshold is refused in


class DriftError(ContractError):
    """Rows too far from a model's training rows (or no reference) to score for env=live."""


@dataclass(frozen=True)
class DriftLimits:
    """The thresholds of `ifns-predict`'s `drift:` (conf/predict.yaml) and `allow_drift`."""

    soft_psi: float
    hard_psi: float
    min_regime_rows: int
    allow_drift: bool

    def __post_init__(self) -> None:
        if not 0 <= self.soft_psi <= self.hard_psi:
            raise ConfigError(f"drift.soft_psi {self.soft_psi} and drift.hard_psi "
                              f"{self.hard_psi}: expected 0 <= soft_psi <= hard_psi")
        if self.min_regime_rows < 1:
            raise ConfigError(f"drift.min_regime_rows {self.min_regime_rows}: expected >= 1")


def load_reference(registry_dir: Path, record: Any) -> dict[str, Any] | None:
    """The model's recorded reference; None for a model recorded without one (its hash, when
    recorded, was checked by the audit that let the model be used)."""
    if REFERENCE_FILE not in (record.artifact_hashes or {}):
        return None
    result: dict[str, Any] = json.loads(
        (registry_dir / record.artifact_path / REFERENCE_FILE).read_text())
    if result.get("sketch_version") != drift.SKETCH_VERSION:
        raise RegistryError(f"model {record.model_id}: {REFERENCE_FILE} is of sketch version "
                            f"{result.get('sketch_version')}, this code reads version "
                            f"{drift.SKETCH_VERSION}")
    return result


def _banded(figures: dict[str, Any], limits: DriftLimits) -> dict[str, Any]:
    return {name: {**f, "band": drift.band(f["psi"], limits.soft_psi, limits.hard_psi)}
            for name, f in figures.items()}


def assess(reference: dict[str, Any] | None, features: np.ndarray, names: list[str],
           context: dict[str, Any], limits: DriftLimits) -> dict[str, Any]:
    """One model's drift report on the scored rows (`features`, rows x the model's feature
    columns, and their context): each feature's PSI, KS and band, overall and per regime, and
    the worst features first."""
    thresholds = {k: v for k, v in asdict(limits).items() if k != "allow_drift"}
    if reference is None:
        return {"reference": False, "band": "none", "note": NO_REFERENCE, "rows": len(features),
                "thresholds": thresholds}
    groups = {c: v for c, v in context.items() if c == REGIME_COLUMN}
    figures = drift.compare(reference, features, names, groups, limits.min_regime_rows)
    overall = _banded(figures["overall"], limits)
    worst = drift.worst(overall, WORST_SHOWN)
    regimes = {}
    for value, group in figures["groups"].get(REGIME_COLUMN, {}).items():
        banded = _banded(group["features"], limits)
        regimes[value] = {"rows": group["rows"], "worst": drift.worst(banded, WORST_SHOWN),
                          "features": banded}
    return {"reference": True, "band": worst[0]["band"] if worst else "ok",
            "rows": figures["rows"], "reference_rows": reference["rows"], "worst": worst,
            "features": overall, "regimes": regimes, "thresholds": thresholds}


def _named(rows: list[dict[str, Any]], band: str) -> str:
    return ", ".join(f"{r['feature']} PSI {r['psi']:.3f} KS {r['ks']:.3f}"
                     for r in rows if r["band"] == band)


def warnings(model_id: str, report: dict[str, Any]) -> list[str]:
    """The lines a job logs for one model's report: its overall band, a regime above the hard
    threshold (where the whole is not), or no reference."""
    if not report["reference"]:
        return [f"model {model_id}: {NO_REFERENCE} (the model was recorded before drift "
                "references were kept); its rows are not checked for drift"]
    limits = report["thresholds"]
    lines = []
    if report["band"] != "ok":
        level = "hard" if report["band"] == "hard" else "soft"
        lines.append(f"model {model_id}: drift above the {level} threshold (PSI > "
                     f"{limits[f'{level}_psi']}) on {report['rows']} rows: "
                     + _named(report["worst"], report["band"]))
    for value, regime in report["regimes"].items():
        if report["band"] != "hard" and regime["worst"] and regime["worst"][0]["band"] == "hard":
            lines.append(f"model {model_id}: in regime {value} ({regime['rows']} rows) drift "
                         f"above the hard threshold (PSI > {limits['hard_psi']}): "
                         + _named(regime["worst"], "hard"))
    return lines


def summary(model_id: str, report: dict[str, Any]) -> str:
    """One line on a model's drift in the job: its worst feature and band, or no reference."""
    if not report["reference"]:
        return f"drift of {model_id}: {NO_REFERENCE}"
    if not report["worst"]:
        return f"drift of {model_id}: no feature to compare"
    top = report["worst"][0]
    limits = report["thresholds"]
    return (f"drift of {model_id} on {report['rows']} rows: worst {top['feature']} PSI "
            f"{top['psi']:.3f} KS {top['ks']:.3f} ({top['band']}; soft {limits['soft_psi']}, "
            f"hard {limits['hard_psi']})"
            + ("; scored under allow_drift=true" if report.get("overridden") else ""))


def refusal(model_id: str, report: dict[str, Any], env: str, allow_drift: bool) -> str | None:
    """Why the job may not score `model_id` in `env`, or None: on `env=live`, a drift above the
    hard threshold, or no reference (fail closed), unless `allow_drift`."""
    if env != REFUSED_ENV or allow_drift:
        return None
    override = "; allow_drift=true scores anyway (recorded in the job)"
    if not report["reference"]:
        return (f"model {model_id}: {NO_REFERENCE} (recorded before drift references were "
                f"kept), so its rows cannot be checked: env={env} refused{override}")
    if report["band"] != "hard":
        return None
    return (f"model {model_id}: drift above the hard threshold (PSI > "
            f"{report['thresholds']['hard_psi']}) on {report['rows']} rows: "
            f"{_named(report['worst'], 'hard')}: env={env} refused{override}")
