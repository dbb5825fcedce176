"""`riskwire db import-redis` (issue 18): Redis's decision records and review states copied
into PostgreSQL, idempotently, the records PostgreSQL already holds kept."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from contracts.identity import event_ref
from embedded import EmbeddedServices
from store.audit import Actor, AuditLog
from store.connect import async_client
from store.database import LazyPool, upgrade
from store.decisions import DecisionStore
from store.layout import review_queue_key
from store.pg_decisions import PgDecisionStore
from store.pg_import import import_redis
from store.reviews import ReviewStore
from tests.store.test_pg_decisions import record, tx

ROOT = Path(__file__).resolve().parents[2]
ANALYST = Actor(who="k1", role="analyst", account="acme")


def test_import_copies_records_and_reviews_once(
    services: EmbeddedServices, redis_client, database_url: str
) -> None:
    asyncio.run(upgrade(database_url))
    batch = [
        (
            tx(f"i{i}", account="acme" if i % 3 else None),
            record(f"i{i}", "review" if i % 4 == 0 else "allow", minute=1 + i % 50),
        )
        for i in range(1200)
    ]
    kept = record("i1", "block", minute=55)  # in PostgreSQL before the import: it stays

    async def main() -> tuple[list, list, dict, list, list[bytes | None]]:
        client = async_client(services.redis_url)
        pool = LazyPool(database_url)
        try:
            redis_store = DecisionStore(client, ttl_s=3600)
            await redis_store.put_new(batch)
            reviews = ReviewStore(client, AuditLog(client, max_entries=1000))
            closed = await reviews.close(
                event_ref("acme", "i4"), scope="acme", outcome="fraud", note="n", actor=ANALYST
            )
            assert closed.outcome == "ok"
            pg = PgDecisionStore(pool)
            await pg.put_new([(tx("i1"), kept)])
            first = await import_redis(client, pg, pool)
            second = await import_redis(client, pg, pool)
            state = await pg.review(event_ref("acme", "i4"))
            page = await pg.scan([review_queue_key("open")], {}, limit=1000, budget=1000)
            refs = [event_ref("acme" if i % 3 else None, f"i{i}") for i in range(1200)]
            return (
                [first.seen, first.copied, first.reviews],
                [second.seen, second.copied, second.reviews],
                state,
                [f.ref for f in page.items],
                await pg.read(refs),
            )
        finally:
            await pool.close()
            await client.aclose()

    first, second, state, open_refs, bodies = asyncio.run(main())
    assert first == [1200, 1199, 1] and second == [1200, 0, 0]
    assert state["status"] == "closed" and state["outcome"] == "fraud"
    assert bodies == [kept if i == 1 else body for i, (_, body) in enumerate(batch)]
    assert len(open_refs) == len([i for i in range(1200) if i % 4 == 0]) - 1  # i4 is closed


def test_the_import_verb(services: EmbeddedServices, redis_client, database_url: str) -> None:
    asyncio.run(upgrade(database_url))
    env = {**os.environ, "RISKWIRE_DATABASE_URL": database_url, "RISKWIRE_REDIS_URL": services.redis_url}

    async def write() -> None:
        client = async_client(services.redis_url)
        try:
            await DecisionStore(client, ttl_s=3600).put_new([(tx("v1"), record("v1", minute=3))])
        finally:
            await client.aclose()

    asyncio.run(write())
    for copied in ("1 new", "0 new"):
        done = subprocess.run(
            [sys.executable, "-m", "cli", "db", "import-redis"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert f"1 decision records in Redis, {copied} in postgresql://riskwire:***@" in done.stdout
