"""Backbones named by `model.backbone`: feed-forward over one row or a flattened window of rows,
or sequence models (GRU, causal TCN) over the window read at its last row."""

from __future__ import annotations

from torch import nn

from ifns_train.core.errors import ConfigError
from ifns_train.nets.sequence import GRUBackbone, TCNBackbone

BACKBONES = ("linear", "mlp", "gru", "tcn")
# Backbones that read the window as a sequence and so need model.lookback >= 2.
SEQUENCE_BACKBONES = frozenset({"gru", "tcn"})

TCN_KERNEL_SIZE = 3


def build_backbone(
    name: str,
    n_features: int,
    n_outputs: int,
    *,
    lookback: int,
    hidden_sizes: list[int] | tuple[int, ...],
    dropout: float,
) -> nn.Module:
    """The backbone named by `model.backbone`; inputs are (batch, features) or
    (batch, lookback, features), outputs (batch, n_outputs). `lookback`, `hidden_sizes` and
    `dropout` are the `model` keys (no default here: the config holds them).

    mlp: one hidden layer per entry of hidden_sizes. gru: hidden size hidden_sizes[0], one
    layer per entry (later entries only count layers). tcn: one causal block per entry of
    hidden_sizes (channels), kernel `TCN_KERNEL_SIZE`, dilation 1, 2, 4, ...; see
    `TCNBackbone` for its receptive field. linear ignores hidden_sizes and dropout.
    """
    if name not in BACKBONES:
        raise ConfigError(f"unknown model.backbone {name!r} (known: {', '.join(BACKBONES)})")
    sizes = list(hidden_sizes)
    if name != "linear" and any(size <= 0 for size in sizes):
        raise ConfigError(f"model.hidden_sizes must all be positive, got {sizes}")
    if name in SEQUENCE_BACKBONES and lookback < 2:
        raise ConfigError(
            f"backbone {name} reads a window of rows: model.lookback must be >= 2, got {lookback}"
        )
    n_in = n_features * lookback
    if name == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(n_in, n_outputs))
    if not sizes:
        raise ConfigError(f"model.hidden_sizes must name at least one layer for backbone {name}")
    if name == "mlp":
        layers: list[nn.Module] = [nn.Flatten()]
        width = n_in
        for size in sizes:
            layers += [nn.Linear(width, size), nn.GELU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, n_outputs))
        return nn.Sequential(*layers)
    if name == "gru":
        return GRUBackbone(
            n_features,
            n_outputs,
            hidden_size=sizes[0],
            num_layers=len(sizes),
            dropout=dropout,
        )
    return TCNBackbone(
        n_features,
        n_outputs,
        channels=sizes,
        kernel_size=TCN_KERNEL_SIZE,
        dropout=dropout,
    )


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
