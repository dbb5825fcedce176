"""The worker's peer for throughput: a Faust agent that only decodes each payment.

Built on the worker's own ``LowLatencyApp`` (stream/transport.py) with the
worker's consumer settings, it takes the same micro-batches (``take_events`` with
``batch_max_events`` / ``batch_max_ms``: 500 events or 20 ms) from the same
``transactions`` topic, decodes each JSON body with orjson, and publishes one small
record per event (key: the event id, value ``b"1"``) to an output topic with the
worker's ``BatchPublisher`` (one send per partition per batch, acknowledged before
the next batch). So its events/s are measured exactly as the worker's are, from the
first output to the last, and the ratio worker / decode-only is what scoring costs
on top of Faust, the broker and publishing.

Run as a child process: ``python -m bench.decode_only --out-topic bench-decoded``
with the ``RISKWIRE_*`` environment of the worker (its own consumer group,
``RISKWIRE_APP_ID`` + ``-decode-only``).
"""

from __future__ import annotations

import argparse
from typing import Any

import faust
import orjson

from contracts.settings import Settings
from stream.publisher import BatchPublisher, OutgoingRecord
from stream.transport import LowLatencyApp

DEFAULT_OUT_TOPIC = "bench-decoded"


def create_app(settings: Settings, out_topic: str = DEFAULT_OUT_TOPIC) -> faust.App:
    # The consumer settings of stream.app.create_app, line for line; no web server.
    app = LowLatencyApp(
        f"{settings.app_id}-decode-only",
        broker=f"kafka://{settings.bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        datadir=str(settings.var_dir / "faust-decode-only"),
        web_enabled=False,
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

    @app.agent(transactions, concurrency=1)
    async def decode(stream: faust.StreamT[bytes]) -> None:
        publisher = BatchPublisher(settings.bootstrap)
        await publisher.start()
        try:
            batches = stream.take_events(  # type: ignore[attr-defined]
                settings.batch_max_events, settings.batch_max_ms / 1000.0
            )
            async for events in batches:
                out = []
                for event in events:
                    body: Any = orjson.loads(event.message.value)
                    out.append(OutgoingRecord(out_topic, str(body["event_id"]).encode(), b"1"))
                await publisher.publish(out)
        finally:
            await publisher.stop()

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-topic", default=DEFAULT_OUT_TOPIC)
    args = parser.parse_args()
    app = create_app(Settings(), args.out_topic)
    worker = faust.Worker(app, loglevel="info", quiet=True)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
