"""One micro-batch of consumed messages: decode, score, route, publish.

Kept free of Faust so that it can be driven directly by tests and benchmarks;
``stream.app`` feeds it with the events of ``take_events``. Each batch starts with
the one refresh of the pipeline's live state (``pipeline.live_state``); its report
feeds the PSI watch and the shadow and online metrics once the batch is published.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from contracts.identity import event_ref
from contracts.records import Transaction
from contracts.settings import Settings
from pipeline.decode import Rejected, decode
from pipeline.live_state import BatchReport, Refreshed
from pipeline.record_shapes import topic_body
from pipeline.scoring import ScoredEvent, ScoringPipeline
from store.feature_state import Position, kafka_source
from stream.metrics import WorkerMetrics
from stream.psi_watch import PsiWatch
from stream.publisher import OutgoingRecord

log = logging.getLogger(__name__)

#: Outages: the batch is retried whole, never dead-lettered.
RETRYABLE = (RedisError, KafkaError, OSError, asyncio.TimeoutError)


@dataclass(frozen=True)
class Incoming:
    """What the handler needs of a consumed message."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None


class Publisher(Protocol):
    async def publish(self, records: Sequence[OutgoingRecord]) -> None: ...


@dataclass
class BatchStats:
    scored: int = 0
    alerts: int = 0
    rejected: int = 0


def dead_letter(settings: Settings, msg: Incoming, why: Rejected) -> OutgoingRecord:
    """A dead letter with DESIGN.md's headers."""
    headers = [
        ("error", why.error.encode()),
        ("error_class", why.error_class.encode()),
        ("source_topic", msg.topic.encode()),
        ("source_partition", str(msg.partition).encode()),
        ("source_offset", str(msg.offset).encode()),
    ]
    return OutgoingRecord(settings.topic_dlq, msg.key, msg.value or b"", headers)


class BatchHandler:
    def __init__(
        self,
        settings: Settings,
        pipeline: ScoringPipeline,
        publisher: Publisher,
        metrics: WorkerMetrics | None = None,
        watch: PsiWatch | None = None,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.publisher = publisher
        self.metrics = metrics or WorkerMetrics()
        #: PSI of the batches' features and scores against the model's training window.
        self.watch = watch
        self.totals = BatchStats()

    def dead_letter(self, msg: Incoming, why: Rejected) -> OutgoingRecord:
        return dead_letter(self.settings, msg, why)

    async def handle(self, messages: Sequence[Incoming]) -> BatchStats:
        """Process a batch; returns only after every output is acknowledged by the broker."""
        s = self.settings
        self._refreshed(await self.pipeline.live.refresh())  # one model, rule set... per batch
        started = time.time()
        now_ms = int(started * 1000)
        future_ms = int(s.max_future_skew_s * 1000)
        valid: list[Transaction] = []
        source: dict[str, Incoming] = {}  # the first message of each event, for dead letters
        out: list[OutgoingRecord] = []
        rejected: Counter[str] = Counter()
        for msg in messages:
            result = decode(msg.value, max_bytes=s.max_message_bytes, now_ms=now_ms, max_future_ms=future_ms)
            if isinstance(result, Rejected):
                out.append(self.dead_letter(msg, result))
                rejected[result.error_class] += 1
            else:
                valid.append(result)
                source.setdefault(event_ref(result.account_id, result.event_id), msg)
        positions = {eid: kafka_source(m.topic, m.partition, m.offset) for eid, m in source.items()}
        scored_events, failed, reports = await self._score_isolating(valid, positions)
        for tx, error in failed:
            why = Rejected(f"could not be scored: {error!r}", "processing")
            out.append(self.dead_letter(source[event_ref(tx.account_id, tx.event_id)], why))
            rejected["processing"] += 1
        stats = BatchStats(rejected=len(out))
        levels: Counter[tuple[str, str]] = Counter()
        for scored in scored_events:
            key = scored.event_id.encode()
            # The stored record, without its feature vector unless asked: on a redelivery too.
            body = topic_body(scored.body, s.scores_include_features)
            out.append(OutgoingRecord(s.topic_scores, key, body))
            stats.scored += 1
            levels[(scored.risk_level, scored.decision)] += 1
            if scored.alert:
                out.append(OutgoingRecord(s.topic_alerts, key, body))
                stats.alerts += 1
        await self.publisher.publish(out)
        self._account(messages, stats, rejected, levels, started)
        self._follow(reports)
        return stats

    async def _score_isolating(
        self, batch: list[Transaction], positions: dict[str, Position]
    ) -> tuple[list[ScoredEvent], list[tuple[Transaction, Exception]], list[BatchReport]]:
        """Score a batch; if it fails for a reason other than a service outage, find the
        event(s) responsible by halving, so one poison event cannot stall the stream."""
        try:
            scored, report = await self.pipeline.score(batch, positions)
            return scored, [], [report]
        except RETRYABLE:
            raise
        except Exception as exc:
            if len(batch) == 1:
                log.exception("event %s could not be scored", batch[0].event_id)
                return [], [(batch[0], exc)], []
            half = len(batch) // 2
            left, bad_left, done_left = await self._score_isolating(batch[:half], positions)
            right, bad_right, done_right = await self._score_isolating(batch[half:], positions)
            return left + right, bad_left + bad_right, done_left + done_right

    def _refreshed(self, change: Refreshed) -> None:
        """A promotion: the model gauge moves, PSI starts over on the new training window."""
        if change.promoted is None:
            return
        if change.previous is not None:
            self.metrics.model.labels(change.previous).set(0)
        self.metrics.model.labels(change.promoted.version).set(1)
        if self.watch is not None:
            self.watch.reset(change.promoted.manifest.get("reference", {}))

    def _follow(self, reports: Sequence[BatchReport]) -> None:
        """The batch's PSI input, shadow agreement and the online learner's figures."""
        m = self.metrics
        for report in reports:
            if self.watch is not None and len(report.probabilities):
                self.watch.monitor.update(report.features, report.probabilities)
            for agreement, n in report.shadow.items():
                m.shadow.labels(agreement).inc(n)
        online = self.pipeline.live.online
        learner = online.learner if online is not None else None
        if learner is not None:
            m.online_weight.set(learner.online_weight())
            # A counter of the checkpoint's growth (it is cumulative across workers).
            learned = learner.learned
            m.online_learned.inc(max(learned - m.learned_seen, 0))
            m.learned_seen = max(learned, m.learned_seen)

    def _account(
        self,
        messages: Sequence[Incoming],
        stats: BatchStats,
        rejected: Counter[str],
        levels: Counter[tuple[str, str]],
        started: float,
    ) -> None:
        m = self.metrics
        done = time.time()
        m.batch_size.observe(len(messages))
        m.batch_seconds.observe(done - started)
        m.events.labels("scored").inc(stats.scored)
        m.events.labels("dead_lettered").inc(stats.rejected)
        m.events.labels("duplicate").inc(len(messages) - stats.scored - stats.rejected)
        for error_class, n in rejected.items():
            m.dead_letters.labels(error_class).inc(n)
        for (level, decision), n in levels.items():
            m.decisions.labels(level, decision).inc(n)
        for msg in messages:
            if msg.timestamp_ms:
                m.end_to_end.observe(max(done - msg.timestamp_ms / 1000.0, 0.0))
        m.last_progress.set(done)
        self.totals.scored += stats.scored
        self.totals.alerts += stats.alerts
        self.totals.rejected += stats.rejected
        if stats.rejected:
            log.warning(
                "dead_lettered=%d classes=%s topic=%s",
                stats.rejected,
                dict(rejected),
                self.settings.topic_dlq,
            )
