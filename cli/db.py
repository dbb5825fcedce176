"""`riskwire db upgrade`: the PostgreSQL schema (store/sql) and the decision partitions."""

from __future__ import annotations

import click


@click.group("db")
def db() -> None:
    """PostgreSQL, the system of record (RISKWIRE_DATABASE_URL)."""


@db.command("upgrade")
def upgrade_cmd() -> None:
    """Apply the pending migrations, then make the coming days' decision partitions and
    drop those past RISKWIRE_DECISION_RETENTION_DAYS (idempotent: run it daily)."""
    import asyncio

    from contracts.settings import get_settings
    from store.database import connect, maintain, redacted, require_url, upgrade

    s = get_settings()
    url = require_url(s.database_url.get_secret_value() if s.database_url else None)

    async def run() -> None:
        for migration in await upgrade(url):
            click.echo(f"applied {migration.path.name}")
        conn = await connect(url)
        try:
            done = await maintain(conn, s.decision_retention_days)
        finally:
            await conn.close()
        click.echo(
            f"{redacted(url)}: schema up to date; decision partitions {done.ready[0]}..{done.ready[-1]}; "
            f"dropped {len(done.dropped)} past {s.decision_retention_days} days"
        )

    asyncio.run(run())


@db.command("import-redis")
def import_redis_cmd() -> None:
    """Copy the decision records and review states in Redis (RISKWIRE_REDIS_URL) into
    PostgreSQL (idempotent: what PostgreSQL already holds is kept; run it twice, the second
    copies nothing). Run `riskwire db upgrade` first."""
    import asyncio

    from contracts.identity import load_names
    from contracts.settings import get_settings
    from store.at_rest import AtRest
    from store.connect import async_client
    from store.database import LazyPool, redacted, require_url
    from store.pg_decisions import PgDecisionStore
    from store.pg_import import import_redis

    s = get_settings()
    url = require_url(s.database_url.get_secret_value() if s.database_url else None)

    async def run() -> None:
        client, pool = async_client(s), LazyPool(url)
        store = PgDecisionStore(pool, names=load_names(s), cipher=AtRest.from_settings(s))
        try:
            done = await import_redis(client, store, pool)
        finally:
            await pool.close()
            await client.aclose()
        click.echo(
            f"{done.seen:,} decision records in Redis, {done.copied:,} new in {redacted(url)}; "
            f"{done.reviews:,} review states copied"
        )

    asyncio.run(run())
