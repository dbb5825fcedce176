"""Review state changes with the records in PostgreSQL (issue 18): the Redis ReviewStore's
outcomes, each change one transaction with its audit row, mirrored to the Redis audit."""

from __future__ import annotations

import asyncio
import base64
import os

import psycopg

from contracts.identity import event_ref
from embedded import EmbeddedServices
from store.at_rest import AtRest
from store.audit import Actor, AuditLog
from store.connect import async_client
from store.database import LazyPool, upgrade
from store.layout import review_queue_key
from store.pg_decisions import PgDecisionStore
from store.pg_reviews import PgReviewStore
from tests.store.test_pg_decisions import _ids, record, tx

ANALYST = Actor(who="k1", role="analyst", account="acme")


def acme(event_id: str) -> str:
    return event_ref("acme", event_id)


def test_reviews_move_between_queues_with_their_audit_entries(
    services: EmbeddedServices, redis_client, database_url: str
) -> None:
    asyncio.run(upgrade(database_url))
    box = AtRest.parse("k1:" + base64.b64encode(os.urandom(32)).decode())

    async def body() -> None:
        client, pool = async_client(services.redis_url), LazyPool(database_url)
        try:
            audit = AuditLog(client, max_entries=1000)
            store, reviews = PgDecisionStore(pool), PgReviewStore(pool, audit, box)
            await store.put_new([(tx("r1"), record("r1", "review")), (tx("b1"), record("b1", "block"))])
            assert (
                await reviews.assign(acme("r1"), scope="globex", assignee="x", actor=ANALYST)
            ).outcome == "missing"
            assert (
                await reviews.assign(acme("zz"), scope=None, assignee="x", actor=ANALYST)
            ).outcome == "missing"
            assert (
                await reviews.assign(acme("b1"), scope="acme", assignee="x", actor=ANALYST)
            ).outcome == "not_review"
            assigned = await reviews.assign(acme("r1"), scope="acme", assignee="ana", actor=ANALYST)
            assert assigned.outcome == "ok" and assigned.before is not None and assigned.after is not None
            assert assigned.before["status"] == "open" and assigned.after["assignee"] == "ana"
            assert await _ids(store, review_queue_key("assigned", "acme")) == ["r1"]
            assert await _ids(store, review_queue_key("open")) == []
            closed = await reviews.close(
                acme("r1"), scope=None, outcome="legit", note="all fine", actor=ANALYST
            )
            assert closed.outcome == "ok" and closed.after is not None and closed.after["status"] == "closed"
            assert closed.after["note"] == "all fine" and closed.scored_us > 0
            assert (await store.review(acme("r1")))["note"] != "all fine"  # sealed at rest
            assert await store.review_outcomes([acme("r1")]) == ["legit"]
            again = await reviews.close(acme("r1"), scope=None, outcome="fraud", note=None, actor=ANALYST)
            assert again.outcome == "closed"
            assert (await reviews.reopen(acme("r1"), closed, scope="acme", actor=ANALYST)).outcome == "ok"
            assert (
                await reviews.reopen(acme("r1"), closed, scope="acme", actor=ANALYST)
            ).outcome == "changed"
            assert await _ids(store, review_queue_key("assigned")) == ["r1"]
            assert "outcome" not in await store.review(acme("r1"))
            entries, _ = await audit.page(10, None)
            assert [e.action for e in entries] == ["review.reopen", "review.close", "review.assign"]
        finally:
            await pool.close()
            await client.aclose()

    asyncio.run(body())
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT action, event_id, account FROM audit ORDER BY id").fetchall()
    assert rows == [(a, acme("r1"), "acme") for a in ("review.assign", "review.close", "review.reopen")]


def test_of_concurrent_closes_exactly_one_wins(database_url: str) -> None:
    asyncio.run(upgrade(database_url))

    async def body() -> list[str]:
        pools = [LazyPool(database_url) for _ in range(4)]
        try:
            await PgDecisionStore(pools[0]).put_new([(tx("c1"), record("c1", "review"))])
            closes = [
                PgReviewStore(p).close(acme("c1"), scope="acme", outcome=o, note=None, actor=ANALYST)
                for p, o in zip(pools, ("fraud", "legit", "fraud", "legit"), strict=True)
            ]
            return sorted(t.outcome for t in await asyncio.gather(*closes))
        finally:
            for p in pools:
                await p.close()

    assert asyncio.run(body()) == ["closed", "closed", "closed", "ok"]
