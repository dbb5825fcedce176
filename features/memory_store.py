"""The feature store in process memory, for ``riskwire replay``.

A replay owns its history: nothing else writes its feature state, so it needs no Redis
round trips. This store runs the same kernel as the Redis store (``OfflineFeatureEngine``
holds the states in a dict), so a replay gives the live worker's features for the same
events; it only drops the network and the compare-and-set.

>>> import asyncio
>>> import numpy as np
>>> from datetime import datetime, timezone
>>> from contracts.records import Transaction
>>> t = Transaction(event_id="e1", amount=10.0, currency="EUR", card_id="c", merchant_id="m",
...     occurred_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> store = MemoryFeatureStore(grace_ms=0)
>>> first = asyncio.run(store.record_and_fetch([t]))
>>> again = asyncio.run(store.record_and_fetch([t]))
>>> bool(np.array_equal(first, again, equal_nan=True)), int(first[0, 0])
(True, 0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from contracts.identity import EntityNames
from contracts.records import Label, Transaction
from features.aggregates import AGGREGATE_COUNT, Aggregates, parse_aggregates
from features.offline import OfflineFeatureEngine

__all__ = ["MemoryFeatureStore"]


class MemoryFeatureStore:
    """``OnlineFeatureStore``'s interface over an in-memory engine."""

    def __init__(self, *, grace_ms: int, names: EntityNames | None = None) -> None:
        self.engine = OfflineFeatureEngine(grace_ms=grace_ms, names=names)

    async def record_and_fetch(
        self, transactions: Sequence[Transaction], positions: Sequence[tuple[int, int]] | None = None
    ) -> Aggregates:
        """Record the batch and return its aggregates (positions are not needed in memory)."""
        if not transactions:
            return np.empty((0, AGGREGATE_COUNT))
        return self.engine.record(transactions)

    async def peek(self, transactions: Sequence[Transaction]) -> Aggregates:
        """The aggregates these events would get now, recording nothing."""
        return parse_aggregates(self.engine.peek(transactions))

    async def record_labels(self, labels: Sequence[Label]) -> int:
        """Apply labels; returns how many changed the state."""
        return self.engine.record_labels(labels)
