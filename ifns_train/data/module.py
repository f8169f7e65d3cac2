"""Tensors and batches: rows become contiguous tensors once, batches are index slices.

A per-sample `Dataset.__getitem__` + collate costs more than the model on tabular data; here a
batch is one gather `features[rows[i:i + b]]`. Lookback windows of past rows per symbol are a
strided view over the symbol-major table, so a batch of windows is one gather as well.
"""

from __future__ import annotations

from collections.abc import Iterator

import lightning.pytorch as pl
import numpy as np
import torch

from ifns_train.data.resolve import ResolvedData, Split


def lookback_windows(features: torch.Tensor, lookback: int) -> torch.Tensor:
    """View of shape (rows - lookback + 1, lookback, n_features): window i ends at row i+L-1.

    Rows are symbol-major, so the caller only uses windows whose first row is of the same
    symbol (history >= lookback - 1); the view itself copies nothing.
    """
    rows, width = features.shape
    return features.as_strided((rows - lookback + 1, lookback, width), (width, width, 1))


Batch = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]
# The splits a model is evaluated on, in the order of the predict dataloaders.
EVAL_SPLITS = ("val", "test")


class IndexBatches:
    """An iterable of (x, cat, y) batches drawn by index slicing from shared tensors.

    `rows` are positions in the table; `x` comes from `source[rows - shift]` (shift = lookback-1
    when `source` is a window view whose window i ends at row i + shift), `cat` (categorical
    inputs, or None) from `codes[rows]`. With `rows=None`, `source`, `codes` and `labels` are
    already the split's own rows, in order, and a batch is one gather from each. Shuffling uses
    its own generator seeded from (seed, epoch), so batches are the same on every run of the
    same config, whatever else consumed random numbers. Under DDP each rank takes a strided
    shard of the permutation, all of equal length; in order (evaluation), each rank takes a
    contiguous block (`shard_bounds`), so every row is seen exactly once and the blocks of
    ranks 0, 1, ... put together are the split in order. The tensors may live on any one device
    (`PanelDataModule` puts them on the GPU): batches are then gathered there.
    """

    def __init__(
        self,
        source: torch.Tensor,
        rows: torch.Tensor | None,
        labels: torch.Tensor,
        batch_size: int,
        *,
        codes: torch.Tensor | None = None,
        shift: int = 0,
        shuffle: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.source, self.rows, self.labels, self.codes = source, rows, labels, codes
        self.batch_size, self.shift, self.shuffle, self.seed = batch_size, shift, shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def _order(self) -> torch.Tensor | None:
        """The shuffled positions of this epoch and rank; None means in order."""
        if not self.shuffle:
            return None
        n = len(self.labels)
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        # Drawn on the host, whatever the device: the same order on a CPU and a GPU; one copy
        # per epoch moves it to where the tensors live (a no-op on the CPU).
        order = torch.randperm(n, generator=gen).to(self.labels.device)
        usable = n - n % self.world_size
        return order[self.rank : usable : self.world_size]

    def __len__(self) -> int:
        if self.shuffle:
            n = len(self.labels) // self.world_size
        else:
            lo, hi = shard_bounds(len(self.labels), self.rank, self.world_size)
            n = hi - lo
        return (n + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[Batch]:
        order = self._order()
        self.epoch += 1
        lo, hi = (0, len(order)) if order is not None else \
            shard_bounds(len(self.labels), self.rank, self.world_size)
        for start in range(lo, hi, self.batch_size):
            # In order, a batch is a contiguous slice: no permutation gather.
            end = min(start + self.batch_size, hi)
            pick = slice(start, end) if order is None else order[start:end]
            rows = pick if self.rows is None else self.rows[pick]
            cat = None if self.codes is None else self.codes[rows]
            yield self.source[rows - self.shift if self.shift else rows], cat, self.labels[pick]


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """[lo, hi) of rank's contiguous block of n rows in order: sizes differ by at most one,
    none is padded, and every rank gets a row (a rank with no batch would leave the others
    waiting in a collective)."""
    if n < world_size:
        raise ValueError(f"{n} rows cannot be shared among {world_size} processes")
    return n * rank // world_size, n * (rank + 1) // world_size


def encode(values: np.ndarray, vocabulary: list[str]) -> np.ndarray:
    """Codes 1..n for the training vocabulary, 0 for a value unseen in training."""
    lookup = {v: i + 1 for i, v in enumerate(vocabulary)}
    return np.fromiter((lookup.get(v, 0) for v in values), dtype=np.int64, count=len(values))


class PanelDataModule(pl.LightningDataModule):
    """Serves the resolved splits; `predict_dataloader` yields the `EVAL_SPLITS`, in order."""

    def __init__(
        self,
        data: ResolvedData,
        batch_size: int,
        seed: int,
        vocab: dict[str, list[str]] | None = None,
        eval_batch_size: int = 16384,
        device_resident: bool | str = "auto",
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        if device_resident not in ("auto", True, False):
            raise ValueError(f"device_resident must be auto, true or false: {device_resident!r}")
        self.data, self.vocab = data, vocab or {}
        self.batch_size, self.eval_batch_size, self.seed = batch_size, eval_batch_size, seed
        self.device_resident, self._device = device_resident, device
        self._tables: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor | None]] = {}
        # The device each split's tensors were put on, once its batches were built.
        self.placement: dict[str, str] = {}

    def resident_device(self) -> torch.device | None:
        """Where the splits live: the trainer's device when resident (auto: on a GPU), else
        None (the host; batches are copied to the device one by one)."""
        if self.device_resident is False:
            return None
        trainer = self.trainer  # None outside a Trainer (direct use, tests)
        device = torch.device(self._device) if self._device is not None else \
            trainer.strategy.root_device if trainer is not None else torch.device("cpu")
        if self.device_resident == "auto" and device.type != "cuda":
            return None
        return device

    def _table_tensors(self, split: Split, device: torch.device | None
                       ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features (or their window view) and categorical codes of a table, built once per
        device. The window view is made on the device from the table itself: moving a view
        would copy every window."""
        table = split.table
        key = (table.dataset_id, str(device))
        if key not in self._tables:
            feats = torch.from_numpy(table.features)
            codes = None
            if self.vocab:
                codes = torch.from_numpy(np.stack(
                    [encode(table.context[c], v) for c, v in self.vocab.items()], axis=1
                ))
            if device is not None:
                feats = feats.to(device)
                codes = None if codes is None else codes.to(device)
            if self.data.lookback > 1:
                feats = lookback_windows(feats, self.data.lookback)
            self._tables[key] = (feats, codes)
        return self._tables[key]

    def _split_device(self, name: str) -> torch.device | None:
        """The resident device for this split, if its tables fit there (at most half of the
        free memory of a GPU); None keeps it on the host."""
        device = self.resident_device()
        if device is None or device.type != "cuda":
            return device
        split = self.data.splits[name]
        features = split.table.features
        # The table (unless there already), the split's compact copy or its row indices, labels.
        need = 0 if (split.table.dataset_id, str(device)) in self._tables else features.nbytes
        row_bytes = features.itemsize * features.shape[1] if self.data.lookback == 1 else 8
        need += len(split.rows) * row_bytes + split.label.nbytes
        free, _ = torch.cuda.mem_get_info(device)
        return device if need < free // 2 else None

    def _batches(self, name: str, train: bool = False) -> IndexBatches:
        split = self.data.splits[name]
        device = self._split_device(name)
        self.placement[name] = str(device or "cpu")
        feats, codes = self._table_tensors(split, device)
        rows: torch.Tensor | None = torch.from_numpy(split.rows)
        labels = torch.from_numpy(split.label.copy())
        if device is not None:
            rows, labels = rows.to(device), labels.to(device)
        if self.data.lookback == 1:
            # The split's own rows, copied out once: gathering a batch from a compact table is
            # about twice as fast as gathering it from the whole table through `rows`.
            feats, codes = feats[rows], None if codes is None else codes[rows]
            rows = None
        trainer = self.trainer  # under DDP, each rank takes its shard of every split
        return IndexBatches(
            feats,
            rows,
            labels,
            self.batch_size if train else self.eval_batch_size,
            codes=codes,
            shift=self.data.lookback - 1,
            shuffle=train,
            seed=self.seed,
            rank=trainer.global_rank if trainer else 0,
            world_size=trainer.world_size if trainer else 1,
        )

    def transfer_batch_to_device(self, batch: Batch, device: torch.device,
                                 dataloader_idx: int) -> Batch:
        # A batch is always (x, cat or None, y): no generic walk over a collection per step.
        # Batches of resident splits are already there.
        if device.type == "cpu" or batch[0].device == device:
            return batch
        return tuple(None if t is None else t.to(device, non_blocking=True) for t in batch)

    def train_dataloader(self) -> IndexBatches:
        return self._batches("train", train=True)

    def val_dataloader(self) -> IndexBatches:
        return self._batches("val")

    def predict_dataloader(self) -> list[IndexBatches]:
        return [self._batches(name) for name in EVAL_SPLITS]
