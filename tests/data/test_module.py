"""The fast data path: strided lookback windows and index-sliced batches."""

from __future__ import annotations

import pytest
import torch

from ifns_train.data.module import IndexBatches, PanelDataModule, lookback_windows


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
def _resolved(registry, lookback: int):
    from ifns_train.data.resolve import resolve

    return resolve(
        registry,
        dataset_ids=dict.fromkeys(("train", "val", "test"), "DS_DEMO_CORE_V1"),
        windows=None,
        feature_families=["Feature_TREND_MTF_V1"],
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
