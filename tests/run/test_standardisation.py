"""`standardisation`: read in chunks, equal to numpy on the whole float64 split bit for bit."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ifns_train.learners.lightning_build import standardisation


def _features(n: int, width: int) -> np.ndarray:
    """float32 columns of very different scales and offsets (the order of summation shows in
    their float64 sums), a constant column (std 0: scaled by 1) and, from two columns on, one of
    -0.0 only (the sign of its mean depends on where a sum starts)."""
    rng = np.random.default_rng(n * 1000 + width)
    scale = 10.0 ** rng.uniform(-3, 5, size=width)
    x = rng.standard_normal((n, width)) * scale + rng.standard_normal(width) * scale * 50
    x = x.astype(np.float32)
    x[:, 0] = 2.5
    if width > 1:
        x[:, 1] = -0.0
    return x


def _data(features: np.ndarray, rows: np.ndarray) -> SimpleNamespace:
    train = SimpleNamespace(table=SimpleNamespace(features=features), rows=rows)
    return SimpleNamespace(splits={"train": train})


def _numpy(features: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The definition: numpy's mean and std of the whole split as float64."""
    x = features[rows].astype(np.float64)
    std = x.std(axis=0)
    return x.mean(axis=0), np.where(std > 1e-12, std, 1.0)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit for bit: values and the signs of zeros."""
    return a.tobytes() == b.tobytes()


@pytest.mark.parametrize("width", [1, 2, 23])
@pytest.mark.parametrize("n", [1, 2, 1000, 12_345])
@pytest.mark.parametrize("chunk_rows", [1, 7, 999, 20_000])
def test_chunked_statistics_are_numpys_bit_for_bit(n: int, width: int, chunk_rows: int) -> None:
    features = _features(2 * n + 3, width)
    rows = np.sort(np.random.default_rng(n).choice(len(features), n, replace=False))
    mean, std = standardisation(_data(features, rows), chunk_bytes=chunk_rows * 8 * width)
    want_mean, want_std = _numpy(features, rows)
    assert np.array_equal(mean, want_mean) and np.array_equal(std, want_std)
    assert _same(mean, want_mean) and _same(std, want_std)
    assert std[0] == 1.0 and mean[0] == 2.5  # the constant column


def test_the_data_shows_the_order_of_summation() -> None:
    """The case above can fail: summing the chunks' own sums (a different order) gives
    other bits for these columns."""
    features = _features(12_345, 23).astype(np.float64)
    deviations = (features - features.mean(axis=0)) ** 2
    by_chunks = np.sum([c.sum(axis=0) for c in np.array_split(deviations, 13)], axis=0)
    assert not np.array_equal(by_chunks, deviations.sum(axis=0))


def test_a_memory_mapped_table_gives_the_same_statistics(tmp_path: Path) -> None:
    features = _features(50_001, 23)
    np.save(tmp_path / "features.npy", features)
    mapped = np.load(tmp_path / "features.npy", mmap_mode="c")
    rows = np.arange(3, 50_001, 2)
    got = standardisation(_data(mapped, rows), chunk_bytes=4097 * 8 * 23)
    for a, b in zip(got, _numpy(features, rows), strict=True):
        assert _same(a, b)
