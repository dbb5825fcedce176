"""Decision records in PostgreSQL (issue 18): ``store.decisions.DecisionStore``'s API, with
PostgreSQL as the system of record (schema in ``store/sql``).

``put_new`` stores a micro-batch in one statement, so one round trip (the pool's
connections are in autocommit: the statement is its own transaction). Its data-modifying
CTEs claim each event's identity in ``decision_ids`` (``INSERT … ON CONFLICT DO NOTHING``;
the first of an event's duplicates within the batch is the one proposed), insert the
records whose claim succeeded into their day partition of ``decisions``, open a review for
each new ``review`` decision, and return per event either the record just stored or the
one stored before (read in the same statement, from its snapshot): a redelivered event gets
back, and republishes, exactly what was stored the first time. An event whose claim was
made by a concurrent transaction (ON CONFLICT waited for it to commit, but the statement's
snapshot predates it) is read in a second statement: the rare race costs one more round
trip. A day partition the batch needs and this process has not seen yet is made first
(``riskwire_decision_day``): one more round trip once per day.

Searches take the names ``indexes()`` and ``queue()`` give (the Redis store's index and
queue names, so cursors and callers are unchanged) and turn them into SQL filters: a
candidate index ``…dx:card:<pseudonym>`` is the filter ``card = <pseudonym>``, a queue
``…rv:open:<account>`` the open reviews of that account. A page is one query on the
indexes led by account; ``budget`` is not needed (PostgreSQL does not examine candidates
one by one) and only kept for the API.

Records are sealed at rest like Redis's (``store.at_rest``), bound to the same name
(``store.layout.decision_key``), so sealed records copy between the stores unopened.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from contracts.identity import EntityNames, event_ref, split_ref
from contracts.records import Transaction
from store.at_rest import AtRest
from store.database import LazyPool
from store.decisions import FILTERS, MAX_SCORE_US, Found, ScanPage, index_fields
from store.layout import INDEX_ALL, decision_key, index_key, review_queue_key

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

_INDEX_PREFIX = INDEX_ALL[: -len("all")]
_QUEUE_PREFIX = review_queue_key("")
#: SQL columns of the filters (``FILTERS``) a search checks.
_COLUMNS = {
    "account": "account",
    "card": "card",
    "customer": "customer",
    "merchant": "merchant",
    "level": "risk_level",
    "decision": "decision",
}

_PUT = """
WITH input AS (
    SELECT * FROM unnest(
        %(ord)s::int[], %(account)s::text[], %(event_id)s::text[], %(scored_at)s::timestamptz[],
        %(scored_us)s::bigint[], %(card)s::text[], %(customer)s::text[], %(merchant)s::text[],
        %(level)s::text[], %(decision)s::text[], %(body)s::bytea[]
    ) AS t(ord, account, event_id, scored_at, scored_us, card, customer, merchant,
           risk_level, decision, body)
), firsts AS (
    SELECT DISTINCT ON (account, event_id) * FROM input ORDER BY account, event_id, ord
), claimed AS (
    INSERT INTO decision_ids (account, event_id, scored_at)
    SELECT account, event_id, scored_at FROM firsts
    ON CONFLICT DO NOTHING
    RETURNING account, event_id
), stored AS (
    INSERT INTO decisions (account, event_id, scored_at, scored_us, card, customer, merchant,
                           risk_level, decision, body)
    SELECT f.account, f.event_id, f.scored_at, f.scored_us, f.card, f.customer, f.merchant,
           f.risk_level, f.decision, f.body
    FROM firsts f JOIN claimed c USING (account, event_id)
), known AS (
    INSERT INTO accounts (account)
    SELECT DISTINCT f.account FROM firsts f JOIN claimed c USING (account, event_id)
    ON CONFLICT DO NOTHING
), opened AS (
    INSERT INTO reviews (account, event_id, status, scored_at, scored_us)
    SELECT f.account, f.event_id, 'open', f.scored_at, f.scored_us
    FROM firsts f JOIN claimed c USING (account, event_id)
    WHERE f.decision = 'review' AND %(indexed)s
    ON CONFLICT DO NOTHING
)
SELECT i.ord, f.ord, c.account IS NOT NULL, old.body
FROM input i
JOIN firsts f USING (account, event_id)
LEFT JOIN claimed c USING (account, event_id)
LEFT JOIN LATERAL (
    SELECT d.body FROM decision_ids g
    JOIN decisions d ON d.account = g.account AND d.event_id = g.event_id AND d.scored_at = g.scored_at
    WHERE c.account IS NULL AND g.account = i.account AND g.event_id = i.event_id
) old ON true
ORDER BY i.ord
"""

_READ = """
SELECT r.ord, d.body
FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS r(account, event_id, ord)
JOIN decision_ids g ON g.account = r.account AND g.event_id = r.event_id
JOIN decisions d ON d.account = g.account AND d.event_id = g.event_id AND d.scored_at = g.scored_at
"""

_EXISTS = """
SELECT r.ord FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS r(account, event_id, ord)
JOIN decision_ids g ON g.account = r.account AND g.event_id = r.event_id
"""

_OUTCOMES = """
SELECT r.ord, v.state->>'outcome'
FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS r(account, event_id, ord)
JOIN reviews v ON v.account = r.account AND v.event_id = r.event_id
"""


def _key(ref: str) -> tuple[str, str]:
    """``(account, event_id)`` of a reference, '' standing for no account."""
    account, event_id = split_ref(ref)
    return account or "", event_id


def _ref(account: str, event_id: str) -> str:
    return event_ref(account or None, event_id)


def _unpack(refs: Sequence[str]) -> tuple[list[str], list[str]]:
    keys = [_key(r) for r in refs]
    return [k[0] for k in keys], [k[1] for k in keys]


def _at(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


class PgDecisionStore:
    """Decision records, their searches and the review queue's opening in PostgreSQL.

    ``pool``: connections in autocommit (``store.database.open_pool``), or a
    ``store.database.LazyPool`` (opened on first use). ``names`` and ``cipher`` as for
    ``store.decisions.DecisionStore``; ``indexed=False`` opens no reviews. A lost database
    raises ``store.database.DatabaseUnreachable`` (a ``ConnectionError``: the worker retries).
    """

    def __init__(
        self,
        pool: AsyncConnectionPool | LazyPool,
        *,
        clock: Callable[[], float] = time.time,
        indexed: bool = True,
        names: EntityNames | None = None,
        cipher: AtRest | None = None,
    ) -> None:
        self._pool = pool if isinstance(pool, LazyPool) else LazyPool.of(pool)
        self.cipher = cipher or AtRest.off()
        self._clock = clock
        self._indexed = indexed
        self.names = names or EntityNames()
        self._days: set[date] = set()  # day partitions known to exist

    @property
    def pool(self) -> LazyPool:
        """Its connections, for the stores that share them (``store.pg_reviews``)."""
        return self._pool

    async def aclose(self) -> None:
        """Close the pool's connections."""
        await self._pool.close()

    def _open(self, value: bytes, ref: str) -> bytes:
        return self.cipher.decrypt(bytes(value), decision_key(ref).encode())

    async def _ensure_days(self, days: set[date]) -> None:
        missing = days - self._days
        if missing:
            async with self._pool.connection() as conn:
                await conn.execute(
                    "SELECT riskwire_decision_day(d) FROM unnest(%s::date[]) d", (sorted(missing),)
                )
            self._days |= missing

    async def put_new(
        self,
        records: Sequence[tuple[Transaction, bytes]],
        *,
        index: Sequence[tuple[str, str, int]] | None = None,
    ) -> list[bytes]:
        """Store each event's record unless one exists; return what is stored (see the module).
        ``index``: each record's (risk level, decision, scored_at µs) as the scorer made it;
        without it they are parsed from the records."""
        if not records:
            return []
        now_us = int(self._clock() * 1_000_000)
        pseudonym, seal = self.names.index, self.cipher.encrypt
        cols: dict[str, list[Any]] = {name: [] for name in ("ord", "account", "event_id", "scored_at")}
        for name in ("scored_us", "card", "customer", "merchant", "level", "decision", "body"):
            cols[name] = []
        days: set[date] = set()
        for i, (tx, body) in enumerate(records):
            level, decision, scored_us = index_fields(body, now_us) if index is None else index[i]
            scored_at = _at(scored_us)
            days.add(scored_at.date())
            account = tx.account_id or ""
            cols["ord"].append(i)
            cols["account"].append(account)
            cols["event_id"].append(tx.event_id)
            cols["scored_at"].append(scored_at)
            cols["scored_us"].append(scored_us)
            cols["card"].append(pseudonym("card", tx.card_id))
            cols["customer"].append(pseudonym("customer", tx.customer_id) if tx.customer_id else "")
            cols["merchant"].append(pseudonym("merchant", tx.merchant_id))
            cols["level"].append(level)
            cols["decision"].append(decision)
            cols["body"].append(seal(body, decision_key(_ref(account, tx.event_id)).encode()))
        await self._ensure_days(days)
        async with self._pool.connection() as conn:
            cur = await conn.execute(_PUT, {**cols, "indexed": self._indexed})
            rows = await cur.fetchall()
        out: list[bytes | None] = [None] * len(records)
        for ord_, first, new, body in rows:
            if new:  # stored now: this event's first record in the batch
                out[ord_] = records[first][1]
            elif body is not None:
                ref = _ref(cols["account"][ord_], cols["event_id"][ord_])
                out[ord_] = self._open(body, ref)
        racing = [i for i, body in enumerate(out) if body is None]
        if racing:  # claimed by a transaction our statement's snapshot did not see
            refs = [_ref(cols["account"][i], cols["event_id"][i]) for i in racing]
            for i, ref, again in zip(racing, refs, await self.read(refs), strict=True):
                if again is None:
                    raise RuntimeError(f"decision {ref!r} claimed but not stored")
                out[i] = again
        return [stored for stored in out if stored is not None]

    async def read(self, refs: Sequence[str]) -> list[bytes | None]:
        """The records of these events (None: none stored), in one round trip."""
        if not refs:
            return []
        accounts, event_ids = _unpack(refs)
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(_READ, (accounts, event_ids))).fetchall()
        out: list[bytes | None] = [None] * len(refs)
        for ord_, body in rows:
            out[ord_ - 1] = self._open(body, refs[ord_ - 1])
        return out

    async def get(self, ref: str) -> bytes | None:
        """The record of the event ``ref`` (``contracts.identity.event_ref``), or None."""
        return (await self.read([ref]))[0]

    async def exists(self, refs: Sequence[str]) -> list[bool]:
        """Whether each event has a stored record, in one round trip."""
        if not refs:
            return []
        accounts, event_ids = _unpack(refs)
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(_EXISTS, (accounts, event_ids))).fetchall()
        found = {int(r[0]) - 1 for r in rows}
        return [i in found for i in range(len(refs))]

    async def find(self, event_id: str) -> list[tuple[str, bytes]]:
        """Every stored record of ``event_id``, whatever its account (no account first)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT d.account, d.body FROM accounts a"
                " JOIN decision_ids g ON g.account = a.account AND g.event_id = %s"
                " JOIN decisions d ON d.account = g.account AND d.event_id = g.event_id"
                " AND d.scored_at = g.scored_at ORDER BY a.account",
                (event_id,),
            )
            rows = await cur.fetchall()
        refs = [_ref(account, event_id) for account, _ in rows]
        return [(ref, self._open(body, ref)) for ref, (_, body) in zip(refs, rows, strict=True)]

    @staticmethod
    def indexes(wanted: Mapping[str, str | None]) -> list[str]:
        """The Redis store's index names for ``wanted`` (a search's candidates and cursor)."""
        return [index_key(kind, value) for kind, value in wanted.items() if value] or [INDEX_ALL]

    @staticmethod
    def queue(status: str, account: str | None = None) -> str:
        """The name of the review queue in ``status`` (one account's, or every account's)."""
        return review_queue_key(status, account)

    async def newest(self, limit: int) -> list[str]:
        """The references of the ``limit`` newest decisions, newest first."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT account, event_id FROM decisions"
                " ORDER BY scored_us DESC, account DESC, event_id DESC LIMIT %s",
                (limit,),
            )
            rows = await cur.fetchall()
        return [_ref(account, event_id) for account, event_id in rows]

    async def review(self, ref: str) -> dict[str, str]:
        """The review state of an event (empty: never worked, or not a review)."""
        account, event_id = _key(ref)
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT state FROM reviews WHERE account = %s AND event_id = %s", (account, event_id)
            )
            row = await cur.fetchone()
        return {} if row is None else {str(k): str(v) for k, v in row[0].items()}

    async def review_outcomes(self, refs: Sequence[str]) -> list[str | None]:
        """Each event's review outcome (``fraud``, ``legit`` …), or None: one round trip."""
        if not refs:
            return []
        accounts, event_ids = _unpack(refs)
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(_OUTCOMES, (accounts, event_ids))).fetchall()
        out: list[str | None] = [None] * len(refs)
        for ord_, outcome in rows:
            out[ord_ - 1] = outcome or None
        return out

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
        """One page of records matching ``wanted`` (keys of ``FILTERS``) and the first of
        ``candidates`` (an index or queue name), in time order, starting after ``after``."""
        if not candidates:
            raise ValueError("a scan needs at least one index")
        chosen = candidates[0]
        filters = {name: value for name, value in wanted.items() if value and name in FILTERS}
        status: str | None = None
        if chosen.startswith(_QUEUE_PREFIX):
            status, _, account = chosen[len(_QUEUE_PREFIX) :].partition(":")
            if account:
                filters["account"] = account
        elif chosen.startswith(_INDEX_PREFIX) and chosen != INDEX_ALL:
            kind, _, value = chosen[len(_INDEX_PREFIX) :].partition(":")
            if kind not in _COLUMNS:
                raise ValueError(f"no such index: {chosen!r}")
            filters[kind] = value
        elif chosen != INDEX_ALL:
            raise ValueError(f"no such index: {chosen!r}")
        # The time order: the queue's entry (the record's scored_at) or the record's.
        t = "v" if status is not None else "d"
        where = [f"{t}.scored_us BETWEEN %(since)s AND %(until)s"]
        where += ["d.scored_at BETWEEN %(since_at)s AND %(until_at)s"]
        params: dict[str, Any] = {
            "since": since_us,
            "until": until_us,
            "since_at": _at(max(since_us, 0)),
            "until_at": _at(min(until_us, MAX_SCORE_US)),
            "limit": limit + 1,
            "status": status,
        }
        for name, value in filters.items():
            where.append(f"d.{_COLUMNS[name]} = %({name})s")
            params[name] = value
        if status is not None:
            where.append("v.status = %(status)s")
        cmp, direction = ("<", "DESC") if newest_first else (">", "ASC")
        if after is not None:
            account, event_id = _key(after[1])
            where.append(f"({t}.scored_us, {t}.account, {t}.event_id) {cmp} (%(a_us)s, %(a_acc)s, %(a_eid)s)")
            params.update(a_us=int(float(after[0])), a_acc=account, a_eid=event_id)
        if status is not None:
            source = (
                "reviews v JOIN decisions d ON d.account = v.account AND d.event_id = v.event_id"
                " AND d.scored_at = v.scored_at"
            )
        else:
            join = "LEFT JOIN reviews v ON v.account = d.account AND v.event_id = d.event_id"
            source = f"decisions d {join}" if with_review else "decisions d"
        state = "v.state" if with_review or status is not None else "NULL::jsonb"
        query = (
            f"SELECT d.account, d.event_id, {t}.scored_us, d.body, {state} FROM {source}"
            f" WHERE {' AND '.join(where)}"
            f" ORDER BY {t}.scored_us {direction}, {t}.account {direction}, {t}.event_id {direction}"
            " LIMIT %(limit)s"
        )
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(query, params)).fetchall()
        more = len(rows) > limit
        items = []
        for account, event_id, scored_us, body, review in rows[:limit]:
            ref = _ref(account, event_id)
            fields = {str(k): str(v) for k, v in (review or {}).items()} if with_review else {}
            items.append(Found(ref=ref, scored_us=int(scored_us), body=self._open(body, ref), review=fields))
        nxt = (str(items[-1].scored_us), items[-1].ref) if more and items else None
        return ScanPage(index=chosen, items=items, next=nxt)
