"""The label handler's error policy, with fakes passed in (no services needed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from contracts.settings import Settings
from models.drift import DriftEvent
from pipeline.label_learning import LabelInput, LearnOutcome
from stream.handler import Incoming
from stream.label_handler import LabelHandler
from stream.metrics import WorkerMetrics
from stream.publisher import OutgoingRecord

GOOD = b'{"event_id": "e1", "label": "fraud", "reported_at": "2026-02-01T00:00:00Z", "source": "chargeback"}'


class Sent:
    def __init__(self) -> None:
        self.records: list[OutgoingRecord] = []

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        self.records += records


class Learning:
    def __init__(self, outcome: LearnOutcome | Exception) -> None:
        self.outcome = outcome
        self.seen: list[LabelInput] = []

    async def apply(self, inputs: Sequence[LabelInput]) -> LearnOutcome:
        self.seen += inputs
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def _handle(
    learning: Learning, values: list[bytes], settings: Settings | None = None
) -> tuple[Sent, WorkerMetrics]:
    sent, metrics = Sent(), WorkerMetrics()
    handler = LabelHandler(settings or Settings(), learning, sent, metrics)
    messages = [Incoming("labels", 0, i, b"k", v) for i, v in enumerate(values)]
    asyncio.run(handler.handle(messages))
    return sent, metrics


def _classes(sent: Sent) -> list[tuple[str, Any]]:
    return [(r.topic, dict(r.headers).get("error_class")) for r in sent.records]


def test_bad_labels_go_to_dlq_and_good_ones_are_learned_with_their_offsets():
    learning = Learning(LearnOutcome(learned=1))
    sent, metrics = _handle(learning, [b"{", GOOD])
    assert _classes(sent) == [("dlq", b"json")]
    assert [i.position for i in learning.seen] == [("labels:0", 1)]
    assert metrics.registry.get_sample_value("riskwire_labels_total", {"outcome": "learned"}) == 1


def test_a_batch_that_cannot_be_learned_is_parked_on_dlq_not_crash_looped():
    sent, _ = _handle(Learning(ValueError("unreadable state")), [GOOD, GOOD])
    assert _classes(sent) == [("dlq", b"processing"), ("dlq", b"processing")]
    assert b"unreadable state" in dict(sent.records[0].headers)["error"]


def test_an_outage_is_raised_for_the_worker_to_retry():
    with pytest.raises(RedisConnectionError):
        _handle(Learning(RedisConnectionError("down")), [GOOD])


def test_a_detected_drift_goes_to_alerts():
    drift = DriftEvent("adwin_batch_error", learned=640, at_ms=1_767_225_600_000, details={"estimation": 0.3})
    sent, metrics = _handle(Learning(LearnOutcome(learned=1, drift=[drift])), [GOOD])
    assert [(r.topic, r.key) for r in sent.records] == [("alerts", b"drift")]
    assert (
        b'"kind":"drift"' in sent.records[0].value
        and b'"detector":"adwin_batch_error"' in sent.records[0].value
    )
    assert metrics.registry.get_sample_value("riskwire_drift_detected") == 1


def test_a_drift_starts_the_configured_retraining_command(tmp_path):
    marker = tmp_path / "retrain.json"
    command = f"sh -c 'printf %s \"$RISKWIRE_DRIFT_EVENT\" > {marker}'"
    drift = DriftEvent("adwin_batch_error", learned=10, details={})
    _handle(Learning(LearnOutcome(drift=[drift])), [GOOD], Settings(drift_retrain_command=command))
    for _ in range(100):
        if marker.exists() and marker.read_text():
            break
        time.sleep(0.05)
    assert '"detector":"adwin_batch_error"' in marker.read_text()
