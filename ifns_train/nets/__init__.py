"""Backbones: plain nn.Modules mapping inputs to raw outputs, swappable under any family.

- `backbones.py`: `model.backbone`: feed-forward over a row or a flattened window, or sequence.
- `sequence.py`: a GRU and a causal TCN over a lookback window; step t sees only rows <= t.
"""
