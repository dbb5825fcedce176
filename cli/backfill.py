"""`riskwire backfill`: history → Redis feature state, through the online store itself."""

from __future__ import annotations

from pathlib import Path

import click


def backfill(path: Path, redis_url: str, labels: Path | None = None, batch: int = 1000) -> int:
    """Record history in event time with the worker's own Lua scripts; returns events recorded.

    Labels (optional) enter between micro-batches once event time passes their
    ``reported_at``, as in the worker, so the label-derived features match too.
    """
    from cli.history import read_labels, read_transactions
    from cli.progress import Progress
    from contracts.identity import load_names
    from contracts.settings import get_settings
    from features.event_time import in_event_time
    from store.connect import sync_client
    from store.feature_state import SyncOnlineFeatureStore

    settings = get_settings()
    client = sync_client(redis_url, cluster=settings.redis_cluster)
    client.ping()  # an unreachable Redis fails now, not after reading the history
    txs = read_transactions(path)
    history = read_labels(labels) if labels else []
    store = SyncOnlineFeatureStore(
        client,
        dedupe_ttl_s=settings.event_dedupe_ttl_s,
        grace_ms=settings.late_grace_s * 1000,
        names=load_names(settings),  # the worker's names: backfilled state is the state it reads
    )
    with Progress(len(txs), "backfilling features") as bar:
        for due, chunk in in_event_time(txs, history, batch):
            if due:
                store.record_labels(due)
            store.record_and_fetch(chunk)
            bar.update(len(chunk))
    client.close()
    return len(txs)


@click.command("backfill")
@click.option("--transactions", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Labels (JSON Lines) for the label-derived features, applied in event time.",
)
def backfill_cmd(transactions: Path, labels: Path | None) -> None:
    """Rebuild the online feature state in Redis from history files."""
    from contracts.settings import get_settings

    n = backfill(transactions, get_settings().redis, labels)
    click.echo(f"recorded {n:,} events")
