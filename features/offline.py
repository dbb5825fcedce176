"""Point-in-time features from history, without Redis: the in-memory twin of the store.

Training needs, for every historical event, exactly the aggregates the online store
would have returned had the events (and labels) streamed in in this order. This engine
holds the entity states in a dict instead of Redis and runs the same kernel
(``features/kernel.py``) over them, so the values are those of serving by construction;
tests compare it with the Redis store and with the pre-redesign twin.

>>> from datetime import datetime, timezone
>>> from contracts.records import Transaction
>>> def tx(i, minute, amount):
...     return Transaction(event_id=f"e{i}", amount=amount, currency="EUR", card_id="c",
...         merchant_id="m", occurred_at=datetime(2026, 1, 1, 0, minute, tzinfo=timezone.utc))
>>> engine = OfflineFeatureEngine()
>>> first, second, again = engine.record_and_fetch([tx(1, 0, 10.0), tx(2, 30, 5.0), tx(1, 0, 10.0)])
>>> second.split(" ")[:6], first == again
(['0', '0', '1', '100000', '1', '100000'], True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from contracts.identity import EntityNames, event_ref
from contracts.records import Label, Transaction
from features.aggregates import AGGREGATE_COUNT, Aggregates, format_aggregates
from features.batch import Merge, plan_batch, run_plan
from features.labels import LabelState, merges_for, newer
from features.windows import HOUR_MS

__all__ = ["OfflineFeatureEngine"]


@dataclass
class _Event:
    raw: Aggregates
    card: str  # the store names of its card and merchant
    merchant: str
    at: int
    label: LabelState | None = None


class OfflineFeatureEngine:
    """In-memory twin of the online store, fed in the order the worker would see."""

    def __init__(self, grace_ms: int = HOUR_MS, names: EntityNames | None = None) -> None:
        self.grace_ms = grace_ms
        self.names = names or EntityNames()
        self._states: dict[tuple[int, str], bytes] = {}
        self._events: dict[str, _Event] = {}
        self._pending: dict[str, LabelState] = {}
        self._since: int | None = None
        self.late_events = 0

    def record_and_fetch(self, transactions: Iterable[Transaction]) -> list[str]:
        """Aggregate strings for each event, recording each the first time it is seen."""
        return format_aggregates(self.record(list(transactions)))

    def peek(self, transactions: Iterable[Transaction]) -> list[str]:
        """The strings these events would get now, recording nothing."""
        txs = list(transactions)
        plan = plan_batch(txs, self.names)
        states = [self._states.get(key) for key in plan.entities]
        mode = np.ones(len(txs), dtype=np.int8)
        out = run_plan(plan, states, mode=mode, grace_ms=self.grace_ms, since=self._since, record=False)
        return format_aggregates(out.raw)

    def record(self, transactions: Sequence[Transaction]) -> Aggregates:
        """The raw aggregates of a batch (``n × 81``), recording the new events."""
        refs = [event_ref(tx.account_id, tx.event_id) for tx in transactions]
        first: dict[str, int] = {}
        for i, ref in enumerate(refs):
            if ref not in self._events:
                first.setdefault(ref, i)
        new = [transactions[i] for i in first.values()]
        new_refs = list(first)
        plan = plan_batch(new, self.names)
        cards = [plan.entities[int(e)][1] for e in plan.ent[:, 0]]
        merchants = [plan.entities[int(e)][1] for e in plan.ent[:, 2]]
        merges = []
        for j, tx in enumerate(new):
            pending = self._pending.get(new_refs[j])
            if pending is not None:
                merges += merges_for(plan, j, new_refs[j], cards[j], merchants[j], tx.occurred_ms, pending)
        states = [self._states.get(key) for key in plan.entities]
        mode = np.ones(len(new), dtype=np.int8)
        out = run_plan(plan, states, mode=mode, grace_ms=self.grace_ms, since=self._since, merges=merges)
        for key, state in zip(plan.entities, out.states, strict=True):
            if state is not None:
                self._states[key] = state
        self._since = out.since
        self.late_events += out.late_events
        for j, tx in enumerate(new):
            label = self._pending.pop(new_refs[j], None)
            self._events[new_refs[j]] = _Event(out.raw[j], cards[j], merchants[j], tx.occurred_ms, label)
        rows = np.empty((len(transactions), AGGREGATE_COUNT))
        for i, ref in enumerate(refs):
            rows[i] = self._events[ref].raw
        return rows

    def record_labels(self, labels: Sequence[Label]) -> int:
        """Apply labels (docs/redis-keys.md, "Labels"); returns how many changed the state."""
        changed = 0
        plan = plan_batch([])
        merges: list[Merge] = []
        for lab in labels:
            state = LabelState.of(lab)
            ref = event_ref(lab.account_id, lab.event_id)
            event = self._events.get(ref)
            if event is None:
                if newer(state, self._pending.get(ref)):
                    self._pending[ref] = state
                    changed += 1
                continue
            if not newer(state, event.label):
                continue
            event.label = state
            changed += 1
            merges += merges_for(plan, -1, ref, event.card, event.merchant, event.at, state)
        if merges:
            states = [self._states.get(key) for key in plan.entities]
            out = run_plan(plan, states, mode=np.zeros(0, np.int8), grace_ms=self.grace_ms,
                           since=self._since, merges=merges)  # fmt: skip
            for key, new_state in zip(plan.entities, out.states, strict=True):
                if new_state is not None:
                    self._states[key] = new_state
        return changed
