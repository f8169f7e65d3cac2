"""The store of record: one database, SQLite in the registry folder by default or PostgreSQL
by URL, reached through SQLAlchemy Core with the same code for both.

Why a database: the JSON documents were rewritten whole on every run and could not keep a run
and its model consistent under a kill. Here every change is a transaction: on SQLite in WAL
mode, each write takes the write lock at its start (`BEGIN IMMEDIATE`) and waits up to
`BUSY_TIMEOUT_S` for it, so parallel runs queue rather than fail; on PostgreSQL the row locks
of the statements do the same. The spec's JSON documents are exports (`documents.export`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from ifns_train.core.errors import RegistryError
from ifns_train.registry import ids
from ifns_train.registry.schema import MIGRATIONS, SCHEMA_VERSION, current_version, schema_info

URL_ENV = "IFNS_REGISTRY_URL"
DB_FILE = "registry.db"
BUSY_TIMEOUT_S = 120


def resolve_url(registry_dir: Path, url: str | None = None) -> str:
    """The database of a registry: `url`, else $IFNS_REGISTRY_URL, else SQLite in the folder."""
    url = url or os.environ.get(URL_ENV) or None
    if url is None:
        return f"sqlite:///{(registry_dir / DB_FILE).resolve()}"
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


class Registry:
    """An open registry: the database of record and the folder of artifacts."""

    def __init__(self, registry_dir: Path, url: str | None = None, create: bool = True
                 ) -> None:
        """`create=False`: a registry that does not exist yet is an error, not made."""
        self.dir = Path(registry_dir)
        self.create = create
        self.url = resolve_url(self.dir, url)
        try:
            parsed = make_url(self.url)
        except ArgumentError as exc:
            raise RegistryError(f"registry url {self.shown_url()!r} is not a database URL: "
                                f"{exc}") from None
        self.backend = parsed.get_backend_name()
        if self.backend not in ("sqlite", "postgresql"):
            raise RegistryError(f"registry url {self.shown_url()!r}: only sqlite:// and "
                                "postgresql:// registries are supported")
        self.engine = self._engine()
        self._migrate()

    # --- connections --------------------------------------------------------------------------
    def shown_url(self) -> str:
        """The URL without its password, for messages."""
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except ArgumentError:
            return self.url

    def _engine(self) -> Engine:
        if self.backend == "sqlite":
            self._check_sqlite_folder()
            engine = create_engine(self.url, connect_args={"timeout": BUSY_TIMEOUT_S})

            @event.listens_for(engine, "connect")
            def _connect(dbapi_conn: Any, _: Any) -> None:
                dbapi_conn.isolation_level = None  # SQLAlchemy's `begin` below says BEGIN
                cursor = dbapi_conn.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
                cursor.execute("PRAGMA synchronous=FULL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()

            @event.listens_for(engine, "begin")
            def _begin(conn: Connection) -> None:
                immediate = conn.get_execution_options().get("immediate")
                conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

            return engine
        try:
            return create_engine(self.url, pool_pre_ping=True)
        except (ImportError, SQLAlchemyError) as exc:
            raise RegistryError(f"registry url {self.shown_url()!r}: {exc} (install the "
                                "'postgres' extra: pip install 'ifns-train[postgres]')") from None

    def _check_sqlite_folder(self) -> None:
        if self.dir.exists() and not self.dir.is_dir():
            raise RegistryError(f"registry folder {self.dir} is a file, not a folder")
        db = self.dir / DB_FILE
        if not self.create and not db.is_file():
            raise RegistryError(f"no registry at {self.dir}: {db} does not exist (no run "
                                "has been recorded there)")
        self.dir.mkdir(parents=True, exist_ok=True)
        if not os.access(self.dir, os.W_OK | os.X_OK) or (db.exists()
                                                           and not os.access(db, os.W_OK)):
            raise RegistryError(f"registry {self.dir} is read-only for this user: a run could "
                                "not record itself")

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed if the block succeeds, rolled back otherwise."""
        try:
            with self.engine.connect().execution_options(immediate=True) as conn, conn.begin():
                yield conn
        except DBAPIError as exc:  # unreachable, locked too long, not a database
            raise RegistryError(f"registry {self.shown_url()}: {exc.orig}") from None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except DBAPIError as exc:  # unreachable, locked too long, not a database
            raise RegistryError(f"registry {self.shown_url()}: {exc.orig}") from None

    def close(self) -> None:
        self.engine.dispose()

    # --- schema -------------------------------------------------------------------------------
    def _migrate(self) -> None:
        """Bring the schema to SCHEMA_VERSION, one versioned step at a time; a newer one is
        refused."""
        with self.read() as conn:
            version = current_version(conn)
        if version > SCHEMA_VERSION:
            raise RegistryError(f"registry {self.shown_url()} has schema version {version}, "
                                f"newer than this code's {SCHEMA_VERSION}; upgrade ifns-train")
        if version == SCHEMA_VERSION:
            return
        with self.write() as conn:
            if self.backend == "postgresql":  # one migrating process at a time
                conn.execute(text("SELECT pg_advisory_xact_lock(3031)"))
            version = current_version(conn)  # another process may have migrated meanwhile
            for step in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[step](conn)
                conn.execute(insert(schema_info).values(version=step,
                                                        applied_ts=ids.iso(ids.utc_now())))


def open_registry(registry_dir: str | Path, url: str | None = None, create: bool = True
                  ) -> Registry:
    return Registry(Path(registry_dir), url, create)
