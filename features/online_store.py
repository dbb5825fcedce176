"""The Redis online feature store: one atomic Lua call per micro-batch.

The script records the batch's events in their entities' time buckets and
returns each event's raw aggregates in the same call, so the hot path costs one
Redis round trip per batch, not per event. Redelivered events get back the
values stored the first time. Labels are one more call per label batch
(docs/redis-keys.md, "Online features").
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files

import redis
import redis.asyncio as aioredis

from contracts.records import Label, Transaction
from features.aggregates import Aggregates, parse_aggregates
from features.vectorize import amount_cents, amount_units

PREFIX = "rw:"
_LUA = files("features").joinpath("lua")
COMMON = _LUA.joinpath("common.lua").read_text()
SCRIPT = COMMON + _LUA.joinpath("record_and_fetch.lua").read_text()
LABELS_SCRIPT = COMMON + _LUA.joinpath("record_labels.lua").read_text()
LATE_EVENTS_KEY = PREFIX + "f:meta:late_events"


def script_args(
    transactions: Sequence[Transaction], *, dedupe_ttl_s: int, grace_ms: int, record: bool = True
) -> list[str | int]:
    """The event script's ARGV for a batch (layout in the script's header)."""
    args: list[str | int] = [PREFIX, dedupe_ttl_s, grace_ms, "r" if record else "p"]
    for t in transactions:
        args += [
            t.event_id,
            t.occurred_ms,
            amount_units(t.amount),
            amount_cents(t.amount),
            t.card_id,
            t.customer_id or "",
            t.merchant_id,
            t.device_id or "",
            t.ip or "",
            t.email or "",
            t.merchant_country or "",
        ]
    return args


def label_args(labels: Sequence[Label], *, dedupe_ttl_s: int, grace_ms: int) -> list[str | int]:
    """The label script's ARGV: event id, kind, reported_at ms per label."""
    args: list[str | int] = [PREFIX, dedupe_ttl_s, grace_ms]
    for lab in labels:
        args += [lab.event_id, lab.label.value, int(lab.reported_at.timestamp() * 1000)]
    return args


class _Base:
    def __init__(self, *, dedupe_ttl_s: int, grace_ms: int) -> None:
        self._dedupe_ttl_s = dedupe_ttl_s
        self._grace_ms = grace_ms

    def _args(self, transactions: Sequence[Transaction], record: bool) -> list[str | int]:
        return script_args(
            transactions, dedupe_ttl_s=self._dedupe_ttl_s, grace_ms=self._grace_ms, record=record
        )


class OnlineFeatureStore(_Base):
    """Async store used by the worker and the API."""

    def __init__(self, client: aioredis.Redis, *, dedupe_ttl_s: int, grace_ms: int) -> None:
        super().__init__(dedupe_ttl_s=dedupe_ttl_s, grace_ms=grace_ms)
        self._script = client.register_script(SCRIPT)
        self._labels = client.register_script(LABELS_SCRIPT)

    async def record_and_fetch(self, transactions: Sequence[Transaction]) -> Aggregates:
        """Record the batch and return its aggregates, in one round trip."""
        if not transactions:
            return parse_aggregates([])
        return parse_aggregates(await self._script(args=self._args(transactions, True)))

    async def peek(self, transactions: Sequence[Transaction]) -> Aggregates:
        """The aggregates these events would get now, recording nothing."""
        if not transactions:
            return parse_aggregates([])
        return parse_aggregates(await self._script(args=self._args(transactions, False)))

    async def record_labels(self, labels: Sequence[Label]) -> int:
        """Record labels in one round trip; returns how many changed the state."""
        if not labels:
            return 0
        args = label_args(labels, dedupe_ttl_s=self._dedupe_ttl_s, grace_ms=self._grace_ms)
        return int(await self._labels(args=args))


class SyncOnlineFeatureStore(_Base):
    """The same store for synchronous callers (backfill, tests, benchmarks)."""

    def __init__(self, client: redis.Redis, *, dedupe_ttl_s: int, grace_ms: int) -> None:
        super().__init__(dedupe_ttl_s=dedupe_ttl_s, grace_ms=grace_ms)
        self._script = client.register_script(SCRIPT)
        self._labels = client.register_script(LABELS_SCRIPT)

    def record_and_fetch(self, transactions: Sequence[Transaction]) -> Aggregates:
        """Record the batch and return its aggregates, in one round trip."""
        if not transactions:
            return parse_aggregates([])
        return parse_aggregates(self._script(args=self._args(transactions, True)))

    def raw(self, transactions: Sequence[Transaction], *, record: bool = True) -> list[str]:
        """The raw strings themselves (for comparisons with the offline engine)."""
        if not transactions:
            return []
        return [r.decode() for r in self._script(args=self._args(transactions, record))]

    def peek(self, transactions: Sequence[Transaction]) -> Aggregates:
        """The aggregates these events would get now, recording nothing."""
        if not transactions:
            return parse_aggregates([])
        return parse_aggregates(self._script(args=self._args(transactions, False)))

    def record_labels(self, labels: Sequence[Label]) -> int:
        """Record labels in one round trip; returns how many changed the state."""
        if not labels:
            return 0
        args = label_args(labels, dedupe_ttl_s=self._dedupe_ttl_s, grace_ms=self._grace_ms)
        return int(self._labels(args=args))
