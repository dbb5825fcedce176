"""History in event time: micro-batches of events, each preceded by the labels known by then.

Training, backfill and replay all walk history the way the live worker met it:
events in ``occurred_at`` order, in micro-batches, and before each batch every
label whose ``reported_at`` is at or before the batch's first event. Labels
enter at batch boundaries, never all at once: a label reported later (say, a
``legit`` that clears a chargeback) must not leak back into earlier features.

>>> from datetime import datetime, timedelta, timezone
>>> from contracts.records import Label, Transaction
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> txs = [Transaction(event_id=f"e{i}", amount=1.0, currency="EUR", card_id="c", merchant_id="m",
...                    occurred_at=t0 + timedelta(hours=i)) for i in range(4)]
>>> labs = [Label(event_id="e0", label="fraud", reported_at=t0 + timedelta(hours=2), source="chargeback")]
>>> for due, batch in in_event_time(txs, labs, 2):
...     print([lab.event_id for lab in due], [t.event_id for t in batch])
[] ['e0', 'e1']
['e0'] ['e2', 'e3']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from contracts.records import Label, Transaction


def in_event_time(
    transactions: Iterable[Transaction], labels: Iterable[Label], batch: int
) -> Iterator[tuple[list[Label], list[Transaction]]]:
    """``(labels due, events)`` per micro-batch; events sorted by time (stable), labels by report."""
    ordered = sorted(transactions, key=lambda t: t.occurred_ms)
    due = sorted(labels, key=lambda lab: lab.reported_at)
    next_label = 0
    for start in range(0, len(ordered), batch):
        chunk = ordered[start : start + batch]
        first = next_label
        while next_label < len(due) and due[next_label].reported_at <= chunk[0].occurred_at:
            next_label += 1
        yield due[first:next_label], chunk
