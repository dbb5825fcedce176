"""The PostgreSQL decision store (issue 18) keeps ``store.decisions.DecisionStore``'s
contract: the same tests run against both, each on a real server (the session's Redis db 0,
a fresh database on the session's PostgreSQL). Then what only PostgreSQL has: one round
trip per micro-batch, first write wins across day partitions and racing writers, records
sealed at rest."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
import psycopg
import pytest

from contracts.identity import EntityNames, event_ref, split_ref
from contracts.records import Transaction
from store.at_rest import AtRest
from store.connect import async_client
from store.database import open_pool, upgrade
from store.decisions import DecisionStore
from store.layout import INDEX_ALL, index_key, review_queue_key
from store.pg_decisions import PgDecisionStore

T = TypeVar("T")
T0 = datetime(2026, 3, 1, tzinfo=UTC)
Store = DecisionStore | PgDecisionStore


def tx(
    event_id: str, account: str | None = "acme", card: str = "c1", customer: str | None = None
) -> Transaction:
    return Transaction(
        event_id=event_id,
        occurred_at=T0,
        amount=10.0,
        currency="EUR",
        card_id=card,
        merchant_id="m1",
        customer_id=customer,
        account_id=account,
    )


def record(event_id: str, decision: str = "allow", minute: int = 0, at: datetime | None = None) -> bytes:
    """A decision record in the pipeline's key order (what ``index_fields`` reads)."""
    at = at or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1) + timedelta(minutes=minute)
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


@pytest.fixture(params=["redis", "postgres"])
def backend(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``opened(**kw)``: an async context giving an empty store of the backend."""
    if request.param == "redis":
        url = request.getfixturevalue("services").redis_url
        request.getfixturevalue("redis_client")  # flushes db 0

        @asynccontextmanager
        async def redis_store(**kw: Any) -> AsyncIterator[Store]:
            client = async_client(url)
            try:
                yield DecisionStore(client, ttl_s=3600, **kw)
            finally:
                await client.aclose()

        return redis_store
    database_url = request.getfixturevalue("database_url")
    asyncio.run(upgrade(database_url))

    @asynccontextmanager
    async def pg_store(**kw: Any) -> AsyncIterator[Store]:
        pool = await open_pool(database_url)
        try:
            yield PgDecisionStore(pool, **kw)
        finally:
            await pool.close()

    pg_store.url = database_url  # type: ignore[attr-defined]
    return pg_store


def run(opened: Callable[..., Any], body: Callable[[Store], Awaitable[T]], **kw: Any) -> T:
    async def main() -> T:
        async with opened(**kw) as store:
            return await body(store)

    return asyncio.run(main())


async def _ids(store: Store, index: str, **kw: Any) -> list[str]:
    page = await store.scan([index], kw.pop("wanted", {}), limit=50, budget=1000, **kw)
    return [_short(found.ref) for found in page.items]


def _short(ref: str) -> str:
    account, event_id = split_ref(ref)
    return event_id if account in ("acme", None) else f"{account}:{event_id}"


def acme(event_id: str) -> str:
    return event_ref("acme", event_id)


def card_index(card: str) -> str:
    return index_key("card", EntityNames().index("card", card))


def test_put_new_new_redelivered_and_other_accounts_events(backend: Callable[..., Any]) -> None:
    e1 = record("e1", decision="review", minute=1)
    e2 = record("e2", minute=2)
    e3 = record("e3", decision="block", minute=3)

    async def body(store: Store) -> None:
        assert await store.put_new([(tx("e1"), e1), (tx("e2", card="c2"), e2)]) == [e1, e2]
        again = record("e1", decision="block", minute=9)
        g1 = record("e1", minute=4)
        got = await store.put_new(
            [
                (tx("e1"), again),  # redelivered: the first record, nothing re-indexed
                (tx("e1", account="globex"), g1),  # another tenant's id: another event
                (tx("e3", account=None), e3),
                (tx("e3", account=None), record("e3", minute=8)),  # twice in one batch
            ]
        )
        assert got == [e1, g1, e3, e3]
        assert await _ids(store, INDEX_ALL) == ["globex:e1", "e3", "e2", "e1"]
        assert await _ids(store, card_index("c1")) == ["globex:e1", "e3", "e1"]
        assert await _ids(store, index_key("account", "acme"), wanted={"decision": "review"}) == ["e1"]
        assert await _ids(store, index_key("decision", "block")) == ["e3"]
        assert await _ids(store, review_queue_key("open"), with_review=True) == ["e1"]
        assert await _ids(store, review_queue_key("open", "acme")) == ["e1"]
        assert await _ids(store, review_queue_key("open", "globex")) == []
        assert await store.get(acme("e1")) == e1
        assert await store.get(event_ref("globex", "e1")) == g1
        assert await store.get(event_ref(None, "e1")) is None
        assert await store.find("e1") == [(acme("e1"), e1), (event_ref("globex", "e1"), g1)]
        assert await store.find("e3") == [(event_ref(None, "e3"), e3)]
        assert await store.exists([acme("e2"), acme("e3"), event_ref(None, "e3")]) == [True, False, True]
        assert await store.read([acme("e2"), acme("nope"), acme("e1")]) == [e2, None, e1]
        page = await store.scan([INDEX_ALL], {}, limit=2, budget=1000)
        assert [_short(f.ref) for f in page.items] == ["globex:e1", "e3"] and page.next is not None
        rest = await store.scan([INDEX_ALL], {}, limit=2, budget=1000, after=page.next)
        assert [_short(f.ref) for f in rest.items] == ["e2", "e1"] and rest.next is None
        assert await store.newest(3) == [event_ref("globex", "e1"), event_ref(None, "e3"), acme("e2")]
        assert await store.review(acme("e1")) == {}
        assert await store.review_outcomes([acme("e1"), acme("e2")]) == [None, None]

    run(backend, body)


def test_an_event_without_account_and_a_bound_accounts_event_are_two_events(
    backend: Callable[..., Any],
) -> None:
    e1 = record("e1", decision="review", minute=1)
    e2 = record("e2", minute=2)

    async def body(store: Store) -> None:
        assert await store.put_new([(tx("e1"), e1), (tx("e2", account=None), e2)]) == [e1, e2]
        n1, a2 = record("e1", minute=3), record("e2", minute=4)
        assert await store.put_new([(tx("e1", account=None), n1), (tx("e2"), a2)]) == [n1, a2]
        assert await store.get(acme("e1")) == e1 and await store.get(event_ref(None, "e2")) == e2
        assert await store.get(event_ref(None, "e1")) == n1 and await store.get(acme("e2")) == a2

    run(backend, body)


def test_searches_filter_bound_time_and_page_both_ways(backend: Callable[..., Any]) -> None:
    names = EntityNames()
    batch = [
        (
            tx(f"s{i}", card="c1" if i % 2 else "c2", customer="u1" if i < 3 else None),
            record(f"s{i}", minute=i + 1),
        )
        for i in range(6)
    ]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    async def body(store: Store) -> None:
        await store.put_new(batch)
        c1 = {"card": names.index("card", "c1")}
        assert await _ids(store, card_index("c1"), wanted=c1) == ["s5", "s3", "s1"]
        customer = index_key("customer", names.index("customer", "u1"))
        assert await _ids(store, customer, newest_first=False) == ["s0", "s1", "s2"]
        since = int((start + timedelta(minutes=3)).timestamp() * 1e6)
        until = int((start + timedelta(minutes=5)).timestamp() * 1e6)
        assert await _ids(store, INDEX_ALL, since_us=since, until_us=until) == ["s4", "s3", "s2"]
        seen, after = [], None
        while True:
            page = await store.scan([INDEX_ALL], {}, limit=4, budget=1000, newest_first=False, after=after)
            seen += [_short(f.ref) for f in page.items]
            if page.next is None:
                break
            after = page.next
        assert seen == [f"s{i}" for i in range(6)]
        assert await _ids(store, index_key("level", "highest")) == []

    run(backend, body)


# What only the PostgreSQL store has.


@pytest.fixture()
def pg(database_url: str) -> str:
    asyncio.run(upgrade(database_url))
    return database_url


def _pg_run(url: str, body: Callable[[PgDecisionStore], Awaitable[T]], **kw: Any) -> T:
    async def main() -> T:
        pool = await open_pool(url)
        try:
            return await body(PgDecisionStore(pool, **kw))
        finally:
            await pool.close()

    return asyncio.run(main())


def test_a_micro_batch_is_one_round_trip(pg: str) -> None:
    """One statement per batch once its day partition exists (one more the first time)."""
    statements: list[str] = []

    async def body(store: PgDecisionStore) -> None:
        pool = store._pool
        real = pool.connection

        @asynccontextmanager
        async def counted(*a: Any, **k: Any) -> AsyncIterator[Any]:
            async with real(*a, **k) as conn:
                execute = conn.execute

                async def spy(query: Any, *args: Any, **kwargs: Any) -> Any:
                    statements.append(str(query).split()[0])
                    return await execute(query, *args, **kwargs)

                conn.execute = spy
                try:
                    yield conn
                finally:
                    del conn.execute

        pool.connection = counted  # type: ignore[method-assign]
        await store.put_new([(tx(f"b{i}"), record(f"b{i}", minute=1 + i % 30)) for i in range(200)])
        first = len(statements)
        await store.put_new([(tx(f"n{i}"), record(f"n{i}", minute=1 + i % 30)) for i in range(200)])
        await store.put_new([(tx(f"b{i}"), record(f"b{i}", "block")) for i in range(200)])  # redelivered
        assert first <= 2 and len(statements) == first + 2, statements

    _pg_run(pg, body)


def test_first_write_wins_across_day_partitions(pg: str) -> None:
    """A redelivery scored on a later day gets the first day's record back, and no copy."""
    day1 = datetime(2026, 3, 1, 23, 59, tzinfo=UTC)
    first, later = record("d1", "review", at=day1), record("d1", "block", at=day1 + timedelta(days=1))

    async def body(store: PgDecisionStore) -> None:
        assert await store.put_new([(tx("d1"), first)]) == [first]
        assert await store.put_new([(tx("d1"), later)]) == [first]
        assert await store.get(acme("d1")) == first

    _pg_run(pg, body)
    with psycopg.connect(pg) as conn:
        rows = conn.execute("SELECT tableoid::regclass::text, decision FROM decisions").fetchall()
        reviews = conn.execute("SELECT status FROM reviews").fetchall()
    assert rows == [("decisions_20260301", "review")] and reviews == [("open",)]


def test_racing_writers_store_one_record_and_both_return_it(pg: str) -> None:
    batch_a = [(tx(f"r{i}"), record(f"r{i}", "allow", minute=1)) for i in range(300)]
    batch_b = [(tx(f"r{i}"), record(f"r{i}", "block", minute=2)) for i in range(300)]

    async def main() -> tuple[list[bytes], list[bytes]]:
        pools = [await open_pool(pg), await open_pool(pg)]
        try:
            a, b = PgDecisionStore(pools[0]), PgDecisionStore(pools[1])
            await a.put_new([(tx("warm"), record("warm"))])  # the day partition, made once
            await b.put_new([(tx("warm"), record("warm"))])
            for _ in range(3):
                got = await asyncio.gather(a.put_new(batch_a), b.put_new(batch_b))
            return got[0], got[1]
        finally:
            for pool in pools:
                await pool.close()

    got_a, got_b = asyncio.run(main())
    assert got_a == got_b
    with psycopg.connect(pg) as conn:
        assert conn.execute("SELECT count(*) FROM decisions").fetchone() == (301,)


def test_records_are_sealed_at_rest_under_the_redis_name(pg: str) -> None:
    box = AtRest.parse("k1:" + base64.b64encode(os.urandom(32)).decode())
    body = record("x1", "review")

    async def write(store: PgDecisionStore) -> list[bytes]:
        return await store.put_new([(tx("x1"), body)])

    assert _pg_run(pg, write, cipher=box) == [body]
    with psycopg.connect(pg) as conn:
        (raw,) = conn.execute("SELECT body FROM decisions").fetchone()  # type: ignore[misc]
    assert b'"event_id"' not in raw and box.decrypt(raw, b"rw:decision:{acme:x1}") == body

    async def read(store: PgDecisionStore) -> list[bytes]:
        return [await store.get(acme("x1")) or b"", *(await store.put_new([(tx("x1"), record("x1"))]))]

    assert _pg_run(pg, read, cipher=box) == [body, body]


def test_review_state_and_outcomes_are_read_from_the_reviews_table(pg: str) -> None:
    async def body(store: PgDecisionStore) -> None:
        await store.put_new([(tx("v1"), record("v1", "review")), (tx("v2"), record("v2", "review"))])

    _pg_run(pg, body)
    with psycopg.connect(pg) as conn:
        conn.execute(
            "UPDATE reviews SET status = 'closed', state = %s WHERE event_id = 'v1'",
            (orjson.dumps({"status": "closed", "outcome": "fraud"}).decode(),),
        )

    async def check(store: PgDecisionStore) -> None:
        assert await store.review(acme("v1")) == {"status": "closed", "outcome": "fraud"}
        assert await store.review_outcomes([acme("v2"), acme("v1"), acme("none")]) == [None, "fraud", None]
        assert await _ids(store, review_queue_key("closed", "acme"), with_review=True) == ["v1"]
        assert await _ids(store, review_queue_key("open")) == ["v2"]
        page = await store.scan([review_queue_key("closed")], {}, limit=5, budget=10, with_review=True)
        assert page.items[0].review == {"status": "closed", "outcome": "fraud"}

    _pg_run(pg, check)
