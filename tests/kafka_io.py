"""Plain-client Kafka helpers for tests (confluent-kafka, not riskwire's own code)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition


def wait_until(condition: Callable[[], bool], timeout: float, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(every)


def produce(
    bootstrap: str,
    topic: str,
    messages: Iterable[tuple[bytes | None, bytes]],
    max_message_bytes: int = 1_000_000,
) -> int:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 5, "message.max.bytes": max_message_bytes}
    )
    errors: list[str] = []
    n = 0
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=_collect(errors))
                break
            except BufferError:
                producer.poll(0.05)
        n += 1
        producer.poll(0)
    assert producer.flush(30) == 0, "undelivered messages"
    assert not errors, errors
    return n


def _collect(errors: list[str]) -> Callable[[object, object], None]:
    def on_delivery(err: object, msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    return on_delivery


def read_topic(
    bootstrap: str,
    topic: str,
    partitions: int,
    *,
    until: Callable[[list[Message]], bool],
    timeout: float = 60.0,
) -> list[Message]:
    """All messages of a topic from the beginning, until ``until(messages)`` holds, then 1 s more."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "tests", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    settle: float | None = None
    try:
        while time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=1000, timeout=0.2):
                if msg.error() is None:
                    got.append(msg)
            if settle is None and until(got):
                settle = time.monotonic() + 1.0  # catch duplicates that would arrive late
            if settle is not None and time.monotonic() > settle:
                return got
        raise TimeoutError(f"{topic}: condition not met in {timeout} s ({len(got)} messages)")
    finally:
        consumer.close()
