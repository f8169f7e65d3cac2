"""Fixtures of the console tests: an open registry, and the consoles run in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ifns_train.cli import decide
from ifns_train.registry.database import Registry
from ifns_train.sxe import admin


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _no_registry_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The consoles read IFNS_REGISTRY_*; a developer's own must not leak into a test."""
    monkeypatch.delenv("IFNS_REGISTRY_URL", raising=False)
    monkeypatch.delenv("IFNS_REGISTRY_DIR", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.fixture
def reg(registry: Path) -> Iterator[Registry]:
    opened = Registry(registry)
    yield opened
    opened.close()


def _runner(main: Callable[[list[str]], int], registry: Path, capsys: pytest.CaptureFixture[str]
            ) -> Callable[..., Result]:
    def run(*argv: str, code: int | None = 0) -> Result:
        rc = main(["--registry-dir", str(registry), *argv])
        captured = capsys.readouterr()
        result = Result(rc, captured.out, captured.err)
        if code is not None:
            assert rc == code, result
        return result

    return run


@pytest.fixture
def adm(reg: Registry, registry: Path, capsys: pytest.CaptureFixture[str]
        ) -> Callable[..., Result]:
    """`ifns-admin --registry-dir <registry> ARGS...` in-process; checks the exit code."""
    return _runner(admin.main, registry, capsys)


@pytest.fixture
def dra(reg: Registry, registry: Path, capsys: pytest.CaptureFixture[str]
        ) -> Callable[..., Result]:
    """`ifns-decide --registry-dir <registry> ARGS...` in-process."""
    return _runner(decide.main, registry, capsys)
