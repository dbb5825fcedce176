"""PostgreSQL migrations and decision partitions (issue 18), on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg
import pytest

from embedded import free_port
from store.database import DatabaseUnreachable, connect, maintain, migrations, upgrade

ROOT = Path(__file__).resolve().parents[2]


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_upgrade_applies_each_file_once_and_records_it(database_url: str) -> None:
    first = asyncio.run(upgrade(database_url))
    assert [m.version for m in first] == [m.version for m in migrations()]
    assert asyncio.run(upgrade(database_url)) == []
    tables = _tables(database_url)
    wanted = {"schema_migrations", "decision_ids", "accounts", "decisions", "reviews", "labels", "rules"}
    assert wanted | {"rule_history", "api_keys", "audit"} <= tables
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT version, name FROM schema_migrations").fetchall() == [
            (m.version, m.name) for m in migrations()
        ]


def test_concurrent_upgrades_apply_a_file_once(database_url: str) -> None:
    async def both() -> list[int]:
        done = await asyncio.gather(upgrade(database_url), upgrade(database_url), upgrade(database_url))
        return sorted(len(d) for d in done)

    assert asyncio.run(both()) == [0, 0, len(migrations())]


def test_a_failing_migration_leaves_nothing_of_itself(database_url: str, tmp_path: Path) -> None:
    for m in migrations():
        (tmp_path / m.path.name).write_text(m.text())
    (tmp_path / "9999_broken.sql").write_text("CREATE TABLE half_done (n int);\nSELECT no_such_function();\n")
    with pytest.raises(psycopg.errors.UndefinedFunction):
        asyncio.run(upgrade(database_url, tmp_path))
    assert "half_done" not in _tables(database_url)
    with psycopg.connect(database_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations").fetchall()]
    assert 9999 not in versions and versions == [m.version for m in migrations()]


def _partitions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'decisions'::regclass ORDER BY 1"
        ).fetchall()
    return [r[0] for r in rows]


def test_maintain_makes_the_coming_days_and_drops_those_past_retention(database_url: str) -> None:
    asyncio.run(upgrade(database_url))

    async def at(today: date, retention: int) -> tuple[list[str], list[str]]:
        conn = await connect(database_url)
        try:
            done = await maintain(conn, retention, today=today, ahead=2)
        finally:
            await conn.close()
        return done.ready, done.dropped

    ready, dropped = asyncio.run(at(date(2026, 3, 1), 90))
    assert ready == ["decisions_20260301", "decisions_20260302", "decisions_20260303"] and dropped == []
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO decision_ids VALUES "
            "('a', 'old', '2026-03-01T12:00:00Z'), ('a', 'new', '2026-03-03T00:00:00Z')"
        )
    # Two days on with a retention of one day: 1 March is wholly older than 2 March.
    ready, dropped = asyncio.run(at(date(2026, 3, 3), 1))
    assert dropped == ["decisions_20260301"]
    assert _partitions(database_url) == [f"decisions_2026030{d}" for d in (2, 3, 4, 5)]
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT event_id FROM decision_ids").fetchall() == [("new",)]


def test_an_unreachable_database_is_one_error() -> None:
    url = f"postgresql://riskwire:pw@127.0.0.1:{free_port()}/riskwire"
    with pytest.raises(DatabaseUnreachable, match=r"PostgreSQL at postgresql://riskwire:\*\*\*@127"):
        asyncio.run(upgrade(url))


def _cli(url: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RISKWIRE_DATABASE_URL"}
    if url is not None:
        env["RISKWIRE_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "cli", "db", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_db_upgrade_verb(database_url: str) -> None:
    done = _cli(database_url, "upgrade")
    assert done.returncode == 0, done.stderr
    assert "applied 0001_system_of_record.sql" in done.stdout
    assert "schema up to date" in done.stdout and "***" in done.stdout
    password = database_url.split(":")[2].split("@")[0]
    assert password not in done.stdout + done.stderr
    again = _cli(database_url, "upgrade")
    assert again.returncode == 0 and "applied" not in again.stdout


@pytest.mark.parametrize(
    ("url", "code", "says"),
    [
        (None, 2, "Error: no database: set RISKWIRE_DATABASE_URL"),
        (
            "postgresql://riskwire:pw@127.0.0.1:{port}/riskwire",
            1,
            "Error: PostgreSQL at postgresql://riskwire:***@",
        ),
    ],
)
def test_db_upgrade_fails_in_one_line(url: str | None, code: int, says: str) -> None:
    done = _cli(url and url.format(port=free_port()), "upgrade")
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == code and len(lines) == 1 and lines[0].startswith(says), lines


def test_a_lazy_pool_is_opened_once_by_concurrent_first_users(database_url: str) -> None:
    from store.database import LazyPool

    async def main() -> int:
        lazy = LazyPool(database_url)
        try:
            pools = await asyncio.gather(*(lazy.pool() for _ in range(5)))
            return len({id(p) for p in pools})
        finally:
            await lazy.close()

    assert asyncio.run(main()) == 1


def test_a_lazy_pool_that_could_not_open_tries_again() -> None:
    from store.database import LazyPool

    async def main() -> None:
        lazy = LazyPool(f"postgresql://riskwire:pw@127.0.0.1:{free_port()}/riskwire", timeout=1.0)
        for _ in range(2):
            with pytest.raises(DatabaseUnreachable):
                async with lazy.connection():
                    pass

    asyncio.run(main())
