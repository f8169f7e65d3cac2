"""Backbones: shapes, causality of the sequence models, the TCN's receptive field, errors and
determinism."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

from ifns_train.core.errors import ConfigError
from ifns_train.nets.backbones import (
    BACKBONES,
    SEQUENCE_BACKBONES,
    build_backbone,
    parameter_count,
)
from ifns_train.nets.sequence import GRUBackbone, TCNBackbone, receptive_field
from tests.defaults import backbone_kwargs

BATCH, LOOKBACK, FEATURES = 5, 7, 4
SIZES = {"linear": [], "mlp": [16, 8], "gru": [12, 12], "tcn": [8, 16]}


def _build(name: str, *, lookback: int = LOOKBACK, n_outputs: int = 3, **kw) -> torch.nn.Module:
    """The test's own small nets, without dropout unless asked (deterministic outputs)."""
    kw.setdefault("hidden_sizes", SIZES[name])
    kw.setdefault("dropout", 0.0)
    return build_backbone(name, FEATURES, n_outputs, lookback=lookback, **kw)


def _windows(lookback: int, batch: int = BATCH, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, lookback, FEATURES, generator=g)


@contextmanager
def _deterministic_algorithms() -> Iterator[None]:
    """Deterministic algorithms on (erroring, not warning), the previous setting restored after."""
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


@pytest.fixture
def deterministic() -> Iterator[None]:
    with _deterministic_algorithms():
        yield


# --- shapes --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BACKBONES)
def test_window_output_shape(name: str) -> None:
    net = _build(name)
    assert net(_windows(LOOKBACK)).shape == (BATCH, 3)
    assert parameter_count(net) > 0


@pytest.mark.parametrize("name", ["linear", "mlp"])
def test_single_row_output_shape(name: str) -> None:
    net = _build(name, lookback=1)
    assert net(torch.randn(BATCH, FEATURES)).shape == (BATCH, 3)


@pytest.mark.parametrize("name", ["linear", "mlp"])
def test_feed_forward_flattens_the_window(name: str) -> None:
    """The input layer spans every row of the window, so the oldest row matters too."""
    net = _build(name).eval()
    assert net[1].in_features == LOOKBACK * FEATURES
    x = _windows(LOOKBACK)
    moved = x.clone()
    moved[:, 0] += 1.0
    assert not torch.allclose(net(x), net(moved))


@pytest.mark.parametrize("name", sorted(SEQUENCE_BACKBONES))
def test_sequence_shape_and_last_step(name: str) -> None:
    net = _build(name).eval()
    x = _windows(LOOKBACK)
    seq = net.sequence(x)
    assert seq.shape == (BATCH, LOOKBACK, 3)
    torch.testing.assert_close(net(x), seq[:, -1])


def test_sizes_follow_hidden_sizes() -> None:
    # No size of its own: the config's model.hidden_sizes is the one place (conf/model/*.yaml).
    gru = _build("gru", hidden_sizes=[32])
    assert isinstance(gru, GRUBackbone)
    assert (gru.gru.hidden_size, gru.gru.num_layers) == (32, 1)
    tcn = _build("tcn", hidden_sizes=[32, 32])
    assert isinstance(tcn, TCNBackbone)
    assert len(tcn.blocks) == 2 and tcn.head.in_features == 32
    assert tcn.receptive_field == 13


def test_gru_layers_follow_hidden_sizes() -> None:
    gru = _build("gru", hidden_sizes=[24, 24, 24], dropout=0.2)
    assert (gru.gru.hidden_size, gru.gru.num_layers, gru.gru.dropout) == (24, 3, 0.2)


# --- causality -----------------------------------------------------------------------------
def _check_causal(net: torch.nn.Module, t: int, window: int) -> None:
    """Per-step output t ignores rows > t and depends on every row in (t - window, t]."""
    net.eval()
    x = _windows(LOOKBACK + 6)
    base = net.sequence(x)[:, t]
    with torch.no_grad():
        future = x.clone()
        future[:, t + 1 :] += torch.randn_like(future[:, t + 1 :]) * 3.0
        assert torch.equal(net.sequence(future)[:, t], base), "output at t saw a later row"
        for s in range(max(0, t - window + 1), t + 1):
            past = x.clone()
            past[:, s] += 1.0
            changed = (net.sequence(past)[:, t] - base).abs().max()
            assert changed > 1e-6, f"output at t={t} ignores row {s}"


@pytest.mark.parametrize("t", [0, 4, 9])
def test_tcn_is_causal(t: int) -> None:
    torch.manual_seed(0)
    net = _build("tcn", lookback=LOOKBACK + 6)
    _check_causal(net, t, net.receptive_field)


@pytest.mark.parametrize("t", [0, 4, 9])
def test_gru_is_causal(t: int) -> None:
    torch.manual_seed(0)
    net = _build("gru", lookback=LOOKBACK + 6)
    _check_causal(net, t, window=t + 1)


# --- receptive field -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("channels", "kernel_size", "expected"),
    [([8], 3, 5), ([8, 8], 3, 13), ([4, 8, 8], 3, 29), ([8, 8], 2, 7), ([6, 6, 6], 5, 57)],
)
def test_tcn_receptive_field_holds(channels: list[int], kernel_size: int, expected: int) -> None:
    torch.manual_seed(1)
    net = TCNBackbone(FEATURES, 2, channels=channels, kernel_size=kernel_size, dropout=0.0).eval()
    rf = net.receptive_field
    assert rf == expected == receptive_field(kernel_size, len(channels))
    lookback = rf + 4
    x = _windows(lookback)
    base = net(x)
    with torch.no_grad():
        outside, inside = x.clone(), x.clone()
        outside[:, : lookback - rf] += 5.0  # every row older than the field
        inside[:, lookback - rf] += 1.0  # the oldest row within it
        assert torch.equal(net(outside), base)
        assert (net(inside) - base).abs().max() > 1e-6


# --- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SEQUENCE_BACKBONES))
def test_sequence_backbones_refuse_lookback_one(name: str) -> None:
    with pytest.raises(ConfigError, match=r"model\.lookback"):
        _build(name, lookback=1)


def test_unknown_backbone_lists_known() -> None:
    with pytest.raises(ConfigError, match="transformer") as info:
        build_backbone("transformer", FEATURES, 1, **backbone_kwargs())
    for name in BACKBONES:
        assert name in str(info.value)


@pytest.mark.parametrize("name", ["mlp", "gru", "tcn"])
def test_hidden_sizes_must_name_a_layer(name: str) -> None:
    # No fallback size for an empty list: the config names the layers.
    with pytest.raises(ConfigError, match=rf"model\.hidden_sizes must name .* {name}"):
        _build(name, hidden_sizes=[])


@pytest.mark.parametrize("name", ["mlp", "gru", "tcn"])
def test_non_positive_hidden_size_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=r"model\.hidden_sizes"):
        _build(name, hidden_sizes=[8, 0])


# --- determinism ---------------------------------------------------------------------------
def _forward_backward(name: str, seed: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    torch.manual_seed(seed)
    net = _build(name, dropout=0.1)
    net.train()  # dropout active: its masks must come from the seeded generator too
    out = net(_windows(LOOKBACK))
    out.square().mean().backward()
    return out.detach(), [p.grad.clone() for p in net.parameters()]


@pytest.mark.parametrize("name", BACKBONES)
def test_same_seed_same_outputs_and_grads(name: str, deterministic: None) -> None:
    assert torch.are_deterministic_algorithms_enabled()
    out_a, grads_a = _forward_backward(name, seed=3)
    out_b, grads_b = _forward_backward(name, seed=3)
    assert torch.equal(out_a, out_b)
    assert len(grads_a) == len(grads_b) > 0
    for a, b in zip(grads_a, grads_b, strict=True):
        assert torch.equal(a, b)
    out_c, _ = _forward_backward(name, seed=4)
    assert not torch.equal(out_a, out_c)


@pytest.mark.parametrize(("enabled", "warn_only"), [(False, False), (True, True), (True, False)])
def test_deterministic_setting_restored(enabled: bool, warn_only: bool) -> None:
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    try:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        with _deterministic_algorithms():
            assert torch.are_deterministic_algorithms_enabled()
            assert not torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.are_deterministic_algorithms_enabled() is enabled
        assert torch.is_deterministic_algorithms_warn_only_enabled() is warn_only
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
