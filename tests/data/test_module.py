"""The fast data path: strided lookback windows and index-sliced batches."""

from __future__ import annotations

import torch

from ifns_train.data.module import IndexBatches, lookback_windows


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
