"""A registered model's prediction table of the decision split (`promotion.DECISION_SPLIT`),
as the searches' PBO (`searches`) and a challenger's comparison (`champion`) read it: from the
model's registry folder, checked against the hashes its record holds, so a figure decided on
comes from the table that was recorded and nothing else.

pandas and the table reader are imported only when a table is read: the consoles that import
this wing (`ifns-admin models list`) read none.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ifns_train.core.errors import RegistryError
from ifns_train.evaluation.promotion import DECISION_SPLIT
from ifns_train.registry import artifacts
from ifns_train.registry.database import Registry
from ifns_train.registry.records import ModelRecord

if TYPE_CHECKING:
    from ifns_train.evaluation.predictions import PredictionArrays


def read_decision_table(reg: Registry, record: ModelRecord
                    ) -> tuple[PredictionArrays, dict[str, Any]]:
    """The model's prediction table of the decision split, checked against its recorded hash
    with the metrics.json that names it, and what scores it (from that file): `metric_set`,
    `metric` (the primary metric), `horizon`, `bootstrap`. RegistryError naming the model and
    the file at fault."""
    folder = reg.dir / record.artifact_path
    path = folder / "metrics.json"
    try:
        doc = json.loads(path.read_text())
        file = doc["prediction_tables"][DECISION_SPLIT]
        spec = doc["evaluation"]
        scoring = {"metric_set": spec["metric_set"],
                   "metric": doc["splits"][DECISION_SPLIT]["primary_metric"],
                   "horizon": int(spec["horizon_days"]),
                   "bootstrap": dict(spec["bootstrap"])}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RegistryError(f"model {record.model_id}: {path} names no {DECISION_SPLIT} "
                            f"prediction table and the settings of its evaluation ({exc!r}); "
                            f"re-evaluate it (ifns-evaluate model_id={record.model_id})") \
            from None
    artifacts.verify(folder, record.artifact_hashes, record.model_id,
                     only=("metrics.json", str(file)))
    import pandas as pd

    from ifns_train.evaluation.predictions import read_table

    table = folder / str(file)
    try:
        return read_table(pd.read_parquet(table), str(table)), scoring
    except (OSError, ValueError) as exc:
        raise RegistryError(f"model {record.model_id}: cannot read {table}: {exc}") from None
