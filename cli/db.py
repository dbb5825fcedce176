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
