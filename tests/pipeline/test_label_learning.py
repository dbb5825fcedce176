"""Label learning against a real Redis: each label learned once, none lost.

The learner here is a small fake passed in (it records what it was taught), so
these tests check the joining, deduplication, pending and compare-and-set
logic on their own; tests/stream/test_online_worker.py runs the real River learner.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import numpy as np
import orjson
import pytest
import redis.asyncio as aioredis

from contracts.identity import event_ref
from contracts.records import Label, Transaction
from features.aggregates import RAW_INDEX
from features.catalogue import FEATURE_INDEX
from pipeline.label_learning import CheckpointContended, LabelInput, LabelLearning
from store.feature_state import OnlineFeatureStore
from store.layout import decision_key
from store.online_checkpoint import OnlineCheckpoint

pytestmark = pytest.mark.services
AMOUNT = FEATURE_INDEX["amount"]


class TaughtLearner:
    """Remembers (amount feature, label) pairs in the order it learned them."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.taught: list[list[float]] = list(state["taught"]) if state else []

    def learn(self, x: Any, y: Any, p_batch: Any, times_ms: Any = None) -> list[Any]:
        self.taught += [[float(a), int(b)] for a, b in zip(x[:, AMOUNT], y, strict=True)]
        return []

    def to_state(self) -> dict[str, Any]:
        return {"taught": self.taught}


def _learning(client: aioredis.Redis, pending_retry: int = 200) -> LabelLearning:
    return LabelLearning(
        client,
        OnlineFeatureStore(client, dedupe_ttl_s=3600, grace_ms=0),
        OnlineCheckpoint(client, seen_ttl_s=3600),
        new_learner=TaughtLearner,
        load_learner=TaughtLearner,
        pending_retry=pending_retry,
    )


def _label(event_id: str, kind: str = "fraud") -> Label:
    at = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=int(event_id[1:]))
    return Label(event_id=event_id, label=kind, reported_at=at, source="chargeback")  # type: ignore[arg-type]


async def _decide(client: aioredis.Redis, event_ids: list[str]) -> None:
    """Decision records as the pipeline stores them, with the amount = the id's number."""
    for e in event_ids:
        record = {
            "event_id": e,
            "probability": 0.2,
            "model": {"batch_probability": 0.1},
            "features": {"amount": {"value": float(e[1:]), "complete": True}},
        }
        await client.set(decision_key(event_ref(None, e)), orjson.dumps(record))


async def _taught(client: aioredis.Redis) -> list[list[float]]:
    snap = await OnlineCheckpoint(client, seen_ttl_s=3600).load()
    return [] if snap.learner is None else list(snap.learner["taught"])


@pytest.fixture()
def url(redis_client: Any, services: Any) -> str:
    """The URL of Redis db 0, flushed for this test by ``redis_client``."""
    return str(services.redis_url)


def test_redelivered_and_repeated_labels_are_learned_once(url: str) -> None:
    async def run() -> None:
        client = aioredis.Redis.from_url(url)
        ids = [f"e{i}" for i in range(10)]
        await _decide(client, ids)
        learning = _learning(client)
        first = await learning.apply([LabelInput(_label(e), ("labels:0", i)) for i, e in enumerate(ids)])
        assert first.learned == 10
        # Redelivery after a crash: same offsets, nothing learned again.
        again = await learning.apply([LabelInput(_label(e), ("labels:0", i)) for i, e in enumerate(ids)])
        assert again.learned == 0
        # The same labels published again (new offsets): duplicates, not lessons.
        repeat = await learning.apply(
            [LabelInput(_label(e), ("labels:0", 10 + i)) for i, e in enumerate(ids)]
        )
        assert (repeat.learned, repeat.duplicates) == (0, 10)
        # A correction (legit after fraud) is learned.
        fix = await learning.apply([LabelInput(_label("e3", "legit"), ("labels:0", 20))])
        assert fix.learned == 1
        taught = await _taught(client)
        assert taught == [[float(i), 1] for i in range(10)] + [[3.0, 0]]
        await client.aclose()

    asyncio.run(run())


def test_a_label_for_an_unknown_event_waits_for_its_decision(url: str) -> None:
    async def run() -> None:
        client = aioredis.Redis.from_url(url)
        learning = _learning(client)
        early = await learning.apply([LabelInput(_label("e42"), ("labels:1", 0))])
        assert (early.learned, early.pending_added) == (0, 1)
        assert await learning.checkpoint.pending_count() == 1
        await _decide(client, ["e42"])
        later = await learning.apply([])
        assert (later.learned, later.pending_resolved) == (1, 1)
        assert await learning.checkpoint.pending_count() == 0
        assert await _taught(client) == [[42.0, 1]]
        await client.aclose()

    asyncio.run(run())


def test_a_pending_label_learned_through_a_fresh_copy_is_not_learned_again(url: str) -> None:
    async def run() -> None:
        client = aioredis.Redis.from_url(url)
        await _learning(client).apply([LabelInput(_label("e7"), ("labels:0", 0))])
        await _decide(client, ["e7"])
        # The same label again, in a step that happens not to retry the pending one.
        fresh = await _learning(client, pending_retry=0).apply([LabelInput(_label("e7"), ("labels:0", 1))])
        assert fresh.learned == 1
        later = await _learning(client).apply([])
        assert (later.learned, later.pending_resolved) == (0, 0)
        assert await OnlineCheckpoint(client, seen_ttl_s=3600).pending_count() == 0
        assert await _taught(client) == [[7.0, 1]]
        await client.aclose()

    asyncio.run(run())


def test_the_last_label_for_an_event_in_a_batch_wins(url: str) -> None:
    async def run() -> None:
        client = aioredis.Redis.from_url(url)
        await _decide(client, ["e5", "e6"])
        learning = _learning(client)
        got = await learning.apply(
            [
                LabelInput(_label("e5", "legit"), ("labels:0", 0)),
                LabelInput(_label("e6", "fraud"), ("labels:0", 1)),
                LabelInput(_label("e5", "fraud"), ("labels:0", 2)),  # the correction, later
                LabelInput(_label("e6", "legit"), ("labels:0", 3)),
            ]
        )
        assert got.learned == 2
        assert sorted(await _taught(client)) == [[5.0, 1], [6.0, 0]]
        await client.aclose()

    asyncio.run(run())


def test_offsets_already_committed_are_skipped_before_the_seen_check(url: str) -> None:
    async def run() -> None:
        client = aioredis.Redis.from_url(url)
        await _decide(client, ["e1", "e2"])
        learning = _learning(client)
        assert (await learning.apply([LabelInput(_label("e1"), ("labels:0", 4))])).learned == 1
        assert (await learning.checkpoint.load()).offsets == {"labels:0": 5}
        # Offset 4 is committed: whatever it carries now (here a label never seen) is skipped.
        again = await learning.apply([LabelInput(_label("e2"), ("labels:0", 4))])
        assert (again.learned, again.duplicates, again.pending_added) == (0, 0, 0)
        assert await _taught(client) == [[1.0, 1]]
        assert (await learning.checkpoint.load()).offsets == {"labels:0": 5}
        await client.aclose()

    asyncio.run(run())


def test_two_learners_racing_lose_nothing_and_learn_nothing_twice(url: str) -> None:
    async def run() -> None:
        client = aioredis.Redis.from_url(url)
        ids = [f"e{i}" for i in range(60)]
        await _decide(client, ids)
        a, b = _learning(client), _learning(aioredis.Redis.from_url(url))

        async def feed(learning: LabelLearning, part: int) -> None:
            mine = ids[part::2]
            for j in range(0, len(mine), 5):
                chunk = mine[j : j + 5]
                await learning.apply(
                    [LabelInput(_label(e), (f"labels:{part}", j + k)) for k, e in enumerate(chunk)]
                )

        await asyncio.gather(feed(a, 0), feed(b, 1))
        taught = await _taught(client)
        assert sorted(a for a, _ in taught) == [float(i) for i in range(60)]
        snap = await a.checkpoint.load()
        assert snap.offsets == {"labels:0": 30, "labels:1": 30}
        await client.aclose()

    asyncio.run(run())


def test_features_of_reads_what_the_decision_was_made_on() -> None:
    from pipeline.label_learning import features_of

    row, p = features_of({"features": {"amount": {"value": 12.5}}, "probability": 0.3})
    assert row[AMOUNT] == 12.5 and p == 0.3
    assert np.isnan(row[FEATURE_INDEX["card_count_1h"]])
    # The compact stored shape (pipeline.record_shapes): values in catalogue order.
    from features.catalogue import FEATURE_NAMES
    from pipeline.record_shapes import CATALOGUE_ID

    values: list[float | None] = [None] * len(FEATURE_NAMES)
    values[AMOUNT] = 40.0
    vector = {"catalogue": CATALOGUE_ID, "values": values, "incomplete": "", "currency": "EUR"}
    row, p = features_of({"feature_vector": vector, "model": {"batch_probability": 0.2}, "probability": 0.5})
    assert row[AMOUNT] == 40.0 and p == 0.2 and np.isnan(row[FEATURE_INDEX["card_count_1h"]])


class RecordingLearner(TaughtLearner):
    """Also keeps what it was given beside the rows, and reports a drift."""

    calls: ClassVar[list[tuple[Any, Any, Any]]] = []

    def learn(self, x: Any, y: Any, p_batch: Any, times_ms: Any = None) -> list[Any]:
        super().learn(x, y, p_batch, times_ms)
        RecordingLearner.calls.append((y, p_batch, times_ms))
        return ["drift!"]


def test_the_learner_gets_each_labels_batch_probability_and_report_time(url: str) -> None:
    async def run() -> None:
        client = aioredis.Redis.from_url(url)
        records = {
            "e1": {"model": {"batch_probability": 0.1}, "probability": 0.2},
            "e2": {"probability": 0.4},
            "e3": {},
        }
        for e, extra in records.items():
            body = {"event_id": e, "features": {"amount": {"value": float(e[1:]), "complete": True}}, **extra}
            await client.set(decision_key(event_ref("acme", e)), orjson.dumps(body))
        features = OnlineFeatureStore(client, dedupe_ttl_s=3600, grace_ms=0)
        learning = LabelLearning(
            client,
            features,
            OnlineCheckpoint(client, seen_ttl_s=3600),
            new_learner=RecordingLearner,
            load_learner=RecordingLearner,
        )
        labels = [
            _label(e, kind).model_copy(update={"account_id": "acme"})
            for e, kind in (("e1", "fraud"), ("e2", "legit"), ("e3", "fraud"))
        ]
        RecordingLearner.calls = []
        out = await learning.apply([LabelInput(lab, ("labels:0", i)) for i, lab in enumerate(labels)])
        assert (out.learned, out.drift) == (3, ["drift!"])
        [(y, probs, times)] = RecordingLearner.calls
        assert y.dtype == np.int8 and y.tolist() == [1, 0, 1]
        assert probs.tolist() == [0.1, 0.4, 0.0]
        assert times.tolist() == [int(lab.reported_at.timestamp() * 1000) for lab in labels]
        # A redelivered (older) position is skipped, and the rest of the batch still learned.
        e4 = _label("e4").model_copy(update={"account_id": "acme"})
        await client.set(decision_key(event_ref("acme", "e4")), orjson.dumps({"event_id": "e4"}))
        again = await learning.apply(
            [LabelInput(labels[0], ("labels:0", 0)), LabelInput(e4, ("labels:0", 3))]
        )
        assert again.learned == 1 and (await learning.checkpoint.load()).offsets == {"labels:0": 4}
        await client.aclose()

    asyncio.run(run())


def test_two_pending_labels_resolved_in_one_batch_count_two(url: str) -> None:
    async def run() -> None:
        client = aioredis.Redis.from_url(url)
        learning = _learning(client)
        early = await learning.apply(
            [LabelInput(_label(e), ("labels:0", i)) for i, e in enumerate(["e1", "e2"])]
        )
        assert early.pending_added == 2
        await _decide(client, ["e1", "e2"])
        later = await learning.apply([])
        assert (later.learned, later.pending_resolved, later.pending) == (2, 2, 0)
        await client.aclose()

    asyncio.run(run())


class LosingCheckpoint(OnlineCheckpoint):
    """A checkpoint another writer always commits to first."""

    async def commit(self, expected_seq: int, learner: dict[str, Any], step: Any) -> bool:
        return False


def test_a_checkpoint_always_contended_gives_up_with_a_clear_error(url: str, caplog) -> None:
    async def run() -> None:
        client = aioredis.Redis.from_url(url)
        learning = LabelLearning(
            client,
            OnlineFeatureStore(client, dedupe_ttl_s=3600, grace_ms=0),
            LosingCheckpoint(client, seen_ttl_s=3600),
            new_learner=TaughtLearner,
            load_learner=TaughtLearner,
        )
        with pytest.raises(CheckpointContended, match="still contended after"):
            await learning.apply([LabelInput(_label("e1"), ("labels:0", 0))])
        await client.aclose()

    with caplog.at_level(logging.INFO, logger="pipeline.label_learning"):
        asyncio.run(run())
    assert "online checkpoint moved on meanwhile; learning this batch again from it" in caplog.messages


def test_the_labels_reach_the_label_features(url: str) -> None:
    async def run() -> None:
        client = aioredis.Redis.from_url(url)
        features = OnlineFeatureStore(client, dedupe_ttl_s=3600, grace_ms=0)
        t = Transaction(
            event_id="e5",
            occurred_at=datetime(2026, 3, 1, tzinfo=UTC),
            amount=1.0,
            currency="EUR",
            card_id="c1",
            merchant_id="m1",
        )
        await features.record_and_fetch([t])
        await _learning(client).apply([LabelInput(_label("e5"), ("labels:0", 0))])
        probe = t.model_copy(update={"event_id": "probe", "occurred_at": datetime(2026, 3, 2, tzinfo=UTC)})
        raw = await features.peek([probe])
        assert raw[0, RAW_INDEX["card_fraud_7d"]] == 1
        await client.aclose()

    asyncio.run(run())
