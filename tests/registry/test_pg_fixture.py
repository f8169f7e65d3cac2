"""The real-PostgreSQL fixtures of tests/pg.py: a live server, one fresh database per test."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

# Registers the fixtures even before tests/conftest.py does; harmless once it does too.

_seen: list[str] = []


def _dbname(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@pytest.mark.parametrize("round_", [1, 2])
def test_fresh_database_per_test(postgres_url: str, round_: int) -> None:
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        version = conn.execute("select version()").fetchone()[0]
        db = conn.execute("select current_database()").fetchone()[0]
        conn.execute("create table t (x int)")  # would clash if the database were shared
    assert version.startswith("PostgreSQL ")
    assert db == _dbname(postgres_url) and db.startswith("t_")
    assert db not in _seen
    _seen.append(db)


def test_databases_are_dropped(postgres_url: str, postgres_server) -> None:
    import psycopg

    with psycopg.connect(postgres_server.admin_url, autocommit=True) as conn:
        names = {r[0] for r in conn.execute("select datname from pg_database")}
    assert _dbname(postgres_url) in names
    assert not names & set(_seen)  # the earlier tests' databases are gone
