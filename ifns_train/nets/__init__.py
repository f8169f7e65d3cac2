"""Backbones: plain nn.Modules mapping inputs to raw outputs, swappable under any family."""
