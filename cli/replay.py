"""`riskwire replay`: events file → decision records file, through the real pipeline."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import click

from contracts.settings import get_settings

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


async def _run(transactions: Path, out: Path, redis_url: str, model_version: str | None, batch: int) -> int:
    import redis.asyncio as aioredis

    from cli.history import read_transactions
    from pipeline.factory import build_pipeline
    from pipeline.replay import replay

    s = get_settings()
    client = aioredis.Redis.from_url(redis_url)
    if await client.dbsize():
        raise click.ClickException(f"{redis_url} is not empty: replay needs a fresh feature state")
    pipeline = build_pipeline(s, client, model_version)
    model = pipeline.model
    txs = read_transactions(transactions)
    click.echo(f"replaying {len(txs):,} payments with model {model.version}", err=True)
    written = 0
    with (
        out.open("wb") as fh,
        click.progressbar(length=len(txs), label="scoring", file=click.get_text_stream("stderr")) as bar,
    ):
        async for body in replay(txs, pipeline, batch=batch, progress=bar.update):
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
    help="Decision records (JSON Lines), one per distinct event.",
)
@click.option("--model-version", default=None, help="Registry version to score with (default: current).")
@click.option(
    "--redis-url",
    default=None,
    help="An empty Redis to hold the replay's state (default: a private embedded one).",
)
@click.option("--batch", type=click.IntRange(min=1), default=500, show_default=True)
def replay_cmd(
    transactions: Path, out: Path, model_version: str | None, redis_url: str | None, batch: int
) -> None:
    """Score history through the production pipeline in event-time order, without Kafka.

    Labels do not enter a replay yet: no stage learns from them until the
    label-derived features and the online model exist.
    """
    started = time.monotonic()
    if redis_url:
        n = asyncio.run(_run(transactions, out, redis_url, model_version, batch))
    else:
        from embedded import EmbeddedServices

        with (
            tempfile.TemporaryDirectory(prefix="riskwire-replay-") as tmp,
            EmbeddedServices(workdir=Path(tmp), with_kafka=False) as private,
        ):
            n = asyncio.run(_run(transactions, out, private.redis_url, model_version, batch))
    click.echo(f"wrote {n:,} decision records to {out} ({time.monotonic() - started:.1f} s)", err=True)
