"""Sequence backbones over a lookback window of rows: a GRU and a causal TCN.

Both take windows of shape (batch, lookback, n_features), oldest row first, the last row being
the row predicted, and return (batch, n_outputs) read off the last time step. Both also expose
`sequence(x)`, the per-step outputs (batch, lookback, n_outputs): step t only ever sees rows
<= t, which is what makes them safe to feed windows that end at the predicted row.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _as_window(x: torch.Tensor) -> torch.Tensor:
    """A (batch, features) row is a window of length 1; anything else must be 3-D."""
    if x.dim() == 2:
        return x.unsqueeze(1)
    if x.dim() != 3:
        raise ValueError(f"expected (batch, lookback, features), got shape {tuple(x.shape)}")
    return x


class GRUBackbone(nn.Module):
    """A batch-first GRU over the window with a linear head on its per-step output.

    A GRU is causal by construction and sees the whole window, however long; its cost is
    sequential in the lookback.
    """

    def __init__(
        self, n_features: int, n_outputs: int, *, hidden_size: int, num_layers: int, dropout: float
    ) -> None:
        super().__init__()
        # nn.GRU only drops out between stacked layers (and warns if asked with one layer).
        self.gru = nn.GRU(
            n_features,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.head = nn.Linear(hidden_size, n_outputs)

    def sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Per-step outputs (batch, lookback, n_outputs); step t depends on rows <= t only."""
        out, _ = self.gru(_as_window(x))
        return self.head(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(_as_window(x))
        return self.head(out[:, -1])


class CausalConv1d(nn.Conv1d):
    """Conv1d padded on the left only, so output step t reads input steps <= t."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.left_pad = (kernel_size - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left_pad, 0)))


class TemporalBlock(nn.Module):
    """Two causal dilated convs (GELU, dropout) plus a residual; 1x1 conv when widths differ."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, dilation: int, dropout: float
    ) -> None:
        super().__init__()
        self.net = nn.Sequential(
            CausalConv1d(in_channels, out_channels, kernel_size, dilation),
            nn.GELU(),
            nn.Dropout(dropout),
            CausalConv1d(out_channels, out_channels, kernel_size, dilation),
            nn.GELU(),
            nn.Dropout(dropout),
        )
        self.residual: nn.Module = (
            nn.Conv1d(in_channels, out_channels, 1)
            if in_channels != out_channels
            else nn.Identity()
        )
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.net(x) + self.residual(x))


class TCNBackbone(nn.Module):
    """A temporal convolutional network: causal dilated conv blocks, dilation 1, 2, 4, ...

    Block i has two causal convs of kernel k and dilation 2**i, so the last output sees

        receptive_field = 1 + 2 * (k - 1) * (2**n_blocks - 1)

    rows (13 for k=3, the kernel `build_backbone` gives, and two blocks; 29 for three; 61 for
    four). Rows of the window older than that are IGNORED: a lookback above the receptive field
    only costs compute, and a longer memory needs more blocks, not a longer lookback. A lookback
    below it is fine: each conv zero-pads its own input on the left (hidden activations
    included), so the output is simply that of a shorter history, not that of the window
    preceded by zero rows.
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        *,
        channels: list[int] | tuple[int, ...],
        kernel_size: int,
        dropout: float,
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width = n_features
        for i, size in enumerate(channels):
            blocks.append(TemporalBlock(width, size, kernel_size, 2**i, dropout))
            width = size
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(width, n_outputs)
        self.kernel_size = kernel_size
        self.receptive_field = receptive_field(kernel_size, len(channels))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Per-step hidden channels (batch, channels, lookback)."""
        return self.blocks(_as_window(x).transpose(1, 2))

    def sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Per-step outputs (batch, lookback, n_outputs); step t depends on rows
        t - receptive_field + 1 .. t only."""
        return self.head(self.features(x).transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)[:, :, -1])


def receptive_field(kernel_size: int, n_blocks: int) -> int:
    """Rows seen by the last output of a TCN of `n_blocks` two-conv blocks, dilation 2**i."""
    return 1 + 2 * (kernel_size - 1) * (2**n_blocks - 1)
