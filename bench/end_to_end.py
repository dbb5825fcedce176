"""Kafka-side tools of the end-to-end benchmarks: publishing payments, watching outputs.

A confluent-kafka producer publishes simulated payments; a consumer thread
(``assign``, no group join) tails an output topic (``scores``, the decode-only
agent's or the forwarder's) and notes when each output arrives, keyed by its
record key (the event id). Publisher and watcher run in this process, so send and
receive times share one monotonic clock. Every output is timed when the poll that
brought it returns, the same way for a figure and its peer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from bench.stats import percentile

__all__ = ["OutputWatcher", "create_topics", "percentile", "publish_burst", "publish_steady"]


class OutputWatcher(threading.Thread):
    """Tails every partition of ``topic`` from the beginning; ``arrived[key]`` is when the
    first record with that key came in (monotonic seconds)."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        super().__init__(daemon=True, name=f"watch-{topic}")
        self.topic = topic
        self.arrived: dict[str, float] = {}
        self.records = 0
        self._stopping = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bench-watch-{topic}",
                "fetch.wait.max.ms": 5,
                "enable.auto.commit": False,
            }
        )
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                messages = self._consumer.consume(num_messages=1000, timeout=0.05)
                now = time.monotonic()
                for msg in messages:
                    key = msg.key()
                    if msg.error() is None and key is not None:
                        self.records += 1
                        self.arrived.setdefault(key.decode(), now)
        finally:
            self._consumer.close()

    def wait_for(
        self, ids: Sequence[str], timeout: float, progress: Callable[[int], None] | None = None
    ) -> list[float]:
        """The arrival times of ``ids``; raises if they do not all arrive within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        wanted = list(ids)
        while True:
            missing = [i for i in wanted if i not in self.arrived]
            if not missing:
                return [self.arrived[i] for i in ids]
            if time.monotonic() > deadline or not self.is_alive():
                raise TimeoutError(
                    f"{len(missing):,} of {len(ids):,} outputs did not reach {self.topic} in {timeout:.0f} s"
                )
            if progress is not None:
                progress(len(ids) - len(missing))
            wanted = missing
            time.sleep(0.1)

    def stop(self) -> None:
        self._stopping.set()
        self.join(10)


def create_topics(bootstrap: str, names: Sequence[str], partitions: int, timeout: float = 30.0) -> None:
    """Create the bench's own topics (idempotent)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names], request_timeout=timeout
    )
    for future in futures.values():
        try:
            future.result(timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def _producer(bootstrap: str) -> Producer:
    return Producer({"bootstrap.servers": bootstrap, "linger.ms": 1, "queue.buffering.max.messages": 200_000})


def _key(record: dict[str, Any], key_field: str) -> bytes:
    return str(record[key_field]).encode()


def publish_burst(
    bootstrap: str, topic: str, records: Sequence[dict[str, Any]], key_field: str = "card_id"
) -> float:
    """Publish as fast as possible and wait until the broker has every record; returns seconds."""
    producer = _producer(bootstrap)
    payloads = [(_key(r, key_field), orjson.dumps(r)) for r in records]
    started = time.monotonic()
    for key, value in payloads:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    if left := producer.flush(120):
        raise RuntimeError(f"{left} payments were not acknowledged by the broker")
    return time.monotonic() - started


def publish_steady(
    bootstrap: str, topic: str, records: Sequence[dict[str, Any]], rate: float, key_field: str = "card_id"
) -> dict[str, float]:
    """Publish at ``rate`` events/s; returns each event id's send time (monotonic seconds)."""
    producer = _producer(bootstrap)
    sent: dict[str, float] = {}
    payloads = [(r["event_id"], _key(r, key_field), orjson.dumps(r)) for r in records]
    started = time.monotonic()
    for i, (event_id, key, value) in enumerate(payloads):
        due = started + i / rate
        if (wait := due - time.monotonic()) > 0:
            time.sleep(wait)
        sent[event_id] = time.monotonic()
        producer.produce(topic, key=key, value=value)
        producer.poll(0)
    if left := producer.flush(60):
        raise RuntimeError(f"{left} payments were not acknowledged by the broker")
    return sent
