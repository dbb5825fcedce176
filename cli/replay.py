"""`riskwire replay`: events file → decision records file, through the real pipeline."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import click

from cli.paths import output_file

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


async def _run(
    transactions: Path,
    labels: Path | None,
    out: Path,
    redis_url: str,
    model_version: str | None,
    batch: int,
    online: bool,
    in_memory: bool = False,
) -> int:
    from cli.history import read_labels, read_transactions
    from cli.progress import Progress
    from contracts.settings import get_settings
    from features.memory_store import MemoryFeatureStore
    from pipeline.factory import build_label_learning, build_pipeline
    from pipeline.replay import replay
    from store.connect import async_client
    from store.safe_url import redacted

    s = get_settings()
    # The private Redis of a replay without --redis-url is one node, whatever the setting says.
    client = async_client(redis_url, cluster=s.redis_cluster and not in_memory)
    if await client.dbsize():
        raise click.ClickException(f"{redacted(redis_url)} is not empty: replay needs a fresh feature state")
    # A private replay keeps its features in memory (the same kernel, no round trips) and
    # its decision records without search indexes: nothing else reads that Redis.
    features = MemoryFeatureStore(grace_ms=s.late_grace_s * 1000) if in_memory else None
    pipeline = build_pipeline(
        s, client, model_version, online=online, features=features, indexed=not in_memory
    )
    learning = build_label_learning(s, client, model_version, features=features) if online else None
    model = pipeline.live.model
    txs = read_transactions(transactions)
    history = read_labels(labels) if labels else []
    click.echo(
        f"replaying {len(txs):,} payments and {len(history):,} labels with model {model.version}, "
        f"online model {'on' if online else 'off'}",
        err=True,
    )
    written = 0
    with (
        out.open("wb") as fh,
        Progress(len(txs), "scoring") as bar,
    ):
        async for body in replay(
            txs, pipeline, labels=history, learning=learning, batch=batch, progress=bar.update
        ):
            fh.write(body + b"\n")
            written += 1
    await client.aclose()
    return written


@click.command("replay")
@click.option("--transactions", type=_FILE, required=True, help="Payments (JSON Lines), any order.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    callback=output_file,
    help=(
        "Decision records (JSON Lines), one per distinct event, as stored: with their "
        "feature_vector; allowed payments unexplained (reasons [], explained false)."
    ),
)
@click.option(
    "--labels",
    type=_FILE,
    default=None,
    help="Labels (JSON Lines): each takes effect once the replay's event time passes its reported_at.",
)
@click.option(
    "--online/--no-online",
    default=True,
    show_default=True,
    help="Blend with the online model learning from the labels, or score with the batch model alone.",
)
@click.option("--model-version", default=None, help="Registry version to score with (default: current).")
@click.option(
    "--redis-url",
    default=None,
    help="An empty Redis to hold the replay's state (default: a private embedded one).",
)
@click.option("--batch", type=click.IntRange(min=1), default=500, show_default=True)
def replay_cmd(
    transactions: Path,
    labels: Path | None,
    online: bool,
    out: Path,
    model_version: str | None,
    redis_url: str | None,
    batch: int,
) -> None:
    """Score history through the production pipeline in event-time order, without Kafka.

    Labels feed the label-derived features and (unless --no-online) the online
    model, in event time, as the worker's label agent would have.
    """
    started = time.monotonic()
    if redis_url:
        n = asyncio.run(_run(transactions, labels, out, redis_url, model_version, batch, online))
    else:
        from embedded import EmbeddedServices

        with (
            tempfile.TemporaryDirectory(prefix="riskwire-replay-") as tmp,
            EmbeddedServices(workdir=Path(tmp), with_kafka=False) as private,
        ):
            n = asyncio.run(
                _run(transactions, labels, out, private.redis_url, model_version, batch, online, True)
            )
    click.echo(f"wrote {n:,} decision records to {out} ({time.monotonic() - started:.1f} s)", err=True)
