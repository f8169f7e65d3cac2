"""The registry's tests run against each backend: SQLite, and PostgreSQL where a server can be
started (see tests/pg.py; skipped with the reason otherwise)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ifns_train.registry.database import Registry

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite in the registry folder) or the URL of a fresh PostgreSQL database."""
    return None if request.param == "sqlite" else request.getfixturevalue("postgres_url")


@pytest.fixture
def reg(registry: Path, backend_url: str | None) -> Iterator[Registry]:
    opened = Registry(registry, backend_url)
    yield opened
    opened.close()
