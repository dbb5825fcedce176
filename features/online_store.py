"""The Redis online feature store: one atomic Lua call per micro-batch.

The script records the batch's events in their entities' windows and returns
each event's raw aggregates in the same call, so the hot path costs one Redis
round trip per batch, not per event. Redelivered events get back the values
stored the first time (docs/redis-keys.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files

import redis
import redis.asyncio as aioredis

from contracts.records import Transaction
from features.aggregates import Aggregates, parse_aggregates
from features.catalogue import DAY_MS, MONTH_MS
from features.vectorize import amount_units

PREFIX = "rw:"
SCRIPT = files("features").joinpath("lua/record_and_fetch.lua").read_text()


def script_args(transactions: Sequence[Transaction], *, dedupe_ttl_s: int, grace_ms: int) -> list[str | int]:
    """The script's ARGV for a batch (layout in the script's header)."""
    args: list[str | int] = [PREFIX, dedupe_ttl_s, MONTH_MS + grace_ms, DAY_MS + grace_ms]
    for t in transactions:
        args += [t.event_id, t.occurred_ms, t.card_id, t.merchant_id, amount_units(t.amount)]
    return args


class OnlineFeatureStore:
    """Async store used by the worker and the API."""

    def __init__(self, client: aioredis.Redis, *, dedupe_ttl_s: int, grace_ms: int) -> None:
        self._script = client.register_script(SCRIPT)
        self._dedupe_ttl_s = dedupe_ttl_s
        self._grace_ms = grace_ms

    async def record_and_fetch(self, transactions: Sequence[Transaction]) -> Aggregates:
        """Record the batch and return its aggregates, in one round trip."""
        if not transactions:
            return parse_aggregates([])
        args = script_args(transactions, dedupe_ttl_s=self._dedupe_ttl_s, grace_ms=self._grace_ms)
        rows = await self._script(args=args)
        return parse_aggregates(rows)


class SyncOnlineFeatureStore:
    """The same store for synchronous callers (backfill, tests, benchmarks)."""

    def __init__(self, client: redis.Redis, *, dedupe_ttl_s: int, grace_ms: int) -> None:
        self._script = client.register_script(SCRIPT)
        self._dedupe_ttl_s = dedupe_ttl_s
        self._grace_ms = grace_ms

    def record_and_fetch(self, transactions: Sequence[Transaction]) -> Aggregates:
        """Record the batch and return its aggregates, in one round trip."""
        if not transactions:
            return parse_aggregates([])
        args = script_args(transactions, dedupe_ttl_s=self._dedupe_ttl_s, grace_ms=self._grace_ms)
        return parse_aggregates(self._script(args=args))
