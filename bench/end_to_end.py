"""The real worker, end to end: sustained throughput and publish-to-score latency.

A confluent-kafka producer publishes simulated payments; a consumer thread
(``assign``, no group join) tails ``scores`` and notes when each decision
arrives. Both run in this process, so send and receive times share one clock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


class ScoreWatcher(threading.Thread):
    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        super().__init__(daemon=True)
        self.arrived: dict[str, float] = {}
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "bench",
                "fetch.wait.max.ms": 5,
                "enable.auto.commit": False,
            }
        )
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])

    def run(self) -> None:
        while not self._stop.is_set():
            for msg in self._consumer.consume(num_messages=1000, timeout=0.05):
                key = msg.key()
                if msg.error() is None and key is not None:
                    self.arrived.setdefault(key.decode(), time.monotonic())
        self._consumer.close()

    def wait_for(self, ids: Sequence[str], timeout: float) -> float:
        """When the last of ``ids`` arrived; raises if they do not all arrive in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(i in self.arrived for i in ids):
                return max(self.arrived[i] for i in ids)
            time.sleep(0.05)
        missing = sum(i not in self.arrived for i in ids)
        raise TimeoutError(f"{missing} of {len(ids)} decisions did not arrive in {timeout} s")

    def stop(self) -> None:
        self._stop.set()


def _producer(bootstrap: str) -> Producer:
    return Producer({"bootstrap.servers": bootstrap, "linger.ms": 1, "queue.buffering.max.messages": 200_000})


def publish_burst(bootstrap: str, topic: str, records: Sequence[dict[str, Any]]) -> float:
    """Publish as fast as possible; returns the time of the first send."""
    producer = _producer(bootstrap)
    payloads = [(r["card_id"].encode(), json.dumps(r).encode()) for r in records]
    started = time.monotonic()
    for key, value in payloads:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.flush(60)
    return started


def publish_steady(
    bootstrap: str, topic: str, records: Sequence[dict[str, Any]], rate: float
) -> dict[str, float]:
    """Publish at ``rate`` events/s; returns each event's send time."""
    producer = _producer(bootstrap)
    sent: dict[str, float] = {}
    started = time.monotonic()
    for i, r in enumerate(records):
        due = started + i / rate
        if (wait := due - time.monotonic()) > 0:
            time.sleep(wait)
        value = json.dumps(r).encode()
        sent[r["event_id"]] = time.monotonic()
        producer.produce(topic, key=r["card_id"].encode(), value=value)
        producer.poll(0)
    producer.flush(60)
    return sent


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def broker_hop_latency(bootstrap: str, topic: str, messages: int = 300, gap_s: float = 0.01) -> float:
    """p50 ms of one produce → consume hop through the broker alone (the floor under each hop)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-hop", "fetch.wait.max.ms": 5})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    producer = _producer(bootstrap)
    got: list[float] = []
    done = threading.Event()

    def consume() -> None:
        while not done.is_set():
            for msg in consumer.consume(num_messages=100, timeout=0.05):
                if msg.error() is None and msg.value():
                    got.append(time.monotonic() - float(msg.value()))

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    for _ in range(messages):
        producer.produce(topic, value=repr(time.monotonic()).encode(), partition=0)
        producer.poll(0)
        time.sleep(gap_s)
    producer.flush(30)
    deadline = time.monotonic() + 10
    while len(got) < messages and time.monotonic() < deadline:
        time.sleep(0.05)
    done.set()
    reader.join()
    consumer.close()
    return percentile(got, 0.5) * 1000
