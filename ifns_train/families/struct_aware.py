"""MF_STRUCT_AWARE_V1: direction over 20 days, conditioned on market structure.

Learned embeddings of `regime_tag` and `structure_state` join the features, and a gate per
regime scales the logit and shifts it: where structure carries no information in a regime, the
gate can close and the overlay falls back to that regime's base rate. The evaluation adds what
the overlay is for: how a primary signal's hit rate changes when only rows the overlay agrees
with are kept (the `overlay` metric set).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ifns_train.data.resolve import Split
from ifns_train.families.base import train_rates
from ifns_train.families.dir_core import DirCoreModule

EMBED_DIM = 4


class StructAwareModule(DirCoreModule):
    family_name = "struct_aware"
    metric_set = "overlay"
    categorical_inputs = ("regime_tag", "structure_state")
    baseline_names = ("regime_base_rate",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        vocab = self.hparams["vocab"]
        missing = [c for c in self.categorical_inputs if c not in vocab]
        if missing:
            raise ValueError(f"struct_aware needs a vocabulary for {missing}")
        # Index 0 of each table is the "unseen in training" value.
        self.embeddings = nn.ModuleList(
            nn.Embedding(len(vocab[c]) + 1, EMBED_DIM) for c in self.categorical_inputs
        )
        n_regimes = len(vocab["regime_tag"]) + 1
        self.gate_scale = nn.Embedding(n_regimes, 1)
        self.gate_shift = nn.Embedding(n_regimes, 1)
        nn.init.zeros_(self.gate_scale.weight)  # sigmoid(0) * 2 = 1: the gate starts open
        nn.init.zeros_(self.gate_shift.weight)

    def extra_input_width(self) -> int:
        return EMBED_DIM * len(self.categorical_inputs)

    def forward(self, x: torch.Tensor, cat: torch.Tensor | None = None) -> torch.Tensor:
        assert cat is not None, "struct_aware needs its categorical inputs"
        x = (x - self.feature_mean) / self.feature_std
        emb = torch.cat([e(cat[:, i]) for i, e in enumerate(self.embeddings)], dim=-1)
        if x.dim() == 3:  # a lookback window: the current row's context on every step
            emb = emb.unsqueeze(1).expand(-1, x.shape[1], -1)
        logit = self.backbone(torch.cat([x, emb], dim=-1)).squeeze(-1)
        regime = cat[:, 0]
        scale = 2.0 * torch.sigmoid(self.gate_scale(regime).squeeze(-1))
        return scale * logit + self.gate_shift(regime).squeeze(-1)

    @classmethod
    def baseline_columns(cls, params: Mapping[str, Any]) -> list[str]:
        return [params["primary_column"]]

    @classmethod
    def baselines(
        cls, train: Split, split: Split, params: Mapping[str, Any]
    ) -> dict[str, dict[str, np.ndarray]]:
        rates, prior = train_rates(train.label.astype(np.float64), train.context["regime_tag"])
        prob = np.array([rates.get(r, prior) for r in split.context["regime_tag"]])
        return {"regime_base_rate": {"prob": prob, "pred": (prob >= 0.5).astype(np.float64)}}

    @classmethod
    def evaluation_inputs(cls, split: Split, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """The primary signal the overlay gates: the sign of `primary_column` (1 = up call)."""
        primary = (split.extras[params["primary_column"]] > 0).astype(np.float64)
        return {**super().evaluation_inputs(split, params), "primary_up": primary}
