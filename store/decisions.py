"""Decision records in Redis: written once, read and searched by the API.

Every key names the event by its reference ``<account>:<event_id>``
(``contracts.identity.event_ref``): another account's event id is another event. Card,
customer and merchant values in indexes and metadata are their pseudonyms
(``EntityNames.index``).

``put_new`` stores a micro-batch in two round trips. First, per record, a small
Lua call in the record's own slot (pipelined; on a cluster one request per node,
since ``rw:decision:{<ref>}`` has the reference as hash tag): ``SET NX GET``
makes the first record for an event the only one, so a redelivered event gets back
(and republishes) exactly what was stored the first time. Then the index slot
(``rw:{api}:``) gets each event's account and entities
(``rw:{api}:dmeta:<ref>``), its entries in the search indexes and, for a
``review`` decision, in the review queue — for every event of the batch,
redelivered ones included, but only where the metadata does not exist yet: a crash
between the two steps leaves nothing unindexed once the batch is redelivered, and a
redelivered event never touches an indexed one (nor reopens its review). Index
scores are ``scored_at`` in epoch microseconds; every index written to is trimmed to
the decision TTL. The layout is in ``docs/redis-keys.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import orjson

from contracts.identity import EntityNames, event_ref
from contracts.records import Transaction
from store.at_rest import AtRest
from store.connect import AsyncRedis, get_many
from store.layout import (
    ACCOUNTS,
    API,
    INDEX_ALL,
    decision_key,
    index_key,
    meta_key,
    review_key,
    review_queue_key,
)  # fmt: skip
from store.replies import text
from store.scripts import script
from store.wire import execute

#: Filters a search can check against ``dmeta``, in the order of its fields.
FILTERS = ("account", "card", "customer", "merchant", "level", "decision")
REVIEW_STATUSES = ("open", "assigned", "closed")
MAX_SCORE_US = 2**53 - 1


_INDEX = script("decision_index")

_SCAN = script("decision_scan")


@dataclass(frozen=True)
class Found:
    """A decision record a search found, with its index score and review state."""

    ref: str  # the event's reference (``contracts.identity.event_ref``)
    scored_us: int
    body: bytes
    review: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScanPage:
    index: str  # the candidate index that was walked (a cursor must keep using it)
    items: list[Found]
    next: tuple[str, str] | None  # (score, member) to continue after; None at the end


class DecisionWriter(Protocol):
    """What the scoring pipeline needs of a decision store: this module's (Redis) or
    ``store.pg_decisions.PgDecisionStore`` (PostgreSQL, when RISKWIRE_DATABASE_URL is set)."""

    names: EntityNames

    async def put_new(
        self,
        records: Sequence[tuple[Transaction, bytes]],
        *,
        index: Sequence[tuple[str, str, int]] | None = None,
    ) -> list[bytes]: ...


def _scored_us(value: object, fallback: int) -> int:
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value).timestamp() * 1_000_000)
        except ValueError:
            return fallback
    return fallback


def index_fields(body: bytes, now_us: int) -> tuple[str, str, int]:
    """(risk level, decision, scored_at µs) of a stored record, for its index entries
    (a redelivered event's, or one ``put_new`` was given without its fields).

    Only records stored before are read back (the scorer passes a new record's fields),
    so parsing the whole record costs nothing that matters.

    >>> index_fields(b'{"scored_at":"2026-01-01T00:00:00+00:00","risk_score":3,'
    ...              b'"risk_level":"normal","decision":"allow"}', 0)
    ('normal', 'allow', 1767225600000000)
    >>> index_fields(b'{"decision":"block","risk_level":"highest","scored_at":"2026-01-01T00:00:01Z"}', 0)
    ('highest', 'block', 1767225601000000)
    >>> index_fields(b'not json', 7), index_fields(b'[1, 2]', 7)
    (('', '', 7), ('', '', 7))
    >>> index_fields(b'{"risk_level": 3, "decision": null}', 7)
    ('', '', 7)
    """
    try:
        record = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "", "", now_us
    if not isinstance(record, dict):
        return "", "", now_us
    level, decision = record.get("risk_level"), record.get("decision")
    return (
        level if isinstance(level, str) else "",
        decision if isinstance(decision, str) else "",
        _scored_us(record.get("scored_at"), now_us),
    )


class _IndexPlan:
    """The index entries of new records as one-key commands in the ``{api}`` slot (one
    node, one connection, run in order): a new record has no entries yet, so nothing needs
    checking and no script. Each event's ``dmeta`` comes last, after all its entries: a
    worker killed while they are sent leaves no ``dmeta`` for a half-indexed event, and the
    redelivery (``_INDEX``, mode ``r``) indexes it whole. The entries of one index go in
    one ``ZADD`` (the batch's every decision in ``dx:all`` as one command)."""

    def __init__(self, ttl_s: int, cut_us: int, names: EntityNames) -> None:
        self.ttl_s, self.cut_us, self.names = ttl_s, cut_us, names
        self._adds: dict[str, list[object]] = {}
        self._meta: list[tuple[object, ...]] = []
        self._accounts: set[str] = set()

    @property
    def empty(self) -> bool:
        return not self._adds

    def _zadd(self, key: str, score: int, member: str) -> None:
        entries = self._adds.get(key)
        if entries is None:
            entries = self._adds[key] = []
        entries += (score, member)

    def add(self, tx: Transaction, account: str, level: str, decision: str, score: int) -> None:
        eid, pseudonym = event_ref(account, tx.event_id), self.names.index
        card, merchant = pseudonym("card", tx.card_id), pseudonym("merchant", tx.merchant_id)
        customer = pseudonym("customer", tx.customer_id) if tx.customer_id else ""
        self._zadd(INDEX_ALL, score, eid)
        self._zadd(index_key("card", card), score, eid)
        self._zadd(index_key("merchant", merchant), score, eid)
        if account:
            self._accounts.add(account)
        for kind, value in (("account", account), ("customer", customer), ("level", level)):
            if value:
                self._zadd(index_key(kind, value), score, eid)
        if decision:
            self._zadd(index_key("decision", decision), score, eid)
        if decision == "review":  # a new record: no review of it exists yet
            self._zadd(review_queue_key("open"), score, eid)
            if account:
                self._zadd(review_queue_key("open", account), score, eid)
        meta = meta_key(eid)
        fields = ("a", account, "c", card, "u", customer, "m", merchant)
        self._meta += [("HSET", meta, *fields, "l", level, "d", decision, "t", score)]
        self._meta.append(("EXPIRE", meta, self.ttl_s))

    def finish(self) -> list[tuple[object, ...]]:
        """Entries, then each touched index trimmed to the TTL, then the metadata."""
        cmds: list[tuple[object, ...]] = [("ZADD", key, *entries) for key, entries in self._adds.items()]
        for key in self._adds:
            cmds += [("ZREMRANGEBYSCORE", key, "-inf", self.cut_us), ("EXPIRE", key, self.ttl_s)]
        if self._accounts:
            cmds.append(("SADD", ACCOUNTS, *sorted(self._accounts)))
        return cmds + self._meta


def _open(cipher: AtRest, value: bytes | str, key: str) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return cipher.decrypt(raw, key.encode())


async def read_records(client: AsyncRedis, refs: Sequence[str], cipher: AtRest) -> list[bytes | None]:
    """Stored records by reference, opened (None: none stored): for readers that hold no
    ``DecisionStore`` (label learning, rule backtests)."""
    keys = [decision_key(r) for r in refs]
    bodies = await get_many(client, keys)
    return [None if b is None else _open(cipher, b, k) for b, k in zip(bodies, keys, strict=True)]


class DecisionStore:
    """``indexed=False`` keeps the records only (no searches, no review queue): a private
    replay's Redis, which nothing else reads. ``names`` pseudonymises the card, customer
    and merchant values of indexes and metadata (``contracts.identity.load_names``);
    ``cipher`` seals the records at rest (``store.at_rest``, off unless keys are set), each
    bound to its key name. Every read of a record goes through this class."""

    def __init__(
        self,
        client: AsyncRedis,
        *,
        ttl_s: int,
        clock: Callable[[], float] = time.time,
        indexed: bool = True,
        names: EntityNames | None = None,
        cipher: AtRest | None = None,
    ) -> None:
        self._redis = client
        self.cipher = cipher or AtRest.off()
        self._ttl_s = ttl_s
        self._clock = clock
        self._indexed = indexed
        self.names = names or EntityNames()
        self._execute = execute  # one-key commands, hiredis-packed (store/wire.py)
        self._write_records = execute  # the write-once step (its own name: tests stop either)
        self._index = client.register_script(_INDEX)
        self._scan = client.register_script(_SCAN)

    async def _put_records(self, records: Sequence[tuple[Transaction, bytes]]) -> list[bytes | None]:
        """The write-once step: per record the one stored before (opened), or None. One-key
        ``SET NX GET``s, pipelined (on a cluster one request per node)."""
        keys = [decision_key(event_ref(tx.account_id, tx.event_id)) for tx, _ in records]
        seal = self.cipher.encrypt
        cmds = [
            ("SET", key, seal(body, key.encode()), "NX", "GET", "EX", self._ttl_s)
            for key, (_, body) in zip(keys, records, strict=True)
        ]
        replies = await self._write_records(self._redis, cmds)
        return [None if old is None else self._open(old, key) for old, key in zip(replies, keys, strict=True)]

    def _open(self, value: bytes | str, key: str) -> bytes:
        return _open(self.cipher, value, key)

    async def read(self, refs: Sequence[str]) -> list[bytes | None]:
        """The records of these events (None: none stored), in one round trip per node."""
        return await read_records(self._redis, refs, self.cipher)

    async def put_new(
        self,
        records: Sequence[tuple[Transaction, bytes]],
        *,
        index: Sequence[tuple[str, str, int]] | None = None,
    ) -> list[bytes]:
        """Store each event's record unless one exists; return what is stored.

        ``index`` (the scorer's): each record's risk level, decision and ``scored_at`` in
        µs, so that a new record is indexed without reading them back out of its bytes.

        Two round trips: the records (write-once), then the index entries (account, card,
        customer, merchant, risk level, decision, and the review queue for ``review``
        decisions) of the new records; a redelivered event is indexed from the stored
        record if it never was, and an indexed one is left alone.
        """
        if not records:
            return []
        previous = await self._put_records(records)
        now_us = int(self._clock() * 1_000_000)
        cut_us = now_us - self._ttl_s * 1_000_000
        args: list[str | bytes | int] = [self._ttl_s, cut_us]
        plan = _IndexPlan(self._ttl_s, cut_us, self.names)
        pseudonym = self.names.index
        out: list[bytes] = []
        for i, ((tx, body), old) in enumerate(zip(records, previous, strict=True)):
            account = tx.account_id or ""
            if old is None:
                level, decision, scored_us = index_fields(body, now_us) if index is None else index[i]
                plan.add(tx, account, level, decision, scored_us)
                out.append(body)
                continue
            out.append(old)
            level, decision, scored_us = index_fields(old, now_us)  # another attempt's record
            customer = pseudonym("customer", tx.customer_id) if tx.customer_id else ""
            args += ["r", event_ref(account, tx.event_id), account, pseudonym("card", tx.card_id), customer]
            args += [pseudonym("merchant", tx.merchant_id), level, decision, scored_us]
        if self._indexed:
            if not plan.empty:
                await self._execute(self._redis, plan.finish())
            if len(args) > 2:  # redelivered events: indexed only where their metadata is missing
                await self._index(keys=[INDEX_ALL], args=[API, *args])
        return out

    async def get(self, ref: str) -> bytes | None:
        """The record of the event ``ref`` (``contracts.identity.event_ref``), or None."""
        value = await self._redis.get(decision_key(ref))
        return None if value is None else self._open(value, decision_key(ref))

    async def exists(self, refs: Sequence[str]) -> list[bool]:
        """Whether each event has a stored record, in one round trip."""
        if not refs:
            return []
        return [
            bool(n) for n in await self._execute(self._redis, [("EXISTS", decision_key(r)) for r in refs])
        ]

    async def find(self, event_id: str) -> list[tuple[str, bytes]]:
        """Every stored record of ``event_id``, whatever its account, as ``(ref, record)``:
        for keys that see every account. Two round trips (the accounts, then the records)."""
        accounts = sorted(text(a) for a in await self._redis.smembers(ACCOUNTS))
        refs = [event_ref(None, event_id), *(event_ref(a, event_id) for a in accounts)]
        bodies = await self.read(refs)
        return [(ref, body) for ref, body in zip(refs, bodies, strict=True) if body is not None]

    @staticmethod
    def indexes(wanted: Mapping[str, str | None]) -> list[str]:
        """The search indexes a scan for ``wanted`` (keys of ``FILTERS``, values already
        pseudonymised) may walk: one per given filter, or every decision's."""
        return [index_key(kind, value) for kind, value in wanted.items() if value] or [INDEX_ALL]

    @staticmethod
    def queue(status: str, account: str | None = None) -> str:
        """The index of the review queue in ``status`` (one account's, or every account's)."""
        return review_queue_key(status, account)

    async def newest(self, limit: int) -> list[str]:
        """The references of the ``limit`` newest indexed decisions, newest first."""
        newest = await self._redis.zrevrange(INDEX_ALL, 0, limit - 1)
        return [text(m) for m in newest if isinstance(m, bytes | str)]

    async def review(self, ref: str) -> dict[str, str]:
        """The review state of an event (empty: never worked, or not a review)."""
        state = await self._redis.hgetall(review_key(ref))
        return {text(k): text(v) for k, v in state.items()}

    async def review_outcomes(self, refs: Sequence[str]) -> list[str | None]:
        """Each event's review outcome (``fraud``, ``legit`` …), or None: one round trip."""
        replies = await self._execute(self._redis, [("HGET", review_key(r), "outcome") for r in refs])
        return [text(v) or None if v is not None else None for v in replies]

    async def scan(
        self,
        candidates: Sequence[str],
        wanted: Mapping[str, str | None],
        *,
        limit: int,
        budget: int,
        newest_first: bool = True,
        since_us: int = 0,
        until_us: int = MAX_SCORE_US,
        after: tuple[str, str] | None = None,
        with_review: bool = False,
    ) -> ScanPage:
        """One page of records from the smallest of ``candidates`` that match ``wanted``
        (keys of ``FILTERS``), in score order, starting after ``after``: one call in the
        index slot, then one read of the records found."""
        if not candidates:
            raise ValueError("a scan needs at least one index")
        args: list[str | int] = [
            "1" if newest_first else "0",
            since_us,
            until_us,
            after[0] if after else "",
            after[1] if after else "",
            limit,
            budget,
            "1" if with_review else "0",
        ]
        args += [wanted.get(name) or "" for name in FILTERS]
        chosen, next_score, next_member, rows = await self._scan(keys=list(candidates), args=[API, *args])
        bodies = await self.read([text(row[0]) for row in rows])
        items = []
        for (member, score, review), body in zip(rows, bodies, strict=True):
            if body is None:  # expired since the index was read
                continue
            fields = [text(v) for v in review]
            items.append(
                Found(
                    ref=text(member),
                    scored_us=int(float(text(score))),
                    body=body.encode() if isinstance(body, str) else body,
                    review=dict(zip(fields[::2], fields[1::2], strict=True)),
                )
            )
        nxt = (text(next_score), text(next_member)) if text(next_score) else None
        return ScanPage(index=candidates[int(chosen) - 1], items=items, next=nxt)
