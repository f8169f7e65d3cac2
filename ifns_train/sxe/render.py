"""Human output of the consoles: rich tables in which everything read from the registry is
escaped, so a name like `[bold]x[/bold]`, an emoji code or a terminal control sequence in a
reason prints literally and cannot restyle or rewrite the terminal."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

PIPE_WIDTH = 200  # columns when stdout is not a terminal (a file, a pipe, a test)
NA = "n/a"


def console() -> Console:
    """A console on the current sys.stdout: no markup guessing (highlight), no emoji codes;
    wide when piped so ids are not folded."""
    out = Console(highlight=False, emoji=False, soft_wrap=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = PIPE_WIDTH
    return out


def clean(value: Any) -> str:
    """Text with control characters (other than newline and tab) shown as escapes."""
    text = str(value)
    if all(c.isprintable() or c in "\n\t" for c in text):
        return text
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)


def esc(value: Any) -> str:
    """A registry value as rich markup that prints literally."""
    return escape(clean(NA if value is None else value))


def num(value: Any, signed: bool = False, digits: int = 4) -> str:
    if value is None:
        return NA
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:+d}" if signed else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if abs(value) >= 10_000:
            return f"{value:+,.1f}" if signed else f"{value:,.1f}"
        return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return esc(value)


def yes_no(value: Any) -> str:
    if value is None:
        return NA
    return "[green]yes[/green]" if value else "[red]no[/red]"


def ts(value: str | None) -> str:
    """An ISO timestamp shortened to the second."""
    if not value:
        return NA
    text = value[:19].replace("T", " ")
    return esc(text + ("Z" if value.endswith("Z") else ""))


def interval(low: Any, high: Any) -> str:
    if low is None or high is None:
        return NA
    return f"{num(low, signed=True)} to {num(high, signed=True)}"


def joined(values: Iterable[Any]) -> str:
    return ", ".join(esc(v) for v in values) or "-"


def _titled(title: str | None, body: Table) -> RenderableType:
    """The title on a line of its own (a table's own title wraps at the table's width)."""
    return body if title is None else Group(Text.from_markup(f"[bold]{title}[/bold]"), body)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[str]],
          no_wrap: Sequence[int] = (0,)) -> RenderableType:
    """A table whose cells are markup built by this module (already escaped); the columns
    in `no_wrap` (ids) keep their width, the others wrap."""
    out = Table(show_lines=False)
    for i, name in enumerate(columns):
        out.add_column(name, no_wrap=i in no_wrap, overflow="fold")
    for row in rows:
        out.add_row(*row)
    return _titled(title, out)


def fields(title: str | None, pairs: Iterable[tuple[str, str]]) -> RenderableType:
    """A two-column name/value table (values already markup)."""
    out = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    out.add_column(style="bold", no_wrap=True)
    out.add_column(overflow="fold")
    for name, value in pairs:
        out.add_row(name, value)
    return _titled(title, out)


def heading(out: Console, text: str) -> None:
    out.print()
    out.print(f"[bold underline]{text}[/bold underline]")
