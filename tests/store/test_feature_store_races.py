"""The feature store's round trips interrupted and interleaved, on a real Redis.

A crash can stop a batch between any two round trips (docs/redis-keys.md, "Online
features"); two workers can update one merchant at the same time. Either way no event
may be lost or counted twice, and a redelivered event gets its first result back.
These tests drive the store's steps by hand to stop or interleave them exactly there.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from features.aggregates import format_aggregates
from store.feature_protocol import record_steps
from store.feature_state import SyncOnlineFeatureStore, kafka_source
from tests.features.test_features import DEDUPE_TTL_S, GRACE_MS, MINUTE, T, feature_state, store_for, tx

pytestmark = pytest.mark.services


def _events(prefix: str, n: int, start: int, card: str, **extra: object) -> list:
    return [tx(f"{prefix}{i}", start + i * MINUTE, card=card, merchant="shared", **extra) for i in range(n)]


def _positions(partition: int, first_offset: int, n: int) -> list[tuple[int, int]]:
    return [kafka_source("transactions", partition, first_offset + i) for i in range(n)]


def _run_steps(store: SyncOnlineFeatureStore, steps, round_trips: int, last_part: float = 1.0) -> None:  # type: ignore[no-untyped-def]
    """Run the first ``round_trips`` round trips of a batch, the last one only in part, then
    abandon the batch as a crashed worker would."""
    cmds = next(steps)
    for i in range(round_trips):
        if i == round_trips - 1:
            cmds = cmds[: int(len(cmds) * last_part)]
            store._execute(cmds)
            return
        cmds = steps.send(store._execute(cmds))


def _probe(store: SyncOnlineFeatureStore, at: int) -> list[str]:
    """What new payments on the shared merchant and the cards would get now."""
    probes = [tx("probe-m", at, card="nobody", merchant="shared")]
    probes += [tx(f"probe-{c}", at, card=c, merchant="elsewhere") for c in ("ca", "cb")]
    return store.raw(probes, record=False)


@pytest.mark.parametrize(
    ("round_trips", "last_part"),
    [(1, 1.0), (2, 0.5), (2, 1.0), (3, 0.5), (3, 1.0)],
    ids=["after-read", "half-the-guards", "after-guards", "half-the-states", "all-states"],
)
@pytest.mark.parametrize("native", [True, False], ids=["set-ifeq", "lua-cas"])
def test_a_batch_interrupted_anywhere_is_repaired_by_its_redelivery(
    redis_client, round_trips, last_part, native
):
    history = _events("h", 20, T - 2 * 60 * MINUTE, "ca")
    batch = _events("b", 30, T, "ca", device_id="d1") + _events("x", 10, T, "cb", ip="i9")
    where = _positions(0, 100, len(batch))

    clean = store_for(redis_client)
    clean.record_and_fetch(history, _positions(0, 0, len(history)))
    expected = clean.raw(batch)  # no positions: a plain run is the reference
    expected_probe = _probe(clean, T + 60 * MINUTE)
    redis_client.flushdb()

    store = _store(redis_client, native)
    store.record_and_fetch(history, _positions(0, 0, len(history)))
    steps = record_steps(store._cfg, batch, where)
    _run_steps(store, steps, round_trips, last_part)
    # The partition is consumed again from the last committed offset: the whole batch.
    assert format_aggregates(store.record_and_fetch(batch, where)) == expected
    assert _probe(store, T + 60 * MINUTE) == expected_probe
    # And once more: nothing moves.
    state = feature_state(redis_client)
    assert format_aggregates(store.record_and_fetch(batch, where)) == expected
    assert feature_state(redis_client) == state


def _store(client, native: bool) -> SyncOnlineFeatureStore:  # type: ignore[no-untyped-def]
    """A store using ``SET … IFEQ`` (native) or the Lua compare-and-set (for Redis 7)."""
    store = SyncOnlineFeatureStore(client, dedupe_ttl_s=DEDUPE_TTL_S, grace_ms=GRACE_MS)
    store.peek([])  # probes the server
    assert store._cfg.native_cas, "the test server has SET … IFEQ"
    if not native:
        store._probed = False
        store._cfg = replace(store._cfg, native_cas=False)
    return store


@pytest.mark.parametrize("native", [True, False], ids=["set-ifeq", "lua-cas"])
def test_two_workers_on_one_merchant_lose_nothing_and_count_nothing_twice(redis_client, native):
    a, b = _store(redis_client, native), _store(redis_client, native)
    left = _events("l", 40, T, "ca", ip="shared-ip")
    right = _events("r", 25, T + 30 * 1000, "cb", ip="shared-ip")
    sa = record_steps(a._cfg, left, _positions(0, 0, len(left)))
    sb = record_steps(b._cfg, right, _positions(1, 0, len(right)))
    # Both read the same merchant and IP states, then both write: b's compare-and-set loses
    # and b applies its events again to the state a wrote.
    redis_client.config_resetstat()
    ca, cb = next(sa), next(sb)
    ra, rb = a._execute(ca), b._execute(cb)
    done_a = done_b = False
    while not (done_a and done_b):
        if not done_a:
            try:
                ca = sa.send(ra)
                ra = a._execute(ca)
            except StopIteration:
                done_a = True
        if not done_b:
            try:
                cb = sb.send(rb)
                rb = b._execute(cb)
            except StopIteration:
                done_b = True
    probe = tx("p", T + 59 * MINUTE, card="nobody", merchant="shared", ip="shared-ip")
    raw = dict(zip(range(81), store_for(redis_client).raw([probe], record=False)[0].split(" "), strict=True))
    # merchant 24 h count and IP 24 h count: every event of both batches, once.
    assert raw[2 * 10 + 4] == str(len(left) + len(right))
    assert raw[4 * 10 + 4] == str(len(left) + len(right))
    assert raw[4 * 10 + 5] == str((len(left) + len(right)) * 10 * 10_000)
    # The race did happen: b's writes of the merchant and IP lost and were made again
    # (3 states each without a race: the card, the merchant, the IP; plus the SET NX of
    # the history start).
    stats = redis_client.info("commandstats")
    writes = sum(stats.get(f"cmdstat_{c}", {"calls": 0})["calls"] for c in ("set", "evalsha"))
    assert writes >= 3 + 3 + 2
