"""Every store except the online feature store, on one Redis and on a 3-master Redis Cluster.

The same tests run against the session's single Redis (db 0) and the session's
embedded cluster (``redis_cluster``): decision records and their indexes, the
review queue, API keys and rate limits, the audit log, rules and the online
learner's checkpoint. On the cluster a Lua call or ``MULTI`` that touched keys of
two slots would fail, so passing here shows each one stays in its slot;
``test_the_keys_of_each_atomic_change_share_a_slot`` checks the names directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
import pytest
import redis
from redis.asyncio.cluster import RedisCluster
from redis.cluster import key_slot

from contracts.identity import EntityNames, event_ref, split_ref
from contracts.records import Transaction
from contracts.settings import Settings
from store.api_keys import KeyStore, Role
from store.audit import Actor, AuditLog
from store.connect import AsyncRedis, async_client, get_many, sync_client
from store.decisions import DecisionStore
from store.layout import (
    ACCOUNTS,
    API_KEYS_INDEX,
    AUDIT,
    INDEX_ALL,
    ONLINE_PENDING,
    ONLINE_SEEN,
    ONLINE_SEQ,
    ONLINE_STATE,
    RATE_PREFIX,
    api_key,
    decision_key,
    index_key,
    meta_key,
    review_key,
    review_queue_key,
)
from store.online_checkpoint import Commit, OnlineCheckpoint
from store.reviews import ReviewStore
from store.rules import RuleStore
from store.wire import execute

pytestmark = pytest.mark.services
T = TypeVar("T")
T0 = datetime(2026, 3, 1, tzinfo=UTC)
ANALYST = Actor(who="k1", role="analyst", account="acme")


@dataclass(frozen=True)
class Target:
    url: str
    cluster: bool


@pytest.fixture(params=["single", "cluster"])
def target(request: pytest.FixtureRequest) -> Target:
    """An empty Redis: the session's single node (db 0), or the session's cluster."""
    if request.param == "cluster":
        cluster = request.getfixturevalue("redis_cluster")
        cluster.flushall()
        return Target(cluster.url, True)
    request.getfixturevalue("redis_client")  # flushes db 0
    return Target(request.getfixturevalue("services").redis_url, False)


def run(target: Target, body: Callable[[AsyncRedis], Awaitable[T]]) -> T:
    async def main() -> T:
        client = async_client(target.url, cluster=target.cluster)
        try:
            return await body(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def tx(event_id: str, account: str | None = "acme", card: str = "c1") -> Transaction:
    return Transaction(
        event_id=event_id,
        occurred_at=T0,
        amount=10.0,
        currency="EUR",
        card_id=card,
        merchant_id="m1",
        account_id=account,
    )


#: When a test's records are scored: set once per test, half an hour back (well inside the
#: stores' 1 h TTL), so a record built twice is the same bytes however slow the machine
#: (building each from the clock broke across a second).
SCORED_BASE = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _scored_base() -> None:
    global SCORED_BASE
    SCORED_BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def record(event_id: str, decision: str = "allow", minute: int = 0) -> bytes:
    """A decision record in the pipeline's key order (what ``index_fields`` reads); like the
    pipeline's, it does not name the account."""
    at = SCORED_BASE + timedelta(minutes=minute)
    level = {"allow": "normal", "review": "elevated", "block": "highest"}[decision]
    return orjson.dumps(
        {
            "event_id": event_id,
            "occurred_at": T0,
            "scored_at": at,
            "risk_score": 50,
            "risk_level": level,
            "decision": decision,
        }
    )


async def _ids(store: DecisionStore, index: str, **kw: Any) -> list[str]:
    """The event ids a scan finds (``account:event_id`` for accounts other than acme's)."""
    page = await store.scan([index], kw.pop("wanted", {}), limit=50, budget=1000, **kw)
    return [_short(found.ref) for found in page.items]


def _short(ref: str) -> str:
    account, event_id = split_ref(ref)
    return event_id if account in ("acme", None) else f"{account}:{event_id}"


def acme(event_id: str) -> str:
    return event_ref("acme", event_id)


def card_index(card: str) -> str:
    return index_key("card", EntityNames().index("card", card))


def test_put_new_new_redelivered_and_other_accounts_events(target: Target) -> None:
    e1 = record("e1", decision="review", minute=1)
    e2 = record("e2", minute=2)
    e3 = record("e3", decision="block", minute=3)

    async def body(client: AsyncRedis) -> None:
        store = DecisionStore(client, ttl_s=3600)
        assert await store.put_new([(tx("e1"), e1), (tx("e2", card="c2"), e2)]) == [e1, e2]
        again = record("e1", decision="block", minute=9)
        g1 = record("e1", minute=4)
        got = await store.put_new(
            [
                (tx("e1"), again),  # redelivered: the first record, nothing re-indexed
                (tx("e1", account="globex"), g1),  # another tenant's id: another event
                (tx("e3", account=None), e3),
                (tx("e3", account=None), e3),  # twice in one batch
            ]
        )
        assert got == [e1, g1, e3, e3]
        assert await _ids(store, INDEX_ALL) == ["globex:e1", "e3", "e2", "e1"]
        assert await _ids(store, card_index("c1")) == ["globex:e1", "e3", "e1"]
        assert await _ids(store, index_key("account", "acme"), wanted={"decision": "review"}) == ["e1"]
        assert await _ids(store, index_key("decision", "block")) == ["e3"]
        assert await _ids(store, review_queue_key("open"), with_review=True) == ["e1"]
        assert await _ids(store, review_queue_key("open", "acme")) == ["e1"]
        assert await store.get(acme("e1")) == e1
        assert await store.get(event_ref("globex", "e1")) == g1
        assert await store.get(event_ref(None, "e1")) is None
        assert await store.find("e1") == [(acme("e1"), e1), (event_ref("globex", "e1"), g1)]
        assert await store.find("e3") == [(event_ref(None, "e3"), e3)]
        assert await store.exists([acme("e2"), acme("e3"), event_ref(None, "e3")]) == [True, False, True]
        page = await store.scan([INDEX_ALL], {}, limit=2, budget=1000)
        assert [_short(f.ref) for f in page.items] == ["globex:e1", "e3"] and page.next is not None
        rest = await store.scan([INDEX_ALL], {}, limit=2, budget=1000, after=page.next)
        assert [_short(f.ref) for f in rest.items] == ["e2", "e1"] and rest.next is None

    run(target, body)


def test_an_event_without_account_and_a_bound_accounts_event_are_two_events(target: Target) -> None:
    e1 = record("e1", decision="review", minute=1)
    e2 = record("e2", minute=2)

    async def body(client: AsyncRedis) -> None:
        store = DecisionStore(client, ttl_s=3600)
        assert await store.put_new([(tx("e1"), e1), (tx("e2", account=None), e2)]) == [e1, e2]
        # No account is not a wildcard: neither record is handed to the other namespace.
        n1, a2 = record("e1", minute=3), record("e2", minute=4)
        got = await store.put_new([(tx("e1", account=None), n1), (tx("e2"), a2)])
        assert got == [n1, a2]
        assert await store.get(acme("e1")) == e1 and await store.get(event_ref(None, "e2")) == e2
        assert await store.get(event_ref(None, "e1")) == n1 and await store.get(acme("e2")) == a2
        assert await client.smembers(ACCOUNTS) == {b"acme"}

    run(target, body)


def test_a_store_without_indexes_keeps_the_records_only(target: Target) -> None:
    """What a private replay uses: write-once records, no searches, no review queue."""
    e1 = record("e1", decision="review", minute=1)

    async def body(client: AsyncRedis) -> list[bytes]:
        store = DecisionStore(client, ttl_s=3600, indexed=False)
        assert await store.put_new([(tx("e1"), e1)]) == [e1]
        g1 = record("e1", minute=2)
        again = [(tx("e1"), record("e1", decision="block")), (tx("e1", account="globex"), g1)]
        assert await store.put_new(again) == [e1, g1]
        assert await store.get(acme("e1")) == e1
        return [k for k in await _all_keys(client) if b"{api}" in k]

    assert run(target, body) == []


async def _all_keys(client: AsyncRedis) -> list[bytes]:
    if isinstance(client, RedisCluster):
        await client.initialize()
        return [k for node in client.get_primaries() for k in await client.keys(target_nodes=node)]
    return list(await client.keys())


def test_a_worker_killed_while_indexing_new_records_leaves_them_to_the_redelivery(target: Target) -> None:
    """Half of the new records' index commands ran (the metadata comes last): the
    redelivered batch indexes every event whole."""
    first = [record(f"h{i}", decision="review" if i % 2 else "allow", minute=i + 1) for i in range(6)]
    batch = [(tx(f"h{i}", card=f"k{i}"), body) for i, body in enumerate(first)]

    async def body(client: AsyncRedis) -> list[list[str]]:
        crashing = DecisionStore(client, ttl_s=3600)

        async def half(redis_client: Any, cmds: list[tuple[object, ...]]) -> None:
            await execute(redis_client, cmds[: len(cmds) // 2])
            raise ConnectionError("the worker died here")

        crashing._execute = half  # type: ignore[assignment]
        with pytest.raises(ConnectionError):
            await crashing.put_new(batch)
        store = DecisionStore(client, ttl_s=3600)
        assert await store.put_new(batch) == first
        return [
            await _ids(store, INDEX_ALL),
            await _ids(store, review_queue_key("open", "acme")),
            *[await _ids(store, card_index(f"k{i}")) for i in range(6)],
        ]

    ids = run(target, body)
    assert ids[0] == [f"h{i}" for i in reversed(range(6))]
    assert ids[1] == ["h5", "h3", "h1"]
    assert ids[2:] == [[f"h{i}"] for i in range(6)]


def test_a_record_stored_before_a_crash_is_indexed_when_redelivered(target: Target) -> None:
    """Step one (the record) happened, step two (the indexes) did not: redelivery indexes it,
    from the stored record, and never reopens a review that was closed since."""
    stored = record("e9", decision="review", minute=1)

    async def body(client: AsyncRedis) -> None:
        store = DecisionStore(client, ttl_s=3600)
        reviews = ReviewStore(client, AuditLog(client, max_entries=1000))
        crashing = DecisionStore(client, ttl_s=3600)

        async def crash(*_: Any, **__: Any) -> None:
            raise ConnectionError("the worker died here")

        crashing._index = crash  # type: ignore[assignment]
        crashing._execute = crash  # type: ignore[assignment]  # the new records' entries
        with pytest.raises(ConnectionError):
            await crashing.put_new([(tx("e9"), stored), (tx("e8"), record("e8"))])
        assert await store.exists([acme("e9"), acme("e8")]) == [True, True]
        assert not await client.exists(meta_key(acme("e9")), meta_key(acme("e8")))  # not indexed
        g8 = record("e8", minute=2)
        assert await store.put_new([(tx("e8", account="globex"), g8)]) == [g8]  # another event
        assert not await client.exists(meta_key(acme("e8")))
        assert await store.put_new([(tx("e9"), record("e9", minute=5))]) == [stored]
        assert await _ids(store, review_queue_key("open", "acme")) == ["e9"]
        assert await _ids(store, index_key("level", "elevated")) == ["e9"]
        closed = await reviews.close(acme("e9"), scope="acme", outcome="fraud", note=None, actor=ANALYST)
        assert closed.outcome == "ok"
        assert await store.put_new([(tx("e9"), record("e9", minute=6))]) == [stored]
        assert await _ids(store, review_queue_key("open")) == []
        assert await _ids(store, review_queue_key("closed", "acme"), with_review=True) == ["e9"]
        assert await store.put_new([(tx("e8"), record("e8"))]) == [record("e8")]
        assert await client.hget(meta_key(acme("e8")), "a") == b"acme"

    run(target, body)


def test_a_redelivered_record_is_found_by_its_card_customer_and_merchant(target: Target) -> None:
    """The redelivery path indexes a stored record under the same pseudonyms as a new one;
    and the store's own helpers name its indexes and read what the API asks of it."""
    stored = record("e7", minute=1)
    event = tx("e7").model_copy(update={"customer_id": "u7"})
    names = EntityNames()

    async def body(client: AsyncRedis) -> None:
        store, crashing = DecisionStore(client, ttl_s=3600), DecisionStore(client, ttl_s=3600)

        async def crash(*_: Any, **__: Any) -> None:
            raise ConnectionError("the worker died here")

        crashing._execute = crash  # type: ignore[assignment]  # the new record's entries
        with pytest.raises(ConnectionError):
            await crashing.put_new([(event, stored)])
        assert await store.put_new([(event, record("e7", minute=4))]) == [stored]  # redelivered
        for kind, value in (("card", "c1"), ("customer", "u7"), ("merchant", "m1")):
            assert await _ids(store, index_key(kind, names.index(kind, value))) == ["e7"], kind
        await store.put_new([(tx("e6", account=None), record("e6", minute=2))])  # no customer
        assert await client.hget(meta_key(event_ref(None, "e6")), "u") == b""
        assert await store.newest(1) == [event_ref(None, "e6")]
        assert await store.newest(2) == [event_ref(None, "e6"), acme("e7")]
        assert store.queue("open", "acme") == review_queue_key("open", "acme")
        assert store.indexes({"card": "x", "level": None}) == [index_key("card", "x")]
        assert store.indexes({}) == [INDEX_ALL]
        with pytest.raises(ValueError, match=r"^a scan needs at least one index$"):
            await store.scan([], {}, limit=1, budget=1)
        await client.hset(review_key(acme("e7")), "status", "assigned")
        plain = await store.scan([INDEX_ALL], {}, limit=5, budget=100)
        assert [f.review for f in plain.items] == [{}, {}]  # review states only when asked
        asked = await store.scan([INDEX_ALL], {}, limit=5, budget=100, with_review=True)
        assert [f.review for f in asked.items] == [{}, {"status": "assigned"}]
        assert await store.review(acme("e7")) == {"status": "assigned"}
        assert await store.review_outcomes([acme("e7"), event_ref(None, "e6")]) == [None, None]
        smallest = index_key("customer", names.index("customer", "u7"))
        page = await store.scan([INDEX_ALL, smallest], {}, limit=5, budget=100)
        assert page.index == smallest and [_short(f.ref) for f in page.items] == ["e7"]

    run(target, body)


def test_reviews_move_between_queues_with_their_audit_entries(target: Target) -> None:
    async def body(client: AsyncRedis) -> None:
        audit = AuditLog(client, max_entries=1000)
        store, reviews = DecisionStore(client, ttl_s=3600), ReviewStore(client, audit)
        await store.put_new([(tx("r1"), record("r1", decision="review")), (tx("b1"), record("b1", "block"))])
        assert (
            await reviews.assign(acme("r1"), scope="globex", assignee="x", actor=ANALYST)
        ).outcome == "missing"
        assert (
            await reviews.assign(acme("b1"), scope="acme", assignee="x", actor=ANALYST)
        ).outcome == "not_review"
        assert (await reviews.assign(acme("r1"), scope="acme", assignee="ana", actor=ANALYST)).outcome == "ok"
        assert await _ids(store, review_queue_key("assigned", "acme")) == ["r1"]
        closed = await reviews.close(acme("r1"), scope=None, outcome="legit", note="ok", actor=ANALYST)
        assert closed.outcome == "ok" and closed.after is not None and closed.after["status"] == "closed"
        again = await reviews.close(acme("r1"), scope=None, outcome="fraud", note=None, actor=ANALYST)
        assert again.outcome == "closed"
        assert (await reviews.reopen(acme("r1"), closed, scope="acme", actor=ANALYST)).outcome == "ok"
        assert await _ids(store, review_queue_key("assigned")) == ["r1"]
        entries, _ = await audit.page(10, None)
        assert [e.action for e in entries] == ["review.reopen", "review.close", "review.assign"]

    run(target, body)


def test_api_keys_rate_limits_and_the_audit_log(target: Target) -> None:
    async def body(client: AsyncRedis) -> None:
        audit = AuditLog(client, max_entries=1000)
        keys = KeyStore(client, audit, rate_per_s=0.5, burst=2, pepper=b"test pepper")
        info, secret = await keys.create(role=Role.ANALYST, account="acme", name="n", by=ANALYST)
        first, second, third = [await keys.check(secret) for _ in range(3)]
        assert first.principal is not None and first.principal.account == "acme"
        assert second.retry_after_s == 0 and third.retry_after_s > 0
        assert (await keys.check(secret[:-2] + "xx")).principal is None
        assert [k.id for k in await keys.list("acme")] == [info.id] and await keys.list("globex") == []
        after, revoked = await keys.revoke(info.id, by=ANALYST)
        assert revoked and after is not None and after.revoked_at
        assert await keys.revoke(info.id, by=ANALYST) == (after, False)
        assert (await keys.check(secret)).principal is None
        await audit.add({"who": "cli", "action": "other"})
        entries, more = await audit.page(2, None)
        assert [e.action for e in entries] == ["other", "key.revoke"] and more is not None
        rest, _ = await audit.page(2, more)
        assert [e.action for e in rest] == ["key.create"]

    run(target, body)


def test_rules_create_load_and_history(target: Target) -> None:
    async def body(client: AsyncRedis) -> None:
        store = RuleStore(client)
        assert await store.add_list_items("trusted", ["c1"], who="ana") == 1
        rule_id, version = await store.create_rule("allow if :card_id: in @trusted", who="ana")
        assert version == 2
        assert await store.disable_rule(rule_id) == 3 and await store.enable_rule(rule_id) == 4
        version, rules, lists = await store.load()
        assert version == 4 and lists == {"trusted": frozenset({"c1"})}
        assert rules.decide({"card_id": "c1"}, lists)[0] == "allow"
        assert [h.op for h in await store.history()] == ["list_add", "create", "disable", "enable"]
        with pytest.raises(KeyError):
            await store.delete_rule("99")

    run(target, body)


def test_the_online_checkpoint_is_compare_and_set(target: Target) -> None:
    async def body(client: AsyncRedis) -> None:
        a, b = OnlineCheckpoint(client, seen_ttl_s=60), OnlineCheckpoint(client, seen_ttl_s=60)
        assert (await a.load()).seq == 0 and await a.seq() == 0
        step = Commit(offsets={"labels:0": 3}, seen=[("e1", "fraud")], pending_add=[("e2", b"{}")])
        assert await a.commit(0, {"n": 1}, step)
        assert not await b.commit(0, {"n": 99}, step)  # lost the race: nothing written
        snap = await b.load()
        assert (snap.seq, snap.learner, snap.offsets) == (1, {"n": 1}, {"labels:0": 3})
        assert await b.seen(["e1", "e2"]) == ["fraud", None]
        assert await b.pending_sample(5) == {"e2": b"{}"} and await b.pending_count() == 1
        assert await b.commit(1, {"n": 2}, Commit(offsets={"labels:0": 4}, pending_drop=["e2"]))
        assert await a.seq() == 2 and await a.pending_count() == 0

    run(target, body)


def test_records_of_many_slots_are_read_together(target: Target) -> None:
    ids = [f"e{i}" for i in range(40)]

    async def body(client: AsyncRedis) -> list[Any]:
        for e in ids[::2]:
            await client.set(decision_key(e), e)
        return await get_many(client, [decision_key(e) for e in ids])

    assert run(target, body) == [e.encode() if i % 2 == 0 else None for i, e in enumerate(ids)]


def test_the_keys_of_each_atomic_change_share_a_slot() -> None:
    api = [
        INDEX_ALL,
        index_key("card", "c{1}"),
        index_key("account", "acme"),
        meta_key("e}1"),
        review_key("{e1}"),
        review_queue_key("open"),
        review_queue_key("closed", "acme"),
        AUDIT,
        API_KEYS_INDEX,
        api_key("0123456789abcdef"),
        RATE_PREFIX + "0123456789abcdef",
    ]
    rules = RuleStore.__init__.__defaults__[0]  # type: ignore[index]
    rule_keys = [rules + k for k in ("version", "seq", "defs", "lists", "history", "list:", "list:x")]
    online = [ONLINE_SEQ, ONLINE_STATE, ONLINE_PENDING, ONLINE_SEEN, ONLINE_SEEN + "e1"]
    for group in (api, rule_keys, online):
        assert len({key_slot(k.encode()) for k in group}) == 1, group
    # Decision records spread: each one's slot is its event reference's.
    for e in ("e1", "x", "a:b"):
        assert key_slot(decision_key(e).encode()) == key_slot(e.encode())
    assert len({key_slot(decision_key(f"e{i}").encode()) for i in range(100)}) > 50


def test_every_store_key_on_the_cluster_is_in_its_slot(redis_cluster: Any) -> None:
    """After a workflow through every store, each key is a record or in one of the three slots.

    The nodes start without the scripts (as after a restart): each store loads its own."""
    target = Target(redis_cluster.url, True)

    async def body(client: AsyncRedis) -> None:
        redis_cluster.flushall(scripts=True)  # every EVALSHA below meets NOSCRIPT first
        audit = AuditLog(client, max_entries=1000)
        store = DecisionStore(client, ttl_s=3600)
        await store.put_new([(tx(f"e{i}"), record(f"e{i}", decision="review")) for i in range(20)])
        await ReviewStore(client, audit).assign("e1", scope=None, assignee="a", actor=ANALYST)
        keys = KeyStore(client, audit, rate_per_s=1, burst=1, pepper=b"test pepper")
        _, secret = await keys.create(role=Role.ADMIN, account=None, name="n", by=ANALYST)
        await keys.check(secret)
        await RuleStore(client).add_list_items("l", ["x"])
        step = Commit(offsets={}, seen=[("e1", "fraud")])
        await OnlineCheckpoint(client, seen_ttl_s=60).commit(0, {}, step)

    run(target, body)
    client = sync_client(redis_cluster.url, cluster=True)
    assert isinstance(client, redis.cluster.RedisCluster)
    tagged = {key_slot(tag) for tag in (b"api", b"rules", b"ol")}
    try:
        found = [k.decode() for k in client.scan_iter(count=1000, target_nodes=client.ALL_NODES)]
    finally:
        client.close()
    records = [k for k in found if k.startswith("rw:decision:{")]
    assert len(records) == 20
    others = [k for k in found if k not in records]
    assert len(others) > 20 and {key_slot(k.encode()) for k in others} == tagged, others


def test_clients_follow_the_cluster_setting(redis_cluster: Any) -> None:
    settings = Settings(redis_url=redis_cluster.url, redis_cluster=True)
    sync = sync_client(settings)
    try:
        assert isinstance(sync, redis.cluster.RedisCluster) and len(sync.get_primaries()) == 3
    finally:
        sync.close()
    assert isinstance(async_client(settings), RedisCluster)
    assert not isinstance(async_client(settings, cluster=False), RedisCluster)
    assert not isinstance(async_client(redis_cluster.url), RedisCluster)
