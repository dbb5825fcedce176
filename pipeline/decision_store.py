"""Decision records in Redis: written once, read by the API.

``SET NX GET`` makes the first record for an event the only one: a redelivered
event gets back (and republishes) exactly what was stored the first time.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from contracts.records import Transaction

DECISION_PREFIX = "rw:decision:"


def decision_key(event_id: str) -> str:
    return DECISION_PREFIX + event_id


class DecisionStore:
    def __init__(self, client: aioredis.Redis, *, ttl_s: int) -> None:
        self._redis = client
        self._ttl_s = ttl_s

    async def put_new(self, records: Sequence[tuple[Transaction, bytes]]) -> list[bytes]:
        """Store each event's record unless one exists; return what is stored, in one round trip.

        The transaction comes along so that lookups by card, merchant or account can
        be indexed in the same round trip.
        """
        if not records:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for tx, body in records:
            pipe.set(decision_key(tx.event_id), body, nx=True, get=True, ex=self._ttl_s)
        previous = await pipe.execute()
        return [old if old is not None else body for old, (_, body) in zip(previous, records, strict=True)]

    async def get(self, event_id: str) -> bytes | None:
        value = await self._redis.get(decision_key(event_id))
        # The client is created without decode_responses, so values are bytes.
        return value.encode() if isinstance(value, str) else value
