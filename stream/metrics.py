"""Prometheus metrics and the progress-based health check of the worker.

The worker is unhealthy when it has made no progress for ``stall_after_s``
while its consumer lag is above zero: alive but stuck, the state an on-call
person needs to hear about. An idle worker with no lag is healthy.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class WorkerMetrics:
    """The worker's Prometheus series, on their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter("riskwire_events", "Events consumed, by outcome", ["outcome"], registry=r)
        self.dead_letters = Counter(
            "riskwire_dead_letters", "Messages sent to the dead-letter topic", ["error_class"], registry=r
        )
        self.decisions = Counter(
            "riskwire_decisions", "Decisions published, by risk level", ["risk_level"], registry=r
        )
        self.batch_size = Histogram(
            "riskwire_batch_size",
            "Events per micro-batch",
            buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000),
            registry=r,
        )
        self.batch_seconds = Histogram(
            "riskwire_batch_seconds", "Time to process one micro-batch", buckets=LATENCY_BUCKETS, registry=r
        )
        self.end_to_end = Histogram(
            "riskwire_end_to_end_seconds",
            "From the transaction's Kafka timestamp to its decision being published",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.lag = Gauge("riskwire_consumer_lag", "Messages not yet processed", ["partition"], registry=r)
        self.retries = Counter(
            "riskwire_batch_retries", "Batches retried after a Redis or Kafka failure", registry=r
        )
        self.model = Gauge("riskwire_model_info", "The model versions in use", ["batch_version"], registry=r)
        self.drift = Gauge(
            "riskwire_drift_detected",
            "1 once a drift detector fired since the worker started",
            registry=r,
        )
        self.drift_events = Counter(
            "riskwire_drift_events", "Drifts detected by the online learner", registry=r
        )
        self.labels = Counter("riskwire_labels", "Labels consumed, by outcome", ["outcome"], registry=r)
        self.labels_pending = Gauge(
            "riskwire_labels_pending",
            "Labels waiting for their event's decision",
            registry=r,
        )
        self.online_weight = Gauge(
            "riskwire_online_weight", "The online model's weight in the blend (last batch)", registry=r
        )
        self.online_learned = Gauge(
            "riskwire_online_learned", "Labels the online model has learned in total", registry=r
        )
        self.psi = Gauge(
            "riskwire_psi",
            "Population stability index against the training window, by feature (and 'score')",
            ["feature"],
            registry=r,
        )
        self.shadow = Counter(
            "riskwire_shadow_decisions",
            "Shadow candidate decisions compared with the champion's",
            ["agreement"],
            registry=r,
        )
        self.last_progress = Gauge(
            "riskwire_last_progress_timestamp_seconds", "When the last batch completed", registry=r
        )


@dataclass
class Progress:
    """Processed offsets per partition, and when the worker last moved forward."""

    stall_after_s: float = 60.0
    processed: dict[tuple[str, int], int] = field(default_factory=dict)
    last_progress: float = field(default_factory=time.monotonic)
    lag: int = 0

    def advance(self, offsets: Iterable[tuple[str, int, int]]) -> None:
        for topic, partition, offset in offsets:
            key = (topic, partition)
            self.processed[key] = max(offset, self.processed.get(key, -1))
        self.last_progress = time.monotonic()

    def update_lag(
        self, highwaters: Mapping[tuple[str, int], int], positions: Mapping[tuple[str, int], int]
    ) -> dict[tuple[str, int], int]:
        """Lag per assigned partition: highwater − next offset to process (total in ``lag``)."""
        lags = {}
        for tp, high in highwaters.items():
            done = self.processed.get(tp)
            next_offset = done + 1 if done is not None else positions.get(tp, high)
            lags[tp] = max(high - next_offset, 0)
        self.lag = sum(lags.values())
        return lags

    def healthy(self) -> tuple[bool, str]:
        idle = time.monotonic() - self.last_progress
        if self.lag > 0 and idle > self.stall_after_s:
            return False, f"no progress for {idle:.0f} s with {self.lag} messages waiting"
        return True, f"lag {self.lag}, last progress {idle:.1f} s ago"
