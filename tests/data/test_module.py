"""The fast data path: strided lookback windows and index-sliced batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ifns_train.data.chunks import ChunkedOrder
from ifns_train.data.demo import write_demo
from ifns_train.data.module import (
    ChunkedBatches,
    IndexBatches,
    PanelDataModule,
    encode,
    lookback_windows,
)


def test_lookback_window_is_a_view_of_past_rows() -> None:
    feats = torch.arange(24, dtype=torch.float32).reshape(8, 3)
    view = lookback_windows(feats, 3)
    assert view.shape == (6, 3, 3)
    assert view.data_ptr() == feats.data_ptr()  # a view: nothing copied
    # The window ending at row 4 holds rows 2, 3, 4 in time order.
    assert view[4 - 2].tolist() == [feats[2].tolist(), feats[3].tolist(), feats[4].tolist()]
    feats[3, 0] = -1.0
    assert view[2, 1, 0] == -1.0


def test_batches_cover_each_row_once_in_a_reproducible_order() -> None:
    source = torch.arange(100, dtype=torch.float32).unsqueeze(1)
    rows = torch.arange(10, 60)
    labels = rows.float() * 10
    batches = IndexBatches(source, rows, labels, 16, shuffle=True, seed=3)
    assert len(batches) == 4
    epoch1 = [(x.squeeze(1), y) for x, _, y in batches]
    seen = torch.cat([x for x, _ in epoch1])
    assert sorted(seen.tolist()) == list(range(10, 60))
    for x, y in epoch1:  # features and labels stay paired
        assert torch.equal(y, x * 10)
    epoch2 = torch.cat([x.squeeze(1) for x, _, _ in batches])
    assert not torch.equal(seen, epoch2)  # a new order each epoch ...
    again = IndexBatches(source, rows, labels, 16, shuffle=True, seed=3)
    assert torch.equal(torch.cat([x.squeeze(1) for x, _, _ in again]), seen)  # ... the same per run


def test_ranks_take_disjoint_equal_shards() -> None:
    source = torch.arange(50, dtype=torch.float32).unsqueeze(1)
    rows, labels = torch.arange(50), torch.zeros(50)
    shards = [
        torch.cat([x.squeeze(1) for x, _, _ in IndexBatches(source, rows, labels, 8, shuffle=True,
                                                             seed=1, rank=r, world_size=2)])
        for r in (0, 1)
    ]
    assert len(shards[0]) == len(shards[1]) == 25
    assert not set(shards[0].tolist()) & set(shards[1].tolist())


def test_evaluation_batches_keep_row_order() -> None:
    source = torch.arange(20, dtype=torch.float32).unsqueeze(1)
    rows = torch.tensor([3, 7, 8, 15, 19])
    out = torch.cat([x.squeeze(1) for x, _, _ in IndexBatches(source, rows, rows.float(), 2)])
    assert out.tolist() == [3.0, 7.0, 8.0, 15.0, 19.0]


def test_windows_and_codes_follow_the_same_rows() -> None:
    feats = torch.arange(10, dtype=torch.float32).unsqueeze(1)  # row i holds value i
    view = lookback_windows(feats, 3)
    codes = torch.arange(100, 110).unsqueeze(1)
    rows = torch.tensor([2, 5, 9])
    (x, cat, y), = list(IndexBatches(view, rows, rows.float(), 8, codes=codes, shift=2))
    assert x.squeeze(-1).tolist() == [[0, 1, 2], [3, 4, 5], [7, 8, 9]]  # ends at its own row
    assert cat.squeeze(-1).tolist() == [102, 105, 109]
    assert y.tolist() == [2.0, 5.0, 9.0]


def test_compact_split_gives_the_same_batches_as_indexing_the_table() -> None:
    table = torch.randn(40, 3)
    codes = torch.arange(40).unsqueeze(1)
    rows = torch.tensor([1, 4, 5, 9, 12, 20, 21, 33, 38])
    labels = torch.arange(len(rows), dtype=torch.float32)
    kwargs = {"shuffle": True, "seed": 5}
    through_rows = list(IndexBatches(table, rows, labels, 4, codes=codes, **kwargs))
    compact = list(IndexBatches(table[rows], None, labels, 4, codes=codes[rows], **kwargs))
    assert len(through_rows) == len(compact) == 3
    for (x1, c1, y1), (x2, c2, y2) in zip(through_rows, compact, strict=True):
        assert torch.equal(x1, x2) and torch.equal(c1, c2) and torch.equal(y1, y2)


# --- device-resident splits (`dataset.device_resident`) ----------------------------------------
def _resolved(registry, lookback: int, dataset_id: str = "DS_DEMO_CORE_V1",
              feature_families: tuple[str, ...] = ("Feature_TREND_MTF_V1",)):
    from ifns_train.data.resolve import resolve

    return resolve(
        registry,
        dataset_ids=dict.fromkeys(("train", "val", "test"), dataset_id),
        windows=None,
        feature_families=list(feature_families),
        label_family="Label_Direction_Horizon_20d_V1",
        horizon_days=20,
        context_columns=["regime_tag"],
        lookback=lookback,
    )


def _epochs(dm, name: str, device: str | None = None) -> list[list[tuple]]:
    batches = dm._batches(name, train=name == "train")
    epochs = []
    for _ in range(2):  # two shuffles
        epoch = []
        for x, cat, y in batches:
            if device is not None:
                assert x.device.type == y.device.type == device
            epoch.append((x.cpu(), None if cat is None else cat.cpu(), y.cpu()))
        epochs.append(epoch)
    return epochs


def _assert_same(a: list[list[tuple]], b: list[list[tuple]]) -> None:
    assert len(a) == len(b)
    for ea, eb in zip(a, b, strict=True):
        assert len(ea) == len(eb) > 0
        for ba, bb in zip(ea, eb, strict=True):
            for ta, tb in zip(ba, bb, strict=True):
                assert (ta is None and tb is None) or torch.equal(ta, tb)


@pytest.mark.parametrize("lookback", [1, 4])
def test_resident_splits_give_the_same_batches(registry, lookback: int) -> None:
    data = _resolved(registry, lookback)
    vocab = {"regime_tag": sorted(set(data.splits["train"].context["regime_tag"].tolist()))}
    host = PanelDataModule(data, batch_size=97, seed=3, vocab=vocab, device_resident=False)
    # The resident path (moves, device permutation, windows made on the device), on the CPU.
    resident = PanelDataModule(data, batch_size=97, seed=3, vocab=vocab, device_resident=True,
                               device="cpu")
    assert resident.resident_device() == torch.device("cpu")
    for name in ("train", "val", "test"):
        _assert_same(_epochs(host, name), _epochs(resident, name))
    assert resident.placement == dict.fromkeys(("train", "val", "test"), "cpu")


def test_auto_keeps_the_splits_on_the_host_without_a_gpu(registry) -> None:
    dm = PanelDataModule(_resolved(registry, 1), batch_size=64, seed=0)
    assert dm.device_resident == "auto" and dm.resident_device() is None
    dm._batches("train", train=True)
    assert dm.placement == {"train": "cpu"}
    with pytest.raises(ValueError, match="device_resident"):
        PanelDataModule(_resolved(registry, 1), batch_size=64, seed=0, device_resident="yes")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("lookback", [1, 4])
def test_resident_splits_on_a_gpu_give_the_host_batches(registry, lookback: int) -> None:
    data = _resolved(registry, lookback)
    host = PanelDataModule(data, batch_size=97, seed=3, device_resident=False)
    gpu = PanelDataModule(data, batch_size=97, seed=3, device_resident="auto", device="cuda")
    for name in ("train", "val"):
        _assert_same(_epochs(host, name), _epochs(gpu, name, device="cuda"))
    assert gpu.placement["train"].startswith("cuda")


# --- chunked order (`dataset.shuffle_buffer_mb`) -----------------------------------------------
TABLE_ROWS = 60_000


def _table() -> np.ndarray:
    """Row i holds (i, -i): a batch shows which table rows it was gathered from."""
    i = np.arange(TABLE_ROWS, dtype=np.float32)
    return np.stack([i, -i], axis=1)


def _split_rows() -> np.ndarray:
    """A split's sorted rows: gaps where other splits' rows lie, two rows of history first."""
    i = np.arange(2, TABLE_ROWS)
    return i[i % 7 != 3]


def _chunked(features: np.ndarray, rows: np.ndarray, lookback: int = 1, *, rank: int = 0,
             world_size: int = 1) -> ChunkedBatches:
    """Batches of 1000 rows, a buffer of 20,000 table rows: two chunks of 8192 split rows
    (each spanning about 9,560 table rows) make a group."""
    order = ChunkedOrder(features, rows, shift=lookback - 1, buffer_rows=20_000, seed=3,
                         rank=rank, world_size=world_size)
    labels = torch.from_numpy(rows.astype(np.float32) * 10)
    codes = torch.arange(TABLE_ROWS).unsqueeze(1) + 1000
    return ChunkedBatches(order, labels, 1000, codes=codes)


def _drawn(epoch: list[tuple]) -> list[int]:
    """The table rows of an epoch's batches, in order (from the labels: 10 x the row)."""
    return [int(v) // 10 for _, _, y in epoch for v in y.tolist()]


def test_chunked_order_draws_each_row_once_an_epoch() -> None:
    features, rows = _table(), _split_rows()
    batches = _chunked(features, rows)
    assert len(rows) == 51_427 and not batches.order.fits
    # Chunks of 8192 rows and their history.
    assert batches.order.spans.tolist() == [9558, 9557, 9557, 9558, 9557, 9557, 2654]
    # Permuted chunks taken in order until the next would overflow 20,000 rows, each sorted.
    assert [g.tolist() for g in batches.order.groups(0)] == [[1, 3], [0, 6], [2, 5], [4]]
    first = list(batches)
    assert batches.batching["groups"] == 4
    second = list(batches)
    assert len(batches) == len(first) == len(second) == 52
    assert [len(y) for _, _, y in first] == [1000] * 51 + [427]  # full batches across groups
    for epoch in (first, second):
        assert sorted(_drawn(epoch)) == rows.tolist()
        for x, cat, y in epoch:  # features, codes and labels of the same rows
            assert torch.equal(x[:, 0] * 10, y) and torch.equal(x[:, 1], -x[:, 0])
            assert torch.equal(cat[:, 0], x[:, 0].long() + 1000)
    assert _drawn(first) != _drawn(second)  # a new order each epoch ...
    again = _chunked(features, rows)
    assert _drawn(list(again)) == _drawn(first)  # ... the same on every run
    # Shuffled within a group: the first batch mixes the rows of its group's two chunks.
    chunks = {int(np.searchsorted(rows, r)) // 8192 for r in _drawn(first[:1])}
    assert chunks == {1, 3}
    assert _drawn(first[:1]) != sorted(_drawn(first[:1]))


@pytest.mark.parametrize("lookback", [1, 3])
def test_chunked_windows_are_the_tables_from_an_array_and_a_memmap(tmp_path: Path,
                                                                   lookback: int) -> None:
    features, rows = _table(), _split_rows()
    np.save(tmp_path / "features.npy", features)
    mapped = np.load(tmp_path / "features.npy", mmap_mode="c")
    assert isinstance(mapped, np.memmap)
    table = torch.from_numpy(features)
    full = table if lookback == 1 else lookback_windows(table, lookback)
    from_array, from_map = list(_chunked(features, rows, lookback)), \
        list(_chunked(mapped, rows, lookback))
    assert len(from_array) == len(from_map) == 52
    for (x, cat, y), (xm, catm, ym) in zip(from_array, from_map, strict=True):
        assert torch.equal(x, xm) and torch.equal(cat, catm) and torch.equal(y, ym)
        drawn = (y / 10).long()
        assert torch.equal(x, full[drawn - (lookback - 1)])
    if lookback == 3:  # the window ending at row r holds rows r-2, r-1, r
        x, _, y = from_array[0]
        assert x[0, :, 0].tolist() == [y[0] / 10 - 2, y[0] / 10 - 1, y[0] / 10]


def test_chunked_ranks_take_disjoint_equal_shares() -> None:
    features, rows = _table(), _split_rows()
    shards = [_chunked(features, rows, rank=r, world_size=3) for r in range(3)]
    assert shards[0].order.size == 8190  # full chunks share evenly among 3 processes
    drawn = [_drawn(list(s)) for s in shards]
    assert [len(d) for d in drawn] == [len(rows) // 3] * 3 == [17_142] * 3
    assert [len(s) for s in shards] == [18] * 3
    assert len(set().union(*drawn)) == 3 * 17_142  # disjoint; one row (the remainder) left
    assert set().union(*drawn) <= set(rows.tolist())


@pytest.mark.parametrize("lookback", [1, 4])
def test_a_split_that_fits_the_buffer_keeps_one_permutation(registry, lookback: int) -> None:
    data = _resolved(registry, lookback)
    dm = PanelDataModule(data, batch_size=97, seed=3)
    batches = dm._batches("train", train=True)
    assert isinstance(batches, IndexBatches)
    assert dm.batching == {"train": {"order": "permutation", "compact": lookback == 1}}
    split = data.splits["train"]
    table = torch.from_numpy(split.table.features)
    full = table if lookback == 1 else lookback_windows(table, lookback)
    for epoch in range(2):
        order = torch.randperm(len(split.rows),
                               generator=torch.Generator().manual_seed(3 * 100_003 + epoch))
        rows = torch.from_numpy(split.rows)[order]
        epoch_batches = list(batches)
        x, y = torch.cat([b[0] for b in epoch_batches]), torch.cat([b[2] for b in epoch_batches])
        assert torch.equal(x, full[rows - (lookback - 1)])
        assert torch.equal(y, torch.from_numpy(split.label)[order])


@pytest.fixture(scope="module")
def big_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A panel of 120,960 rows: with 16 features (`_big`), its train split (71,616 rows)
    spans more than a 1 MiB buffer (16,384 rows), and so do its val and test splits (23,232
    rows each)."""
    root = tmp_path_factory.mktemp("big_registry")
    write_demo(root, dataset_id="DS_BIG_V1", n_symbols=48, n_years=10.0)
    return root


def _big(registry: Path, lookback: int):
    return _resolved(registry, lookback, "DS_BIG_V1",
                     ("Feature_TREND_MTF_V1", "Feature_VOL_LIQ_V1"))


def _sorted_rows(a: np.ndarray) -> np.ndarray:
    return a[np.lexsort(a.T[::-1])]


@pytest.mark.parametrize("lookback", [1, 3])
def test_a_train_split_over_the_buffer_is_drawn_in_chunked_order_on_the_host(
        big_registry: Path, lookback: int) -> None:
    data = _big(big_registry, lookback)
    vocab = {"regime_tag": sorted(set(data.splits["train"].context["regime_tag"].tolist()))}
    # The resident path on the CPU: a split in chunked order stays on the host all the same.
    dm = PanelDataModule(data, batch_size=4096, seed=3, vocab=vocab, device_resident=True,
                         device="cpu", shuffle_buffer_mb=1)
    batches = dm._batches("train", train=True)
    assert isinstance(batches, ChunkedBatches) and len(batches) == 18
    epoch = list(batches)
    assert dm.batching["train"] == {"order": "chunked", "compact": False, "chunk_rows": 8192,
                                    "buffer_rows": 16_384, "groups": 9}
    assert dm.placement == {"train": "cpu"}
    assert list(dm._tables) == [("DS_BIG_V1", "None")]  # the table was not moved
    split = data.splits["train"]
    table = torch.from_numpy(split.table.features)
    full = table if lookback == 1 else lookback_windows(table, lookback)
    expected = full[torch.from_numpy(split.rows) - (lookback - 1)].reshape(len(split.rows), -1)
    codes = encode(split.context["regime_tag"], vocab["regime_tag"])
    # Each row once, with its own code and label: the same (window, code, label) as the split's.
    got = np.concatenate([np.column_stack([x.reshape(len(x), -1), cat, y])
                          for x, cat, y in epoch])
    want = np.column_stack([expected, codes, split.label])
    assert np.array_equal(_sorted_rows(got), _sorted_rows(want))


def test_evaluation_over_the_buffer_is_read_from_the_table_in_order(big_registry: Path) -> None:
    data = _big(big_registry, 1)
    vocab = {"regime_tag": sorted(set(data.splits["train"].context["regime_tag"].tolist()))}
    small = PanelDataModule(data, batch_size=97, seed=3, vocab=vocab, eval_batch_size=5000,
                            shuffle_buffer_mb=1)
    large = PanelDataModule(data, batch_size=97, seed=3, vocab=vocab, eval_batch_size=5000)
    for name in ("val", "test"):
        _assert_same(_epochs(small, name), _epochs(large, name))  # the copied-out batches
        split = data.splits[name]
        x = torch.cat([x for x, _, _ in small._batches(name)])
        assert torch.equal(x, torch.from_numpy(split.table.features[split.rows]))
    assert small.batching["val"] == {"order": "in order", "compact": False}
    assert large.batching["val"] == {"order": "in order", "compact": True}
