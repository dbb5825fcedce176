"""One micro-batch of consumed messages: decode, score, route, publish.

Kept free of Faust so that it can be driven directly by tests and benchmarks;
``stream.app`` feeds it with the events of ``take_events``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from contracts.records import Transaction
from contracts.settings import Settings
from pipeline.decode import Rejected, decode
from pipeline.scoring import ScoringPipeline
from stream.publisher import OutgoingRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incoming:
    """What the handler needs of a consumed message."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class Publisher(Protocol):
    async def publish(self, records: Sequence[OutgoingRecord]) -> None: ...


@dataclass
class BatchStats:
    scored: int = 0
    alerts: int = 0
    rejected: int = 0


class BatchHandler:
    def __init__(self, settings: Settings, pipeline: ScoringPipeline, publisher: Publisher) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.publisher = publisher
        self.totals = BatchStats()

    def dead_letter(self, msg: Incoming, why: Rejected) -> OutgoingRecord:
        headers = [
            ("error", why.error.encode()),
            ("error_class", why.error_class.encode()),
            ("source_topic", msg.topic.encode()),
            ("source_partition", str(msg.partition).encode()),
            ("source_offset", str(msg.offset).encode()),
        ]
        return OutgoingRecord(self.settings.topic_dlq, msg.key, msg.value or b"", headers)

    async def handle(self, messages: Sequence[Incoming]) -> BatchStats:
        """Process a batch; returns only after every output is acknowledged by the broker."""
        s = self.settings
        now_ms = int(time.time() * 1000)
        future_ms = int(s.max_future_skew_s * 1000)
        valid: list[Transaction] = []
        out: list[OutgoingRecord] = []
        for msg in messages:
            result = decode(msg.value, max_bytes=s.max_message_bytes, now_ms=now_ms, max_future_ms=future_ms)
            if isinstance(result, Rejected):
                out.append(self.dead_letter(msg, result))
            else:
                valid.append(result)
        stats = BatchStats(rejected=len(out))
        for scored in await self.pipeline.score(valid):
            key = scored.event_id.encode()
            out.append(OutgoingRecord(s.topic_scores, key, scored.body))
            stats.scored += 1
            if scored.alert:
                out.append(OutgoingRecord(s.topic_alerts, key, scored.body))
                stats.alerts += 1
        await self.publisher.publish(out)
        self.totals.scored += stats.scored
        self.totals.alerts += stats.alerts
        self.totals.rejected += stats.rejected
        if stats.rejected:
            log.warning("sent %d malformed messages to %s", stats.rejected, s.topic_dlq)
        return stats
