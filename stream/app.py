"""The Faust worker: consume ``transactions`` in micro-batches and score them.

``take_events`` hands over up to ``batch_max_events`` events, or what arrived
within ``batch_max_ms``; Faust acknowledges them only when the loop asks for
the next batch, i.e. after every output has been published. Concurrency stays
1 (faust-streaming issue 606); scale with partitions and workers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import faust
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from contracts.settings import Settings
from stream.handler import BatchHandler, Incoming
from stream.publisher import BatchPublisher
from stream.resources import open_pipeline
from stream.transport import LowLatencyApp

log = logging.getLogger("riskwire.worker")
MAX_BACKOFF_S = 5.0


def _incoming(event: Any) -> Incoming:
    m = event.message
    return Incoming(m.topic, m.partition, m.offset, m.key, m.value)


def create_app(settings: Settings) -> faust.App:
    """A Faust app with the scoring agent, wired to ``settings``."""
    app = LowLatencyApp(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        datadir=str(settings.var_dir / "faust"),
        web_enabled=False,
        web_host=settings.worker_web_host,
        web_port=settings.worker_web_port,
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        broker_session_timeout=settings.consumer_session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.consumer_session_timeout_s / 4),
    )
    transactions = app.topic(
        settings.topic_transactions,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.topic_partitions,
    )

    @app.agent(transactions, concurrency=1)
    async def score(stream: faust.StreamT[bytes]) -> None:
        resources = open_pipeline(settings)
        publisher = BatchPublisher(settings.bootstrap)
        await publisher.start()
        handler = BatchHandler(settings, resources.pipeline, publisher)
        log.info("scoring with model %s", resources.pipeline.model.version)
        reported, last = 0, time.monotonic()
        try:
            # take_events is faust-streaming's, missing from its StreamT stubs.
            batches = stream.take_events(  # type: ignore[attr-defined]
                settings.batch_max_events, settings.batch_max_ms / 1000.0
            )
            async for events in batches:
                batch = [_incoming(e) for e in events]
                await _handle_until_done(handler, batch)
                if time.monotonic() - last >= 10.0:
                    t = handler.totals
                    log.info(
                        "scored %d (+%d), alerts %d, dead-lettered %d",
                        t.scored,
                        t.scored - reported,
                        t.alerts,
                        t.rejected,
                    )
                    reported, last = t.scored, time.monotonic()
        finally:
            await publisher.stop()
            await resources.close()

    return app


async def _handle_until_done(handler: BatchHandler, batch: list[Incoming]) -> None:
    """Retry a batch on Redis or Kafka failures; nothing is acknowledged meanwhile.

    Retrying is safe: features and decision records are written once per event.
    """
    backoff = 0.1
    while True:
        try:
            await handler.handle(batch)
            return
        except (RedisError, KafkaError, OSError) as exc:
            log.warning("batch of %d failed (%s); retrying in %.1f s", len(batch), exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    """Run the worker until SIGINT/SIGTERM."""
    from stream.topics import ensure_topics

    ensure_topics(settings)
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
