"""Problems of an import: collected over every check, raised once.

Why collected: a vendor file with two bad rows must take one round of fixes, not two. Each
check adds what it finds; every problem is counted, the first ``PROBLEM_LIMIT`` in file order
(file, row, column) are listed, and the import stops once, after the checks, with one
`OhlcvError` whose first line says how many problems were found, followed by one line per
listed problem naming the file, the row (counted from 1 after the header, with its CSV line),
the symbol and the column.

A problem *pinned* to a symbol (a bad row or value of that symbol, a file of one symbol, a
jump in its prices, too short a history) lets ``--drop-symbol-on-error`` leave that symbol out
instead, as long as one symbol remains. One that is not (an unreadable file, a long file
without a date column, a row without a symbol, an option naming a symbol that is not in the
data) always stops the import.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ifns_train.core.errors import ContractError

PROBLEM_LIMIT = 20  # problems listed in the error; the count is always complete
FILE_LEVEL = 0  # the row of a problem that concerns a whole file


class OhlcvError(ContractError):
    """Source files cannot be imported as they are; the message names file, row and column."""


def where(path: Path, is_csv: bool, row: int | None = None, symbol: str | None = None) -> str:
    """'path: row R (line L), symbol S': the place of a problem (the line only for a CSV); a
    path with a newline or other control character is quoted, so the problem stays one line."""
    text = str(path) if str(path).isprintable() else repr(str(path))
    if row is not None and row != FILE_LEVEL:
        text += f": row {row}" + (f" (line {row + 1})" if is_csv else "")
    if symbol:
        text += f"{',' if row else ':'} symbol {symbol}"
    return text


@dataclass(frozen=True)
class Problem:
    order: tuple[int, int, int]  # (file index, row, column position): file order
    text: str
    symbol: str | None


class Problems:
    """Every problem of one import: counts by symbol and the first ones in file order."""

    def __init__(self) -> None:
        self.listed: list[Problem] = []
        self.total = 0
        self.unpinned = 0
        self.files: set[int] = set()
        self.by_symbol: dict[str, tuple[int, str]] = {}  # symbol -> (count, first text)

    def __bool__(self) -> bool:
        return self.total > 0

    def add(self, text: str, *, symbol: str | None = None, file: int = -1, row: int = 0,
            column: int = 0) -> None:
        """One problem; `file` -1 for one that concerns no file (an option)."""
        self._count(symbol, 1, text)
        if file >= 0:
            self.files.add(file)
        self._keep([Problem((file, row, column), text, symbol)])

    def add_rows(
        self,
        idx: np.ndarray,
        *,
        file: np.ndarray,
        row: np.ndarray,
        code: np.ndarray,
        names: Sequence[str],
        describe: Callable[[int], str],
        column: int = 0,
    ) -> None:
        """One problem per position in `idx` (into `file`, `row` and the symbol `code` arrays; a
        code of -1 is a row without a symbol); `describe(i)` gives position i's line."""
        idx = np.asarray(idx, dtype=np.int64)
        if idx.size == 0:
            return
        idx = idx[np.lexsort((row[idx], file[idx]))]  # file order
        self.files.update(int(f) for f in np.unique(file[idx]))
        codes, first, counts = np.unique(code[idx], return_index=True, return_counts=True)
        for c, i, n in zip(codes, first, counts, strict=True):
            symbol = names[int(c)] if c >= 0 else None
            self._count(symbol, int(n), describe(int(idx[i])))
        self._keep([
            Problem((int(file[i]), int(row[i]), column), describe(int(i)),
                    names[int(code[i])] if code[i] >= 0 else None)
            for i in idx[:PROBLEM_LIMIT]
        ])

    def _count(self, symbol: str | None, n: int, text: str) -> None:
        self.total += n
        if symbol is None:
            self.unpinned += n
            return
        count, first = self.by_symbol.get(symbol, (0, text))
        self.by_symbol[symbol] = (count + n, first)

    def _keep(self, new: list[Problem]) -> None:
        self.listed = sorted([*self.listed, *new], key=lambda p: p.order)[:PROBLEM_LIMIT]

    def reasons(self) -> dict[str, str]:
        """Per symbol with a problem: its first problem (and how many more)."""
        return {
            symbol: first + (f" (and {count - 1} more problem{'s' * (count > 2)})"
                             if count > 1 else "")
            for symbol, (count, first) in sorted(self.by_symbol.items())
        }

    def settle(self, drop_symbols: bool, symbols: Collection[str]) -> dict[str, str]:
        """Nothing if there is no problem; with `drop_symbols`, the symbols to leave out (with
        the reason) when every problem is pinned and a symbol remains; else the error."""
        if not self.total:
            return {}
        if drop_symbols and not self.unpinned and set(symbols) - set(self.by_symbol):
            return self.reasons()
        raise self.error(drop_symbols, symbols)

    def error(self, drop_symbols: bool = False, symbols: Collection[str] = ()) -> OhlcvError:
        n, files = self.total, len(self.files)
        head = f"{n} problem{'s' * (n > 1)} found"
        if files:
            head += f" in {files} file{'s' * (files > 1)}"
        head += "; nothing was imported"
        if n > len(self.listed):
            head += f" (the first {len(self.listed)} listed)"
        lines = [head + ":", *(f"  {p.text}" for p in self.listed)]
        pinned = sorted(self.by_symbol)
        shown = ", ".join(pinned[:10]) + (" ..." if len(pinned) > 10 else "")
        if self.unpinned:
            if drop_symbols:
                lines.append(f"  --drop-symbol-on-error cannot help: {self.unpinned} of the "
                             "problems are not those of one symbol")
        elif drop_symbols:
            lines.append(f"  --drop-symbol-on-error: every symbol has a problem ({shown}); "
                         "none would remain")
        elif set(symbols) - set(pinned):
            lines.append(f"  (--drop-symbol-on-error would leave out the {len(pinned)} "
                         f"symbol{'s' * (len(pinned) > 1)} concerned, {shown}, and import "
                         "the others)")
        return OhlcvError("\n".join(lines))
