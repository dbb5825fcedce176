"""The Faust worker: consume ``transactions`` in micro-batches and score them.

``take_events`` hands over up to ``batch_max_events`` events, or what arrived
within ``batch_max_ms``; Faust acknowledges them only when the loop asks for
the next batch, i.e. after every output has been published, and commits only
acknowledged offsets. Concurrency stays 1 (faust-streaming issue 606); scale
with partitions and workers. The web server (loopback by default) serves
``/healthz`` and Prometheus ``/metrics``. Stopping, retries and the hard
deadline are in ``stream.retry`` and ``stream.runner``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from types import SimpleNamespace
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from contracts.kafka_security import faust_credentials
from contracts.settings import Settings
from pipeline.factory import build_label_learning
from stream.handler import BatchHandler, Incoming
from stream.label_handler import DRIFT_KEY, LabelHandler, drift_message
from stream.lag import LagProbe
from stream.metrics import Progress, WorkerMetrics
from stream.psi_watch import PsiWatch
from stream.publisher import BatchPublisher, OutgoingRecord
from stream.resources import open_pipeline, open_redis
from stream.retry import BatchAbandoned, Stopping, abandon, until_done
from stream.transport import LowLatencyApp

log = logging.getLogger("riskwire.worker")


def _incoming(event: Any) -> Incoming:
    m = event.message
    return Incoming(m.topic, m.partition, m.offset, m.key, m.value, int(m.timestamp * 1000))


def create_app(settings: Settings, stopping: Stopping | None = None) -> faust.App:
    """A Faust app with the scoring agent, wired to ``settings``; ``stopping`` is set by
    the runner on SIGTERM/SIGINT and ends any batch retrying."""
    stopping = stopping or Stopping()
    # Faust's own mkdir has no parents=True: a fresh RISKWIRE_VAR_DIR killed the worker.
    (settings.var_dir / "faust").mkdir(parents=True, exist_ok=True)
    app = LowLatencyApp(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        broker_credentials=faust_credentials(settings),
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        datadir=str(settings.var_dir / "faust"),
        web_enabled=True,
        # web_host only names the advertised URL; web_bind is the listening address.
        web_bind=settings.worker_web_bind,
        web_host=settings.worker_web_host,
        web_port=settings.worker_web_port,
        web_in_thread=False,
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        consumer_max_fetch_size=settings.max_fetch_bytes,
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
    labels_topic = app.topic(
        settings.topic_labels,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.topic_partitions,
    )
    metrics = WorkerMetrics()
    metrics.online_weight_max.set(settings.blend_w_max)
    progress = Progress(stall_after_s=settings.worker_stall_after_s)
    lag_probe = LagProbe(settings.bootstrap, settings.app_id)

    def abandon_unfinished(events: Sequence[Any]) -> None:
        # The batch, and whatever Faust has delivered to the streams beyond it: its stop
        # waits ("Wait for streams...") until every delivered message is acked.
        abandon(events)
        delivered = list(getattr(app.consumer, "_unacked_messages", ()))  # faust's Consumer
        abandon(SimpleNamespace(message=m) for m in delivered)

    async def until_done_or_abandon(
        events: Sequence[Any], work: Callable[[], Awaitable[object]], agent: str = "score"
    ) -> None:
        try:
            await until_done(work, metrics, progress, stopping, agent)
        except asyncio.CancelledError:
            # Faust cancels the agent while it stops: the batch stays uncommitted.
            abandon_unfinished(events)
            raise
        except BatchAbandoned:
            # Stopping mid-batch: leave its offsets uncommitted (the next worker redoes it)
            # and wait for Faust to cancel the agent: ending it here would be a crash that
            # Faust's supervisor answers by restarting the agent.
            abandon_unfinished(events)
            log.warning("stopping: %d events of an unfinished batch left uncommitted", len(events))
            await asyncio.get_running_loop().create_future()

    @app.agent(labels_topic, concurrency=1)
    async def learn(stream: faust.StreamT[bytes]) -> None:
        client = open_redis(settings)
        publisher = BatchPublisher(settings.bootstrap, security=settings)
        await publisher.start()
        handler = LabelHandler(settings, build_label_learning(settings, client), publisher, metrics)
        try:
            batches = stream.take_events(  # type: ignore[attr-defined]
                settings.labels_batch_max_events, settings.batch_max_ms / 1000.0
            )
            async for events in batches:
                work = partial(handler.handle, [_incoming(e) for e in events])
                await until_done_or_abandon(events, work, "learn")
        finally:
            await publisher.stop()
            await client.aclose()

    @app.agent(transactions, concurrency=1)
    async def score(stream: faust.StreamT[bytes]) -> None:
        resources = open_pipeline(settings)
        publisher = BatchPublisher(settings.bootstrap, security=settings)
        await publisher.start()
        model = resources.pipeline.live.model
        watch = PsiWatch(settings, metrics, model.manifest.get("reference", {}))
        # The handler refreshes the live state (promotions, shadow, rules, online) per batch.
        handler = BatchHandler(settings, resources.pipeline, publisher, metrics, watch)
        metrics.model.labels(model.version).set(1)
        log.info("scoring with model %s", model.version)
        reported, last = 0, time.monotonic()
        try:
            # take_events is faust-streaming's, missing from its StreamT stubs.
            batches = stream.take_events(  # type: ignore[attr-defined]
                settings.batch_max_events, settings.batch_max_ms / 1000.0
            )
            async for events in batches:
                batch = [_incoming(e) for e in events]
                await until_done_or_abandon(events, partial(handler.handle, batch))
                if drifted := watch.check():
                    log.warning("input drift: %s", [e.to_json() for e in drifted])
                    alerts = [
                        OutgoingRecord(settings.topic_alerts, DRIFT_KEY, drift_message(e, time.time()))
                        for e in drifted
                    ]
                    await until_done_or_abandon(events, partial(publisher.publish, alerts))
                progress.advance((m.topic, m.partition, m.offset) for m in batch)
                if time.monotonic() - last >= 10.0:
                    t = handler.totals
                    log.info(
                        "scored=%d new=%d alerts=%d dead_lettered=%d lag=%d",
                        t.scored, t.scored - reported, t.alerts, t.rejected, progress.lag,
                    )  # fmt: skip
                    reported, last = t.scored, time.monotonic()
        finally:
            await publisher.stop()
            await resources.close()

    @app.timer(2.0)  # type: ignore[untyped-decorator]
    async def measure_lag() -> None:
        # A rebalance can take a partition away between two calls here, and an error
        # in a Faust timer stops the whole app: measuring must never fail the worker.
        try:
            assigned = [tp for tp in app.consumer.assignment() if tp.topic == settings.topic_transactions]
            fetched = {(tp.topic, tp.partition): app.consumer.highwater(tp) or 0 for tp in assigned}
            highwaters, committed = await asyncio.to_thread(lag_probe.measure, list(fetched))
            # Tansu's ListOffsets answers the last batch's base offset + 1: the highwater
            # the fetches saw is the better figure there (and never the worse one).
            highwaters = {tp: max(high, fetched[tp]) for tp, high in highwaters.items()}
        except Exception as exc:
            log.debug("lag not measured this time: %r", exc)
            metrics.healthy.set(1 if progress.healthy()[0] else 0)
            return
        for (_, partition), lag in progress.update_lag(highwaters, committed).items():
            metrics.lag.labels(str(partition)).set(lag)
        metrics.healthy.set(1 if progress.healthy()[0] else 0)

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        ok, why = progress.healthy()
        return web.json({"status": "ok" if ok else "stalled", "detail": why}, status=200 if ok else 503)

    @app.page("/metrics")
    async def prometheus(web: Any, request: Any) -> Any:
        # The text format generate_latest writes, with its version (a header: aiohttp's
        # content_type argument refuses parameters).
        body = generate_latest(metrics.registry)
        return web.bytes(body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    return app
