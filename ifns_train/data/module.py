"""Tensors and batches: rows become contiguous tensors once, batches are index slices.

A per-sample `Dataset.__getitem__` + collate costs more than the model on tabular data; here a
batch is one gather `features[rows[i:i + b]]`. Lookback windows of past rows per symbol are a
strided view over the symbol-major table, so a batch of windows is one gather as well.
"""

from __future__ import annotations

from collections.abc import Iterator

import lightning.pytorch as pl
import torch

from ifns_train.data.resolve import ResolvedData, Split


def lookback_windows(features: torch.Tensor, lookback: int) -> torch.Tensor:
    """View of shape (rows - lookback + 1, lookback, n_features): window i ends at row i+L-1.

    Rows are symbol-major, so the caller only uses windows whose first row is of the same
    symbol (history >= lookback - 1); the view itself copies nothing.
    """
    rows, width = features.shape
    return features.as_strided((rows - lookback + 1, lookback, width), (width, width, 1))


class IndexBatches:
    """An iterable of (x, y) batches drawn by index slicing from shared tensors.

    Shuffling uses its own generator seeded from (seed, epoch), so batches are the same on every
    run of the same config, whatever else consumed random numbers. Under DDP each rank takes a
    strided shard of the permutation, all of equal length.
    """

    def __init__(
        self,
        source: torch.Tensor,
        rows: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.source, self.rows, self.labels = source, rows, labels
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def _order(self) -> torch.Tensor:
        n = len(self.rows)
        if not self.shuffle:
            return torch.arange(n)
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(n, generator=gen)
        usable = n - n % self.world_size
        return order[self.rank : usable : self.world_size]

    def __len__(self) -> int:
        n = len(self.rows) // self.world_size if self.shuffle else len(self.rows)
        return (n + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self._order()
        self.epoch += 1
        if not self.shuffle:
            # In order: contiguous slices of `rows`, no permutation gather.
            for start in range(0, len(order), self.batch_size):
                idx = self.rows[start : start + self.batch_size]
                yield self.source[idx], self.labels[start : start + self.batch_size]
            return
        for start in range(0, len(order), self.batch_size):
            pick = order[start : start + self.batch_size]
            yield self.source[self.rows[pick]], self.labels[pick]


class PanelDataModule(pl.LightningDataModule):
    """Serves the resolved splits; `test_dataloader` yields validation then test, in order."""

    def __init__(
        self, data: ResolvedData, batch_size: int, seed: int, eval_batch_size: int = 16384
    ) -> None:
        super().__init__()
        self.data = data
        self.batch_size, self.eval_batch_size, self.seed = batch_size, eval_batch_size, seed
        self._tensors: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def _split_tensors(self, split: Split) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if split.name not in self._tensors:
            table = split.table
            feats = torch.from_numpy(table.features)
            rows = torch.from_numpy(split.rows)
            lookback = self.data.lookback
            if lookback > 1:
                feats, rows = lookback_windows(feats, lookback), rows - (lookback - 1)
            labels = torch.from_numpy(table.label[split.rows].copy())
            self._tensors[split.name] = (feats, rows, labels)
        return self._tensors[split.name]

    def _batches(self, name: str, train: bool = False) -> IndexBatches:
        feats, rows, labels = self._split_tensors(self.data.splits[name])
        trainer = self.trainer
        return IndexBatches(
            feats,
            rows,
            labels,
            self.batch_size if train else self.eval_batch_size,
            shuffle=train,
            seed=self.seed,
            rank=trainer.global_rank if (train and trainer) else 0,
            world_size=trainer.world_size if (train and trainer) else 1,
        )

    def train_dataloader(self) -> IndexBatches:
        return self._batches("train", train=True)

    def val_dataloader(self) -> IndexBatches:
        return self._batches("val")

    def test_dataloader(self) -> list[IndexBatches]:
        return [self._batches("val"), self._batches("test")]
