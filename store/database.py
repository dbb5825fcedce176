"""PostgreSQL, the system of record (issue 18): connections, migrations and partitions.

Migrations are the versioned SQL files of ``store/sql`` (``NNNN_name.sql``), applied in
order by :func:`upgrade` (``riskwire db upgrade``), each in one transaction that also
records it in ``schema_migrations``; a transaction-scoped advisory lock makes concurrent
upgrades wait for each other instead of applying a file twice. A released file is never
edited: a change is a new file.

Decision records live in day partitions (UTC) of ``decisions``: :func:`maintain` creates
the coming days' and drops those past the retention (``RISKWIRE_DECISION_RETENTION_DAYS``).
Writers also create the day of a record they store if it is missing (a replay of old
traffic), once per day per process.

The driver is psycopg 3 (async), the pool psycopg_pool's; both are imported on first use.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from contracts.errors import ServiceUnreachable, UsageError

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

SQL_DIR = Path(__file__).resolve().parent / "sql"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
#: Any fixed number: the key of the advisory lock that serialises upgrades.
_UPGRADE_LOCK = 0x72697364  # "risd"
#: Day partitions made ahead of time by ``maintain``.
DAYS_AHEAD = 3


class DatabaseUnreachable(ServiceUnreachable, ConnectionError):
    """PostgreSQL does not answer. A ``ConnectionError`` too, so the worker's retry loop
    (``stream.handler.RETRYABLE`` holds ``OSError``) backs off and retries the batch."""

    @classmethod
    def at(cls, url: str, detail: str = "") -> DatabaseUnreachable:
        why = f" ({detail})" if detail else ""
        return cls(f"PostgreSQL at {redacted(url)} unreachable{why}: start it or set RISKWIRE_DATABASE_URL")


def redacted(url: str) -> str:
    """The URL with its password replaced by ``***``, for messages and logs.

    >>> redacted("postgresql://riskwire:s3cret@127.0.0.1:5432/riskwire")
    'postgresql://riskwire:***@127.0.0.1:5432/riskwire'
    >>> redacted("postgresql://127.0.0.1/db")
    'postgresql://127.0.0.1/db'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def require_url(url: str | None) -> str:
    """The database URL, or the one-line usage error that says how to give one."""
    if not url:
        raise UsageError("no database: set RISKWIRE_DATABASE_URL (postgresql://user:password@host/db)")
    return url


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")


def migrations(directory: Path = SQL_DIR) -> list[Migration]:
    """The migration files in version order; a misnamed or duplicate file is an error.

    >>> [m.version for m in migrations()][:1]
    [1]
    """
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise ValueError(f"{path.name}: a migration is named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"{path.name}: version {version} twice")
        found[version] = Migration(version, match.group(2), path)
    return [found[v] for v in sorted(found)]


async def connect(url: str, *, autocommit: bool = False) -> AsyncConnection[Any]:
    """One connection, or :class:`DatabaseUnreachable`."""
    import psycopg

    try:
        return await psycopg.AsyncConnection.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise DatabaseUnreachable.at(url, _first_line(exc)) from exc


async def open_pool(
    url: str, *, min_size: int = 1, max_size: int = 4, timeout: float = 10.0
) -> AsyncConnectionPool:
    """An open pool of connections in autocommit (psycopg_pool): each statement is its own
    transaction unless a caller opens one (``conn.transaction()``). Waits for the first."""
    import psycopg
    from psycopg_pool import AsyncConnectionPool, PoolTimeout

    pool = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        open=False,
        name="riskwire",
        # JIT compiles a query in milliseconds: a loss for these short ones (autocommit: one
        # statement, one transaction, one round trip).
        kwargs={"autocommit": True, "options": "-c jit=off"},
    )
    try:
        await pool.open(wait=True, timeout=timeout)
    except (PoolTimeout, psycopg.OperationalError) as exc:
        await pool.close()
        raise DatabaseUnreachable.at(url, _first_line(exc) or "no connection in time") from exc
    return pool


async def applied(conn: AsyncConnection[Any]) -> set[int]:
    """The versions already applied (none when the table does not exist yet)."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    rows = await (await conn.execute("SELECT version FROM schema_migrations")).fetchall()
    await conn.commit()
    return {int(r[0]) for r in rows}


async def upgrade(url: str, directory: Path = SQL_DIR) -> list[Migration]:
    """Apply the pending migrations, each in its own transaction; return those applied."""
    done: list[Migration] = []
    conn = await connect(url)
    try:
        await conn.execute("SELECT pg_advisory_lock(%s)", (_UPGRADE_LOCK,))
        try:
            have = await applied(conn)
            for migration in migrations(directory):
                if migration.version in have:
                    continue
                async with conn.transaction():
                    await conn.execute(migration.text().encode())
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                done.append(migration)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_UPGRADE_LOCK,))
            await conn.commit()
    finally:
        await conn.close()
    return done


@dataclass(frozen=True)
class Maintenance:
    ready: list[str]  # the day partitions from today on (made now or before)
    dropped: list[str]


async def maintain(
    conn: AsyncConnection[Any], retention_days: int, today: date | None = None, ahead: int = DAYS_AHEAD
) -> Maintenance:
    """Create today's partition and the next ``ahead`` days'; drop the days wholly older
    than ``retention_days`` (and their identity claims). Commits."""
    today = today or datetime.now(UTC).date()
    ready = []
    for offset in range(ahead + 1):
        day = today + timedelta(days=offset)
        cur = await conn.execute("SELECT to_regclass(riskwire_decision_day(%s)) IS NOT NULL", (day,))
        row = await cur.fetchone()
        if row and row[0]:
            ready.append(f"decisions_{day:%Y%m%d}")
    cutoff = today - timedelta(days=retention_days)
    cur = await conn.execute("SELECT riskwire_drop_decisions_before(%s)", (cutoff,))
    dropped = [str(r[0]) for r in await cur.fetchall()]
    await conn.commit()
    return Maintenance(ready, dropped)


class LazyPool:
    """A pool opened on first use, in the event loop that uses it: for the stores that
    synchronous factories build (``pipeline.factory``). :meth:`connection` turns a lost or
    refused connection into :class:`DatabaseUnreachable`."""

    def __init__(self, url: str, *, max_size: int = 4, timeout: float = 10.0) -> None:
        self.url, self._max_size, self._timeout = url, max_size, timeout
        self._pool: AsyncConnectionPool | None = None
        self._opening: asyncio.Future[AsyncConnectionPool] | None = None

    @classmethod
    def of(cls, pool: AsyncConnectionPool) -> LazyPool:
        lazy = cls("")
        lazy._pool = pool
        return lazy

    async def pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            if self._opening is None:  # the first caller opens it; concurrent ones wait for it
                self._opening = asyncio.ensure_future(
                    open_pool(self.url, max_size=self._max_size, timeout=self._timeout)
                )
            opening = self._opening
            try:
                pool = await asyncio.shield(opening)
            except BaseException:
                if self._opening is opening and opening.done():
                    self._opening = None  # a failed open is tried again by the next caller
                raise
            self._pool = pool
        return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        import psycopg

        pool = await self.pool()
        try:
            async with pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as exc:  # PoolTimeout, a server gone or restarting
            raise DatabaseUnreachable.at(self.url or "(pool)", _first_line(exc)) from exc

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        self._opening = None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]
