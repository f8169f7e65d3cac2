"""What a run is built from, from its config, whatever learner fits it: the resolved splits
and the categorical inputs' vocabulary. One wiring, shared by the run, new-data evaluation and
the benchmarks, so that none of them resolves the data differently; the learner builds the rest
(`learners.lightning_build` for the nets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ifns_train.data.cache import CacheOptions
from ifns_train.data.resolve import ResolvedData, resolve
from ifns_train.families.base import FamilyModule
from ifns_train.run.plan import baseline_params


def context_columns(config: dict[str, Any], cls: type[FamilyModule]) -> list[str]:
    """The context a run keeps beside its rows: the evaluation's slices and the family's
    categorical inputs, each once, in that order."""
    return list(dict.fromkeys([*config["evaluation"]["slice_by"], *cls.categorical_inputs]))


def resolve_data(registry_dir: Path, config: dict[str, Any], cls: type[FamilyModule], *,
                 verify: bool | None = None, generate_demo: bool | None = None
                 ) -> ResolvedData:
    """The run's splits, resolved from `config["dataset"]` as a run resolves them (`verify` and
    `generate_demo` default to the dataset config's own settings)."""
    ds, params = config["dataset"], baseline_params(config)
    return resolve(
        registry_dir,
        dataset_ids={s: ds[f"{s}_dataset_id"] for s in ("train", "val", "test")},
        windows=ds["windows"],
        feature_families=config["features"]["families"],
        label_family=config["labels"]["target"],
        horizon_days=config["labels"]["horizon_days"],
        context_columns=context_columns(config, cls),
        extra_columns=cls.baseline_columns(params),
        evaluation_columns=cls.evaluation_columns(params),
        purge_days=ds["purge_days"],
        embargo_days=ds["embargo_days"],
        lookback=config["model"]["lookback"],
        verify=ds["verify_fingerprint"] if verify is None else verify,
        generate_demo=ds["generate_demo_if_missing"] if generate_demo is None else generate_demo,
        cache=CacheOptions.from_config(ds),
    )


def vocabulary(data: ResolvedData, cls: type[FamilyModule]) -> dict[str, list[Any]]:
    """The values of each categorical input seen in the training rows (what embeds)."""
    train = data.splits["train"]
    return {c: sorted(set(train.context[c].tolist())) for c in cls.categorical_inputs}
