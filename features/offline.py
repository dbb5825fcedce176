"""Point-in-time features from history, without Redis.

Training needs, for every historical event, exactly the aggregates the online
store would have returned had the events streamed in in this order. This engine
applies the same window rules as the Lua script (docs/redis-keys.md) in memory;
a test checks that both give identical strings for a simulated history.

>>> from datetime import datetime, timezone
>>> from contracts.records import Transaction
>>> def tx(i, minute, amount):
...     return Transaction(event_id=f"e{i}", amount=amount, currency="EUR", card_id="c",
...         merchant_id="m", occurred_at=datetime(2026, 1, 1, 0, minute, tzinfo=timezone.utc))
>>> engine = OfflineFeatureEngine()
>>> for row in engine.record_and_fetch([tx(1, 0, 10.0), tx(2, 30, 5.0), tx(1, 0, 10.0)]):
...     print(row)
0 0 0 0 0 0  0 0 1767225600000
1 100000 1 100000 1 100000 1767225600000 1 1 1767225600000
0 0 0 0 0 0  0 0 1767225600000
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence

from contracts.records import Transaction
from features.aggregates import format_aggregates
from features.catalogue import DAY_MS, HOUR_MS, MONTH_MS
from features.vectorize import amount_units


class OfflineFeatureEngine:
    """In-memory twin of the online store, for history processed in time order."""

    def __init__(self) -> None:
        self._cards: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self._merchants: dict[str, list[int]] = defaultdict(list)
        self._seen: dict[str, str] = {}
        self._since: int | None = None

    def record_and_fetch(self, transactions: Iterable[Transaction]) -> list[str]:
        """Aggregate strings for each event, recording each the first time it is seen."""
        return [self._one(t) for t in transactions]

    def _one(self, t: Transaction) -> str:
        if (stored := self._seen.get(t.event_id)) is not None:
            return stored
        at = t.occurred_ms
        if self._since is None:
            self._since = at
        card = self._cards[t.card_id]
        lo = bisect.bisect_left(card, (at - MONTH_MS, -(2**62)))
        hi = bisect.bisect_left(card, (at, -(2**62)))
        window = card[lo:hi]
        counts = [0, 0, 0, 0, 0, 0]
        for when, units in window:
            counts[4] += 1
            counts[5] += units
            if when >= at - DAY_MS:
                counts[2] += 1
                counts[3] += units
                if when >= at - HOUR_MS:
                    counts[0] += 1
                    counts[1] += units
        previous = window[-1][0] if window else None
        merchant = self._merchants[t.merchant_id]
        m_hi = bisect.bisect_left(merchant, at)
        m1h = m_hi - bisect.bisect_left(merchant, at - HOUR_MS)
        m24h = m_hi - bisect.bisect_left(merchant, at - DAY_MS)
        values: Sequence[float | None] = [*counts, previous, m1h, m24h, self._since]
        result = format_aggregates(values)
        bisect.insort(card, (at, amount_units(t.amount)))
        bisect.insort(merchant, at)
        self._seen[t.event_id] = result
        return result
