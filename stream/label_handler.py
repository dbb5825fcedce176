"""One micro-batch of ``labels`` messages: decode, learn once, report drift.

Bad labels go to ``dlq`` with their reason, like bad transactions. Good ones
update the label-derived features and the online learner
(``pipeline.label_learning``), whose checkpoint records each partition's next
offset, so a label redelivered after a crash is not learned again. A drift the
learner detects becomes a metric and a ``drift`` message on ``alerts`` (key
``drift``), for the on-call person.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from typing import Protocol

import orjson

from contracts.settings import Settings
from models.drift import DriftEvent
from pipeline.decode import Rejected, decode_label
from pipeline.label_learning import LabelInput, LearnOutcome
from stream.handler import RETRYABLE, Incoming, Publisher, dead_letter
from stream.metrics import WorkerMetrics
from stream.publisher import OutgoingRecord

log = logging.getLogger(__name__)
DRIFT_KEY = b"drift"


def drift_message(event: DriftEvent, at: float) -> bytes:
    """The ``alerts`` record for a drift: ``kind: "drift"`` sets it apart from decisions."""
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    return orjson.dumps({"kind": "drift", "reported_at": when, **event.to_json()})


class Learning(Protocol):
    """What the handler needs of ``pipeline.label_learning.LabelLearning``."""

    async def apply(self, inputs: Sequence[LabelInput]) -> LearnOutcome: ...


class LabelHandler:
    def __init__(
        self,
        settings: Settings,
        learning: Learning,
        publisher: Publisher,
        metrics: WorkerMetrics,
    ) -> None:
        self.settings = settings
        self.learning = learning
        self.publisher = publisher
        self.metrics = metrics
        self._retrain_started = float("-inf")

    async def handle(self, messages: Sequence[Incoming]) -> LearnOutcome:
        """Learn a batch; returns after every output (dead letters, drift alerts) is acknowledged."""
        s = self.settings
        out: list[OutgoingRecord] = []
        rejected: Counter[str] = Counter()
        inputs: list[LabelInput] = []
        decoded: list[Incoming] = []
        for msg in messages:
            result = decode_label(msg.value, max_bytes=s.max_message_bytes)
            if isinstance(result, Rejected):
                out.append(dead_letter(s, msg, result))
                rejected[result.error_class] += 1
            else:
                inputs.append(LabelInput(result, (f"{msg.topic}:{msg.partition}", msg.offset)))
                decoded.append(msg)
        try:
            outcome = await self.learning.apply(inputs)
        except RETRYABLE:
            raise
        except Exception as exc:
            # Not an outage: a bug or a state this code cannot read. Park the batch on dlq
            # (replayable from there) rather than crash-loop the worker on it.
            log.exception("labels batch of %d could not be learned", len(inputs))
            why = Rejected(f"could not be learned: {exc!r}", "processing")
            out += [dead_letter(s, msg, why) for msg in decoded]
            rejected["processing"] += len(inputs)
            outcome = LearnOutcome()
        now = time.time()
        for event in outcome.drift:
            out.append(OutgoingRecord(s.topic_alerts, DRIFT_KEY, drift_message(event, now)))
        await self.publisher.publish(out)
        m = self.metrics
        m.labels.labels("learned").inc(outcome.learned)
        m.labels.labels("duplicate").inc(outcome.duplicates)
        m.labels.labels("pending").inc(outcome.pending_added)
        m.labels.labels("pending_resolved").inc(outcome.pending_resolved)
        m.labels.labels("pending_dropped").inc(outcome.pending_dropped)
        if outcome.pending is not None:
            m.labels_pending.set(outcome.pending)
        m.labels.labels("dead_lettered").inc(sum(rejected.values()))
        for error_class, n in rejected.items():
            m.dead_letters.labels(error_class).inc(n)
        if outcome.drift:
            m.drift.set(1)
            m.drift_events.inc(len(outcome.drift))
            log.warning("drift detected: %s", [drift_message(e, now).decode() for e in outcome.drift])
            self._trigger_retrain(outcome.drift[-1], now)
        return outcome

    def _trigger_retrain(self, event: DriftEvent, now: float) -> None:
        """Start the configured retraining command, detached, at most once per interval."""
        s = self.settings
        if not s.drift_retrain_command or now - self._retrain_started < s.drift_retrain_min_interval_s:
            return
        self._retrain_started = now
        env = {**os.environ, "RISKWIRE_DRIFT_EVENT": drift_message(event, now).decode()}
        try:
            subprocess.Popen(shlex.split(s.drift_retrain_command), env=env, start_new_session=True)
            log.warning("drift: started %r", s.drift_retrain_command)
        except OSError as exc:
            log.error("drift: could not start %r: %r", s.drift_retrain_command, exc)
