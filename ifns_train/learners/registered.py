"""A registered model, loaded for use: found through the registry, its files checked against
the recorded hashes before a byte of them is read, and loaded by the learner that fitted it
(`learners.base`), so a tampered or swapped file is refused, naming it, rather than loaded.
A net's checkpoint is unpickled with `weights_only=True`."""

from __future__ import annotations

from ifns_train.config.schema import LIGHTNING_LEARNER
from ifns_train.core.errors import ConfigError, RegistryError
from ifns_train.families import FAMILIES, family_class_of
from ifns_train.families.base import FamilyModule
from ifns_train.learners.base import Scorer, learner_module
from ifns_train.registry import artifacts, log, model_registry
from ifns_train.registry.database import Registry
from ifns_train.registry.records import ModelRecord


def column_mismatch(have: list[str], want: list[str]) -> str | None:
    """How the feature columns `have` differ from those a model reads (`want`, in its order),
    as a clause naming the first missing, extra or moved column; None when they are the same."""
    if have == want:
        return None
    missing = [c for c in want if c not in have]
    if missing:
        return f"lacks feature column '{missing[0]}'"
    extra = [c for c in have if c not in want]
    if extra:
        return f"has feature column '{extra[0]}' the model was not trained on"
    pos = next(i for i, (a, b) in enumerate(zip(have, want, strict=True)) if a != b)
    return (f"has '{have[pos]}' as feature column {pos}, the model was trained with "
            f"'{want[pos]}' there (a changed order)")


def learner_of(record: ModelRecord) -> str:
    """The learner that fitted a registered model (recorded in its `training`; a model recorded
    before learners were named is a net)."""
    return str(record.training.get("learner") or LIGHTNING_LEARNER)


def load_registered(reg: Registry, model_id: str) -> Scorer:
    record = model_registry.get(reg, model_id)
    folder = reg.dir / record.artifact_path
    try:
        learner = learner_module(learner_of(record))
    except ConfigError as exc:
        raise RegistryError(f"model {model_id}: {exc}") from None
    artifacts.verify(folder, record.artifact_hashes, model_id, only=tuple(learner.FILES))
    names = {f.family_id: f.name for f in model_registry.family_records(reg)}
    if record.model_family not in names:
        raise RegistryError(f"model {model_id}: family {record.model_family} is not in the "
                            "registry")
    cls = registered_family_class(reg, record, names[record.model_family])
    scorer: Scorer = learner.load(folder, cls, record)
    return scorer


def registered_family_class(reg: Registry, record: ModelRecord, name: str) -> type[FamilyModule]:
    """The class of a registered model's family `name`: a built-in family's by its name; for a
    family of one's own, the class its run's config names (`family.module`, as recorded in the
    experiment log with the run), imported again: so its package must be importable here."""
    if name in FAMILIES:  # family.module never names another class under a built-in's name
        return FAMILIES[name]
    family = (log.get(reg, record.experiment_id).config or {}).get("family") or {}
    if not family.get("module"):
        raise RegistryError(f"model {record.model_id}: family {name!r} "
                            f"({record.model_family}) is not built in, and its experiment "
                            f"{record.experiment_id} recorded no family.module naming its class")
    try:
        return family_class_of({**family, "name": name})
    except ConfigError as exc:
        raise RegistryError(f"model {record.model_id}: {exc}") from None
