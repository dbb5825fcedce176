"""A micro-batch as the feature kernel takes it, and what comes back.

``plan_batch`` turns transactions into the kernel's columns and the batch's entity table
(each entity once, however many events share it); ``run_plan`` calls the kernel with the
entities' encoded states and returns the raw aggregates and the states to write back.
Both the Redis store and the in-memory twin go through here. The plan does not drop
duplicates (the stores do): below, the second copy sees the first one's 10.00 EUR.

>>> from datetime import datetime, timezone
>>> from contracts.records import Transaction
>>> t = Transaction(event_id="e1", amount=10.0, currency="EUR", card_id="c", merchant_id="m",
...     occurred_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> plan = plan_batch([t, t])
>>> [kind for kind, _ in plan.entities], plan.ent.tolist()
([0, 2], [[0, -1, 1, -1, -1, -1], [0, -1, 1, -1, -1, -1]])
>>> out = run_plan(plan, [None, None], mode=np.ones(2, dtype=np.int8), grace_ms=0, since=None)
>>> out.raw[:, 0].tolist(), float(out.raw[1, 1]), [s is not None for s in out.states]
([0.0, 1.0], 100000.0, [True, True])
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from contracts.identity import EntityNames
from contracts.records import ENTITY_KINDS, Transaction
from features.codec import NONE
from features.kernel import LAYOUT, run_batch
from features.vectorize import amount_cents, amount_units

__all__ = ["ENTITY_KINDS", "BatchOutput", "BatchPlan", "Merge", "hash48", "plan_batch", "run_plan"]

I64 = npt.NDArray[np.int64]


@lru_cache(maxsize=1 << 17)
def hash48(value: str) -> int:
    """A stable 48-bit hash of an identifier (distinct counts, label entries)."""
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=6).digest(), "little")


@dataclass(frozen=True)
class Merge:
    """A label entry merged into a card's or merchant's state after event ``after``."""

    entity: int
    after: int
    event_hash: int
    occurred_ms: int
    reported_ms: int
    fraud: bool


@dataclass
class BatchPlan:
    """The kernel's event columns and the batch's entities, ``(kind index, id)``."""

    t: I64
    units: I64
    cents: I64
    ent: I64
    merchant_h: I64
    country_h: I64
    card_h: I64
    entities: list[tuple[int, str]]
    index: dict[tuple[int, str], int] = field(repr=False)

    def entity(self, kind: int, ident: str) -> int:
        """The index of an entity, added to the table if the batch does not name it yet."""
        key = (kind, ident)
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.entities)
            self.entities.append(key)
        return found


@dataclass(frozen=True)
class BatchOutput:
    raw: npt.NDArray[np.float64]
    states: list[bytes | None]  # per entity: the new encoded state, None = unchanged
    late_events: int
    since: int | None


def plan_batch(transactions: Sequence[Transaction], names: EntityNames | None = None) -> BatchPlan:
    """Columns for the kernel; absent optional entities are ``-1``. Entities are named by
    ``names`` (``contracts.identity``: keyed, per account unless shared); the distinct counts
    hash those names, so a card of two accounts counts as two cards unless cards are shared."""
    names = names or EntityNames()
    n = len(transactions)
    t = np.empty(n, dtype=np.int64)
    units = np.empty(n, dtype=np.int64)
    cents = np.empty(n, dtype=np.int64)
    ent = np.full((n, len(ENTITY_KINDS)), -1, dtype=np.int64)
    merchant_h = np.empty(n, dtype=np.int64)
    country_h = np.full(n, -1, dtype=np.int64)
    card_h = np.empty(n, dtype=np.int64)
    index: dict[tuple[int, str], int] = {}
    entities: list[tuple[int, str]] = []
    for i, tx in enumerate(transactions):
        t[i] = tx.occurred_ms
        units[i] = amount_units(tx.amount)
        cents[i] = amount_cents(tx.amount)
        if tx.merchant_country:
            country_h[i] = hash48(tx.merchant_country)
        account = tx.account_id
        for k, ident in enumerate(
            (tx.card_id, tx.customer_id, tx.merchant_id, tx.device_id, tx.ip, tx.email)
        ):
            if not ident:
                continue
            key = (k, names.entity(k, account, ident))
            e = index.get(key)
            if e is None:
                e = index[key] = len(entities)
                entities.append(key)
            ent[i, k] = e
        card_h[i] = hash48(entities[ent[i, 0]][1])
        merchant_h[i] = hash48(entities[ent[i, 2]][1])
    return BatchPlan(t, units, cents, ent, merchant_h, country_h, card_h, entities, index)


def run_plan(
    plan: BatchPlan,
    states: Sequence[bytes | None],
    *,
    mode: npt.NDArray[np.int8],
    grace_ms: int,
    since: int | None,
    record: bool = True,
    source: I64 | None = None,
    offset: I64 | None = None,
    merges: Sequence[Merge] = (),
) -> BatchOutput:
    """Run the kernel over the plan; ``states`` are the entities' encoded states (None = new)."""
    n = len(plan.t)
    m = len(plan.entities)
    if len(states) != m:
        raise ValueError(f"{len(states)} states for {m} entities")
    bodies = [s or b"" for s in states]
    in_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum([len(b) for b in bodies], out=in_off[1:])
    in_buf = np.frombuffer(b"".join(bodies), dtype=np.uint8) if m else np.zeros(0, np.uint8)
    none = np.full(n, -1, dtype=np.int64)
    ordered = sorted(merges, key=lambda g: g.after)
    cols = [
        np.array([getattr(g, f) for g in ordered], dtype=np.int64)
        for f in ("entity", "after", "event_hash", "occurred_ms", "reported_ms", "fraud")
    ]
    raw, out_buf, out_off, changed, late, since_out = run_batch(  # type: ignore[call-arg]
        plan.t, plan.units, plan.cents, plan.ent, plan.merchant_h, plan.country_h, plan.card_h,
        mode, none if source is None else source, none if offset is None else offset,
        np.array([k for k, _ in plan.entities], dtype=np.int64), in_buf, in_off,
        *cols, np.int64(grace_ms), NONE if since is None else np.int64(since), record, tuple(LAYOUT),
    )  # fmt: skip
    blob = out_buf.tobytes()
    offs = out_off.tolist()
    new_states: list[bytes | None] = [
        blob[offs[e] : offs[e + 1]] if c else None for e, c in enumerate(changed.tolist())
    ]
    return BatchOutput(raw, new_states, int(late), None if since_out == NONE else int(since_out))
