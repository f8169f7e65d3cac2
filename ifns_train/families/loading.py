"""A registered model, loaded for use: found through the registry, its checkpoint checked
against the recorded hash before a byte of it is unpickled, and unpickled with
`weights_only=True`, so a tampered or swapped file is refused, naming it, rather than loaded."""

from __future__ import annotations

from ifns_train.errors import RegistryError
from ifns_train.families import family_class
from ifns_train.families.base import FamilyModule
from ifns_train.registry import artifacts, model_registry
from ifns_train.registry.database import Registry

CHECKPOINT = "model.ckpt"


def load_registered(reg: Registry, model_id: str) -> FamilyModule:
    record = model_registry.get(reg, model_id)
    folder = reg.dir / record.artifact_path
    artifacts.verify(folder, record.artifact_hashes, model_id, only=(CHECKPOINT,))
    names = {f.family_id: f.name for f in model_registry.family_records(reg)}
    if record.model_family not in names:
        raise RegistryError(f"model {model_id}: family {record.model_family} is not in the "
                            "registry")
    cls = family_class(names[record.model_family])
    module = cls.load_from_checkpoint(folder / CHECKPOINT, map_location="cpu",
                                      weights_only=True)
    module.eval()
    return module
