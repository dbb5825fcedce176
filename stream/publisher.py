"""Publishing a whole micro-batch with one await per partition, not per event.

Records are grouped by (topic, partition) with the Java-compatible murmur2
partitioner and sent as aiokafka batches; the batch is published when every
batch's delivery future has resolved, and only then are offsets acknowledged.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from contracts.kafka_security import aiokafka_config
from contracts.settings import Settings, get_settings

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = field(default_factory=list)


class BatchPublisher:
    """An aiokafka producer that sends lists of records as per-partition batches."""

    def __init__(
        self,
        bootstrap: str,
        *,
        max_batch_bytes: int = 1 << 20,
        max_record_bytes: int = 16 << 20,
        security: Settings | None = None,
    ) -> None:
        # Records above the batch size (a 10 MB payload on its way to dlq) go alone, via send().
        self._producer = AIOKafkaProducer(
            **aiokafka_config(
                security or get_settings(),
                bootstrap=bootstrap,
                acks="all",
                linger_ms=0,
                max_batch_size=max_batch_bytes,
                max_request_size=max_record_bytes,
            )
        )
        self._max_batch_bytes = max_batch_bytes
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def _partitions_of(self, topic: str) -> list[int]:
        if topic not in self._partitions:
            found = await self._producer.partitions_for(topic)
            self._partitions[topic] = sorted(found)
        return self._partitions[topic]

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        """Send every record and wait until the broker has acknowledged all of them."""
        groups: dict[tuple[str, int], list[OutgoingRecord]] = defaultdict(list)
        for topic in {r.topic for r in records}:
            await self._partitions_of(topic)
        futures = []
        for r in records:
            if len(r.value) + len(r.key or b"") > self._max_batch_bytes // 2:
                futures.append(await self._producer.send(r.topic, r.value, key=r.key, headers=r.headers))
                continue
            parts = self._partitions[r.topic]
            partition = self._partitioner(r.key, parts, parts)
            groups[(r.topic, partition)].append(r)
        for (topic, partition), group in groups.items():
            batch = self._producer.create_batch()
            for r in group:
                if batch.append(key=r.key, value=r.value, timestamp=None, headers=r.headers) is None:
                    futures.append(await self._producer.send_batch(batch, topic, partition=partition))
                    batch = self._producer.create_batch()
                    if batch.append(key=r.key, value=r.value, timestamp=None, headers=r.headers) is None:
                        raise ValueError(f"record of {len(r.value)} bytes exceeds the batch size")
            futures.append(await self._producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)
