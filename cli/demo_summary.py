"""The demo's live view: reads ``scores`` with a plain Kafka consumer and summarises."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, TopicPartition

from contracts.kafka_security import confluent_config
from contracts.settings import get_settings


@dataclass
class ScoreTally:
    """Counts of decisions seen on ``scores`` and the riskiest example."""

    started: float = field(default_factory=time.monotonic)
    total: int = 0
    event_ids: set[str] = field(default_factory=set)
    levels: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    example: dict[str, Any] | None = None
    latencies: list[float] = field(default_factory=list)
    _mark: tuple[float, int] = (0.0, 0)

    def mean_rate(self) -> float:
        return self.total / max(time.monotonic() - self.started, 1e-9)

    def add(self, record: dict[str, Any]) -> None:
        self.total += 1
        self.event_ids.add(record["event_id"])
        self.levels[record["risk_level"]] += 1
        self.decisions[record["decision"]] += 1
        self.latencies.append(float(record["latency_ms"]))
        if self.example is None or record["risk_score"] > self.example["risk_score"]:
            self.example = record

    def line(self) -> str:
        """Totals, the rate since the previous line, and decisions by level."""
        now = time.monotonic()
        since, before = self._mark
        rate = (self.total - before) / max(now - max(since, self.started), 1e-9)
        self._mark = (now, self.total)
        lv = self.levels
        return (
            f"{self.total:>8,} scored  {rate:>7,.0f} events/s   "
            f"normal {lv['normal']:,}  elevated {lv['elevated']:,}  highest {lv['highest']:,}   "
            f"review {self.decisions['review']:,}  block {self.decisions['block']:,}"
        )


class ScoreReader:
    """Tails a topic from its current end on every partition (``assign``, no group join)."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self._consumer = Consumer(
            confluent_config(
                get_settings(),
                bootstrap=bootstrap,
                **{"group.id": "riskwire-demo", "enable.auto.commit": False},
            )
        )
        self._consumer.assign([TopicPartition(topic, p, OFFSET_END) for p in range(partitions)])

    def poll_into(self, tally: ScoreTally, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            for msg in self._consumer.consume(num_messages=1000, timeout=min(left, 0.2)):
                value = msg.value()
                if msg.error() is None and value:
                    tally.add(json.loads(value))

    def close(self) -> None:
        self._consumer.close()
