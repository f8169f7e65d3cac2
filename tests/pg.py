"""Pytest fixtures for tests against a real PostgreSQL server.

Load with ``pytest_plugins = ["tests.pg"]`` in ``tests/conftest.py`` (or in a test module).

* ``postgres_server`` (session): a throw-away server started from the local PostgreSQL
  binaries -- ``initdb``/``pg_ctl`` on ``PATH``, else the newest ``/usr/lib/postgresql/*/bin``
  (Debian's layout; ``IFNS_PG_BIN_DIRS``, a ``os.pathsep``-separated list of globs, replaces that
  list).  It listens on ``127.0.0.1`` on a free port with trust authentication and durability
  switched off, runs as the ``postgres`` user when the tests run as root (PostgreSQL refuses
  root), and is stopped and deleted at session end.  With ``IFNS_TEST_POSTGRES_URL`` set, that
  server is used instead and nothing is started.  Where no server can be had, every test that
  asks for one is skipped with the reason (``make test`` installs Debian's ``postgresql`` first,
  see ``scripts/ensure-postgres.sh``).
* ``postgres_url`` (function): a fresh, empty database per test, as a libpq URL
  ``postgresql://postgres@127.0.0.1:<port>/t_<hex>``; dropped afterwards.  Needs ``psycopg``
  (v3, the ``postgres`` extra).  For SQLAlchemy pass ``sqlalchemy_url(postgres_url)``: a bare
  ``postgresql://`` means psycopg2 to SQLAlchemy 2.0.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

URL_ENV = "IFNS_TEST_POSTGRES_URL"
BIN_DIRS_ENV = "IFNS_PG_BIN_DIRS"
DEFAULT_BIN_GLOBS = ("/usr/lib/postgresql/*/bin",)
SUPERUSER = "postgres"
INSTALL_HINT = "`make test` installs Debian's postgresql when run as root"
_START_TRIES = 3
# Throw-away data: no durability, so start-up and CREATE DATABASE stay fast.
_FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


@dataclass
class PostgresServer:
    """Where the test server is; ``url(db)`` names one of its databases."""

    host: str
    port: int
    user: str
    admin_db: str = "postgres"
    external: bool = False
    bin_dir: Path | None = None
    data_dir: Path | None = None
    log_file: Path | None = None
    startup_s: float = 0.0
    _base: str = field(default="postgresql", repr=False)  # URL up to the path, no trailing /
    _query: str = field(default="", repr=False)  # e.g. "?sslmode=require", kept on every URL

    @property
    def admin_url(self) -> str:
        return self.url(self.admin_db)

    def url(self, dbname: str) -> str:
        return f"{self._base}/{dbname}{self._query}"


def sqlalchemy_url(url: str) -> str:
    """``postgresql://...`` -> ``postgresql+psycopg://...`` (SQLAlchemy's psycopg 3 dialect)."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql+psycopg://{rest}" if sep and "+" not in scheme else url


# --------------------------------------------------------------------------- binaries


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def find_pg_bin_dir() -> tuple[Path | None, str]:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``; else ``(None, why)``."""
    on_path = shutil.which("initdb")
    if on_path:
        # Debian symlinks and wrappers: pg_ctl finds `postgres` beside its real self.
        real = Path(on_path).resolve().parent
        for d in (real, Path(on_path).parent):
            if (d / "pg_ctl").exists() and (d / "postgres").exists():
                return d, ""
    globs = os.environ.get(BIN_DIRS_ENV)
    patterns = DEFAULT_BIN_GLOBS if globs is None else [g for g in globs.split(os.pathsep) if g]
    dirs = sorted({d for p in patterns for d in glob.glob(p)}, key=_version_key, reverse=True)
    for d in dirs:
        if all(os.access(os.path.join(d, x), os.X_OK) for x in ("initdb", "pg_ctl", "postgres")):
            return Path(d), ""
    where = ", ".join(patterns) or "(none)"
    return None, f"initdb/pg_ctl/postgres not found on PATH nor in {where}"


# --------------------------------------------------------------------------- process helpers


def _server_user() -> tuple[pwd.struct_passwd | None, str]:
    """Who runs the server: ourselves, or an unprivileged account when we are root."""
    if os.geteuid() != 0:
        return None, ""
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name), ""
        except KeyError:
            continue
    return None, "running as root and neither a `postgres` nor a `nobody` user exists"


def _traversable_tmp(pw: pwd.struct_passwd | None) -> str:
    """A temp root the server user can reach (root's TMPDIR may be private)."""
    candidates = [tempfile.gettempdir(), "/tmp", "/var/tmp"]
    if pw is None:
        return candidates[0]
    for cand in candidates:
        path, ok = Path(cand).resolve(), True
        for p in (path, *path.parents):
            try:
                st = p.stat()
            except OSError:
                ok = False
                break
            if not (st.st_mode & stat.S_IXOTH or st.st_uid == pw.pw_uid):
                ok = False
                break
        if ok:
            return str(path)
    return candidates[0]


def _tail(text: str, n: int = 6) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Runner:
    def __init__(self, pw: pwd.struct_passwd | None, cwd: str) -> None:
        self.pw, self.cwd = pw, cwd
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        if pw is not None:
            env.update(HOME=pw.pw_dir, USER=pw.pw_name, LOGNAME=pw.pw_name)
        self.env = env

    def __call__(self, cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        kw: dict = {}
        if self.pw is not None:
            kw = {"user": self.pw.pw_uid, "group": self.pw.pw_gid, "extra_groups": []}
        return subprocess.run(
            cmd,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kw,
        )


# --------------------------------------------------------------------------- local server


class _LocalServer:
    """initdb + pg_ctl start/stop of a private cluster in a temp dir."""

    def __init__(self, bin_dir: Path, pw: pwd.struct_passwd | None) -> None:
        self.bin_dir, self.pw = bin_dir, pw
        self.base = Path(tempfile.mkdtemp(prefix="ifns-pg-", dir=_traversable_tmp(pw)))
        if pw is not None:
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.run = _Runner(pw, str(self.base))
        self.port = 0
        self.started = False

    def _exe(self, name: str) -> str:
        return str(self.bin_dir / name)

    def _pg_ctl(self) -> list[str]:
        return [self._exe("pg_ctl"), "-D", str(self.data)]

    def start(self) -> str:
        """Start it; ``""`` on success, else why not."""
        flags = ["-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync"]
        r = self.run([self._exe("initdb"), "-D", str(self.data), *flags], timeout=120)
        if r.returncode != 0:
            return f"initdb failed (exit {r.returncode}): {_tail(r.stderr or r.stdout)}"
        why = ""
        for _ in range(_START_TRIES):
            self.port = _free_port()
            settings = ("listen_addresses=127.0.0.1", *_FAST_SETTINGS)
            opts = f"-k {shlex.quote(str(self.base))} -p {self.port} " + " ".join(
                f"-c {c}" for c in settings
            )
            start = ["start", "-w", "-t", "60", "-l", str(self.log), "-o", opts]
            r = self.run([*self._pg_ctl(), *start], timeout=90)
            if r.returncode == 0:
                self.started = True
                return ""
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            why = f"pg_ctl start failed (exit {r.returncode}): {_tail(log or r.stderr or r.stdout)}"
            self.stop()  # a half-started postmaster must not linger
            if "could not bind" not in log and "already in use" not in log:
                break
        return why

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if self.data.exists():
            for mode in ("fast", "immediate"):
                if self._postmaster_pid() is None:
                    break
                try:
                    stop = ["stop", "-m", mode, "-w", "-t", "30"]
                    r = self.run([*self._pg_ctl(), *stop], timeout=45)
                except subprocess.TimeoutExpired:
                    continue
                if r.returncode == 0:
                    break
            pid = self._postmaster_pid()
            if pid is not None:  # last resort, if that pid is still our postmaster
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                    if b"postgres" in cmdline and str(self.data).encode() in cmdline:
                        os.kill(pid, signal.SIGKILL)
                        time.sleep(0.2)
                except OSError:
                    pass
        self.started = False

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def _skip(why: str) -> NoReturn:
    pytest.skip(f"PostgreSQL server not available: {why}; {INSTALL_HINT}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL server for the whole session (see the module docstring)."""
    external = os.environ.get(URL_ENV, "").strip()
    if external:
        parts = urlsplit(external)
        scheme = parts.scheme.split("+", 1)[0]  # accept SQLAlchemy's postgresql+psycopg://
        base = urlunsplit((scheme, parts.netloc, "", "", "")).rstrip("/")
        yield PostgresServer(
            host=parts.hostname or "localhost",
            port=parts.port or 5432,
            user=parts.username or "",
            admin_db=parts.path.lstrip("/") or "postgres",
            external=True,
            _base=base,
            _query=f"?{parts.query}" if parts.query else "",
        )
        return

    bin_dir, why = find_pg_bin_dir()
    if bin_dir is None:
        _skip(why)
    pw, why = _server_user()
    if why:
        _skip(why)

    t0 = time.perf_counter()
    try:
        local = _LocalServer(bin_dir, pw)
    except OSError as exc:
        _skip(f"cannot make its data directory: {exc}")
    atexit.register(local.cleanup)  # in case the session dies before teardown
    try:
        why = local.start()
    except (OSError, subprocess.SubprocessError) as exc:
        why = f"{type(exc).__name__}: {exc}"
    if why:
        local.cleanup()
        atexit.unregister(local.cleanup)
        _skip(why)
    server = PostgresServer(
        host="127.0.0.1",
        port=local.port,
        user=SUPERUSER,
        bin_dir=bin_dir,
        data_dir=local.data,
        log_file=local.log,
        startup_s=time.perf_counter() - t0,
        _base=f"postgresql://{SUPERUSER}@127.0.0.1:{local.port}",
    )
    try:
        yield server
    finally:
        local.cleanup()
        atexit.unregister(local.cleanup)


# --------------------------------------------------------------------------- per-test database


def _psycopg():
    try:
        import psycopg
    except ImportError as exc:
        pytest.skip(
            f"psycopg (v3) not importable ({exc}); install the `postgres` extra: "
            "pip install -e '.[dev,postgres]'"
        )
    return psycopg


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database on ``postgres_server`` for this test, as a libpq URL."""
    psycopg = _psycopg()  # before starting any server
    from psycopg import sql

    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(server.admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        force = conn.info.server_version >= 130000
    try:
        yield server.url(name)
    finally:
        drop = "DROP DATABASE IF EXISTS {} WITH (FORCE)" if force else "DROP DATABASE IF EXISTS {}"
        with psycopg.connect(server.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL(drop).format(sql.Identifier(name)))
