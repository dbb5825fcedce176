"""Labels waiting for their event expire and are capped, and the worker exports their count."""

from __future__ import annotations

import asyncio
import time

import pytest

from pipeline.label_learning import LearnOutcome
from store.at_rest import AtRest, AtRestError
from store.connect import async_client
from store.layout import ONLINE_PENDING, ONLINE_PENDING_AT
from store.online_checkpoint import Commit, OnlineCheckpoint, Snapshot
from stream.metrics import WorkerMetrics

pytestmark = pytest.mark.services


def _label(event_id: str) -> tuple[str, bytes]:
    return event_id, b'{"event_id": "%s", "label": "fraud"}' % event_id.encode()


def _commit(url: str, step: Commit, **limits: int) -> tuple[int, int, int]:
    async def run() -> tuple[int, int, int]:
        client = async_client(url)
        try:
            checkpoint = OnlineCheckpoint(client, seen_ttl_s=60, **limits)
            assert await checkpoint.commit(await checkpoint.seq(), {}, step)
            return checkpoint.pending, checkpoint.pending_dropped, await checkpoint.pending_count()
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_pending_labels_past_the_cap_drop_the_oldest(services, redis_client):
    url = services.redis_url
    _commit(url, Commit(offsets={}, pending_add=[_label("e1"), _label("e2")]), pending_max=3)
    time.sleep(0.01)
    pending, dropped, count = _commit(
        url, Commit(offsets={}, pending_add=[_label("e3"), _label("e4")]), pending_max=3
    )
    assert (pending, dropped, count) == (3, 1, 3)
    left = {k.decode() for k in redis_client.hkeys(ONLINE_PENDING)}
    assert len(left) == 3 and left < {"e1", "e2", "e3", "e4"} and {"e3", "e4"} <= left
    assert redis_client.zcard(ONLINE_PENDING_AT) == 3


def test_pending_labels_expire_after_their_ttl(services, redis_client):
    url = services.redis_url
    _commit(url, Commit(offsets={}, pending_add=[_label("old")]), pending_ttl_s=1)
    time.sleep(1.1)
    pending, dropped, _ = _commit(url, Commit(offsets={}, pending_add=[_label("new")]), pending_ttl_s=1)
    assert (pending, dropped) == (1, 1)
    assert redis_client.hkeys(ONLINE_PENDING) == [b"new"]


def test_a_learned_label_leaves_the_filing_times_too(services, redis_client):
    url = services.redis_url
    _commit(url, Commit(offsets={}, pending_add=[_label("e1")]))
    assert _commit(url, Commit(offsets={}, pending_drop=["e1"]))[:2] == (0, 0)
    assert redis_client.zcard(ONLINE_PENDING_AT) == 0


def test_the_worker_exports_the_pending_count():
    from contracts.settings import Settings
    from stream.label_handler import LabelHandler

    class Learning:
        async def apply(self, inputs: object) -> LearnOutcome:
            return LearnOutcome(pending_added=1, pending=7, pending_dropped=2)

    class Sent:
        async def publish(self, records: object) -> None:
            return None

    metrics = WorkerMetrics()
    handler = LabelHandler(Settings(), Learning(), Sent(), metrics)  # type: ignore[arg-type]
    asyncio.run(handler.handle([]))
    assert metrics.labels_pending._value.get() == 7
    assert metrics.labels.labels("pending_dropped")._value.get() == 2


def test_sealed_pending_labels_read_back_each_under_its_own_event(services, redis_client):
    """Each pending label is sealed bound to its own event: moved to another event's field,
    it no longer opens. A fresh checkpoint has counted nothing yet."""
    cipher = AtRest([("k1", bytes(range(32)))])

    async def run() -> None:
        client = async_client(services.redis_url)
        try:
            checkpoint = OnlineCheckpoint(client, seen_ttl_s=60, cipher=cipher)
            assert (checkpoint.pending, checkpoint.pending_dropped) == (0, 0)
            assert await checkpoint.load() == Snapshot(seq=0, learner=None)
            labels = [_label(e) for e in ("e1", "e2", "e3")]
            assert await checkpoint.commit(0, {"n": 1}, Commit(offsets={"0": 5}, pending_add=labels))
            assert (checkpoint.pending, checkpoint.pending_dropped) == (3, 0)
            assert await checkpoint.load() == Snapshot(seq=1, learner={"n": 1}, offsets={"0": 5})
            assert not await checkpoint.commit(0, {}, Commit(offsets={}))  # seq 0 is stale
            stored = redis_client.hget(ONLINE_PENDING, "e1")
            assert stored is not None and b"fraud" not in stored  # sealed at rest
            assert await checkpoint.pending_sample(0) == {}
            assert len(await checkpoint.pending_sample(1)) == 1
            assert await checkpoint.pending_sample(10) == dict(labels)
            redis_client.hset(ONLINE_PENDING, "e2", stored)  # e1's sealed label under e2
            with pytest.raises(AtRestError):
                await checkpoint.pending_sample(10)
        finally:
            await client.aclose()

    asyncio.run(run())


def test_the_pending_labels_ttl_is_in_seconds(services, redis_client):
    _commit(services.redis_url, Commit(offsets={}, pending_add=[_label("e1")]), pending_ttl_s=5)
    filed = redis_client.zscore(ONLINE_PENDING_AT, "e1")
    assert filed is not None
    # The filing time is kept in ms; a label older than 5 s (not 5 ms, not 5,005 ms) expires.
    time.sleep(0.05)
    assert _commit(services.redis_url, Commit(offsets={}), pending_ttl_s=5)[:2] == (1, 0)
