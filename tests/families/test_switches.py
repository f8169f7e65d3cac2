"""How a run executes: `model.compile`, `trainer.precision`, `dataset.device_resident` reach
torch and Lightning, are recorded with the model, and leave the config hash as it was."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from ifns_train.core.errors import ConfigError
from ifns_train.run import provenance
from ifns_train.run.timing import PHASES
from ifns_train.run.train import train
from tests.registry.docs import models_doc


def _training(summary: dict[str, Any]) -> dict[str, Any]:
    folder = Path(summary["artifact_dir"])
    return json.loads((folder / "train_config.json").read_text())["training"]


def test_compile_reaches_torch_compile_for_training_only(make_cfg, registry: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[Any] = []

    def fake_compile(fn: Any, *args: Any, **kwargs: Any) -> Any:
        compiled.append(fn)
        return fn  # runs eagerly: the test is that the switch arrives, not inductor

    monkeypatch.setattr(torch, "compile", fake_compile)
    summary = train(make_cfg("model.compile=true", "trainer.max_epochs=1"))
    # The backbone's own call, compiled in place: the state dict keeps its keys.
    assert len(compiled) == 1 and compiled[0].__name__ == "_call_impl"
    assert type(compiled[0].__self__).__module__.startswith("torch.nn")
    ckpt = torch.load(Path(summary["artifact_dir"]) / "model.ckpt", weights_only=False)
    assert not any("_orig_mod" in k for k in ckpt["state_dict"])
    assert ckpt["hyper_parameters"]["compile"] is True
    assert _training(summary)["compile"] is True
    (record,) = models_doc(registry)["models"]
    assert record["training"]["compile"] is True


def test_compile_is_off_by_default(make_cfg, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch, "compile", lambda *a, **k: pytest.fail("compiled"))
    training = _training(train(make_cfg("trainer.max_epochs=1")))
    assert training["compile"] is False
    assert training["precision"] == "32-true"
    assert training["data_device"] == {"train": "cpu", "val": "cpu", "test": "cpu"}
    # The phases of the run, in order, each timed (`run.timing`; in this process, what the
    # tests did before the run is its config, or imports after an in-process console).
    phases = list(training["phase_seconds"])
    assert phases[-5:] == ["data", "setup", "fit", "evaluation", "recording"]
    assert phases == [p for p in PHASES if p in phases] and "config" in phases
    assert all(v >= 0 for v in training["phase_seconds"].values())


def test_bf16_mixed_precision_reaches_lightning_and_is_recorded(make_cfg,
                                                                registry: Path) -> None:
    # trainer=cpu leaves precision unset (Lightning's 32-true); trainer=gpu names it.
    summary = train(make_cfg("+trainer.precision=bf16-mixed", "trainer.max_epochs=1"))
    assert _training(summary)["precision"] == "bf16-mixed"
    (record,) = models_doc(registry)["models"]
    assert record["training"]["precision"] == "bf16-mixed"
    assert summary["metrics"]["test"]["model"]["auc"] is not None


def test_resident_data_trains_the_same_model(make_cfg) -> None:
    """On the CPU `true` takes the resident path (the trainer's device is the CPU): the
    figures are those of the host path to the last digit."""
    host = train(make_cfg("dataset.device_resident=false", "trainer.max_epochs=1"))
    resident = train(make_cfg("dataset.device_resident=true", "trainer.max_epochs=1"))
    assert host["metrics"]["test"] == resident["metrics"]["test"]
    assert _training(resident)["data_device"]["train"] == "cpu"


def test_device_resident_is_checked(make_cfg) -> None:
    with pytest.raises(ConfigError, match="device_resident"):
        train(make_cfg("dataset.device_resident=sometimes"))


def test_switches_off_leave_the_config_hash_as_it_was(make_cfg) -> None:
    cfg = OmegaConf.to_container(make_cfg(), resolve=False)
    before = json.loads(json.dumps(cfg))
    del before["model"]["compile"], before["dataset"]["device_resident"]
    hashed = provenance.config_hash(provenance.definition(cfg))
    assert hashed == provenance.config_hash(provenance.definition(before))
    cfg["dataset"]["device_resident"] = True
    assert provenance.config_hash(provenance.definition(cfg)) == hashed
    cfg["model"]["compile"] = True
    assert provenance.config_hash(provenance.definition(cfg)) != hashed


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_preset_keeps_the_data_on_the_gpu_in_bf16(make_cfg) -> None:
    summary = train(make_cfg("trainer=gpu", "trainer.precision=bf16-mixed",
                             "trainer.max_epochs=1"))
    training = _training(summary)
    assert training["precision"] == "bf16-mixed"
    assert all(d.startswith("cuda") for d in training["data_device"].values())
