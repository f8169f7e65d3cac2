"""Feed-forward backbones over one row or a flattened lookback window of rows."""

from __future__ import annotations

from torch import nn

from ifns_train.errors import ConfigError


def build_backbone(
    name: str,
    n_features: int,
    n_outputs: int,
    *,
    lookback: int = 1,
    hidden_sizes: list[int] | tuple[int, ...] = (),
    dropout: float = 0.0,
) -> nn.Module:
    """The backbone named by `model.backbone`; inputs are (batch, features) or
    (batch, lookback, features)."""
    n_in = n_features * lookback
    if name == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(n_in, n_outputs))
    if name == "mlp":
        if not hidden_sizes:
            raise ConfigError("model.hidden_sizes must name at least one layer for backbone mlp")
        layers: list[nn.Module] = [nn.Flatten()]
        width = n_in
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.GELU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, n_outputs))
        return nn.Sequential(*layers)
    raise ConfigError(f"unknown model.backbone {name!r} (known: linear, mlp)")

def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
