"""`riskwire db import-redis`: the decision records and review states that Redis holds,
copied into PostgreSQL (issue 18), idempotently.

Each record goes through ``PgDecisionStore.put_new``, so the first write wins as for the
worker: a record already in PostgreSQL is kept, and running the import twice copies
nothing the second time. A review's state (assignee, outcome, note: sealed notes stay
sealed) is copied onto its PostgreSQL row while that row has never been worked there.
API keys, rules and the audit log stay in Redis in this slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from contracts.identity import split_ref
from contracts.records import Transaction
from store.connect import AsyncRedis
from store.database import LazyPool
from store.decisions import read_records
from store.layout import DECISION, review_key
from store.pg_decisions import PgDecisionStore
from store.replies import text
from store.wire import execute

BATCH = 500

_REVIEWS = """
INSERT INTO reviews AS r (account, event_id, status, scored_at, scored_us, state)
SELECT v.account, v.event_id, v.status, g.scored_at, d.scored_us, v.state
FROM unnest(%s::text[], %s::text[], %s::text[], %s::jsonb[]) AS v(account, event_id, status, state)
JOIN decision_ids g ON g.account = v.account AND g.event_id = v.event_id
JOIN decisions d ON d.account = g.account AND d.event_id = g.event_id AND d.scored_at = g.scored_at
ON CONFLICT (account, event_id) DO UPDATE SET status = EXCLUDED.status, state = EXCLUDED.state
WHERE r.state = '{}'::jsonb
"""


@dataclass
class Imported:
    seen: int = 0  # records found in Redis
    copied: int = 0  # of those, new in PostgreSQL
    reviews: int = 0  # review states copied


def _ids(ref: str, body: bytes) -> Transaction:
    """The identifiers ``put_new`` reads, from the record (the pipeline's records name them)."""
    account, event_id = split_ref(ref)
    record: dict[str, Any] = orjson.loads(body)
    return Transaction.model_construct(
        event_id=event_id,
        account_id=account,
        card_id=str(record.get("card_id", "")),
        merchant_id=str(record.get("merchant_id", "")),
        customer_id=record.get("customer_id"),
    )


async def _count(pool: LazyPool) -> int:
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT count(*) FROM decision_ids")).fetchone()
    return int(row[0]) if row else 0


async def import_redis(client: AsyncRedis, store: PgDecisionStore, pool: LazyPool) -> Imported:
    """Copy every decision record (and review state) of ``client`` into ``store``."""
    done = Imported()
    before = await _count(pool)
    refs: list[str] = []
    prefix = DECISION + "{"
    async for key in client.scan_iter(match=prefix + "*", count=1000):
        refs.append(text(key)[len(prefix) : -1])
        if len(refs) >= BATCH:
            done.reviews += await _batch(client, store, pool, refs)
            done.seen += len(refs)
            refs = []
    if refs:
        done.reviews += await _batch(client, store, pool, refs)
        done.seen += len(refs)
    done.copied = await _count(pool) - before
    return done


async def _batch(client: AsyncRedis, store: PgDecisionStore, pool: LazyPool, refs: list[str]) -> int:
    bodies = await read_records(client, refs, store.cipher)
    found = [(ref, body) for ref, body in zip(refs, bodies, strict=True) if body is not None]
    if not found:
        return 0
    await store.put_new([(_ids(ref, body), body) for ref, body in found])
    states = await execute(client, [("HGETALL", review_key(ref)) for ref, _ in found])
    rows: list[tuple[str, str, str, str]] = []
    for (ref, _), state in zip(found, states, strict=True):
        pairs = state.items() if isinstance(state, dict) else zip(state[::2], state[1::2], strict=True)
        fields = {text(k): text(v) for k, v in pairs}
        if fields:
            account, event_id = split_ref(ref)
            rows.append(
                (account or "", event_id, fields.get("status", "open"), orjson.dumps(fields).decode())
            )
    if not rows:
        return 0
    async with pool.connection() as conn:
        cur = await conn.execute(
            _REVIEWS, ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])
        )
        return int(cur.rowcount)
