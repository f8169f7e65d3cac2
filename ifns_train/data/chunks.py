"""Chunked order: the train rows of a split too big for the shuffle buffer, shuffled in groups.

One permutation of a split reads its table at random, which a memory-mapped table larger than
memory turns into a page fault per row, and a copy of the split needs it all in memory. Instead
the split's rows are cut into chunks of consecutive rows; each epoch the chunks are permuted and
taken in that order into groups whose table spans fit the buffer, and each group is read from
the table in forward slices, one per chunk, and shuffled within. Every row is drawn once an
epoch (less the remainder of a group that does not share evenly among processes), and rows of
distant chunks meet in a batch whenever their chunks land in the same group.
"""

from __future__ import annotations

import numpy as np

# Split rows per chunk: coarse enough that a group is read in long forward slices, fine enough
# that a group mixes many parts of the split.
CHUNK_ROWS = 8192
# Salts of the seeded streams: the chunk order and the groups' shuffles draw different numbers.
_CHUNK_ORDER, _GROUP_ORDER = 0, 1


def chunk_rows(world_size: int) -> int:
    """`CHUNK_ROWS` less its remainder by `world_size`: every chunk but the last then shares
    evenly among processes, so a rank draws `n // world_size` rows every epoch, whatever the
    groups, as a permutation's strided shares do."""
    return CHUNK_ROWS - CHUNK_ROWS % world_size


def _rng(*key: int) -> np.random.Generator:
    """A generator per key: the same numbers on every run, independent streams for keys that
    differ (a seed sequence mixes the whole key, unlike arithmetic on it)."""
    return np.random.default_rng([k % 2**64 for k in key])


class ChunkedOrder:
    """The groups of one split's rows, epoch by epoch, for one process.

    `rows` are sorted positions into `features` (the table); chunk c holds positions
    [c * size, (c + 1) * size) of `rows` and spans `spans[c]` table rows from `lo[c]`: from
    `shift` rows before its first row (lookback history) to its last, so each of its windows
    lies inside.
    """

    def __init__(self, features: np.ndarray, rows: np.ndarray, *, shift: int, buffer_rows: int,
                 seed: int, rank: int = 0, world_size: int = 1) -> None:
        self.features, self.rows, self.shift, self.buffer_rows = features, rows, shift, buffer_rows
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.size = chunk_rows(world_size)
        ends = np.minimum(np.arange(self.size, len(rows) + self.size, self.size), len(rows))
        self.lo = rows[::self.size] - shift
        self.spans = rows[ends - 1] + 1 - self.lo
        self._buffer: np.ndarray | None = None

    @property
    def span_rows(self) -> int:
        """Table rows the chunks span, all together (history read twice where two overlap)."""
        return int(self.spans.sum())

    @property
    def fits(self) -> bool:
        """Whether all chunks fit the buffer at once: one group, so one permutation will do."""
        return self.span_rows <= self.buffer_rows

    @property
    def rank_rows(self) -> int:
        """The rows this process draws per epoch."""
        return len(self.rows) // self.world_size

    def groups(self, epoch: int) -> list[np.ndarray]:
        """The chunks of each group of this epoch: the permuted chunks taken in order, a group
        closed when the next chunk's span would overflow the buffer (a chunk alone always
        makes a group); each group sorted, so that it is read forward."""
        order = _rng(_CHUNK_ORDER, self.seed, epoch).permutation(len(self.lo))
        groups, first, total = [], 0, 0
        for i, span in enumerate(self.spans[order].tolist()):
            if total + span > self.buffer_rows and i > first:
                groups.append(np.sort(order[first:i]))
                first, total = i, 0
            total += span
        groups.append(np.sort(order[first:]))
        return groups

    def load(self, chunks: np.ndarray, epoch: int, group: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Read a group's spans into the buffer (one forward slice per chunk); return the buffer
        and this process's share of the group's rows, shuffled: their positions in `rows` and
        their rows in the buffer. The buffer is overwritten by the next group's load."""
        spans = self.spans[chunks]
        offsets = np.cumsum(spans) - spans
        buffer = self._buffer_for()
        positions, places = [], []
        for chunk, offset, span in zip(chunks.tolist(), offsets.tolist(), spans.tolist(),
                                       strict=True):
            lo = int(self.lo[chunk])
            buffer[offset:offset + span] = self.features[lo:lo + span]
            position = np.arange(chunk * self.size, min((chunk + 1) * self.size, len(self.rows)))
            positions.append(position)
            places.append(self.rows[position] - lo + offset)
        position, place = np.concatenate(positions), np.concatenate(places)
        n = len(position)
        pick = _rng(_GROUP_ORDER, self.seed, epoch, group).permutation(n)
        pick = pick[self.rank:n - n % self.world_size:self.world_size]
        return buffer, position[pick], place[pick]

    def _buffer_for(self) -> np.ndarray:
        """The host buffer, allocated once: the configured rows, or a larger lone chunk's."""
        if self._buffer is None:
            rows = max(self.buffer_rows, int(self.spans.max()))
            self._buffer = np.empty((rows, self.features.shape[1]), self.features.dtype)
        return self._buffer
