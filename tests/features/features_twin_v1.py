"""The pre-redesign offline twin, kept as an independent reference for the feature kernel.

Until the hot-path redesign this was ``features/offline.py``, the line-by-line twin of
the Lua script that then computed features inside Redis. The kernel
(``features/kernel.py``) must give the same raw strings on any history.

Point-in-time features from history, without Redis.

Training needs, for every historical event, exactly the aggregates the online
store would have returned had the events (and labels) streamed in in this
order. This engine is a line-by-line twin of the Lua scripts
(``store/lua/``, docs/redis-keys.md) over Python dicts, including their
double arithmetic; a test checks both give identical strings.

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
from dataclasses import dataclass, field

from contracts.records import Label, Transaction
from features.aggregates import DISTINCT_CAP, format_number
from features.vectorize import amount_cents, amount_units

DAY = 86_400_000
RES = (60_000, 300_000, 3_600_000, DAY)
KMAX = (10, 12, 24, 30)
WINDOWS = ((0, 10), (1, 12), (2, 24), (3, 7), (3, 30))
ENTITIES = ("card", "customer", "merchant", "device", "ip", "email")


@dataclass
class _Entity:
    hi: int | None = None
    first: int | None = None
    buckets: tuple[dict[int, list[float]], ...] = field(default_factory=lambda: ({}, {}, {}, {}))
    distinct: tuple[dict[int, list[str]], dict[int, list[str]]] = field(default_factory=lambda: ({}, {}))
    recent: list[int] = field(default_factory=list)
    before: int | None = None


@dataclass
class _Event:
    raw: str
    card: str
    merchant: str
    at: int
    label: str | None = None


def _newer(new: str, old: str | None) -> bool:
    if old is None:
        return True
    nk, nr = new.split(" ")
    ok, orr = old.split(" ")
    if int(nr) != int(orr):
        return int(nr) > int(orr)
    return nk == "fraud" and ok != "fraud"


def _distinct(lists: dict[int, list[str]], day: int, k: int) -> int:
    seen: set[str] = set()
    for i in range(day - k, day + 1):
        seen.update(lists.get(i, ()))
    return min(len(seen), DISTINCT_CAP)


def _add_distinct(lists: dict[int, list[str]], day: int, value: str) -> None:
    values = lists.setdefault(day, [])
    if len(values) < DISTINCT_CAP and value not in values:
        values.append(value)


class OfflineFeatureEngine:
    """In-memory twin of the online store, fed in the order the worker would see."""

    def __init__(self, grace_ms: int = 3_600_000) -> None:
        self.grace_ms = grace_ms
        self._entities: dict[tuple[str, str], _Entity] = {}
        self._fraud: dict[tuple[str, str], dict[str, int]] = {}
        self._events: dict[str, _Event] = {}
        self._pending: dict[str, str] = {}
        self._since: int | None = None
        self.late_events = 0

    def record_and_fetch(self, transactions: Iterable[Transaction]) -> list[str]:
        """Aggregate strings for each event, recording each the first time it is seen."""
        return [self._one(t, record=True) for t in transactions]

    def peek(self, transactions: Iterable[Transaction]) -> list[str]:
        """The strings these events would get now, recording nothing."""
        return [self._one(t, record=False) for t in transactions]

    def record_labels(self, labels: Sequence[Label]) -> int:
        """Apply labels (docs/redis-keys.md, "Labels"); returns how many changed the state."""
        changed = 0
        for lab in labels:
            label = f"{lab.label.value} {int(lab.reported_at.timestamp() * 1000)}"
            event = self._events.get(lab.event_id)
            if event is not None:
                changed += self._apply(lab.event_id, event, label)
            elif _newer(label, self._pending.get(lab.event_id)):
                self._pending[lab.event_id] = label
                changed += 1
        return changed

    def _apply(self, event_id: str, event: _Event, label: str) -> int:
        if not _newer(label, event.label):
            return 0
        keys = (("card", event.card), ("merchant", event.merchant))
        if event.label is not None:
            kind, rep = event.label.split(" ")
            if kind == "fraud":
                for k in keys:
                    self._fraud.get(k, {}).pop(f"{rep}|{event_id}", None)
        kind, rep = label.split(" ")
        if kind == "fraud":
            for k in keys:
                self._fraud.setdefault(k, {})[f"{rep}|{event_id}"] = event.at
        event.label = label
        return 1

    def _fraud_counts(self, key: tuple[str, str], t: int) -> tuple[int, int]:
        d = t // DAY
        n7 = n30 = 0
        for member, occurred in self._fraud.get(key, {}).items():
            if (d - 30) * DAY <= occurred < (d + 1) * DAY and int(member.split("|")[0]) <= t:
                n30 += 1
                n7 += occurred >= (d - 7) * DAY
        return n7, n30

    def _one(self, tx: Transaction, record: bool) -> str:
        if record and (stored := self._events.get(tx.event_id)) is not None:
            return stored.raw
        t = tx.occurred_ms
        if record and self._since is None:
            self._since = t
        ids = (tx.card_id, tx.customer_id, tx.merchant_id, tx.device_id, tx.ip, tx.email)
        parts: list[str] = []
        info: dict[str, object] = {}
        for kind, ident in zip(ENTITIES, ids, strict=True):
            if not ident:
                parts += [""] * 10
                continue
            self._entity(kind, ident, tx, parts, info, record)
        c7, c30 = self._fraud_counts(("card", tx.card_id), t)
        m7, m30 = self._fraud_counts(("merchant", tx.merchant_id), t)
        for name in ("card_merchants", "card_countries", "device_cards", "ip_cards", "email_cards"):
            pair = info.get(name)
            parts += [str(v) for v in pair] if isinstance(pair, tuple) else ["", ""]
        parts[60:60] = [
            str(info.get(k, "")) for k in ("card_q", "prev", "card_first", "device_first", "email_first")
        ]
        since = "" if self._since is None else str(self._since)
        parts += [str(c7), str(c30), str(m7), str(m30), since, "1" if info.get("late") else "0"]
        result = " ".join(parts)
        if record:
            self.late_events += bool(info.get("late"))
            event = _Event(result, tx.card_id, tx.merchant_id, t)
            self._events[tx.event_id] = event
            if (pending := self._pending.pop(tx.event_id, None)) is not None:
                self._apply(tx.event_id, event, pending)
        return result

    def _entity(
        self, kind: str, ident: str, tx: Transaction, parts: list[str], info: dict[str, object], record: bool
    ) -> None:
        t, grace = tx.occurred_ms, self.grace_ms
        st = self._entities.get((kind, ident)) or _Entity()
        idx = [t // r for r in RES]
        for r, k in WINDOWS:
            n, u, q = 0.0, 0.0, 0.0
            buckets = st.buckets[r]
            for i in range(idx[r] - k, idx[r] + 1):
                if (b := buckets.get(i)) is not None:
                    n += b[0]
                    u += b[1]
                    if len(b) > 2:
                        q += b[2]
            parts += [format_number(n), format_number(u)]
            if kind == "card" and k == 30:
                info["card_q"] = format_number(q)
        old_hi = st.hi
        if old_hi is not None and t < old_hi - grace:
            info["late"] = True
        if st.first is not None and st.first < t:
            info[f"{kind}_first"] = format_number(st.first)
        day = idx[3]
        if kind == "card":
            prev = next((x for x in reversed(st.recent) if x < t), None)
            if prev is None and st.before is not None and st.before < t:
                prev = st.before
            if prev is not None:
                info["prev"] = format_number(prev)
            info["card_merchants"] = (_distinct(st.distinct[0], day, 1), _distinct(st.distinct[0], day, 7))
            info["card_countries"] = (_distinct(st.distinct[1], day, 1), _distinct(st.distinct[1], day, 7))
        elif kind not in ("customer", "merchant"):
            info[f"{kind}_cards"] = (_distinct(st.distinct[0], day, 1), _distinct(st.distinct[0], day, 7))
        if not record:
            return
        self._entities[(kind, ident)] = st
        hi = t if old_hi is None or old_hi <= t else old_hi
        st.hi = hi
        if st.first is None or t < st.first:
            st.first = t
        h = hi - grace
        day_advanced = False
        for r in range(4):
            bound = h // RES[r] - KMAX[r]
            buckets = st.buckets[r]
            if old_hi is not None and bound > (old_hi - grace) // RES[r] - KMAX[r]:
                for i in [i for i in buckets if i < bound]:
                    del buckets[i]
                day_advanced = day_advanced or r == 3
            if idx[r] >= bound:
                b = buckets.setdefault(idx[r], [0.0, 0.0])
                b[0] += 1
                b[1] += float(amount_units(tx.amount))
                if kind == "card" and r == 3:
                    cents = float(amount_cents(tx.amount))
                    if len(b) == 2:
                        b.append(0.0)
                    b[2] += cents * cents
        dbound = h // DAY - 7
        if old_hi is not None and dbound > (old_hi - grace) // DAY - 7:
            for lists in st.distinct:
                for i in [i for i in lists if i < dbound]:
                    del lists[i]
        if day >= dbound:
            if kind == "card":
                _add_distinct(st.distinct[0], day, tx.merchant_id)
                if tx.merchant_country:
                    _add_distinct(st.distinct[1], day, tx.merchant_country)
            elif kind not in ("customer", "merchant"):
                _add_distinct(st.distinct[0], day, tx.card_id)
        if kind == "card":
            if t >= h:
                if t not in st.recent:
                    st.recent.append(t)
                    st.recent.sort()
            elif st.before is None or t > st.before:
                st.before = t
            while st.recent and st.recent[0] < h:
                if st.before is None or st.recent[0] > st.before:
                    st.before = st.recent[0]
                st.recent.pop(0)
        if day_advanced and kind in ("card", "merchant"):
            cut = (h // DAY - KMAX[3]) * DAY
            fraud = self._fraud.get((kind, ident), {})
            for member in [m for m, s in fraud.items() if s < cut]:
                del fraud[member]
