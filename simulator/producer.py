"""Publish records to Kafka with confluent-kafka, optionally at a steady rate.

A paced, bounded producer lets a demo or benchmark feed the worker at a chosen
events/s instead of dumping a month of history at once; failures to deliver
are raised, never dropped, because a missing event silently skews features.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from contracts.errors import RiskwireError
from contracts.kafka_security import confluent_config
from contracts.settings import Settings, get_settings

from .jsonl import dumps

PROGRESS_STEP = 1000
CONNECT_TIMEOUT_S = 10.0


class PublishError(RiskwireError, RuntimeError):
    """Some records were not delivered; ``errors`` holds the Kafka errors seen."""

    def __init__(self, message: str, errors: list[KafkaError]) -> None:
        super().__init__(message)
        self.errors = errors


def publish(
    records: Iterable[dict[str, Any]],
    *,
    bootstrap: str,
    topic: str,
    key_field: str,
    rate: float | None = None,
    progress: Callable[[int], None] | None = None,
    security: Settings | None = None,
) -> int:
    """Produce each record as compact UTF-8 JSON keyed by ``record[key_field]``.

    ``rate`` is in events/s (``None``: as fast as the bounded queue allows; a
    full queue is drained with ``poll`` rather than failing). Flushes at the
    end and raises ``PublishError`` on any delivery error. Returns the count.
    """
    if rate is not None and rate <= 0:
        raise ValueError("rate must be > 0 events/s, or None")
    producer = Producer(
        confluent_config(
            security or get_settings(),
            bootstrap=bootstrap,
            **{
                "client.id": "riskwire-simulate",
                "acks": "all",
                "linger.ms": 10,
                "queue.buffering.max.messages": 100_000,
                "message.timeout.ms": 60_000,
                "log_level": 0,  # no librdkafka line per failed connect: PublishError says it once
            },
        )
    )
    try:  # fail in seconds, not after message.timeout.ms, when the broker is down
        producer.list_topics(timeout=CONNECT_TIMEOUT_S)
    except KafkaException as exc:
        raise PublishError(f"cannot reach Kafka at {bootstrap}: {exc}", []) from exc
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            errors.append(err)

    started = time.monotonic()
    sent = unreported = 0
    for record in records:
        if errors:
            break
        if rate is not None:
            due = started + sent / rate
            while (wait := due - time.monotonic()) > 0:
                producer.poll(wait)
        value = dumps(record).encode("utf-8")
        key = str(record[key_field]).encode("utf-8")
        while True:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        sent += 1
        unreported += 1
        if progress is not None and unreported >= PROGRESS_STEP:
            progress(unreported)
            unreported = 0
    remaining = producer.flush(90.0)
    if progress is not None and unreported:
        progress(unreported)
    if errors:
        raise PublishError(f"{len(errors)} deliveries to {topic!r} failed: {errors[0]}", errors)
    if remaining:
        raise PublishError(f"{remaining} messages to {topic!r} still undelivered at flush", [])
    return sent
