"""Tensors and batches: rows become contiguous tensors once, batches are index slices.

A per-sample `Dataset.__getitem__` + collate costs more than the model on tabular data; here a
batch is one gather `features[rows[i:i + b]]`. Lookback windows of past rows per symbol are a
strided view over the symbol-major table, so a batch of windows is one gather as well. A split
bigger than the shuffle buffer (`dataset.shuffle_buffer_mb`) is not copied out: its training
rows are drawn in chunked order (`ifns_train.data.chunks`), its evaluation rows read in order
from the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch

from ifns_train.config.schema import DEVICE_RESIDENT, SHUFFLE_BUFFER_MB
from ifns_train.data.chunks import ChunkedOrder
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
        if rows is None and shift:
            raise ValueError("shift applies to table rows: with rows=None, source already "
                             "holds the split's own rows")
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
            if self.rows is None:  # the split's own rows, no shift (see __init__)
                rows, x = pick, self.source[pick]
            else:
                rows = self.rows[pick]
                x = self.source[rows - self.shift if self.shift else rows]
            cat = None if self.codes is None else self.codes[rows]
            yield x, cat, self.labels[pick]


class ChunkedBatches:
    """(x, cat, y) batches of a split in chunked order, gathered on the host from one group's
    buffer at a time (`ChunkedOrder`). A batch that straddles two groups takes rows from both,
    so an epoch has as many batches as a permutation of the same rows would."""

    def __init__(self, order: ChunkedOrder, labels: torch.Tensor, batch_size: int, *,
                 codes: torch.Tensor | None = None) -> None:
        self.order, self.labels, self.codes, self.batch_size = order, labels, codes, batch_size
        self.rows = torch.from_numpy(order.rows)
        self.epoch = 0
        # How its batches are drawn (`PanelDataModule.batching`); groups: the latest epoch's.
        self.batching: dict[str, Any] = {"order": "chunked", "compact": False,
                                         "chunk_rows": order.size,
                                         "buffer_rows": order.buffer_rows, "groups": 0}

    def __len__(self) -> int:
        return (self.order.rank_rows + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[Batch]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        groups = self.order.groups(epoch)
        self.batching["groups"] = len(groups)
        pieces: list[Batch] = []
        held = 0
        for index, chunks in enumerate(groups):
            buffer, positions, places = self.order.load(chunks, epoch, index)
            gather = self._gatherer(buffer, positions, places)
            start = 0
            while start < len(positions):
                stop = min(len(positions), start + self.batch_size - held)
                pieces.append(gather(start, stop))  # a copy: the next load may overwrite
                held += stop - start
                start = stop
                if held == self.batch_size:
                    yield _join(pieces)
                    pieces, held = [], 0
        if pieces:
            yield _join(pieces)

    def _gatherer(self, buffer: np.ndarray, positions: np.ndarray, places: np.ndarray
                  ) -> Callable[[int, int], Batch]:
        """gather(start, stop): the batch of the group's rows start:stop."""
        shift = self.order.shift
        source = torch.from_numpy(buffer)
        if shift:
            source = lookback_windows(source, shift + 1)
        picks, at = torch.from_numpy(positions), torch.from_numpy(places - shift)

        def gather(start: int, stop: int) -> Batch:
            pick = picks[start:stop]
            cat = None if self.codes is None else self.codes[self.rows[pick]]
            return source[at[start:stop]], cat, self.labels[pick]

        return gather


def _join(pieces: list[Batch]) -> Batch:
    """One batch of consecutive pieces (a lone piece as it is)."""
    if len(pieces) == 1:
        return pieces[0]
    x, cat, y = zip(*pieces, strict=True)
    return torch.cat(x), None if cat[0] is None else torch.cat(cat), torch.cat(y)


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
        device_resident: bool | str = DEVICE_RESIDENT,
        device: torch.device | str | None = None,
        shuffle_buffer_mb: int = SHUFFLE_BUFFER_MB,
    ) -> None:
        super().__init__()
        if device_resident not in ("auto", True, False):
            raise ValueError(f"device_resident must be auto, true or false: {device_resident!r}")
        self.data, self.vocab = data, vocab or {}
        self.batch_size, self.eval_batch_size, self.seed = batch_size, eval_batch_size, seed
        self.device_resident, self._device = device_resident, device
        self.shuffle_buffer_mb = shuffle_buffer_mb
        self._tables: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor | None]] = {}
        # The device each split's tensors were put on, once its batches were built.
        self.placement: dict[str, str] = {}
        # How each split's batches are drawn, once built: its order (permutation, chunked or
        # in order) and whether its rows were copied out of the table (`compact`).
        self.batching: dict[str, dict[str, Any]] = {}

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

    def _split_device(self, name: str, compact: bool) -> torch.device | None:
        """The resident device for this split, if its tables fit there (at most half of the
        free memory of a GPU); None keeps it on the host."""
        device = self.resident_device()
        if device is None or device.type != "cuda":
            return device
        split = self.data.splits[name]
        features = split.table.features
        # The table (unless there already), the split's compact copy or its row indices, labels.
        need = 0 if (split.table.dataset_id, str(device)) in self._tables else features.nbytes
        row_bytes = features.itemsize * features.shape[1] if compact else 8
        need += len(split.rows) * row_bytes + split.label.nbytes
        free, _ = torch.cuda.mem_get_info(device)
        return device if need < free // 2 else None

    def _buffer_rows(self, split: Split) -> int:
        """Table rows the shuffle buffer holds."""
        features = split.table.features
        return self.shuffle_buffer_mb * 2**20 // (features.itemsize * features.shape[1])

    def _rank(self) -> tuple[int, int]:
        """(rank, world size): under DDP, each rank takes its shard of every split."""
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer else (0, 1)

    def _batches(self, name: str, train: bool = False) -> IndexBatches | ChunkedBatches:
        split = self.data.splits[name]
        buffer_rows = self._buffer_rows(split)
        rank, world_size = self._rank()
        if train:
            order = ChunkedOrder(split.table.features, split.rows, shift=self.data.lookback - 1,
                                 buffer_rows=buffer_rows, seed=self.seed, rank=rank,
                                 world_size=world_size)
            if not order.fits:
                return self._chunked(name, split, order)
        # Rows copied out only when they fit the buffer (all of them when the split is
        # shuffled here: they fit in their spans).
        compact = self.data.lookback == 1 and len(split.rows) <= buffer_rows
        self.batching[name] = {"order": "permutation" if train else "in order",
                               "compact": compact}
        device = self._split_device(name, compact)
        self.placement[name] = str(device or "cpu")
        feats, codes = self._table_tensors(split, device)
        rows = torch.from_numpy(split.rows)
        labels = torch.from_numpy(split.label.copy())
        if device is not None:
            rows, labels = rows.to(device), labels.to(device)
        if compact:
            # The split's own rows, copied out once: gathering a batch from a compact table is
            # about twice as fast as gathering it from the whole table through `rows`.
            feats, codes = feats[rows], None if codes is None else codes[rows]
        return IndexBatches(
            feats,
            None if compact else rows,
            labels,
            self.batch_size if train else self.eval_batch_size,
            codes=codes,
            shift=self.data.lookback - 1,
            shuffle=train,
            seed=self.seed,
            rank=rank,
            world_size=world_size,
        )

    def _chunked(self, name: str, split: Split, order: ChunkedOrder) -> ChunkedBatches:
        """Batches of a split in chunked order: on the host, whatever the residency (the
        table is read a group at a time; batches go to the device one by one)."""
        self.placement[name] = "cpu"
        _, codes = self._table_tensors(split, None)
        batches = ChunkedBatches(order, torch.from_numpy(split.label.copy()), self.batch_size,
                                 codes=codes)
        self.batching[name] = batches.batching  # the same dict: it counts each epoch's groups
        return batches

    def transfer_batch_to_device(self, batch: Batch, device: torch.device,
                                 dataloader_idx: int) -> Batch:
        # A batch is always (x, cat or None, y): no generic walk over a collection per step.
        # Batches of resident splits are already there.
        if device.type == "cpu" or batch[0].device == device:
            return batch
        x, cat, y = batch
        return (x.to(device, non_blocking=True),
                None if cat is None else cat.to(device, non_blocking=True),
                y.to(device, non_blocking=True))

    def train_dataloader(self) -> IndexBatches | ChunkedBatches:
        return self._batches("train", train=True)

    def val_dataloader(self) -> IndexBatches | ChunkedBatches:
        return self._batches("val")

    def predict_dataloader(self) -> list[IndexBatches | ChunkedBatches]:
        return [self._batches(name) for name in EVAL_SPLITS]
