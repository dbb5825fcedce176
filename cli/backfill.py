"""`riskwire backfill`: history → Redis feature state, through the online store itself."""

from __future__ import annotations

from pathlib import Path

import click

from contracts.settings import get_settings


def backfill(path: Path, redis_url: str, batch: int = 1000) -> int:
    """Record history in time order with the worker's own Lua script; returns events recorded."""
    import redis

    from cli.history import read_transactions
    from features.online_store import SyncOnlineFeatureStore

    settings = get_settings()
    txs = sorted(read_transactions(path), key=lambda t: t.occurred_ms)
    client = redis.Redis.from_url(redis_url)
    store = SyncOnlineFeatureStore(
        client, dedupe_ttl_s=settings.event_dedupe_ttl_s, grace_ms=settings.late_grace_s * 1000
    )
    with click.progressbar(length=len(txs), label="backfilling features") as bar:
        for start in range(0, len(txs), batch):
            chunk = txs[start : start + batch]
            store.record_and_fetch(chunk)
            bar.update(len(chunk))
    client.close()
    return len(txs)


@click.command("backfill")
@click.option("--transactions", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
def backfill_cmd(transactions: Path) -> None:
    """Rebuild the online feature state in Redis from a history file."""
    n = backfill(transactions, get_settings().redis)
    click.echo(f"recorded {n:,} events")
