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
    shard of the permutation, all of equal length.
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
        order = torch.randperm(n, generator=gen)
        usable = n - n % self.world_size
        return order[self.rank : usable : self.world_size]

    def __len__(self) -> int:
        n = len(self.labels) // self.world_size if self.shuffle else len(self.labels)
        return (n + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[Batch]:
        order = self._order()
        self.epoch += 1
        n = len(self.labels) if order is None else len(order)
        for start in range(0, n, self.batch_size):
            # In order, a batch is a contiguous slice: no permutation gather.
            pick = slice(start, start + self.batch_size) if order is None else \
                order[start : start + self.batch_size]
            rows = pick if self.rows is None else self.rows[pick]
            cat = None if self.codes is None else self.codes[rows]
            yield self.source[rows - self.shift if self.shift else rows], cat, self.labels[pick]


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
    ) -> None:
        super().__init__()
        self.data, self.vocab = data, vocab or {}
        self.batch_size, self.eval_batch_size, self.seed = batch_size, eval_batch_size, seed
        self._tables: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}

    def _table_tensors(self, split: Split) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features (or their window view) and categorical codes of a table, built once."""
        table = split.table
        if table.dataset_id not in self._tables:
            feats = torch.from_numpy(table.features)
            if self.data.lookback > 1:
                feats = lookback_windows(feats, self.data.lookback)
            codes = None
            if self.vocab:
                codes = torch.from_numpy(np.stack(
                    [encode(table.context[c], v) for c, v in self.vocab.items()], axis=1
                ))
            self._tables[table.dataset_id] = (feats, codes)
        return self._tables[table.dataset_id]

    def _batches(self, name: str, train: bool = False) -> IndexBatches:
        split = self.data.splits[name]
        feats, codes = self._table_tensors(split)
        rows: torch.Tensor | None = torch.from_numpy(split.rows)
        if self.data.lookback == 1:
            # The split's own rows, copied out once: gathering a batch from a compact table is
            # about twice as fast as gathering it from the whole table through `rows`.
            feats, codes = feats[rows], None if codes is None else codes[rows]
            rows = None
        trainer = self.trainer if train else None
        return IndexBatches(
            feats,
            rows,
            torch.from_numpy(split.label.copy()),
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
        if device.type == "cpu":
            return batch
        return tuple(None if t is None else t.to(device, non_blocking=True) for t in batch)

    def train_dataloader(self) -> IndexBatches:
        return self._batches("train", train=True)

    def val_dataloader(self) -> IndexBatches:
        return self._batches("val")

    def predict_dataloader(self) -> list[IndexBatches]:
        return [self._batches(name) for name in EVAL_SPLITS]
