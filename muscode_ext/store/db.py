"""The database: engines, sessions, schema checks and migrations, in one place.

Operators write URLs the usual way (``sqlite:///path``, ``postgresql://user@host/db``,
``postgresql+psycopg://...``); MUSCode picks the drivers itself: aiosqlite or psycopg 3
(async) for serving, pysqlite or psycopg 3 (sync) for Alembic migrations.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ..errors import DependencyDown

log = logging.getLogger(__name__)

#: How long a SQLite transaction waits for another one to end before giving up (503).
SQLITE_BUSY_SECONDS = 15

MIGRATIONS = Path(__file__).parent / "migrations"
UPGRADE_COMMAND = "jupyter muscode db upgrade"


class SchemaMismatch(Exception):
    """The database's schema is not the one this version of MUSCode needs."""


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except Exception as e:
        raise ValueError(f"not a database URL: {url!r} ({e})") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(
        f"unsupported database {backend!r} in {parsed.render_as_string(hide_password=True)}: "
        "use sqlite:///path or postgresql://user@host/db"
    )


def async_url(url: str) -> URL:
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    return parsed


def sync_url(url: str) -> URL:
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite")
    return parsed


def _sqlite_pragmas(engine: Engine) -> None:
    """Foreign keys on, WAL (synchronous NORMAL), and BEGIN IMMEDIATE so concurrent
    writers wait for each other (busy timeout) instead of failing when a read upgrades
    to a write."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cur.execute("PRAGMA journal_mode=WAL")
        # With WAL, NORMAL syncs at checkpoints instead of at every commit: a crash of
        # MUSCode loses nothing; a power cut may lose the last commits, never corrupts.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: escape % in passwords.
    cfg.set_main_option(
        "sqlalchemy.url", sync_url(url).render_as_string(hide_password=False).replace("%", "%%")
    )
    return cfg


def _make_sync_engine(url: str) -> Engine:
    parsed = sync_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed)
        _sqlite_pragmas(engine)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def schema_state(url: str) -> tuple[str | None, str]:
    """Return (current revision or None for an empty database, head revision)."""
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None
    engine = _make_sync_engine(url)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    return current, head


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking; run it in a thread when serving)."""
    engine = _make_sync_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def ensure_schema(url: str, *, auto_upgrade: bool) -> str:
    """Make sure the schema is current before serving. Returns what was done.

    An empty database is created. A database that is behind is upgraded only when
    ``auto_upgrade`` is true (the embedded SQLite default); otherwise
    :class:`SchemaMismatch` names the upgrade command. A database newer than this
    code is refused.
    """
    current, head = schema_state(url)
    if current == head:
        return "current"
    if current is None:
        upgrade(url)
        return "created"
    script = ScriptDirectory.from_config(alembic_config(url))
    known = {rev.revision for rev in script.walk_revisions()}
    where = sync_url(url).render_as_string(hide_password=True)
    if current not in known:
        raise SchemaMismatch(
            f"the MUSCode database at {where} has schema revision {current}, which this "
            f"version of MUSCode does not know (it is newer?); upgrade MUSCode"
        )
    if not auto_upgrade:
        raise SchemaMismatch(
            f"the MUSCode database at {where} is at schema revision {current}, behind "
            f"this version's {head}. Back it up, then run `{UPGRADE_COMMAND}` "
            f"(with --db-url or MUSCODE_DB_URL) and start again."
        )
    upgrade(url)
    return "upgraded"


_CONNECTION_ERRORS = (OperationalError, InterfaceError, ConnectionError, OSError)


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _CONNECTION_ERRORS)


class Database:
    """Async access for the server: one session per unit of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = async_url(url)
        self.backend = parsed.get_backend_name()
        kwargs: dict[str, Any] = {}
        if self.backend == "sqlite":
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_SECONDS}
        else:
            # Connections broken by a database restart are replaced, not reused.
            kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20, pool_timeout=10)
        self.engine: AsyncEngine = create_async_engine(parsed, **kwargs)
        if self.backend == "sqlite":
            _sqlite_pragmas(self.engine.sync_engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error.

        Connection failures become :class:`DependencyDown` (503 naming the database).
        """
        try:
            async with self._turn(), self._sessions() as session, session.begin():
                yield session
        except _CONNECTION_ERRORS as e:
            if not _is_connection_error(e) or (
                isinstance(e, OperationalError) and _is_sqlite_schema_error(e)
            ):
                raise
            log.warning("database unavailable: %s", e)
            raise DependencyDown("database") from e

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """SQLite: one transaction of this process at a time, in arrival order.

        Every SQLite transaction takes the write lock at BEGIN; a second one would wait
        in SQLite's busy handler, which sleeps 1, 2, 5, 10... ms between tries. Waiting
        here instead hands the lock over as soon as it is free. Other processes sharing
        the file still meet the busy timeout.
        """
        if self.backend != "sqlite":
            yield
            return
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            # An asyncio.Lock belongs to one event loop (tests run several in turn).
            self._lock = (loop, asyncio.Lock())
        lock = self._lock[1]
        try:
            # As long as SQLite's own busy timeout: a transaction that never ends makes
            # the others fail (503), never wait forever.
            await asyncio.wait_for(lock.acquire(), SQLITE_BUSY_SECONDS)
        except asyncio.TimeoutError:
            log.warning("database busy: no transaction ended in %s s", SQLITE_BUSY_SECONDS)
            raise DependencyDown("database") from None
        try:
            yield
        finally:
            lock.release()

    async def ping(self) -> None:
        """Raise DependencyDown when the database does not answer."""
        async with self.session() as session:
            await session.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _is_sqlite_schema_error(e: OperationalError) -> bool:
    # "no such table" and friends are programming errors, not an unavailable database.
    return "no such" in str(e.orig)
