"""A project folder of a user's own, for the tests of what a user adds without editing the
package (a family, a learner): their package on sys.path and their conf/, the working directory
and IFNS_ROOT; their package forgotten again afterwards."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def user_project(root: Path, files: dict[str, str], package: str,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.chdir(root)
    monkeypatch.setenv("IFNS_ROOT", str(root))
    try:
        yield root
    finally:
        for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
            del sys.modules[name]
