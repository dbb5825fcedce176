"""Prometheus metrics and the progress-based health check of the worker.

The worker is unhealthy when it has made no progress for ``stall_after_s``
while its consumer lag is above zero: alive but stuck, the state an on-call
person needs to hear about. An idle worker with no lag is healthy.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

# A `_created` series per counter and histogram doubles the series count for a
# timestamp nobody alerts on (process_start_time_seconds says when the worker started).
disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class WorkerMetrics:
    """The worker's Prometheus series, on their own registry, with the process's own
    (``process_*``: CPU, memory, open files; ``python_info``). Names follow Prometheus
    conventions: counters end in ``_total``, units are in the name."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.learned_seen = 0  # the online checkpoint's count at the last export
        self.events = Counter("riskwire_events", "Events consumed, by outcome", ["outcome"], registry=r)
        self.dead_letters = Counter(
            "riskwire_dead_letters", "Messages sent to the dead-letter topic", ["error_class"], registry=r
        )
        self.decisions = Counter(
            "riskwire_decisions",
            "Decisions published, by risk level and decision (allow, review, block)",
            ["risk_level", "decision"],
            registry=r,
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
        self.lag = Gauge(
            "riskwire_consumer_lag_messages",
            "Messages not yet committed (highwater − committed offset)",
            ["partition"],
            registry=r,
        )
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
        self.online_learned = Counter(
            "riskwire_online_learned",
            "Labels the online model has learned (as this worker saw its checkpoint grow)",
            registry=r,
        )
        self.psi = Gauge(
            "riskwire_psi",
            "Population stability index against the training window: the score's, and the "
            "top-k drifting features' (RISKWIRE_PSI_TOP_K)",
            ["feature"],
            registry=r,
        )
        self.psi_max = Gauge(
            "riskwire_psi_max", "The largest PSI of any feature against the training window", registry=r
        )
        self.shadow = Counter(
            "riskwire_shadow_decisions",
            "Shadow candidate decisions compared with the champion's",
            ["agreement"],
            registry=r,
        )
        self.online_weight_max = Gauge(
            "riskwire_online_weight_max",
            "The online model's largest weight (RISKWIRE_BLEND_W_MAX)",
            registry=r,
        )
        self.healthy = Gauge(
            "riskwire_worker_healthy", "1 while /healthz answers 200, 0 while it answers 503", registry=r
        )
        self.last_progress = Gauge(
            "riskwire_last_progress_timestamp_seconds", "When the last batch completed", registry=r
        )


@dataclass
class Progress:
    """Processed offsets per partition, when the worker last moved forward, and since
    when its batches keep failing."""

    stall_after_s: float = 60.0
    processed: dict[tuple[str, int], int] = field(default_factory=dict)
    last_progress: float = field(default_factory=time.monotonic)
    failing: dict[str, float] = field(default_factory=dict)  # agent → since when it fails
    lag: int = 0

    def advance(self, offsets: Iterable[tuple[str, int, int]]) -> None:
        for topic, partition, offset in offsets:
            key = (topic, partition)
            self.processed[key] = max(offset, self.processed.get(key, -1))
        self.last_progress = time.monotonic()

    def failed(self, agent: str) -> None:
        """A batch of ``agent`` failed on an outage and will be retried."""
        self.failing.setdefault(agent, time.monotonic())

    def succeeded(self, agent: str) -> None:
        self.failing.pop(agent, None)

    def update_lag(
        self, highwaters: Mapping[tuple[str, int], int], committed: Mapping[tuple[str, int], int]
    ) -> dict[tuple[str, int], int]:
        """Lag per assigned partition: the broker's highwater − the group's committed offset
        (the next offset to read; a partition without a commit yet counts from its start,
        given in ``committed`` too). Measured from what is committed, not from what was
        fetched, so a worker stuck on a failing batch shows its lag growing."""
        lags = {tp: max(high - committed.get(tp, high), 0) for tp, high in highwaters.items()}
        self.lag = sum(lags.values())
        return lags

    def healthy(self) -> tuple[bool, str]:
        now = time.monotonic()
        idle = now - self.last_progress
        if self.failing and now - (since := min(self.failing.values())) > self.stall_after_s:
            return False, f"batches of {sorted(self.failing)} have failed for {now - since:.0f} s"
        if self.lag > 0 and idle > self.stall_after_s:
            return False, f"no progress for {idle:.0f} s with {self.lag} messages waiting"
        return True, f"lag {self.lag}, last progress {idle:.1f} s ago"
