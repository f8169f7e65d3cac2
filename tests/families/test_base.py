"""The shared family base: what it does on Lightning's per-step path."""

from __future__ import annotations

import pytest
import torch

from ifns_train.families.dir_core import DirCoreModule
from tests.defaults import module_kwargs


def test_train_loss_is_the_row_weighted_mean_of_the_epoch() -> None:
    module = DirCoreModule(n_features=2, **module_kwargs("model=linear"))
    logged: dict[str, float] = {}
    module.log = lambda name, value, **kwargs: logged.update({name: float(value)})
    module.on_train_epoch_start()
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, -1.0], [-1.0, 3.0]])
    y = torch.tensor([1.0, 0.0, 1.0, 0.0])
    big = module.training_step((x[:3], None, y[:3]), 0).item()
    small = module.training_step((x[3:], None, y[3:]), 1).item()
    module.on_train_epoch_end()
    assert logged["train_loss"] == pytest.approx((3 * big + small) / 4)
    assert logged["train_loss"] != pytest.approx((big + small) / 2)


def test_fast_attribute_path_still_registers_modules_and_buffers() -> None:
    module = DirCoreModule(n_features=2, **module_kwargs())
    module._current_fx_name = "training_step"
    assert module._current_fx_name == "training_step"
    module.extra = torch.nn.Linear(2, 2)
    assert "extra" in dict(module.named_children())
    module.target_std = torch.tensor(3.0)  # a registered buffer stays a buffer
    assert dict(module.named_buffers())["target_std"] == 3.0
